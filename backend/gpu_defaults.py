"""GPU defaults: :class:`VllmSettings` for a checkpoint on the GPUs at hand.

:func:`gpu_settings_for` is pure: it reads the checkpoint's ``config.json`` and takes the GPU
count and memory as arguments. Only :func:`detect_gpus` looks at the machine, through NVML,
without creating a CUDA context (vLLM forks its workers after that).
"""

from __future__ import annotations

import ctypes
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fathom.backend.model_families import DEEPSEEK_MAX_MODEL_LEN as DEEPSEEK_MAX_MODEL_LEN
from fathom.backend.model_families import OTHER_GPU_MAX_MODEL_LEN as OTHER_GPU_MAX_MODEL_LEN
from fathom.backend.model_families import (
    decode_kernels_measured,
    gpu_max_model_len,
    gqa_kv_bytes_per_token,
    is_qwen3_moe,
    kernel_backends_measured,
    prefill_graphs_measured,
    qwen3_moe_weight_parts,
)
from fathom.backend.model_info import ModelInfo, SettingsError, inspect_model
from fathom.backend.vllm_settings import VllmSettings, structure_overrides

log = logging.getLogger(__name__)

CPU_MAX_MODEL_LEN = 32768
CUDA_GRAPH_MAX_TOKENS = 2048
# vLLM's kernels where model_families.kernel_backends_measured holds (bench/results/
# whole_model_kernel_backends_h100.md): its Triton fused-MoE and CUTLASS block-FP8 linears.
# DeepGEMM's linears beside that MoE made batch-32 steps 0.96x as long but every engine start
# 155 s longer (DeepGEMM's warm-up), for nothing at batches 1-8: not taken
# (whole_model_linear_fusion_ab_h100.md); linear_backend = "auto" asks for them.
MOE_BACKEND = "triton"
LINEAR_BACKEND = "cutlass"
# DeepSeek-V3/V3.1 are trained to 163840 tokens (YaRN 40 x 4096); 128K leaves KV-cache room
# for several long requests per GPU and covers any repository context Fathom packs. Each
# family's length is in backend/model_families.py.


@dataclass(frozen=True, slots=True)
class GpuMemoryClass:
    """Start-up settings for GPUs of about this much memory (the largest class that fits)."""

    name: str
    min_gib: float
    gpu_memory_utilization: float
    max_num_batched_tokens: int


GPU_MEMORY_CLASSES = (
    # H200 (140.4 GiB per GPU). 2 x H200 ran the 5-layer DeepSeek-V3 smoke test with CUDA
    # graphs at 0.80 / 8192 (../shared/gpu/README.md "Measured", "Two GPUs"). 0.85 / 16384
    # scales that to the larger card (21 GiB per GPU left outside vLLM's budget, vs the 24 GiB
    # that worked on the H100); on 1 x H200 with vLLM 0.26 it ran the same 5-layer model with
    # CUDA graphs through a 120000-token prefill (5.3 s; peak activations 9.0 GiB, graphs
    # 8.4 GiB, KV cache 78.6 GiB). Not yet measured with all 61 layers.
    GpuMemoryClass("141 GB", 120.0, 0.85, 16384),
    # H100 80 GB (79.6 GiB). Measured (../shared/gpu/README.md "Measured", 1 x H100): at vLLM's
    # 0.85 without a token cap, CUDA-graph mode ran out of memory during a 120000-token
    # prefill; 0.70 with 8192-token prefill chunks ran every phase. Smaller cards get these
    # too (not measured).
    GpuMemoryClass("80 GB", 0.0, 0.70, 8192),
)


def memory_class(gpu_memory_gib: float | None) -> GpuMemoryClass:
    """The settings class for GPUs of ``gpu_memory_gib`` (unknown: the 80 GB one, the safer)."""
    for klass in GPU_MEMORY_CLASSES:
        if gpu_memory_gib is not None and gpu_memory_gib >= klass.min_gib:
            return klass
    return GPU_MEMORY_CLASSES[-1]


@dataclass(frozen=True, slots=True)
class GpuInfo:
    count: int
    memory_gib: float  # of the smallest visible GPU; 0.0 without GPUs


class _NvmlMemory(ctypes.Structure):
    _fields_ = [
        ("total", ctypes.c_ulonglong),
        ("free", ctypes.c_ulonglong),
        ("used", ctypes.c_ulonglong),
    ]


