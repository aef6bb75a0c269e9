"""A MoE layer of a decode step in one kernel launch, for bench/gpu_read_floor.py to time.

Fathom's MoE runs three kernels a layer (router GEMV, up, down: fp8_decode_kernels.py), and
on an H100 the layer takes 2x the time a kernel needs only to read its 38 MB
(read_floor_h100.md). Each launch boundary costs a ramp and a tail, and the down kernel's
weights are not asked for until the up kernel has ended. Here one grid runs all three roles,
in program order: router programs, then up programs, then down programs. A later role waits
on counters the earlier one raises (acquire-release atomics). Programs start in about the
order of their ids, so the programs waited on are running or done, and a wait always ends.
A down program computes its pair's top-k as soon as the router is done and asks L2 for its
weight tile (``prefetch.global.L2``). Then it waits for the pair's activations, so the down
weights stream while the up programs run. The last down program to finish casts the sum to
16 bits and zeroes the counters for the next call.

An experiment, not product code: if it wins, it moves into backend/ with its tests.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from fathom.backend.fp8_decode_tiles import QUANT_BLOCK
from fathom.backend.fp8_dense_kernels import group_dot

LINE_BYTES = 128


@triton.jit
def _prefetch_l2(ptrs):
    """Ask L2 for the lines at ``ptrs``; no register is written."""
    tl.inline_asm_elementwise(
        "prefetch.global.L2 [$1];\n\tmov.u32 $0, 0;",
        "=r,l",
        [ptrs.to(tl.int64)],
        dtype=tl.int32,
        is_pure=False,
        pack=1,
    )


@triton.jit
def _sleep(ns: tl.constexpr):
    tl.inline_asm_elementwise(
        "nanosleep.u32 $1;\n\tmov.u32 $0, 0;",
        "=r,r",
        [tl.full((1,), ns, tl.int32)],
        dtype=tl.int32,
        is_pure=False,
        pack=1,
    )


@triton.jit
def _wait_for(count_ptr, target, SLEEP: tl.constexpr):
    """Spin until the count reaches ``target``; its writers' stores are visible after.

    SLEEP 0 polls with atomics (each one a round trip to the L2's atomic unit, contended by
    every waiting program); otherwise with plain volatile loads and a sleep of SLEEP ns
    between them, then one acquiring atomic."""
    if SLEEP == 0:
        seen = tl.atomic_add(count_ptr, 0, sem="acquire")
        while seen < target:
            seen = tl.atomic_add(count_ptr, 0, sem="acquire")
    else:
        seen = tl.load(count_ptr, volatile=True)
        while seen < target:
            _sleep(SLEEP)
            seen = tl.load(count_ptr, volatile=True)
        tl.atomic_add(count_ptr, 0, sem="acquire")


@triton.jit
def _top_k_slot(logits_ptr, m, slot, E, E_P2: tl.constexpr, TOP_K: tl.constexpr,
                RENORMALIZE: tl.constexpr):  # fmt: skip
    """fp8_decode_kernels._ranked_slot, reading the logits from L2 (written in this launch)."""
    offs_e = tl.arange(0, E_P2)
    valid = offs_e < E
    logits = tl.load(
        logits_ptr + m * E + offs_e, mask=valid, other=float("-inf"), cache_modifier=".cg"
    )
    ahead = (logits[None, :] > logits[:, None]) | (
        (logits[None, :] == logits[:, None]) & (offs_e[None, :] < offs_e[:, None])
    )
    rank = tl.sum(ahead.to(tl.int32), axis=1)
    probs = tl.exp(logits - tl.max(logits, axis=0))
    mine = rank == slot
    expert = tl.sum(tl.where(mine, offs_e, 0), axis=0)
    if RENORMALIZE:
        total = tl.sum(tl.where(rank < TOP_K, probs, 0.0), axis=0)
    else:
        total = tl.sum(probs, axis=0)
    return expert, tl.sum(tl.where(mine, probs, 0.0), axis=0) / total


@triton.jit
def _router(x_ptr, gate_ptr, logits_ptr, pid, M, E, H, stride_xm,
            M_P2: tl.constexpr, ROUTER_N: tl.constexpr, ROUTER_K: tl.constexpr):  # fmt: skip
    offs_e = pid * ROUTER_N + tl.arange(0, ROUTER_N)
    offs_m = tl.arange(0, M_P2)
    offs_k = tl.arange(0, ROUTER_K)
    acc = tl.zeros((M_P2, ROUTER_N), dtype=tl.float32)
    for k0 in range(0, H, ROUTER_K):
        ks = k0 + offs_k
        w = tl.load(gate_ptr + offs_e[:, None] * H + ks[None, :], mask=(offs_e < E)[:, None])
        x = tl.load(x_ptr + offs_m[:, None] * stride_xm + ks[None, :], mask=(offs_m < M)[:, None])
        acc += tl.sum(x.to(tl.float32)[:, None, :] * w.to(tl.float32)[None, :, :], axis=2)
    keep = (offs_m < M)[:, None] & (offs_e < E)[None, :]
    tl.store(logits_ptr + offs_m[:, None] * E + offs_e[None, :], acc, mask=keep)


@triton.jit
def _up(x_ptr, w_ptr, s_ptr, act_ptr, m, pair, expert, tile, INTER, K, stride_xm, stride_we,
        stride_wn, stride_se, stride_sn, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
        QBLOCK: tl.constexpr):  # fmt: skip
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
    for k0 in range(0, K, BLOCK_K):
        for g in tl.static_range(BLOCK_K // QBLOCK):
            kg = k0 + g * QBLOCK
            x = tl.load(x_ptrs + kg, mask=first, other=0.0)
            gate = group_dot(gate, x, tl.load(g_ptrs + kg), tl.load(sg_ptr + kg // QBLOCK))
            up = group_dot(up, x, tl.load(u_ptrs + kg), tl.load(su_ptr + kg // QBLOCK))
    g = tl.sum(gate, axis=0)
    u = tl.sum(up, axis=0)
    act = g / (1.0 + tl.exp(-g)) * u
    tl.store(act_ptr + pair * INTER + offs_n, act.to(act_ptr.dtype.element_ty))


@triton.jit
def _down(act_ptr, w_ptr, s_ptr, out_ptr, m, pair, expert, weight, tile, INTER, stride_we,
          stride_wn, stride_se, stride_sn, stride_om, BLOCK_N: tl.constexpr,
          BLOCK_K: tl.constexpr, QBLOCK: tl.constexpr):  # fmt: skip
    offs_m = tl.arange(0, 16)
    offs_n = tile * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_g = tl.arange(0, QBLOCK)
    first = offs_m[:, None] == 0
    a_ptrs = act_ptr + pair * INTER + offs_m[:, None] * 0 + offs_g[None, :]
    w_ptrs = w_ptr + expert.to(tl.int64) * stride_we + offs_n[None, :].to(tl.int64) * stride_wn
    w_ptrs += offs_g[:, None]
    s_row = s_ptr + expert.to(tl.int64) * stride_se + (tile * BLOCK_N // QBLOCK) * stride_sn
    acc = tl.zeros((16, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, INTER, BLOCK_K):
        for g in tl.static_range(BLOCK_K // QBLOCK):
            kg = k0 + g * QBLOCK
            inside = offs_g < INTER - kg
            a = tl.load(a_ptrs + kg, mask=first & inside[None, :], other=0.0, cache_modifier=".cg")
            w = tl.load(w_ptrs + kg, mask=inside[:, None], other=0.0)
            s = tl.load(s_row + tl.minimum(kg, INTER - 1) // QBLOCK)
            acc = group_dot(acc, a, w, s * weight)
    tl.atomic_add(out_ptr + m * stride_om + offs_n, tl.sum(acc, axis=0), sem="relaxed")


@triton.jit
def _moe_fused_kernel(
    x_ptr, gate_ptr, w13_ptr, s13_ptr, w2_ptr, s2_ptr, logits_ptr, act_ptr, sync_ptr,
    out_ptr, cast_ptr, M, E, INTER, H, OUT_NUMEL, stride_xm,
    stride_w13e, stride_w13n, stride_s13e, stride_s13n,
    stride_w2e, stride_w2n, stride_s2e, stride_s2n,
    E_P2: tl.constexpr, M_P2: tl.constexpr, TOP_K: tl.constexpr, RENORMALIZE: tl.constexpr,
    ROUTER_N: tl.constexpr, ROUTER_K: tl.constexpr, UP_N: tl.constexpr, UP_K: tl.constexpr,
    DOWN_N: tl.constexpr, DOWN_K: tl.constexpr, QBLOCK: tl.constexpr,
    PREFETCH: tl.constexpr, PREFETCH_LINES: tl.constexpr, SLEEP: tl.constexpr,
):  # fmt: skip
    """sync: [0] router programs done, [1 + pair] up programs of the pair done; out has one
    more float32 than the sums, the count of down programs done."""
    pid = tl.program_id(0)
    routers = tl.cdiv(E, ROUTER_N)
    up_tiles = INTER // UP_N
    down_tiles = H // DOWN_N
    pairs = M * TOP_K
    ups = pairs * up_tiles
    if pid < routers:
        if pid == 0:
            offs = tl.arange(0, 1024)
            for i in range(0, OUT_NUMEL + 1, 1024):
                zero = tl.zeros((1024,), tl.float32)
                tl.store(out_ptr + i + offs, zero, mask=i + offs < OUT_NUMEL + 1)
        _router(x_ptr, gate_ptr, logits_ptr, pid, M, E, H, stride_xm, M_P2, ROUTER_N, ROUTER_K)
        tl.debug_barrier()
        tl.atomic_add(sync_ptr, 1, sem="release")
    elif pid < routers + ups:
        pair = (pid - routers) // up_tiles
        tile = (pid - routers) % up_tiles
        m = pair // TOP_K
        _wait_for(sync_ptr, routers, SLEEP)
        expert, weight = _top_k_slot(logits_ptr, m, pair % TOP_K, E, E_P2, TOP_K, RENORMALIZE)
        _up(x_ptr, w13_ptr, s13_ptr, act_ptr, m, pair, expert, tile, INTER, H, stride_xm,
            stride_w13e, stride_w13n, stride_s13e, stride_s13n, UP_N, UP_K, QBLOCK)  # fmt: skip
        tl.debug_barrier()
        tl.atomic_add(sync_ptr + 1 + pair, 1, sem="release")
    else:
        pair = (pid - routers - ups) // down_tiles
        tile = (pid - routers - ups) % down_tiles
        m = pair // TOP_K
        _wait_for(sync_ptr, routers, SLEEP)
        expert, weight = _top_k_slot(logits_ptr, m, pair % TOP_K, E, E_P2, TOP_K, RENORMALIZE)
        if PREFETCH:
            # The tile's rows are contiguous: DOWN_N x INTER bytes of FP8, then its scales.
            rows = w2_ptr + expert.to(tl.int64) * stride_w2e + tile * DOWN_N * stride_w2n
            span = DOWN_N * stride_w2n
            lines = tl.minimum(tl.arange(0, PREFETCH_LINES) * 128, span - 1)
            _prefetch_l2(rows + lines)
        _wait_for(sync_ptr + 1 + pair, up_tiles, SLEEP)
        _down(act_ptr, w2_ptr, s2_ptr, out_ptr, m, pair, expert, weight, tile, INTER,
              stride_w2e, stride_w2n, stride_s2e, stride_s2n, H, DOWN_N, DOWN_K,
              QBLOCK)  # fmt: skip
        tl.debug_barrier()
        done = tl.atomic_add(out_ptr + OUT_NUMEL, 1.0, sem="acq_rel")
        if done == pairs * down_tiles - 1:
            offs = tl.arange(0, 1024)
            for j in range(0, OUT_NUMEL, 1024):
                inside = j + offs < OUT_NUMEL
                total = tl.load(out_ptr + j + offs, mask=inside, other=0.0, cache_modifier=".cg")
                tl.store(cast_ptr + j + offs, total.to(cast_ptr.dtype.element_ty), mask=inside)
            tl.store(sync_ptr, 0)
            for p in range(0, pairs):
                tl.store(sync_ptr + 1 + p, 0)


_SYNC: dict[tuple[torch.device, int], torch.Tensor] = {}


def moe_fused(
    x: torch.Tensor,
    gate_weight: torch.Tensor,
    w13: torch.Tensor,
    w13_scale: torch.Tensor,
    w2: torch.Tensor,
    w2_scale: torch.Tensor,
    *,
    top_k: int,
    renormalize: bool,
    up_n: int = 64,
    up_k: int = 256,
    down_n: int = 64,
    down_k: int = 256,
    router_n: int = 8,
    num_warps: int = 4,
    num_stages: int = 3,
    prefetch: bool = True,
    sleep_ns: int = 0,
) -> torch.Tensor:
    """fp8_decode_kernels.moe_decode in one launch (x [M ≤ 4, H])."""
    m, h = x.shape
    e, two_i, _ = w13.shape
    i = two_i // 2
    if h % up_k or i % up_n or h % down_n or w2.stride(2) != 1 or gate_weight.stride(0) != h:
        raise ValueError(f"moe_fused: x {tuple(x.shape)}, w13 {tuple(w13.shape)}")
    pairs = m * top_k
    key = (x.device, pairs)
    if key not in _SYNC:  # zeroed once; each launch's last program zeroes it again
        _SYNC[key] = torch.zeros(1 + pairs, dtype=torch.int32, device=x.device)
    logits = torch.empty((m, e), dtype=torch.float32, device=x.device)
    act = torch.empty((pairs, i), dtype=torch.bfloat16, device=x.device)
    out = torch.empty((m * h + 1,), dtype=torch.float32, device=x.device)
    result = torch.empty((m, h), dtype=x.dtype, device=x.device)
    programs = triton.cdiv(e, router_n) + pairs * (i // up_n) + pairs * (h // down_n)
    lines = triton.next_power_of_2(triton.cdiv(down_n * w2.stride(1), LINE_BYTES))
    _moe_fused_kernel[(programs,)](
        x, gate_weight, w13, w13_scale, w2, w2_scale, logits, act, _SYNC[key], out, result,
        m, e, i, h, m * h, x.stride(0),
        w13.stride(0), w13.stride(1), w13_scale.stride(0), w13_scale.stride(1),
        w2.stride(0), w2.stride(1), w2_scale.stride(0), w2_scale.stride(1),
        E_P2=triton.next_power_of_2(e), M_P2=triton.next_power_of_2(m), TOP_K=top_k,
        RENORMALIZE=renormalize, ROUTER_N=router_n, ROUTER_K=min(h, 1024), UP_N=up_n,
        UP_K=up_k, DOWN_N=down_n, DOWN_K=down_k, QBLOCK=QUANT_BLOCK,
        PREFETCH=prefetch, PREFETCH_LINES=lines, SLEEP=sleep_ns, num_warps=num_warps, num_stages=num_stages,
    )  # fmt: skip
    return result
