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

_QWEN3_LAYERS = 48

# Qwen/Qwen3-Coder-30B-A3B-Instruct-FP8 config.json (HF).
QWEN3_CODER_30B_A3B_FP8: dict[str, Any] = {
    "architectures": ["Qwen3MoeForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "decoder_sparse_step": 1,
    "eos_token_id": 151645,
    "head_dim": 128,
    "hidden_act": "silu",
    "hidden_size": 2048,
    "initializer_range": 0.02,
    "intermediate_size": 6144,
    "max_position_embeddings": 262144,
    "max_window_layers": 48,
    "mlp_only_layers": [],
    "model_type": "qwen3_moe",
    "moe_intermediate_size": 768,
    "norm_topk_prob": True,
    "num_attention_heads": 32,
    "num_experts": 128,
    "num_experts_per_tok": 8,
    "num_hidden_layers": _QWEN3_LAYERS,
    "num_key_value_heads": 4,
    "output_router_logits": False,
    "quantization_config": {
        "activation_scheme": "dynamic",
        "fmt": "e4m3",
        "quant_method": "fp8",
        "weight_block_size": [128, 128],
        # The published FP8 checkpoint lists lm_head and every layer's router by name.
        "modules_to_not_convert": ["lm_head"]
        + [f"model.layers.{i}.mlp.gate" for i in range(_QWEN3_LAYERS)],
    },
    "rms_norm_eps": 1e-06,
    "rope_scaling": None,
    "rope_theta": 10000000,
    "router_aux_loss_coef": 0.0,
    "shared_expert_intermediate_size": 0,
    "sliding_window": None,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "use_cache": True,
    "use_qk_norm": True,
    "use_sliding_window": False,
    "vocab_size": 151936,
}

# deepseek-ai/DeepSeek-V2-Lite config.json (HF), minus auto_map: vLLM implements deepseek_v2.
DEEPSEEK_V2_LITE: dict[str, Any] = {
    "architectures": ["DeepseekV2ForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "aux_loss_alpha": 0.001,
    "bos_token_id": 100000,
    "eos_token_id": 100001,
    "first_k_dense_replace": 1,
    "hidden_act": "silu",
    "hidden_size": 2048,
    "initializer_range": 0.02,
    "intermediate_size": 10944,
    "kv_lora_rank": 512,
    "max_position_embeddings": 163840,
    "model_type": "deepseek_v2",
    "moe_intermediate_size": 1408,
    "moe_layer_freq": 1,
    "n_group": 1,
    "n_routed_experts": 64,
    "n_shared_experts": 2,
    "norm_topk_prob": False,
    "num_attention_heads": 16,
    "num_experts_per_tok": 6,
    "num_hidden_layers": 27,
    "num_key_value_heads": 16,
    "pretraining_tp": 1,
    "q_lora_rank": None,
    "qk_nope_head_dim": 128,
    "qk_rope_head_dim": 64,
    "rms_norm_eps": 1e-06,
    "rope_scaling": {
        "beta_fast": 32,
        "beta_slow": 1,
        "factor": 40,
        "mscale": 0.707,
        "mscale_all_dim": 0.707,
        "original_max_position_embeddings": 4096,
        "type": "yarn",
    },
    "rope_theta": 10000,
    "routed_scaling_factor": 1.0,
    "scoring_func": "softmax",
    "seq_aux": True,
    "tie_word_embeddings": False,
    "topk_group": 1,
    "topk_method": "greedy",
    "torch_dtype": "bfloat16",
    "use_cache": True,
    "v_head_dim": 128,
    "vocab_size": 102400,
}

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


def write_model(folder: Path, name: str, layers: int | None = None) -> dict[str, Any]:
    """Write ``folder/config.json`` and the tokenizer; returns the config."""
    cfg = config(name, layers)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(cfg, indent=2))
    dummy_deepseek.write_tokenizer(folder, cfg["vocab_size"])
    return cfg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", choices=sorted(MODELS))
    parser.add_argument("folder", type=Path)
    parser.add_argument("--layers", type=int, default=None)
    args = parser.parse_args()
    cfg = write_model(args.folder, args.model, args.layers)
    sizes = dummy_deepseek.weight_sizes(cfg)
    print(json.dumps({"folder": str(args.folder), "model": args.model, **sizes}))


if __name__ == "__main__":
    main()
