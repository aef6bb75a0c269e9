"""Split-K variants of Fathom's FP8 decode kernels, for bench/gpu_read_floor.py to time.

At one token the dense tl.dot kernel runs one program a 64-row tile (80 programs for QKV on
132 SMs) and the MoE up kernel one a pair and tile (96). Splitting K gives each SM several
programs' weights in flight at once. The last program of a tile to finish (a counter per tile
says which) adds the parts, which stay in L2, and writes the result, then sets the counter
back to zero for the next call. The up kernel's earlier split (``moe_up_split_k``) left the
adding to the down kernel instead, and lost (decode_kernels_h200-split.json).

Experiments, not product code: a variant that wins moves into backend/ with its tests.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from fathom.backend.fp8_decode_kernels import _moe_down_dot_kernel, _ranked_slot
from fathom.backend.fp8_decode_tiles import QUANT_BLOCK
from fathom.backend.fp8_dense_kernels import gemv, group_dot


@triton.jit
def _last_of(count_ptr, slot, PARTS: tl.constexpr):
    """Whether this program is the last of PARTS to reach here for ``slot``; the last one
    resets the count. Every thread's stores are issued before the count (acquire-release)."""
    tl.debug_barrier()
    done = tl.atomic_add(count_ptr + slot, 1, sem="acq_rel")
    last = done == PARTS - 1
    if last:
        tl.store(count_ptr + slot, 0)
    return last


