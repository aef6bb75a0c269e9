"""Whole single-GPU MoE coding models for GPU benchmarks: the real config.json, dummy weights.

Besides DeepSeek-V3 (bench/dummy_deepseek.py, a slice of which fits one GPU), two families
fit one GPU whole:

- ``qwen3-coder-30b-a3b-fp8``: Qwen/Qwen3-Coder-30B-A3B-Instruct-FP8 (48 layers, GQA 32/4
  heads, 128 routed experts top-8, no shared expert, FP8 e4m3 128x128 blocks with the router,
  embeddings and lm_head left bf16), 262144 tokens natively;
- ``deepseek-v2-lite``: deepseek-ai/DeepSeek-V2-Lite(-Chat) (27 layers: 1 dense + 26 MoE,
  MLA without q LoRA, 64 routed + 2 shared experts top-6, bf16), YaRN 40 x 4096.

The tokenizer is bench/dummy_deepseek.py's (BPE trained on the edit corpus, padded to the
model's vocabulary): these checkpoints' own tokenizers are not at hand on the GPU machine,
and with random weights only the token counts matter.

    python bench/dummy_models.py qwen3-coder-30b-a3b-fp8 DIR   # writes DIR/config.json + tokenizer
    python bench/dummy_models.py qwen3-coder-30b-a3b-fp8 DIR --tokenizer QWEN_DIR  # its tokenizer
    python bench/dummy_models.py qwen3-coder-30b-a3b-fp8       # prints config, weights, roofline
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import dummy_deepseek


def _published(name: str) -> dict[str, Any]:
    return json.loads((dummy_deepseek.MODEL_CONFIGS / f"{name}.json").read_text())


# Qwen/Qwen3-Coder-30B-A3B-Instruct-FP8 config.json (HF): the published FP8 checkpoint lists
# lm_head and every layer's router by name in quantization_config.modules_to_not_convert.
QWEN3_CODER_30B_A3B_FP8 = _published("qwen3-coder-30b-a3b-fp8")
# deepseek-ai/DeepSeek-V2-Lite config.json (HF), minus auto_map: vLLM implements deepseek_v2.
DEEPSEEK_V2_LITE = _published("deepseek-v2-lite")

MODELS: dict[str, dict[str, Any]] = {
    "qwen3-coder-30b-a3b-fp8": QWEN3_CODER_30B_A3B_FP8,
    "deepseek-v2-lite": DEEPSEEK_V2_LITE,
    "deepseek-v3": dummy_deepseek.DEEPSEEK_V3_CONFIG,
}


def config(name: str, layers: int | None = None) -> dict[str, Any]:
    """The named model's config; ``layers`` cuts it to a slice (None: the whole model)."""
    cfg = copy.deepcopy(MODELS[name])
    if layers is not None:
        cfg["num_hidden_layers"] = layers
        quant = cfg.get("quantization_config") or {}
        if "modules_to_not_convert" in quant:
            quant["modules_to_not_convert"] = ["lm_head"] + [
                f"model.layers.{i}.mlp.gate" for i in range(layers)
            ]
    return cfg


# A real tokenizer's files, for runs whose prompts must be the real ones (inline completion:
# fill-in-the-middle tokens, prompt lengths, prefix-cache hits).
TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt",
    "special_tokens_map.json", "added_tokens.json",
)  # fmt: skip


def copy_tokenizer(source: Path, folder: Path, vocab_size: int) -> None:
    """Copy the tokenizer in ``source`` (e.g. the CPU default Qwen2.5-Coder's, the vocabulary
    Qwen3-Coder shares) into ``folder``; refuse one with more tokens than the model embeds."""
    spec = json.loads((source / "tokenizer.json").read_text())
    ids = [*spec["model"]["vocab"].values(), *(t["id"] for t in spec.get("added_tokens", []))]
    if max(ids) >= vocab_size:
        raise SystemExit(f"{source}: token id {max(ids)} does not fit a vocabulary of {vocab_size}")
    folder.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        if (source / name).is_file():
            (folder / name).write_bytes((source / name).read_bytes())


def write_model(
    folder: Path, name: str, layers: int | None = None, tokenizer: Path | None = None
) -> dict[str, Any]:
    """Write ``folder/config.json`` and a tokenizer (``tokenizer``'s, else one trained on the
    edit corpus); returns the config."""
    cfg = config(name, layers)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(cfg, indent=2))
    if tokenizer is None:
        dummy_deepseek.write_tokenizer(folder, cfg["vocab_size"])
    else:
        copy_tokenizer(tokenizer, folder, cfg["vocab_size"])
    return cfg


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", choices=sorted(MODELS))
    parser.add_argument("folder", type=Path, nargs="?", help="omitted: print the config instead")
    parser.add_argument("--layers", type=int, default=None)
    parser.add_argument("--context", type=int, default=1152, help="tokens a sequence holds")
    parser.add_argument("--tokenizer", type=Path, default=None, help="a folder to copy it from")
    args = parser.parse_args(argv)
    if args.folder is None:
        cfg = config(args.model, args.layers)
        where: dict[str, Any] = {"config": cfg}
    else:
        cfg = write_model(args.folder, args.model, args.layers, args.tokenizer)
        where = {"folder": str(args.folder)}
    sizes = dummy_deepseek.weight_sizes(cfg)
    # The HBM roofline's bytes per decode step at a few batch sizes, bf16 KV cache.
    step = {
        str(batch): dummy_deepseek.bytes_per_decode_step(cfg, batch, args.context, 2)
        for batch in (1, 8, 32, 128)
    }
    print(json.dumps({**where, "model": args.model, **sizes, "decode_step_bytes": step}))


if __name__ == "__main__":
    main()