def _nvml_memory_gib() -> list[float] | None:
    """Each GPU's memory in GiB from the driver's NVML library, or None without it."""
    try:
        nvml = ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return None
    if nvml.nvmlInit_v2() != 0:
        return None
    try:
        count = ctypes.c_uint()
        if nvml.nvmlDeviceGetCount_v2(ctypes.byref(count)) != 0:
            return None
        sizes = []
        for index in range(count.value):
            handle = ctypes.c_void_p()
            memory = _NvmlMemory()
            if nvml.nvmlDeviceGetHandleByIndex_v2(index, ctypes.byref(handle)) != 0:
                return None
            if nvml.nvmlDeviceGetMemoryInfo(handle, ctypes.byref(memory)) != 0:
                return None
            sizes.append(memory.total / 2**30)
        return sizes
    finally:
        nvml.nvmlShutdown()


def _visible(sizes: list[float]) -> list[float]:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return sizes
    entries = [e.strip() for e in visible.split(",") if e.strip()]
    if not entries or entries[0] == "-1":
        return []
    if all(e.isdigit() for e in entries):
        return [sizes[int(e)] for e in entries if int(e) < len(sizes)]
    return sizes[: len(entries)]  # UUIDs: the count is right, the sizes nearly always are


def detect_gpus() -> GpuInfo:
    """The visible CUDA GPUs: NVML first (no CUDA context), else torch.cuda, else none."""
    sizes = _nvml_memory_gib()
    if sizes is not None:
        sizes = _visible(sizes)
    elif not any(Path("/dev", name).exists() for name in ("nvidiactl", "dxg")):
        return GpuInfo(0, 0.0)  # no NVIDIA driver: don't pay for importing torch
    else:
        try:
            import torch
        except ImportError:
            return GpuInfo(0, 0.0)
        if not torch.cuda.is_available():
            return GpuInfo(0, 0.0)
        count = torch.cuda.device_count()
        sizes = [torch.cuda.get_device_properties(i).total_memory / 2**30 for i in range(count)]
    return GpuInfo(len(sizes), min(sizes)) if sizes else GpuInfo(0, 0.0)


# -- memory arithmetic for DeepSeek-style checkpoints (MLA attention, MoE, FP8 blocks) -------
def deepseek_weight_parts(info: ModelInfo) -> dict[str, int] | None:
    """Bytes of each kind of weight of a DeepSeek-V2/V3-style model, or None for other
    architectures. Same arithmetic as ``../shared/gpu/smoke.py``: FP8 linears (1 B) plus an
    fp32 scale per weight block, bf16 embeddings, lm_head, norms and router. The capacity
    check sums them; the GPU benchmark's roofline counts the ones a decode step reads."""
    cfg = info.config
    needed = ("hidden_size", "num_attention_heads", "kv_lora_rank", "qk_rope_head_dim")
    if not info.is_deepseek or any(not isinstance(cfg.get(k), int) for k in needed):
        return None
    block = info.weight_block_size

    def linear(n_out: int, n_in: int) -> int:
        if block is None:
            return 2 * n_out * n_in  # bf16
        return n_out * n_in + 4 * math.ceil(n_out / block[0]) * math.ceil(n_in / block[1])

    hidden, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    nope, rope = cfg.get("qk_nope_head_dim", 128), cfg["qk_rope_head_dim"]
    kv_lora, v_dim, q_lora = cfg["kv_lora_rank"], cfg.get("v_head_dim", 128), cfg.get("q_lora_rank")
    if q_lora:
        q_proj = linear(q_lora, hidden) + linear(heads * (nope + rope), q_lora) + 2 * q_lora
    else:
        q_proj = linear(heads * (nope + rope), hidden)
    dense = cfg.get("intermediate_size", 0)
    expert_size = cfg.get("moe_intermediate_size", 0)
    experts = info.routed_experts
    layers = info.num_hidden_layers or 0
    dense_layers = min(cfg.get("first_k_dense_replace", 0), layers) if experts else layers
    vocab = cfg.get("vocab_size", 0)
    return {
        "attention_per_layer": (
            q_proj
            + linear(kv_lora + rope, hidden)
            + linear(heads * (nope + v_dim), kv_lora)
            + linear(hidden, heads * v_dim)
            + 2 * (kv_lora + 2 * hidden)
        ),
        "dense_mlp_per_layer": 2 * linear(dense, hidden) + linear(hidden, dense),
        "expert": 2 * linear(expert_size, hidden) + linear(hidden, expert_size),
        "routed_experts": experts,
        "shared_experts": cfg.get("n_shared_experts", 0),
        "router_per_layer": 2 * experts * hidden + 4 * experts,  # bf16 weight, fp32 bias
        "embedding_row": 2 * hidden,
        "embedding": 2 * vocab * hidden,
        "lm_head": 0 if cfg.get("tie_word_embeddings") else 2 * vocab * hidden,
        "final_norm": 2 * hidden,
        "mtp_projection": linear(hidden, 2 * hidden),  # each MTP head's eh_proj (2H -> H)
        "dense_layers": dense_layers,
        "moe_layers": layers - dense_layers,
    }