@triton.jit
def _dense_split_kernel(
    x_ptr, w_ptr, s_ptr, out_ptr, part_ptr, count_ptr, M, N, K,
    stride_xm, stride_wn, stride_sn, stride_om,
    BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, QBLOCK: tl.constexpr, SPLIT: tl.constexpr,
):  # fmt: skip
    tile = tl.program_id(0)
    part = tl.program_id(1)
    offs_m = tl.arange(0, 16)
    offs_n = tile * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_g = tl.arange(0, QBLOCK)
    rows = offs_m[:, None] < M
    cols = offs_n < N
    x_ptrs = x_ptr + offs_m[:, None] * stride_xm + offs_g[None, :]
    w_ptrs = w_ptr + offs_n[None, :].to(tl.int64) * stride_wn + offs_g[:, None]
    s_row = s_ptr + (tile * BLOCK_N // QBLOCK) * stride_sn
    acc = tl.zeros((16, BLOCK_N), dtype=tl.float32)
    k_part = K // SPLIT
    for k0 in range(part * k_part, (part + 1) * k_part, BLOCK_K):
        for g in tl.static_range(BLOCK_K // QBLOCK):
            kg = k0 + g * QBLOCK
            x = tl.load(x_ptrs + kg, mask=rows, other=0.0)
            w = tl.load(w_ptrs + kg, mask=cols[None, :], other=0.0)
            acc = group_dot(acc, x, w, tl.load(s_row + kg // QBLOCK))
    keep = rows & cols[None, :]
    out = out_ptr + offs_m[:, None] * stride_om + offs_n[None, :]
    if SPLIT == 1:
        tl.store(out, acc.to(out_ptr.dtype.element_ty), mask=keep)
    else:
        parts = part_ptr + offs_m[:, None] * N + offs_n[None, :]
        tl.store(parts + part * 16 * N, acc, mask=keep)
        if _last_of(count_ptr, tile, SPLIT):
            total = tl.zeros((16, BLOCK_N), dtype=tl.float32)
            for q in tl.static_range(SPLIT):
                total += tl.load(parts + q * 16 * N, mask=keep, other=0.0, cache_modifier=".cg")
            tl.store(out, total.to(out_ptr.dtype.element_ty), mask=keep)


_COUNTS: dict[tuple[str, torch.device, int], torch.Tensor] = {}


def counts(kernel: str, device: torch.device, slots: int) -> torch.Tensor:
    """Zeroed counters that the kernels leave zeroed: made once, outside any CUDA graph."""
    key = (kernel, device, slots)
    if key not in _COUNTS:
        _COUNTS[key] = torch.zeros(slots, dtype=torch.int32, device=device)
    return _COUNTS[key]


def dense_split(
    x: torch.Tensor,
    weight: torch.Tensor,
    scale: torch.Tensor,
    *,
    block_n: int,
    block_k: int,
    split: int,
    num_warps: int = 4,
    num_stages: int = 3,
) -> torch.Tensor:
    """``x @ dequant(weight).T`` for x [M ≤ 16, K], K split over ``split`` programs a tile."""
    m, k = x.shape
    n = weight.shape[0]
    if k % (block_k * split) or block_k % QUANT_BLOCK or QUANT_BLOCK % block_n:
        raise ValueError(f"dense_split: K {k}, block_k {block_k}, split {split}")
    out = torch.empty((m, n), dtype=x.dtype, device=x.device)
    parts = torch.empty((split, 16, n), dtype=torch.float32, device=x.device)
    tiles = triton.cdiv(n, block_n)
    _dense_split_kernel[(tiles, split)](
        x, weight, scale, out, parts, counts("dense", x.device, tiles), m, n, k,
        x.stride(0), weight.stride(0), scale.stride(0), out.stride(0),
        BLOCK_N=block_n, BLOCK_K=block_k, QBLOCK=QUANT_BLOCK, SPLIT=split,
        num_warps=num_warps, num_stages=num_stages,
    )  # fmt: skip
    return out


@triton.jit
def _moe_up_split_kernel(
    x_ptr, logits_ptr, w_ptr, s_ptr, act_ptr, part_ptr, count_ptr, ids_ptr, weights_ptr,
    out_ptr, E, INTER, K, OUT_NUMEL, stride_xm, stride_we, stride_wn, stride_se, stride_sn,
    E_P2: tl.constexpr, TOP_K: tl.constexpr, RENORMALIZE: tl.constexpr,
    BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, QBLOCK: tl.constexpr, SPLIT: tl.constexpr,
):  # fmt: skip
    """fp8_decode_kernels.py's up kernel with K split over SPLIT programs; the last of a
    (pair, tile) adds the float32 parts and applies SiLU-and-mul."""
    pair = tl.program_id(0)
    tile = tl.program_id(1)
    part = tl.program_id(2)
    m = pair // TOP_K
    expert, weight = _ranked_slot(logits_ptr, m, pair % TOP_K, E, E_P2, TOP_K, RENORMALIZE)
    if (tile == 0) & (part == 0):
        tl.store(ids_ptr + pair, expert)
        tl.store(weights_ptr + pair, weight)
    if (pair == 0) & (tile == 0) & (part == 0):
        offs = tl.arange(0, 1024)
        for i in range(0, OUT_NUMEL, 1024):
            zero = tl.zeros((1024,), out_ptr.dtype.element_ty)
            tl.store(out_ptr + i + offs, zero, mask=i + offs < OUT_NUMEL)
    offs_m = tl.arange(0, 16)
    offs_n = tile * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_g = tl.arange(0, QBLOCK)
    first = offs_m[:, None] == 0
    x_ptrs = x_ptr + m * stride_xm + offs_m[:, None] * 0 + offs_g[None, :]
    w_base = w_ptr + expert.to(tl.int64) * stride_we
    g_ptrs = w_base + offs_n[None, :].to(tl.int64) * stride_wn + offs_g[:, None]
    u_ptrs = g_ptrs + INTER * stride_wn
    s_base = s_ptr + expert.to(tl.int64) * stride_se
    sg_ptr = s_base + (tile * BLOCK_N // QBLOCK) * stride_sn
    su_ptr = s_base + ((INTER + tile * BLOCK_N) // QBLOCK) * stride_sn
    gate = tl.zeros((16, BLOCK_N), dtype=tl.float32)
    up = tl.zeros((16, BLOCK_N), dtype=tl.float32)
    k_part = K // SPLIT
    for k0 in range(part * k_part, (part + 1) * k_part, BLOCK_K):
        for g in tl.static_range(BLOCK_K // QBLOCK):
            kg = k0 + g * QBLOCK
            x = tl.load(x_ptrs + kg, mask=first, other=0.0)
            gate = group_dot(gate, x, tl.load(g_ptrs + kg), tl.load(sg_ptr + kg // QBLOCK))
            up = group_dot(up, x, tl.load(u_ptrs + kg), tl.load(su_ptr + kg // QBLOCK))
    g = tl.sum(gate, axis=0)
    u = tl.sum(up, axis=0)
    parts = part_ptr + pair * SPLIT * 2 * INTER + offs_n
    tl.store(parts + part * 2 * INTER, g)
    tl.store(parts + part * 2 * INTER + INTER, u)
    if _last_of(count_ptr, pair * (INTER // BLOCK_N) + tile, SPLIT):
        g = tl.zeros((BLOCK_N,), dtype=tl.float32)
        u = tl.zeros((BLOCK_N,), dtype=tl.float32)
        for q in tl.static_range(SPLIT):
            g += tl.load(parts + q * 2 * INTER, cache_modifier=".cg")
            u += tl.load(parts + q * 2 * INTER + INTER, cache_modifier=".cg")
        act = g / (1.0 + tl.exp(-g)) * u
        tl.store(act_ptr + pair * INTER + offs_n, act.to(act_ptr.dtype.element_ty))


def moe_split(
    x: torch.Tensor,
    gate_weight: torch.Tensor,
    w13: torch.Tensor,
    w13_scale: torch.Tensor,
    w2: torch.Tensor,
    w2_scale: torch.Tensor,
    *,
    top_k: int,
    renormalize: bool,
    split: int,
    up_n: int = 64,
    up_k: int = 256,
    down_n: int = 64,
    down_k: int = 256,
    num_warps: int = 4,
    num_stages: int = 3,
) -> torch.Tensor:
    """fp8_decode_kernels.moe_decode with the up kernel split ``split`` ways (fused cast on)."""
    m, h = x.shape
    e, two_i, _ = w13.shape
    i = two_i // 2
    if h % (up_k * split) or i % up_n:
        raise ValueError(f"moe_split: hidden {h}, up_k {up_k}, split {split}")
    logits = gemv(x, gate_weight, out_dtype=torch.float32, block_n=8)
    pairs = m * top_k
    act = torch.empty((pairs, i), dtype=torch.bfloat16, device=x.device)
    parts = torch.empty((pairs, split, 2 * i), dtype=torch.float32, device=x.device)
    ids = torch.empty((pairs,), dtype=torch.int32, device=x.device)
    weights = torch.empty((pairs,), dtype=torch.float32, device=x.device)
    out = torch.empty((m * h + 1,), dtype=torch.float32, device=x.device)
    result = torch.empty((m, h), dtype=x.dtype, device=x.device)
    _moe_up_split_kernel[(pairs, i // up_n, split)](
        x, logits, w13, w13_scale, act, parts, counts("up", x.device, pairs * (i // up_n)), ids,
        weights, out, e, i, h, out.numel(),
        x.stride(0), w13.stride(0), w13.stride(1), w13_scale.stride(0), w13_scale.stride(1),
        E_P2=triton.next_power_of_2(e), TOP_K=top_k, RENORMALIZE=renormalize,
        BLOCK_N=up_n, BLOCK_K=up_k, QBLOCK=QUANT_BLOCK, SPLIT=split,
        num_warps=num_warps, num_stages=num_stages,
    )  # fmt: skip
    _moe_down_dot_kernel[(pairs, h // down_n)](
        act, ids, weights, w2, w2_scale, out, h, i,
        w2.stride(0), w2.stride(1), w2_scale.stride(0), w2_scale.stride(1), h,
        result, m * h, pairs * (h // down_n),
        TOP_K=top_k, BLOCK_N=down_n, BLOCK_K=down_k, QBLOCK=QUANT_BLOCK, SPLIT=1,
        CAST=True, num_warps=num_warps, num_stages=num_stages,
    )  # fmt: skip
    return result
