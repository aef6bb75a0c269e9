"""Typed engine settings with defaults that work on the machine at hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_MODEL = "default"  # the packaged Qwen2.5-Coder-0.5B-Instruct (backend/default_model.py)


@dataclass(frozen=True, slots=True, kw_only=True)
class VllmSettings:
    """What :class:`backend.vllm_engine.VllmEngine` passes to vLLM's ``AsyncEngineArgs``.

    ``model`` is ``"default"``, a local HF folder, or an HF id already in the local HF cache.
    """

    model: str = DEFAULT_MODEL
    max_model_len: int = 32768
    # CUDA graphs / torch.compile cost 50-70 s of start-up on a 2-core CPU for a few percent
    # of decode speed on a 0.5B model; an editor user waits for the start, so skip them.
    enforce_eager: bool = True
    dtype: str = "auto"
    enable_prefix_caching: bool = True
    tensor_parallel_size: int = 1
    enable_expert_parallel: bool = False
    gpu_memory_utilization: float | None = None
    max_num_batched_tokens: int | None = None
    kv_cache_dtype: str = "auto"
    # On vLLM's CPU build, gpu_memory_utilization reserves a fraction of a NUMA node's RAM and
    # refuses to start when an editor, a browser and the LSP client already use it; an
    # explicit KV-cache size starts anywhere. 1 GiB holds ~85K tokens of the 0.5B default.
    kv_cache_memory_bytes: int | None = None
    cpu_kv_cache_memory_bytes: int = 1 << 30
    # Anything else AsyncEngineArgs accepts, passed through unchanged (e.g. load_format).
    extra: dict[str, Any] = field(default_factory=dict)

    def engine_kwargs(self, model_path: str, on_cpu: bool = False) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": model_path,
            "max_model_len": self.max_model_len,
            "enforce_eager": self.enforce_eager,
            "dtype": self.dtype,
            "enable_prefix_caching": self.enable_prefix_caching,
            "tensor_parallel_size": self.tensor_parallel_size,
            "enable_expert_parallel": self.enable_expert_parallel,
            "kv_cache_dtype": self.kv_cache_dtype,
            "disable_log_stats": False,
        }
        if self.gpu_memory_utilization is not None:
            kwargs["gpu_memory_utilization"] = self.gpu_memory_utilization
        if self.kv_cache_memory_bytes is not None:
            kwargs["kv_cache_memory_bytes"] = self.kv_cache_memory_bytes
        elif on_cpu:
            kwargs["kv_cache_memory_bytes"] = self.cpu_kv_cache_memory_bytes
        if self.max_num_batched_tokens is not None:
            kwargs["max_num_batched_tokens"] = self.max_num_batched_tokens
        kwargs.update(self.extra)
        return kwargs