def estimate_weight_bytes(info: ModelInfo, *, with_mtp: bool = False) -> int | None:
    """Bytes of the weights vLLM holds for a DeepSeek-V2/V3-style model (whole model, before
    TP/EP sharding), or None for other architectures. The MTP head is loaded only for MTP
    decoding."""
    parts = deepseek_weight_parts(info) or qwen3_moe_weight_parts(info)
    if parts is None:
        return None
    moe_mlp = (parts["routed_experts"] + parts["shared_experts"]) * parts["expert"]
    moe_mlp += parts["router_per_layer"]
    layers = parts["dense_layers"] + parts["moe_layers"]
    total = (
        layers * parts["attention_per_layer"]
        + parts["dense_layers"] * parts["dense_mlp_per_layer"]
        + parts["moe_layers"] * moe_mlp
        + parts["embedding"]
        + parts["lm_head"]
        + parts["final_norm"]
    )
    if with_mtp and info.has_mtp:
        # Each head: one MoE layer, eh_proj (2H -> H), three norms, and its own lm_head.
        mtp = (
            parts["attention_per_layer"]
            + moe_mlp
            + parts["mtp_projection"]
            + 3 * parts["final_norm"]
            + parts["embedding"]
        )
        total += info.mtp_layers * mtp
    return total


def kv_bytes_per_token(
    info: ModelInfo, kv_cache_dtype: str = "auto", tensor_parallel_size: int = 1
) -> int | None:
    """KV-cache bytes per token on each GPU: MLA's latent (not split by TP), else GQA's."""
    cfg = info.config
    if not isinstance(cfg.get("kv_lora_rank"), int) or not info.num_hidden_layers:
        if not is_qwen3_moe(info):
            return None  # unknown attention layout: no estimate, no refusal
        return gqa_kv_bytes_per_token(info, kv_cache_dtype, tensor_parallel_size)
    width = 1 if kv_cache_dtype.startswith("fp8") else 2
    return (cfg["kv_lora_rank"] + cfg.get("qk_rope_head_dim", 0)) * width * info.num_hidden_layers


def _check_fits(settings: VllmSettings, info: ModelInfo, gpu_memory_gib: float | None) -> None:
    """Refuse, before minutes of loading, what cannot fit: the weights of one GPU's share plus
    one max_model_len sequence of KV cache (vLLM's own minimum) in vLLM's memory budget."""
    if not gpu_memory_gib:
        return
    mtp = settings.speculative_config(info) or {}
    weights = estimate_weight_bytes(info, with_mtp=mtp.get("method") == "mtp")
    if weights is None:
        return
    world = settings.tensor_parallel_size * settings.pipeline_parallel_size
    per_gpu = weights / world / 2**30
    kv_per_token = kv_bytes_per_token(info, settings.kv_cache_dtype, settings.tensor_parallel_size)
    kv_per_token = kv_per_token or 0
    kv = kv_per_token * settings.max_model_len / settings.pipeline_parallel_size / 2**30
    util = settings.gpu_memory_utilization or 0.9
    budget = util * gpu_memory_gib
    if per_gpu + kv > budget:
        raise SettingsError(
            f"{settings.model} does not fit: {per_gpu:.1f} GiB of weights per GPU on {world} "
            f"GPU(s) plus {kv:.1f} GiB of KV cache "
            f"for one {settings.max_model_len}-token request exceeds vLLM's budget of "
            f"{budget:.1f} GiB ({util:.2f} of {gpu_memory_gib:.1f} GiB). Use more GPUs, GPUs "
            "with more memory, or several nodes (README: Scaling out)."
        )


def _default_tensor_parallel(info: ModelInfo, gpu_count: int) -> int:
    """The most GPUs, up to ``gpu_count``, whose count divides the attention heads."""
    heads = info.num_attention_heads
    for tp in range(gpu_count, 0, -1):
        if not heads or heads % tp == 0:
            return tp
    return 1


