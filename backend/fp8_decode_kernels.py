"""Triton kernels for decode steps of a few tokens over FP8 block-quantized weights: the
dense GEMV, and the tiles and limits shared with the MoE kernels (``fp8_moe_kernels``).

At batch 1 a decode step of a whole FP8 MoE model is bound by kernels, not bytes (issue 23:
~1,000 kernels a step on Qwen3-Coder-30B-A3B, 20% of the HBM roofline). These kernels read
each weight byte once and do the work of several of vLLM's kernels in one. Weights are FP8
(e4m3) with one float scale per 128x128 block (the DeepSeek-V3 / Qwen3-FP8 format); the
activations stay in 16 bits, so no activation quantization kernel runs before them.

``gemv``: ``x @ W.T``, each program a few weight rows times the (few) activation rows with a
broadcast multiply and a sum; also the MoE router (16-bit weights, no scale). It is for a
handful of tokens (``MAX_DECODE_TOKENS``); larger batches keep vLLM's kernels. Results are
accumulated in float32.

Measured on an H200 (bench/results/decode_kernels_dot.md), Qwen3-Coder-30B-A3B-FP8 shapes,
weights from HBM: the output projection (K 4096) in 9.4 against 12.2 µs; but the QKV
projection (K 2048) in 12.4 against 8.9, so the plugin leaves K < 4096 to vLLM
(``TILES["dense_min_k"]``). A whole batch-1 step with it and the MoE kernels: 3.59 ms
against plain vLLM's 4.10 (22.8% and 20.0% of the HBM roofline), same session.
"""

from __future__ import annotations

import json
import os

import torch
import triton
import triton.language as tl

QUANT_BLOCK = 128  # the weights' scale blocks are QUANT_BLOCK x QUANT_BLOCK
MAX_DECODE_TOKENS = 4

# Tiles: rows (N) and columns (K) a program loads, pipeline stages and warps per program: the
# fastest at one token on an H200 among those bench/gpu_decode_kernels.py tries
# (bench/results/decode_kernels_h200-dot3.json; the GEMV's from decode_kernels_h200.json).
# Another GPU's best can be given as JSON in FATHOM_DECODE_TILES, e.g. '{"moe_stages": 4}'.
TILES: dict[str, int] = {
    "dense_block_n": 8,
    "dense_block_k": 2048,
    "dense_warps": 4,
    # 1: the GEMV loads one scale per 128-column group of a row tile and scales the group's
    # products with it, instead of a scale load for every weight byte. Written 2026-12-05
    # when no GPU was lent: checked for correctness by Triton's interpreter only, so off until
    # bench/gpu_decode_kernels.py (which times both) shows it faster.
    "dense_group_scales": 0,
    # The plugin takes the FP8 linears with at least this many columns: there ``gemv`` beat
    # vLLM's activation quantization + CUTLASS GEMM (o_proj, K 4096); below, it did not.
    "dense_min_k": 4096,
    "router_block_n": 8,
    "moe_up_block_n": 64,
    "moe_up_block_k": 256,
    "moe_down_block_n": 64,
    "moe_down_block_k": 256,
    "moe_stages": 3,
    "moe_warps": 4,
    # Split K (the hidden size) of the up kernel over this many programs a row tile: at 1 it
    # runs only 96 programs at one token (8 experts x 12 tiles) on 132 SMs, streaming ~1.8 TB/s.
    # Above 1 the programs store float32 partial sums and the down kernel adds them before
    # SiLU-and-mul. Timed on an H200 (decode_kernels_h200-split.json, one token): 2 and 4 are
    # slower (29.1 and 36.5 µs against 27.6): the partial sums cost more than the SMs won.
    "moe_up_split_k": 1,
    # The MoE kernel takes at most this many tokens (vLLM's CUDA graphs pad a batch of 3 to
    # 4): at 4 it measured slower than vLLM's path (68.7 against 61.1 µs), at 1 faster (27.4
    # against 37.0); at 2, faster too (39.7 against 45.5, decode_kernels_h200-split.json).
    "moe_max_tokens": 2,
    # 1: the down kernel's last program to finish converts the float32 sums to 16 bits (a
    # counter in the sum's buffer says which), so no cast kernel runs after it (~1 µs a layer,
    # 50 µs a batch-1 step). On an H200: 26.6 µs a call against 27.6 with the separate cast
    # (decode_kernels_h200-split.json), checked against float32 math by the GPU test.
    "moe_fused_cast": 1,
}
TILES.update(json.loads(os.environ.get("FATHOM_DECODE_TILES") or "{}"))


