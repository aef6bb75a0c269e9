"""A dense FP8 linear for a few tokens on ``tl.dot``: the tensor cores' path, pipelined.

``fp8_decode_kernels.gemv``'s loop holds one tile of weights per program in registers and
reached ~0.9 TB/s on the output projection (bench/results/decode_kernels_dot.md). The MoE
kernels moved to ``tl.dot`` for the same reason and stream ~1.5-1.8 TB/s: the tokens' rows
padded to 16 (tl.dot's smallest M; the padding rows are masked and read nothing), a K loop
that Triton software-pipelines (``num_stages`` weight tiles of every program in flight), one
scale per 128x128 product. This is that kernel for a plain weight [N, K]; ``gemv`` runs it
when ``TILES["dense_dot"]`` is 1. Which one wins on a GPU is bench/gpu_decode_kernels.py's
question (``--dense-dot 0 1``).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

QUANT_BLOCK = 128
MAX_ROWS = 16  # tl.dot's smallest M: the token rows are padded up to it


@triton.jit
def group_dot(acc, x, w, s):
    """``acc + (x @ w) * s``: x [16, 128] 16-bit, w [128, BN] FP8, s a float32 scalar.

    The products are fp16: FP8 weights convert to fp16 exactly, in one instruction a pair,
    and the 16-bit activations are clamped to fp16's range (±65504) first."""
    xh = tl.clamp(x.to(tl.float32), -65504.0, 65504.0).to(tl.float16)
    return acc + tl.dot(xh, w.to(tl.float16)) * s


@triton.jit
def _dense_dot_kernel(
    x_ptr, w_ptr, s_ptr, out_ptr, M, N, K,
    stride_xm, stride_wn, stride_sn, stride_om,
    BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, QBLOCK: tl.constexpr,
):  # fmt: skip
    pid = tl.program_id(0)
    offs_m = tl.arange(0, 16)
    offs_n = pid * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_g = tl.arange(0, QBLOCK)
    rows = offs_m[:, None] < M
    cols = offs_n < N
    x_ptrs = x_ptr + offs_m[:, None] * stride_xm + offs_g[None, :]
    w_ptrs = w_ptr + offs_n[None, :].to(tl.int64) * stride_wn + offs_g[:, None]
    # The program's rows lie in one 128-row scale block (``dense_dot`` checks BLOCK_N).
    s_row = s_ptr + (pid * BLOCK_N // QBLOCK) * stride_sn
    acc = tl.zeros((16, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        for g in tl.static_range(BLOCK_K // QBLOCK):
            kg = k0 + g * QBLOCK
            x = tl.load(x_ptrs + kg, mask=rows, other=0.0)
            w = tl.load(w_ptrs + kg, mask=cols[None, :], other=0.0)
            acc = group_dot(acc, x, w, tl.load(s_row + kg // QBLOCK))
    out = out_ptr + offs_m[:, None] * stride_om + offs_n[None, :]
    tl.store(out, acc.to(out_ptr.dtype.element_ty), mask=rows & cols[None, :])


def dense_dot(
    x: torch.Tensor,
    weight: torch.Tensor,
    scale: torch.Tensor,
    out: torch.Tensor,
    *,
    block_n: int,
    block_k: int,
    num_warps: int,
    num_stages: int,
) -> torch.Tensor:
    """``out = x @ dequant(weight).T`` for x [M ≤ 16, K], weight [N, K] FP8 with ``scale``
    [ceil(N/128), K/128]; ``block_k`` a multiple of 128 that divides K."""
    m, k = x.shape
    n = weight.shape[0]
    if m > MAX_ROWS or k % block_k or block_k % QUANT_BLOCK:
        raise ValueError(f"dense_dot: x {tuple(x.shape)}, block_k {block_k}")
    if QUANT_BLOCK % block_n or block_n < 16:
        raise ValueError(f"dense_dot: a row tile of {block_n} must be 16-128 and divide 128")
    _dense_dot_kernel[(triton.cdiv(n, block_n),)](
        x, weight, scale, out, m, n, k,
        x.stride(0), weight.stride(0), scale.stride(0), out.stride(0),
        BLOCK_N=block_n, BLOCK_K=block_k, QBLOCK=QUANT_BLOCK,
        num_warps=num_warps, num_stages=num_stages,
    )  # fmt: skip
    return out