def gpu_settings_for(
    model: str | Path | dict[str, Any] | ModelInfo,
    gpu_count: int,
    gpu_memory_gib: float | None = None,
    *,
    custom_all_reduce: bool | None = None,
    **overrides: Any,
) -> VllmSettings:
    """Settings for ``model`` (a model folder, its ``config.json`` as a dict, or its
    :class:`ModelInfo`) on ``gpu_count`` GPUs of ``gpu_memory_gib`` GiB each.

    ``overrides`` are :class:`VllmSettings` fields and win over the defaults; the defaults that
    depend on one (expert parallel and the all-reduce on the TP size) follow the override.
    ``custom_all_reduce`` None reads ``FATHOM_CUSTOM_ALLREDUCE=1``. Raises
    :class:`SettingsError` for settings the model or the GPUs can't run.
    """
    info = model if isinstance(model, ModelInfo) else inspect_model(model)
    # Checked before the defaults below read them (the TP size from the PP size, ...).
    overrides = structure_overrides(overrides)
    if "model" not in overrides:
        overrides["model"] = str(model) if isinstance(model, str | Path) else info.model_type
    limit = info.max_len or CPU_MAX_MODEL_LEN
    if gpu_count <= 0:
        base: dict[str, Any] = {"max_model_len": min(CPU_MAX_MODEL_LEN, limit)}
    else:
        pp = overrides.get("pipeline_parallel_size") or 1
        tp = overrides.get("tensor_parallel_size") or _default_tensor_parallel(
            info, max(gpu_count // pp, 1)
        )
        if custom_all_reduce is None:
            custom_all_reduce = os.environ.get("FATHOM_CUSTOM_ALLREDUCE", "0") == "1"
        expert_parallel = overrides.get("enable_expert_parallel", info.is_moe and tp > 1)
        klass = memory_class(gpu_memory_gib)
        backends_measured = kernel_backends_measured(info, tp, pp)
        base = {
            "max_model_len": min(gpu_max_model_len(info), limit),
            # CUDA graphs: decode 2.3 ms/token vs 13.2 ms eager (../shared/gpu "Measured").
            "enforce_eager": False,
            "enable_prefix_caching": True,
            "kv_cache_dtype": "auto",
            "tensor_parallel_size": tp,
            # MoE on several GPUs: whole experts per GPU instead of every expert cut in TP
            # slices. The measured 2 x H200 run had both within 10% of each other.
            "enable_expert_parallel": expert_parallel,
            "all2all_backend": "allgather_reducescatter" if expert_parallel else None,
            # vLLM's custom all-reduce failed on the 2 x H200 VM (CUDA IPC handles refused,
            # custom_all_reduce.cuh:455 'invalid argument'); NCCL works everywhere.
            "disable_custom_all_reduce": tp > 1 and not custom_all_reduce,
            "gpu_memory_utilization": klass.gpu_memory_utilization,
            "max_num_batched_tokens": klass.max_num_batched_tokens,
            # vLLM's CUDA graphs stop at 256 tokens; past them a prefill is host-bound: on an
            # H100, Qwen3-Coder-30B-A3B's first token took 55-67 ms at any of 272-2000 new
            # tokens, against 24-46 ms with graphs to 2048 (bench/results/
            # whole_model_prefill_graphs_h100.md; 1.3 GiB of graphs against 0.4, 17 s more
            # capture at start). Past ~2048 tokens the GPU's work outlasts the host's launches.
            # Only where measured (model_families.prefill_graphs_measured); else vLLM's.
            "cuda_graph_max_tokens": (
                CUDA_GRAPH_MAX_TOKENS if prefill_graphs_measured(info, tp, pp) else None
            ),
            "decode_kernels": decode_kernels_measured(info, tp, pp),
            # With DeepGEMM on, vLLM runs the MoE on DeepGEMM's grouped GEMM, which pads each
            # routed expert to 128 rows: steps of 8-32 sequences took 1.34-1.38x as long as on
            # Triton's MoE with CUTLASS linears, and DeepGEMM's warm-up 2.5 minutes of a first
            # start. Only where measured; elsewhere None, vLLM picks.
            "moe_backend": MOE_BACKEND if backends_measured else None,
            "linear_backend": LINEAR_BACKEND if backends_measured else None,
        }
    settings = VllmSettings(**{**base, **overrides, "model_info": info})
    for warning in settings.check(info, gpu_count):
        log.warning("%s", warning)
    if gpu_count > 0:
        _check_fits(settings, info, gpu_memory_gib)
    return settings
