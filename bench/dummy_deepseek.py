"""A DeepSeek-V3-architecture model folder for GPU benchmarks: the real config, dummy weights.

The real checkpoint (~700 GB of FP8 weights) cannot be fetched where Fathom is built, and its
tokenizer is not on PyPI either. vLLM's ``load_format="dummy"`` gives random weights with the
real kernels and memory traffic; what Fathom's engine interface still needs is a tokenizer, so
this writes one: a byte-level BPE trained on the edit corpus's real sources, its vocabulary
padded to the model's 129,280 ids with tokens that decode to text but are never produced by
encoding. Every id the dummy model samples can then be detokenized, and prompts are real code
counted in this tokenizer's tokens (so prompt lengths are exact, as the benchmark reports them).

    python bench/dummy_deepseek.py DIR --layers 5     # writes DIR/config.json + tokenizer
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.edit_corpus.corpus_io import sources_dir
from fathom.backend.gpu_defaults import deepseek_weight_parts, kv_bytes_per_token
from fathom.backend.model_families import qwen3_moe_weight_parts
from fathom.backend.model_info import inspect_model

# deepseek-ai/DeepSeek-V3's published config.json, minus auto_map (vLLM implements
# deepseek_v3), kept with the tests' data so that tests need not import bench/.
MODEL_CONFIGS = Path(__file__).resolve().parents[1] / "tests" / "data" / "model_configs"
DEEPSEEK_V3_CONFIG: dict[str, Any] = json.loads((MODEL_CONFIGS / "deepseek-v3.json").read_text())

BOS, EOS = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"
# DeepSeek-V3's own chat template, shortened to what Fathom sends (system, user, assistant).
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ m['content'] }}"
    "{% elif m['role'] == 'user' %}<｜User｜>{{ m['content'] }}"
    "{% else %}<｜Assistant｜>{{ m['content'] }}{{ eos_token }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<｜Assistant｜>{% endif %}"
)
SPECIALS = [BOS, EOS, "<｜User｜>", "<｜Assistant｜>"]
TRAINED_VOCAB = 16000


def config(layers: int) -> dict[str, Any]:
    cfg = copy.deepcopy(DEEPSEEK_V3_CONFIG)
    cfg["num_hidden_layers"] = layers
    return cfg


def _corpus_texts() -> list[str]:
    return [
        p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(sources_dir().rglob("*"))
        if p.is_file() and p.suffix in {".py", ".js", ".ts", ".c", ".h", ".rs", ".go"}
    ]


def _filler(i: int) -> str:
    # Byte-level alphabet letters only, so the ByteLevel decoder maps them back to ASCII.
    letters = "abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        i, r = divmod(i, 26)
        out += letters[r]
        if i == 0:
            return "Ġfill" + out


def write_tokenizer(folder: Path, vocab_size: int) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=TRAINED_VOCAB,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_corpus_texts(), trainer)
    spec = json.loads(tokenizer.to_str())
    vocab: dict[str, int] = spec["model"]["vocab"]
    n = 0
    while len(vocab) < vocab_size:
        token = _filler(n)
        n += 1
        if token not in vocab:
            vocab[token] = len(vocab)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False))
    (folder / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "PreTrainedTokenizerFast",
                "bos_token": BOS,
                "eos_token": EOS,
                "add_bos_token": False,
                "model_max_length": 163840,
                "chat_template": CHAT_TEMPLATE,
            },
            ensure_ascii=False,
        )
    )


def write_model(folder: Path, layers: int) -> dict[str, Any]:
    cfg = config(layers)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(cfg, indent=2))
    write_tokenizer(folder, cfg["vocab_size"])
    return cfg


# -- bytes a decode step reads (for the HBM roofline) -----------------------------------------


def weight_sizes(cfg: dict[str, Any]) -> dict[str, int]:
    """Bytes of each kind of weight (the whole model, before tensor/expert sharding)."""
    info = inspect_model(cfg)
    parts = deepseek_weight_parts(info) or qwen3_moe_weight_parts(info)
    assert parts is not None, "neither a DeepSeek-style nor a Qwen3-MoE config"
    return parts


def bytes_per_decode_step(cfg: dict[str, Any], batch: int, context: int, kv_bytes: int) -> int:
    """HBM bytes one decode step must read at ``batch`` sequences of ``context`` tokens.

    Every dense weight once; per MoE layer the shared expert plus the routed experts the
    batch touches (uniform routing: each of E experts is missed by all batch x top-k picks
    with probability (1 - k/E)^batch); the LM head; the embedding rows; and each sequence's
    MLA KV cache (kv_lora_rank + rope dims per token per layer) or GQA K and V.
    """
    s = weight_sizes(cfg)
    experts, top_k = s["routed_experts"], cfg["num_experts_per_tok"]
    touched = experts * (1 - (1 - top_k / experts) ** batch)
    layers = s["dense_layers"] + s["moe_layers"]
    weights = (
        layers * s["attention_per_layer"]
        + s["dense_layers"] * s["dense_mlp_per_layer"]
        + s["moe_layers"] * ((s["shared_experts"] + touched) * s["expert"] + s["router_per_layer"])
        + s["lm_head"]
        + batch * s["embedding_row"]
    )
    kv_dtype = "fp8" if kv_bytes == 1 else "auto"
    kv = batch * context * (kv_bytes_per_token(inspect_model(cfg), kv_dtype) or 0)
    return int(weights + kv)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--layers", type=int, default=5)
    args = parser.parse_args()
    cfg = write_model(args.folder, args.layers)
    sizes = weight_sizes(cfg)
    print(json.dumps({"folder": str(args.folder), "layers": args.layers, **sizes}))


if __name__ == "__main__":
    main()
