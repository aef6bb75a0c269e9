"""A batch-1 MoE layer with the top-k ranked once, so its expert kernels can be plain loops.

Bench-only variants for bench/gpu_read_floor.py (issue 23's largest batch-1 gap: the MoE
layer at ~2x its read floor). The shipped up kernel (backend/fp8_decode_kernels.py) ranks
the router's 128 logits in every one of its programs before its first weight load, which
keeps it to a few large ``tl.dot`` programs (96 at one token). Here:

- ``_router_topk_kernel``: the router GEMV, and its last program to finish (a counter it
  resets) ranks each token's logits once and writes the top-k ids and weights;
- ``_up_loop_kernel``: gate and up rows of one chosen expert a program, a broadcast multiply
  and a sum as ``_gemv_kernel`` does, so a layer runs ~1,500 small programs;
- ``_down_loop_kernel``: a program takes a few output rows for all of a token's chosen
  experts and writes them in 16 bits, so no float32 atomics, no zeroing and no cast.

Or the shipped down kernel (atomics and its fused cast) after the loop up kernel.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from fathom.backend.fp8_decode_kernels import _moe_down_dot_kernel
from fathom.backend.fp8_decode_tiles import QUANT_BLOCK


@triton.jit
def _prefetch_l2(ptrs, EVICT_LAST: tl.constexpr):
    """Ask L2 for the lines at ``ptrs``: no register is written, the program does not wait."""
    if EVICT_LAST:
        tl.inline_asm_elementwise(
            "prefetch.global.L2::evict_last [$1];\n\tmov.u32 $0, 0;", "=r,l",
            [ptrs.to(tl.int64)], dtype=tl.int32, is_pure=False, pack=1,
        )  # fmt: skip
    else:
        tl.inline_asm_elementwise(
            "prefetch.global.L2 [$1];\n\tmov.u32 $0, 0;", "=r,l",
            [ptrs.to(tl.int64)], dtype=tl.int32, is_pure=False, pack=1,
        )  # fmt: skip


@triton.jit
def _router_topk_kernel(
    x_ptr, w_ptr, logits_ptr, ids_ptr, weights_ptr, count_ptr, M, E, K, stride_xm,
    E_P2: tl.constexpr, TOP_K: tl.constexpr, RENORMALIZE: tl.constexpr, M_P2: tl.constexpr,
    BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
):  # fmt: skip
    offs_n = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_m = tl.arange(0, M_P2)
    offs_k = tl.arange(0, BLOCK_K)
    acc = tl.zeros((M_P2, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        ks = k0 + offs_k
        w = tl.load(w_ptr + offs_n[:, None] * K + ks[None, :], mask=(offs_n < E)[:, None])
        x = tl.load(x_ptr + offs_m[:, None] * stride_xm + ks[None, :], mask=(offs_m < M)[:, None])
        acc += tl.sum(x.to(tl.float32)[:, None, :] * w.to(tl.float32)[None, :, :], axis=2)
    inside = (offs_m < M)[:, None] & (offs_n < E)[None, :]
    tl.store(logits_ptr + offs_m[:, None] * E + offs_n[None, :], acc, mask=inside)
    # As the shipped down kernel's fused cast: every program's stores before its count, and
    # the last one reads them from L2 (.cg).
    tl.debug_barrier()
    done = tl.atomic_add(count_ptr, 1, sem="acq_rel")
    if done == tl.num_programs(0) - 1:
        offs_e = tl.arange(0, E_P2)
        for m in range(M):
            logits = tl.load(
                logits_ptr + m * E + offs_e, mask=offs_e < E, other=float("-inf"),
                cache_modifier=".cg",
            )  # fmt: skip
            ahead = (logits[None, :] > logits[:, None]) | (
                (logits[None, :] == logits[:, None]) & (offs_e[None, :] < offs_e[:, None])
            )
            rank = tl.sum(ahead.to(tl.int32), axis=1)
            probs = tl.exp(logits - tl.max(logits, axis=0))
            top = rank < TOP_K
            if RENORMALIZE:
                total = tl.sum(tl.where(top, probs, 0.0), axis=0)
            else:
                total = tl.sum(probs, axis=0)
            tl.store(ids_ptr + m * TOP_K + rank, offs_e, mask=top)
            tl.store(weights_ptr + m * TOP_K + rank, probs / total, mask=top)
        tl.store(count_ptr, 0)


@triton.jit
def _up_loop_kernel(
    x_ptr, ids_ptr, w_ptr, s_ptr, act_ptr, out_ptr, OUT_NUMEL, INTER, stride_xm,
    stride_we, stride_wn, stride_se, stride_sn, down_ptr, stride_de,
    K: tl.constexpr, TOP_K: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    QBLOCK: tl.constexpr, ZERO_OUT: tl.constexpr, PREFETCH: tl.constexpr, LINES: tl.constexpr,
    EVICT: tl.constexpr,
):  # fmt: skip
    pair = tl.program_id(0)
    tile = tl.program_id(1)
    m = pair // TOP_K
    expert = tl.load(ids_ptr + pair).to(tl.int64)
    # A constexpr test of its own: without ZERO_OUT the branch is not compiled at all.
    if ZERO_OUT:  # noqa: SIM102 (the shipped down kernel adds into ``out``, counts at its end)
        if (pair == 0) & (tile == 0):
            offs = tl.arange(0, 1024)
            for i in range(0, OUT_NUMEL, 1024):
                zero = tl.zeros((1024,), out_ptr.dtype.element_ty)
                tl.store(out_ptr + i + offs, zero, mask=i + offs < OUT_NUMEL)
    if PREFETCH > 0:
        # This program's share of the pair's down weights (one expert's [H, INTER] FP8
        # matrix, contiguous), asked of L2 now so the down kernel finds them there.
        share = stride_de // tl.num_programs(1)
        lines = tl.minimum(tl.arange(0, LINES) * 128, share - 1)
        _prefetch_l2(down_ptr + expert * stride_de + tile * share + lines, PREFETCH == 2)
    offs_n = tile * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    g_rows = w_ptr + expert * stride_we + offs_n[:, None].to(tl.int64) * stride_wn
    u_rows = g_rows + INTER * stride_wn
    s_base = s_ptr + expert * stride_se
    sg_row = s_base + (tile * BLOCK_N // QBLOCK) * stride_sn
    su_row = s_base + ((INTER + tile * BLOCK_N) // QBLOCK) * stride_sn
    gate = tl.zeros((BLOCK_N,), dtype=tl.float32)
    up = tl.zeros((BLOCK_N,), dtype=tl.float32)
    for k0 in tl.static_range(0, K, BLOCK_K):
        ks = k0 + offs_k
        x = tl.load(x_ptr + m * stride_xm + ks).to(tl.float32)
        wg = tl.load(g_rows + ks[None, :], eviction_policy=EVICT).to(tl.float32)
        wu = tl.load(u_rows + ks[None, :], eviction_policy=EVICT).to(tl.float32)
        xg = x * tl.load(sg_row + ks // QBLOCK)
        xu = x * tl.load(su_row + ks // QBLOCK)
        gate += tl.sum(wg * xg[None, :], axis=1)
        up += tl.sum(wu * xu[None, :], axis=1)
    act = gate / (1.0 + tl.exp(-gate)) * up
    tl.store(act_ptr + pair * INTER + offs_n, act.to(act_ptr.dtype.element_ty))


@triton.jit
def _down_loop_kernel(
    act_ptr, ids_ptr, weights_ptr, w_ptr, s_ptr, out_ptr,
    stride_we, stride_wn, stride_se, stride_sn, stride_om,
    INTER: tl.constexpr, TOP_K: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    QBLOCK: tl.constexpr,
):  # fmt: skip
    m = tl.program_id(0)
    tile = tl.program_id(1)
    offs_n = tile * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_N,), dtype=tl.float32)
    for slot in tl.static_range(TOP_K):
        pair = m * TOP_K + slot
        expert = tl.load(ids_ptr + pair).to(tl.int64)
        weight = tl.load(weights_ptr + pair)
        rows = w_ptr + expert * stride_we + offs_n[:, None].to(tl.int64) * stride_wn
        s_row = s_ptr + expert * stride_se + (tile * BLOCK_N // QBLOCK) * stride_sn
        for k0 in tl.static_range(0, INTER, BLOCK_K):
            ks = k0 + offs_k
            inside = ks < INTER
            a = tl.load(act_ptr + pair * INTER + ks, mask=inside, other=0.0).to(tl.float32)
            s = tl.load(s_row + ks // QBLOCK, mask=inside, other=0.0) * weight
            w = tl.load(rows + ks[None, :], mask=inside[None, :], other=0.0).to(tl.float32)
            acc += tl.sum(w * (a * s)[None, :], axis=1)
    tl.store(out_ptr + m * stride_om + offs_n, acc.to(out_ptr.dtype.element_ty))


def moe_topk_once(
    x: torch.Tensor,
    gate_weight: torch.Tensor,
    w13: torch.Tensor,
    w13_scale: torch.Tensor,
    w2: torch.Tensor,
    w2_scale: torch.Tensor,
    count: torch.Tensor,
    *,
    top_k: int,
    renormalize: bool,
    up: tuple[int, int, int] = (4, 1024, 4),
    down: tuple[str, int, int, int, int] = ("dot", 64, 256, 3, 4),
    router_n: int = 8,
    prefetch: int = 0,
    stop_after: str = "",
) -> torch.Tensor:
    """``moe_decode``'s layer with the top-k ranked once; ``count`` an int32 zero the router
    kernel leaves at zero. ``up``: the loop up kernel's rows, K tile and warps; ``down``:
    "loop" (``_down_loop_kernel``) or "dot" (the shipped down kernel, its atomics and fused
    cast), then rows, K tile, stages and warps. ``router_n``: the router's rows a program.
    ``prefetch``: the up kernel asks L2 for the down weights (1; 2 marked evict-last, its own
    loads evict-first). ``stop_after`` "router" or "up" leaves out the
    kernels after it (to time each kernel by difference)."""
    m, h = x.shape
    e, two_i, _ = w13.shape
    i = two_i // 2
    pairs = m * top_k
    logits = torch.empty((m, e), dtype=torch.float32, device=x.device)
    ids = torch.empty((pairs,), dtype=torch.int32, device=x.device)
    weights = torch.empty((pairs,), dtype=torch.float32, device=x.device)
    _router_topk_kernel[(triton.cdiv(e, router_n),)](
        x, gate_weight, logits, ids, weights, count, m, e, h, x.stride(0),
        E_P2=triton.next_power_of_2(e), TOP_K=top_k, RENORMALIZE=renormalize,
        M_P2=triton.next_power_of_2(m), BLOCK_N=router_n, BLOCK_K=min(2048, h), num_warps=4,
    )  # fmt: skip
    if stop_after == "router":
        return logits
    act = torch.empty((pairs, i), dtype=torch.bfloat16, device=x.device)
    kind, down_n, down_k, down_stages, down_warps = down
    dot_down = kind == "dot"
    out = torch.empty((m * h + 1,), dtype=torch.float32, device=x.device) if dot_down else act
    up_n, up_k, up_warps = up
    _up_loop_kernel[(pairs, i // up_n)](
        x, ids, w13, w13_scale, act, out, out.numel(), i, x.stride(0),
        w13.stride(0), w13.stride(1), w13_scale.stride(0), w13_scale.stride(1),
        w2, w2.stride(0),
        K=h, TOP_K=top_k, BLOCK_N=up_n, BLOCK_K=min(up_k, h), QBLOCK=QUANT_BLOCK,
        ZERO_OUT=dot_down, PREFETCH=prefetch, EVICT="evict_first" if prefetch == 2 else "",
        LINES=triton.next_power_of_2(triton.cdiv(w2.stride(0) * up_n, i * 128)),
        num_warps=up_warps,
    )  # fmt: skip
    if stop_after == "up":
        return act
    result = torch.empty((m, h), dtype=x.dtype, device=x.device)
    if dot_down:
        _moe_down_dot_kernel[(pairs, h // down_n)](
            act, ids, weights, w2, w2_scale, out, h, i,
            w2.stride(0), w2.stride(1), w2_scale.stride(0), w2_scale.stride(1), h,
            result, m * h, pairs * (h // down_n),
            TOP_K=top_k, BLOCK_N=down_n, BLOCK_K=down_k, QBLOCK=QUANT_BLOCK,
            SPLIT=1, CAST=True, num_warps=down_warps, num_stages=down_stages,
        )  # fmt: skip
        return result
    _down_loop_kernel[(m, h // down_n)](
        act, ids, weights, w2, w2_scale, result,
        w2.stride(0), w2.stride(1), w2_scale.stride(0), w2_scale.stride(1), result.stride(0),
        INTER=i, TOP_K=top_k, BLOCK_N=down_n, BLOCK_K=down_k, QBLOCK=QUANT_BLOCK,
        num_warps=down_warps,
    )  # fmt: skip
    return result
