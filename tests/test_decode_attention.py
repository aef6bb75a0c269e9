"""Fathom's decode attention kernel and the vLLM attention backend that would use it.

The kernel runs under Triton's interpreter on the CPU (tests/decode_attention_interpreted.py),
checked against float32 attention over the same paged cache; on a GPU,
tests/test_decode_attention_gpu.py checks it in bfloat16 beside FlashAttention, and
bench/gpu_decode_attention.py times both.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from fathom.backend import vllm_decode_attention
from tests.triton_interpreted import run_interpreted

TOLERANCE = 0.01  # fp16 outputs carry ~3 significant digits


@pytest.fixture(scope="module")
def interpreted() -> dict[str, Any]:
    return run_interpreted("decode_attention_interpreted.py")


@pytest.mark.parametrize("case", ["one_slice", "slices", "empty_and_long", "group_of_3"])
def test_kernel_matches_float32_attention_and_leaves_counts_zeroed(
    interpreted: dict[str, Any], case: str
) -> None:
    assert interpreted[case] < TOLERANCE
    assert interpreted[f"{case}_again"] < TOLERANCE
    assert set(interpreted[f"{case}_counts"]) == {0}


def _impl(**overrides: Any) -> SimpleNamespace:
    fields = {
        "attn_type": "decoder",
        "alibi_slopes": None,
        "sliding_window": (-1, -1),
        "logits_soft_cap": 0,
        "sinks": None,
        "kv_cache_dtype": "auto",
        "dcp_world_size": 1,
        "head_size": 128,
    }
    return SimpleNamespace(**{**fields, **overrides})


def test_layers_the_kernel_cannot_serve_keep_flash_attention() -> None:
    unsupported = vllm_decode_attention._unsupported
    assert unsupported(_impl(), 8, "decoder") is None
    assert unsupported(_impl(kv_cache_dtype="fp8"), 8, "decoder") == "a quantized KV cache"
    assert unsupported(_impl(sliding_window=(127, 0)), 8, "decoder") == "sliding window"
    assert unsupported(_impl(logits_soft_cap=30.0), 8, "decoder") == "soft-capping"
    assert unsupported(_impl(head_size=96), 8, "decoder") == "a head size not a power of two"
    assert unsupported(_impl(attn_type="encoder"), 8, "decoder") == "not a decoder layer"


def _meta(**overrides: Any) -> SimpleNamespace:
    fields = {
        "max_query_len": 1,
        "use_cascade": False,
        "num_actual_tokens": 1,
        "causal": True,
        "sliding_window": None,
        "mm_prefix_range_tensor": None,
        "rswa_prefix_lens": None,
    }
    return SimpleNamespace(**{**fields, **overrides})


def test_only_small_one_token_decode_batches_take_the_kernel() -> None:
    plain = vllm_decode_attention._plain_decode
    assert plain(_meta(), 8)
    assert plain(_meta(num_actual_tokens=8), 8)
    assert not plain(_meta(num_actual_tokens=9), 8)
    assert not plain(_meta(max_query_len=2), 8)  # prefill, mixed or speculative
    assert not plain(_meta(use_cascade=True), 8)
    assert not plain(_meta(causal=False), 8)


def test_register_points_vllms_flash_attention_entry_at_the_subclass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vllm.v1.attention.backends import registry
    from vllm.v1.attention.backends.flash_attn import FlashAttentionBackend, FlashAttentionImpl

    monkeypatch.setattr(registry, "_ATTN_OVERRIDES", dict(registry._ATTN_OVERRIDES))
    vllm_decode_attention.register()
    backend = registry.AttentionBackendEnum.FLASH_ATTN.get_class()
    assert issubclass(backend, FlashAttentionBackend) and backend is not FlashAttentionBackend
    assert backend.get_name() == "FLASH_ATTN"
    impl = backend.get_impl_cls()
    assert issubclass(impl, FlashAttentionImpl) and impl is not FlashAttentionImpl
    assert backend.get_builder_cls() is FlashAttentionBackend.get_builder_cls()
