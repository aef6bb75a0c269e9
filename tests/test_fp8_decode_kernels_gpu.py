"""Fathom's FP8 decode kernels on a GPU, against float32 math and against vLLM's own ops.

Skipped without CUDA (the CPU checks run the same kernels under Triton's interpreter:
tests/test_fp8_decode_kernels.py). On a GPU host without pytest it runs as a script:
``python tests/test_fp8_decode_kernels_gpu.py`` prints each check and fails on the first miss.
Shapes of Qwen3-Coder-30B-A3B-Instruct-FP8: hidden 2048, 128 experts of 768, top-8.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import torch

try:
    import pytest
except ImportError:  # a GPU host with vLLM but no pytest: run as a script
    pytest = None  # type: ignore[assignment]

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fathom.backend import fp8_decode_kernels as kernels
from fathom.backend import fp8_dense_kernels as dense_kernels

if pytest is not None:
    pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

HIDDEN, EXPERTS, INTER, TOP_K = 2048, 128, 768, 8
# Error relative to the largest exact output. The kernels keep activations in 16 bits, so they
# must be well inside vLLM's W8A8 error (FP8 activations), and small in absolute terms.
TOLERANCE = 0.01


def quantize(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    n, k = w.shape[-2:]
    blocks = w.reshape(*w.shape[:-2], n // 128, 128, k // 128, 128)
    scale = blocks.abs().amax(dim=(-3, -1)).clamp(min=1e-8) / 448.0
    q = (blocks / scale[..., :, None, :, None]).to(torch.float8_e4m3fn)
    return q.reshape(w.shape).contiguous(), scale.float().contiguous()


def dequantize(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return q.float() * scale.repeat_interleave(128, -2).repeat_interleave(128, -1)


def rel_error(out: torch.Tensor, exact: torch.Tensor) -> float:
    return ((out.float() - exact).abs().max() / exact.abs().max()).item()


def vllm_dense(x: torch.Tensor, q: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    from vllm import _custom_ops as ops
    from vllm.model_executor.layers.quantization.utils.fp8_utils import per_token_group_quant_fp8

    xq, xs = per_token_group_quant_fp8(x, 128, column_major_scales=True)
    return ops.cutlass_scaled_mm(xq, q.T, out_dtype=x.dtype, scale_a=xs, scale_b=s.T)


def test_gemv_matches_float32_math_and_beats_vllms_error() -> None:
    torch.manual_seed(0)
    shapes = ((5120, 2048), (2048, 4096))
    for (n, k), m, dot in itertools.product(shapes, (1, 3, 8, 32, 64), (False, True)):
        if m > 4 and not dot:  # the loop kernel takes at most 4 rows
            continue
        q, s = quantize(torch.randn(n, k, device="cuda") * 0.02)
        x = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
        exact = x.float() @ dequantize(q, s).T
        ours = rel_error(dense_kernels.gemv(x, q, s, dot=dot), exact)
        theirs = rel_error(vllm_dense(x, q, s), exact)
        print(f"gemv {n}x{k} m={m} dot={dot}: {ours:.5f} (vLLM {theirs:.5f})")
        assert ours < TOLERANCE
        assert ours < theirs


def test_moe_decode_matches_float32_math_and_beats_vllms_error() -> None:
    from vllm.model_executor.layers.fused_moe.config import fp8_w8a8_moe_quant_config
    from vllm.model_executor.layers.fused_moe.fused_moe import fused_experts
    from vllm.model_executor.layers.fused_moe.router.fused_topk_router import fused_topk

    torch.manual_seed(0)
    gate = (torch.randn(EXPERTS, HIDDEN, device="cuda") * 0.02).bfloat16()
    q13, s13 = quantize(torch.randn(EXPERTS, 2 * INTER, HIDDEN, device="cuda") * 0.02)
    q2, s2 = quantize(torch.randn(EXPERTS, HIDDEN, INTER, device="cuda") * 0.02)
    w13, w2 = dequantize(q13, s13), dequantize(q2, s2)
    config = fp8_w8a8_moe_quant_config(w1_scale=s13, w2_scale=s2, block_shape=[128, 128])
    # The tl.dot up kernel (top-k in each program), its K split over 2 and 4 programs
    # (TILES["moe_up_split_k"]), the cast to bf16 by the down kernel's last program
    # (TILES["moe_fused_cast"]), which a race would show as a wrong or partial sum; then the
    # loop up kernel, the top-k in each of its programs or ranked once by the router kernel
    # (one counter for all calls: a count left behind would route the next call with stale
    # experts).
    count = torch.zeros(1, dtype=torch.int32, device="cuda")
    for m, renormalize, split, cast, loop, once in (
        (1, True, 1, False, False, False),
        (3, True, 1, False, False, False),
        (2, False, 1, False, False, False),
        (1, True, 2, False, False, False),
        (4, True, 4, False, False, False),
        (1, True, 1, True, False, False),
        (2, True, 2, True, False, False),
        (1, True, 1, True, True, False),
        (2, False, 1, True, True, False),
        (4, True, 1, False, True, False),
        (1, True, 1, True, True, True),
        (2, False, 1, True, True, True),
        (4, True, 1, False, True, True),
    ):
        x = torch.randn(m, HIDDEN, device="cuda", dtype=torch.bfloat16)
        probs = (x.float() @ gate.float().T).softmax(-1)
        top_w, top_i = probs.topk(TOP_K, -1)
        if renormalize:
            top_w = top_w / top_w.sum(-1, keepdim=True)
        exact = torch.zeros(m, HIDDEN, device="cuda")
        for t, j in itertools.product(range(m), range(TOP_K)):
            h = w13[top_i[t, j]] @ x[t].float()
            act = torch.nn.functional.silu(h[:INTER]) * h[INTER:]
            exact[t] += top_w[t, j] * (w2[top_i[t, j]] @ act)
        weights, ids, _ = fused_topk(x, torch.nn.functional.linear(x, gate), TOP_K, renormalize)
        theirs = rel_error(fused_experts(x, q13, q2, weights, ids, quant_config=config), exact)
        out = kernels.moe_decode(
            x,
            gate,
            q13,
            s13,
            q2,
            s2,
            top_k=TOP_K,
            renormalize=renormalize,
            split_k=split,
            fused_cast=cast,
            up_loop=loop,
            topk_once=once,
            count=count,
        )
        ours = rel_error(out, exact)
        print(
            f"moe_decode m={m} renormalize={renormalize} split_k={split} cast={cast} "
            f"up_loop={loop} topk_once={once}: {ours:.5f} (vLLM {theirs:.5f})"
        )
        assert count.item() == 0
        assert out.dtype == x.dtype
        assert ours < TOLERANCE
        assert ours < theirs


if __name__ == "__main__":
    test_gemv_matches_float32_math_and_beats_vllms_error()
    test_moe_decode_matches_float32_math_and_beats_vllms_error()
    print("gpu kernel tests passed")
