"""Model families the GPU defaults know beyond DeepSeek-V3: what each needs from ``config.json``.

:mod:`backend.gpu_defaults` sizes the engine from a checkpoint's config: the context it
serves, the weights one GPU holds and the KV cache one token takes. DeepSeek-V2/V3 (MLA
attention, DeepSeekMoE) have their arithmetic there; this module adds Qwen3-MoE (GQA
attention, 128 routed experts, no shared expert; Qwen3-Coder-30B-A3B-Instruct-FP8 is the
single-GPU FP8 coding model people serve) and the checks their configs need. DeepSeek-V2-Lite
(MLA + DeepSeekMoE, bf16) needs only the context length (:func:`gpu_max_model_len`).
"""

from __future__ import annotations

import math
from typing import Any

from fathom.backend.model_info import ModelInfo

QWEN3_MOE_MODEL_TYPES = ("qwen3_moe",)

# The context the GPU defaults serve, per family. 128K covers any repository context Fathom
# packs and leaves KV-cache room for several long requests: Qwen3-Coder-30B holds 29 GiB of
# FP8 weights plus 96 KiB of KV cache per token (12 GiB per 128K request). Its native 256K
# (24 GiB per request) fits one H100 too: ask for it with --max-model-len 262144.
DEEPSEEK_MAX_MODEL_LEN = 131072
QWEN3_MOE_MAX_MODEL_LEN = 131072
OTHER_GPU_MAX_MODEL_LEN = 32768


def is_qwen3_moe(info: ModelInfo) -> bool:
    return info.model_type in QWEN3_MOE_MODEL_TYPES or "Qwen3MoeForCausalLM" in info.architectures


def family(info: ModelInfo) -> str:
    """``"deepseek"`` (MLA + DeepSeekMoE), ``"qwen3_moe"``, or ``"other"``."""
    if info.is_deepseek:
        return "deepseek"
    if is_qwen3_moe(info):
        return "qwen3_moe"
    return "other"


def gpu_max_model_len(info: ModelInfo) -> int:
    """The context length the GPU defaults ask for (capped later by the model's own)."""
    return {
        "deepseek": DEEPSEEK_MAX_MODEL_LEN,
        "qwen3_moe": QWEN3_MOE_MAX_MODEL_LEN,
    }.get(family(info), OTHER_GPU_MAX_MODEL_LEN)


def decode_kernels_measured(info: ModelInfo, tensor_parallel: int, pipeline_parallel: int) -> bool:
    """Whether Fathom's FP8 decode kernels (backend/vllm_decode_plugin.py) are on by default:
    where they were measured, a Qwen3-MoE checkpoint in FP8 128x128 blocks on one GPU.

    There, through Fathom's engine, first starts on two H100s: 65 and 57 of the same 80 inline
    completions were faster with them (median 0.87 and 0.95 of the time; a decoded token
    0.77x), prefills of 257-999 new tokens 1.08x and 1.10x as long (host time past vLLM's
    CUDA graphs, gone with graphs to 2048 tokens: prefill_graphs_measured), the start itself 217
    against vLLM's kernels' 245 s on one machine and 209 against 182 s on the other
    (bench/results/completion_whole_model_h100.md); a batch-1 decode step 0.81 of plain
    vLLM's and batch 8 and 32 within 3% (whole_model_pdl_h100.md). The plugin itself acts
    on Hopper GPUs and later only; elsewhere the setting changes nothing."""
    return (
        is_qwen3_moe(info)
        and info.quantization == "fp8"
        and info.weight_block_size == (128, 128)
        and tensor_parallel == 1
        and pipeline_parallel == 1
    )


def prefill_graphs_measured(info: ModelInfo, tensor_parallel: int, pipeline_parallel: int) -> bool:
    """Whether the GPU defaults capture CUDA graphs to 2048 tokens (gpu_defaults.
    CUDA_GRAPH_MAX_TOKENS) instead of vLLM's 256: where it was measured, a Qwen3-MoE model
    on one GPU. There a first token past 256 new tokens took 0.41-0.68 of plain vLLM's time
    through Fathom's engine, for 0.9 GiB more of graphs and ~20 s more capture at start
    (bench/results/whole_model_prefill_graphs_h100.md). Elsewhere the graphs' memory and
    capture time are unmeasured (DeepSeek-V3's activations and graphs already took 17 GiB a
    GPU in the 5-layer test with vLLM's sizes), so vLLM's own sizes stay."""
    return is_qwen3_moe(info) and tensor_parallel == 1 and pipeline_parallel == 1


