"""Fathom's decode attention kernel on a GPU in bfloat16, against float32 attention and beside
FlashAttention-3 (vLLM's) over the same paged cache.

Skipped without CUDA (tests/test_decode_attention.py runs the kernel under Triton's
interpreter). On a GPU host without pytest: ``python tests/test_decode_attention_gpu.py``.
Shapes of Qwen3-Coder-30B-A3B: 32 query heads, 4 KV heads of 128, 16-token pages.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch

try:
    import pytest
except ImportError:  # a GPU host with vLLM but no pytest: run as a script
    pytest = None  # type: ignore[assignment]

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

from paged_attention_reference import attention, paged_cache  # noqa: E402

from fathom.backend.decode_attention_kernels import decode_attention  # noqa: E402

if pytest is not None:
    pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

TOLERANCE = 0.01  # relative to the largest output; bfloat16 outputs carry ~3 digits


def flash_attention_error(query, keys, values, table, lens, exact) -> float:  # type: ignore[no-untyped-def]
    from vllm.vllm_flash_attn import flash_attn_varlen_func

    seqs = query.shape[0]
    out = flash_attn_varlen_func(
        q=query,
        k=keys,
        v=values,
        cu_seqlens_q=torch.arange(seqs + 1, dtype=torch.int32, device="cuda"),
        max_seqlen_q=1,
        seqused_k=lens,
        max_seqlen_k=int(lens.max()),
        softmax_scale=1 / math.sqrt(query.shape[-1]),
        causal=True,
        block_table=table,
        fa_version=3,
    )
    return ((out.float() - exact).abs().max() / exact.abs().max()).item()


def test_decode_attention_matches_float32_and_flash_attention() -> None:
    torch.manual_seed(0)
    lengths = [1, 1024, 5000, 0, 32768]
    keys, values, table, lens = paged_cache(lengths, 4, 128, device="cuda")
    query = torch.randn(len(lengths), 32, 128, device="cuda").bfloat16()
    scale = 1 / math.sqrt(128)
    exact = attention(query, keys, values, table, lens, scale)
    counts = torch.zeros(len(lengths) * 4, dtype=torch.int32, device="cuda")
    try:
        theirs = flash_attention_error(query, keys, values, table, lens, exact)
    except ImportError:
        theirs = float("nan")
    for settings in ({}, {"splits": 32, "min_chunk": 32, "block_t": 32}, {"splits": 1}):
        for step in range(2):  # the second call finds the slice counts zeroed again
            out = torch.full_like(query, float("nan"))
            decode_attention(query, keys, values, table, lens, out, scale, counts, **settings)
            ours = ((out.float() - exact).abs().max() / exact.abs().max()).item()
            print(
                f"decode_attention {settings} call {step}: {ours:.5f} (FlashAttention {theirs:.5f})"
            )
            assert ours < TOLERANCE
            assert int(counts.abs().sum()) == 0


if __name__ == "__main__":
    test_decode_attention_matches_float32_and_flash_attention()
    print("gpu attention test passed")