@triton.jit
def _dequantized(w_base, s_base, rows, ks, mask, stride_wn, stride_sn, QBLOCK: tl.constexpr):
    """Weight rows x columns ``ks`` in float32, each times its 128x128 block's scale."""
    w = tl.load(w_base + rows[:, None] * stride_wn + ks[None, :], mask=mask, other=0.0)
    s = tl.load(
        s_base + (rows // QBLOCK)[:, None] * stride_sn + (ks // QBLOCK)[None, :],
        mask=mask,
        other=0.0,
    )
    return w.to(tl.float32) * s


@triton.jit
def _gemv_kernel(
    x_ptr, w_ptr, s_ptr, out_ptr, M, N, K,
    stride_xm, stride_wn, stride_sn, stride_om,
    HAS_SCALE: tl.constexpr, GROUPED: tl.constexpr, M_P2: tl.constexpr,
    BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, QBLOCK: tl.constexpr,
):  # fmt: skip
    offs_n = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_m = tl.arange(0, M_P2)
    mask_n = offs_n < N
    mask_m = offs_m < M
    if GROUPED:
        acc = _fp8_rows_times_x(
            x_ptr, w_ptr, s_ptr, offs_m, mask_m, offs_n, mask_n, K, stride_xm, stride_wn,
            stride_sn, M_P2, BLOCK_N, BLOCK_K, QBLOCK,
        )  # fmt: skip
    else:
        offs_k = tl.arange(0, BLOCK_K)
        acc = tl.zeros((M_P2, BLOCK_N), dtype=tl.float32)
        for k0 in range(0, K, BLOCK_K):
            ks = k0 + offs_k
            mask_w = mask_n[:, None] & (ks < K)[None, :]
            if HAS_SCALE:
                w = _dequantized(w_ptr, s_ptr, offs_n, ks, mask_w, stride_wn, stride_sn, QBLOCK)
            else:
                w_ptrs = w_ptr + offs_n[:, None] * stride_wn + ks[None, :]
                w = tl.load(w_ptrs, mask=mask_w, other=0.0).to(tl.float32)
            x = tl.load(
                x_ptr + offs_m[:, None] * stride_xm + ks[None, :],
                mask=mask_m[:, None] & (ks < K)[None, :],
                other=0.0,
            )
            acc += tl.sum(x.to(tl.float32)[:, None, :] * w[None, :, :], axis=2)
    out = out_ptr + offs_m[:, None] * stride_om + offs_n[None, :]
    tl.store(out, acc.to(out_ptr.dtype.element_ty), mask=mask_m[:, None] & mask_n[None, :])


@triton.jit
def _fp8_rows_times_x(
    x_ptr, w_ptr, s_ptr, offs_m, mask_m, offs_n, mask_n, K, stride_xm, stride_wn, stride_sn,
    M_P2: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, QBLOCK: tl.constexpr,
):  # fmt: skip
    """x [M, K] times FP8 weight rows ``offs_n``, which lie in one 128-row scale block: each
    128-column group's products are scaled by one number loaded once, and summed over K only
    at the end (``_dequantized`` loads a scale for every weight byte, four bytes of L1
    traffic for each one of HBM)."""
    offs_g = tl.arange(0, QBLOCK)
    scales = s_ptr + (tl.program_id(0) * BLOCK_N // QBLOCK) * stride_sn
    acc = tl.zeros((M_P2, BLOCK_N, QBLOCK), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        for g in tl.static_range(BLOCK_K // QBLOCK):
            kg = k0 + g * QBLOCK
            inside = (kg + offs_g) < K  # K is whole groups: all in or all out
            w = tl.load(
                w_ptr + offs_n[:, None] * stride_wn + (kg + offs_g)[None, :],
                mask=mask_n[:, None] & inside[None, :],
                other=0.0,
            )
            s = tl.load(scales + tl.minimum(kg, K - 1) // QBLOCK)  # w is 0 past K
            x = tl.load(
                x_ptr + offs_m[:, None] * stride_xm + (kg + offs_g)[None, :],
                mask=mask_m[:, None] & inside[None, :],
                other=0.0,
            )
            acc += x.to(tl.float32)[:, None, :] * (w.to(tl.float32) * s)[None, :, :]
    return tl.sum(acc, axis=2)


def _k_tile(k: int, widest: int, rows: int = 1) -> int:
    """Columns a program loads at once: ``widest``, narrower for a short K or more rows."""
    return max(16, min(triton.next_power_of_2(k), widest // triton.next_power_of_2(rows)))


def gemv(
    x: torch.Tensor,
    weight: torch.Tensor,
    scale: torch.Tensor | None = None,
    *,
    out_dtype: torch.dtype | None = None,
    block_n: int | None = None,
    block_k: int | None = None,
    num_warps: int | None = None,
    group_scales: bool | None = None,
) -> torch.Tensor:
    """``x @ dequant(weight).T`` for ``x`` [M, K] with M ≤ MAX_DECODE_TOKENS.

    ``weight`` is [N, K], FP8 with ``scale`` [ceil(N/128), K/128] (one per block), or any
    float type with ``scale`` None (then K may be anything). ``group_scales`` (FP8 only)
    overrides ``TILES["dense_group_scales"]``.
    """
    m, k = x.shape
    block_n = block_n or TILES["dense_block_n"]
    block_k = block_k or _k_tile(k, TILES["dense_block_k"], m)
    num_warps = num_warps or TILES["dense_warps"]
    grouped = scale is not None and bool(
        TILES["dense_group_scales"] if group_scales is None else group_scales
    )
    n = weight.shape[0]
    if m > MAX_DECODE_TOKENS or weight.shape[1] != k or (scale is not None and k % QUANT_BLOCK):
        raise ValueError(f"gemv: x {tuple(x.shape)}, weight {tuple(weight.shape)}")
    if grouped and (QUANT_BLOCK % block_n or block_k % QUANT_BLOCK):
        raise ValueError(f"gemv: tiles {block_n}x{block_k} across the weight's scale blocks")
    if weight.stride(1) != 1 or x.stride(1) != 1:
        raise ValueError("gemv: rows of x and weight must be contiguous")
    out = torch.empty((m, n), dtype=out_dtype or x.dtype, device=x.device)
    has_scale = scale is not None
    _gemv_kernel[(triton.cdiv(n, block_n),)](
        x, weight, scale if has_scale else weight, out, m, n, k,
        x.stride(0), weight.stride(0), scale.stride(0) if scale is not None else 0, out.stride(0),
        HAS_SCALE=has_scale, GROUPED=grouped, M_P2=triton.next_power_of_2(m), BLOCK_N=block_n,
        BLOCK_K=block_k, QBLOCK=QUANT_BLOCK, num_warps=num_warps,
    )  # fmt: skip
    return out