def kernel_backends_measured(info: ModelInfo, tensor_parallel: int, pipeline_parallel: int) -> bool:
    """Whether the GPU defaults pick vLLM's Triton fused-MoE and CUTLASS linears
    (gpu_defaults.MOE_BACKEND, LINEAR_BACKEND) instead of vLLM's own choice, which on Hopper
    with DeepGEMM on (vLLM's default) is DeepGEMM for both: where measured, a Qwen3-MoE FP8
    128x128-block checkpoint on one GPU. There, on an H100 through Fathom's engine, decode
    steps at batch 8 and 32 took 0.73x and 0.75x the time (DeepGEMM's grouped GEMM pads every
    routed expert to a 128-row block), a first start 134 against 347 s (no DeepGEMM warm-up),
    first tokens of up to 1000 new tokens 0.87-0.95x, of 2000 1.06x and of 32K 1.11x; batch 1
    is the decode plugin's either way (bench/results/whole_model_kernel_backends_h100.md)."""
    return decode_kernels_measured(info, tensor_parallel, pipeline_parallel)


def _linear(block: tuple[int, int] | None, n_out: int, n_in: int) -> int:
    """Bytes of one linear: FP8 plus an fp32 scale per block, or bf16 when unquantized."""
    if block is None:
        return 2 * n_out * n_in
    return n_out * n_in + 4 * math.ceil(n_out / block[0]) * math.ceil(n_in / block[1])


def _head_dim(cfg: dict[str, Any] | Any) -> int:
    return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


def qwen3_moe_weight_parts(info: ModelInfo) -> dict[str, int] | None:
    """Bytes of each kind of weight of a Qwen3-MoE model, in the same keys as
    :func:`backend.gpu_defaults.deepseek_weight_parts` (so the capacity check and the GPU
    benchmark's roofline read both alike), or None for other architectures. The FP8
    checkpoints keep the router (``mlp.gate``), embeddings, lm_head and norms in bf16."""
    cfg = info.config
    needed = ("hidden_size", "num_attention_heads", "num_key_value_heads", "num_hidden_layers")
    if not is_qwen3_moe(info) or any(not isinstance(cfg.get(k), int) for k in needed):
        return None
    block = info.weight_block_size
    hidden, heads, kv_heads = (
        cfg["hidden_size"],
        cfg["num_attention_heads"],
        cfg["num_key_value_heads"],
    )
    head_dim = _head_dim(cfg)
    layers = cfg["num_hidden_layers"]
    experts = info.routed_experts
    # Layers listed in mlp_only_layers (or off the decoder_sparse_step) have a dense MLP.
    step = cfg.get("decoder_sparse_step") or 1
    only = set(cfg.get("mlp_only_layers") or ())
    moe_layers = sum(1 for i in range(layers) if i not in only and (i + 1) % step == 0)
    moe_layers = moe_layers if experts else 0
    dense = cfg.get("intermediate_size", 0)
    expert_size = cfg.get("moe_intermediate_size", 0)
    vocab = cfg.get("vocab_size", 0)
    return {
        "attention_per_layer": (
            _linear(block, (heads + 2 * kv_heads) * head_dim, hidden)  # fused q, k, v
            + _linear(block, hidden, heads * head_dim)
            + 2 * 2 * head_dim  # q_norm, k_norm
            + 2 * 2 * hidden  # input and post-attention norms
        ),
        "dense_mlp_per_layer": 2 * _linear(block, dense, hidden) + _linear(block, hidden, dense),
        "expert": 2 * _linear(block, expert_size, hidden) + _linear(block, hidden, expert_size),
        "routed_experts": experts,
        "shared_experts": 0,
        "router_per_layer": 2 * experts * hidden,  # bf16, in modules_to_not_convert
        "embedding_row": 2 * hidden,
        "embedding": 2 * vocab * hidden,
        "lm_head": 0 if cfg.get("tie_word_embeddings") else 2 * vocab * hidden,
        "final_norm": 2 * hidden,
        "mtp_projection": 0,
        "dense_layers": layers - moe_layers,
        "moe_layers": moe_layers,
    }


def gqa_kv_bytes_per_token(
    info: ModelInfo, kv_cache_dtype: str = "auto", tensor_parallel_size: int = 1
) -> int | None:
    """KV-cache bytes per token on each GPU for grouped-query attention: K and V of each KV
    head, split over the TP ranks (replicated once TP exceeds the KV heads, as vLLM does)."""
    cfg = info.config
    kv_heads = cfg.get("num_key_value_heads") or info.num_attention_heads
    if not isinstance(kv_heads, int) or not info.num_hidden_layers or not cfg.get("hidden_size"):
        return None
    width = 1 if kv_cache_dtype.startswith("fp8") else 2
    per_gpu = math.ceil(kv_heads / min(tensor_parallel_size, kv_heads))
    return 2 * per_gpu * _head_dim(cfg) * width * info.num_hidden_layers
