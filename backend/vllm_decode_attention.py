"""vLLM's FlashAttention backend with decode steps of a few sequences on Fathom's kernel.

``register`` overrides the ``FLASH_ATTN`` entry of vLLM's attention backend registry
(``register_backend``, vLLM's public extension point for attention backends) with a subclass
whose implementation sends a batch of single-token decodes of at most
``ATTENTION_TILES["attn_max_seqs"]`` sequences to ``decode_attention``
(backend/decode_attention_kernels.py) and everything else (prefill, mixed and speculative
batches, sliding windows, FP8 or shared KV caches, soft-capping, sinks, context parallelism,
cascade attention) to FlashAttention unchanged. The metadata builder, cache layout and CUDA
graph support are FlashAttention's own; vLLM captures a decode graph with the kernel in it,
because the choice is made from the metadata's Python fields at capture time, as
FlashAttention makes its own.

The classes are built on first use (module ``__getattr__``), so importing this module does
not import vLLM.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import torch

log = logging.getLogger("vllm.fathom_decode_kernels")  # vllm_decode_plugin.LOGGER
BACKEND_PATH = "fathom.backend.vllm_decode_attention.DecodeFlashAttentionBackend"


def register() -> None:
    """Points vLLM's ``FLASH_ATTN`` backend at the subclass (call in every vLLM process)."""
    from vllm.v1.attention.backends.registry import AttentionBackendEnum, register_backend

    register_backend(AttentionBackendEnum.FLASH_ATTN, BACKEND_PATH)


def __getattr__(name: str) -> Any:
    if name == "DecodeFlashAttentionBackend":
        return _backend_class()
    raise AttributeError(name)


@functools.cache
def _backend_class() -> type:
    from vllm.v1.attention.backends.flash_attn import FlashAttentionBackend

    impl = _impl_class()
    return type(
        "DecodeFlashAttentionBackend",
        (FlashAttentionBackend,),
        {"get_impl_cls": staticmethod(lambda: impl), "__module__": __name__},
    )


@functools.cache
def _impl_class() -> type:
    from vllm.v1.attention.backend import AttentionType
    from vllm.v1.attention.backends.flash_attn import FlashAttentionImpl

    from fathom.backend.decode_attention_kernels import ATTENTION_TILES, decode_attention

    class DecodeFlashAttentionImpl(FlashAttentionImpl):
        """FlashAttention, but one-token decode batches of a few sequences on Triton."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            group = self.num_heads // self.num_kv_heads
            self.fathom_counts: torch.Tensor | None = None
            self.fathom_reason = _unsupported(self, group, AttentionType.DECODER)

        def process_weights_after_loading(self, act_dtype: torch.dtype) -> None:
            super().process_weights_after_loading(act_dtype)
            if self.fathom_reason is None and torch.cuda.is_available():
                # The slice counts the kernel keeps zeroed between calls: allocated once,
                # here, outside any CUDA graph capture.
                self.fathom_counts = torch.zeros(
                    ATTENTION_TILES["attn_max_seqs"] * self.num_kv_heads,
                    dtype=torch.int32,
                    device=torch.device("cuda", torch.cuda.current_device()),
                )
            _log_once(self.fathom_reason, ATTENTION_TILES["attn_max_seqs"])

        def forward(
            self,
            layer: Any,
            query: torch.Tensor,
            key: torch.Tensor,
            value: torch.Tensor,
            kv_cache: torch.Tensor,
            attn_metadata: Any,
            output: torch.Tensor,
            output_scale: torch.Tensor | None = None,
            output_block_scale: torch.Tensor | None = None,
        ) -> torch.Tensor:
            meta = attn_metadata
            if (
                self.fathom_counts is not None
                and meta is not None
                and output_scale is None
                and output_block_scale is None
                and _plain_decode(meta, ATTENTION_TILES["attn_max_seqs"])
            ):
                n = meta.num_actual_tokens
                key_cache, value_cache = kv_cache.transpose(1, 2).split(self.head_size, dim=-1)
                decode_attention(
                    query[:n],
                    key_cache,
                    value_cache,
                    meta.block_table,
                    meta.seq_lens,
                    output[:n],
                    self.scale,
                    self.fathom_counts,
                )
                return output
            return super().forward(
                layer,
                query,
                key,
                value,
                kv_cache,
                attn_metadata,
                output,
                output_scale=output_scale,
                output_block_scale=output_block_scale,
            )

    DecodeFlashAttentionImpl.__module__ = __name__
    return DecodeFlashAttentionImpl


@functools.cache
def _log_once(reason: str | None, max_seqs: int) -> None:
    if reason is None:
        log.info("Fathom decode attention takes decode batches of up to %d sequences", max_seqs)
    else:
        log.info("Fathom decode attention left to FlashAttention: %s", reason)


def _unsupported(impl: Any, group: int, decoder: Any) -> str | None:
    """Why the kernel cannot stand in for this layer's FlashAttention (None: it can)."""
    checks = {
        "not a decoder layer": impl.attn_type != decoder,
        "ALiBi": impl.alibi_slopes is not None,
        "sliding window": tuple(impl.sliding_window) != (-1, -1),
        "soft-capping": bool(impl.logits_soft_cap),
        "attention sinks": impl.sinks is not None,
        "a quantized KV cache": impl.kv_cache_dtype not in ("auto", "bfloat16", "float16"),
        "context parallelism": impl.dcp_world_size > 1,
        "a head size not a power of two": impl.head_size & (impl.head_size - 1) != 0,
        "more than 64 query heads a KV head": group > 64,
    }
    return next((reason for reason, failed in checks.items() if failed), None)


def _plain_decode(meta: Any, max_seqs: int) -> bool:
    """Whether a batch is one new token a sequence, at most ``max_seqs`` of them, with no
    per-batch feature FlashAttention would have to handle."""
    return bool(
        meta.max_query_len == 1
        and not meta.use_cascade
        and 0 < meta.num_actual_tokens <= max_seqs
        and meta.causal is True
        and meta.sliding_window is None
        and getattr(meta, "mm_prefix_range_tensor", None) is None
        and getattr(meta, "rswa_prefix_lens", None) is None
    )
