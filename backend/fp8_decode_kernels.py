"""Triton kernels for the MoE layer of decode steps of a few tokens, FP8 block-quantized.

At batch 1 a decode step of a whole FP8 MoE model is bound by kernels, not bytes (issue 23:
~1,000 kernels a step on Qwen3-Coder-30B-A3B, 20% of the HBM roofline). These kernels read
each weight byte once and do the work of several of vLLM's kernels in one. Weights are FP8
(e4m3) with one float scale per 128x128 block (the DeepSeek-V3 / Qwen3-FP8 format); the
activations stay in 16 bits, so no activation quantization kernel runs before them.

``moe_decode``: router logits, softmax top-k, both expert GEMMs, SiLU-and-mul and the
weighted sum over the chosen experts in three kernels, where vLLM runs a router GEMM, top-k,
two activation quantizations, two grouped GEMMs, SiLU-and-mul and a sum:
- the router GEMV (fp8_dense_kernels.py), or with ``moe_topk_once`` one whose last program
  ranks the experts (fp8_moe_router.py);
- up + SiLU-and-mul: the ``tl.dot`` kernel below with the top-k in each program, or with
  ``moe_up_loop`` a loop of a few rows a program (ranking in each, or loading the router
  kernel's ids);
- down (``tl.dot``) with the weighted sum as float32 atomic adds, its last program converting
  the sum to 16 bits (``moe_fused_cast``).

They are for a handful of tokens (``MAX_DECODE_TOKENS``); larger batches keep vLLM's kernels.
Results are accumulated in float32. Measured on an H200 (bench/results/decode_kernels_dot.md,
whole_model_fused_cast.md): a MoE layer in 26.6 µs against vLLM's 37.0.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from fathom.backend.fp8_decode_tiles import MAX_DECODE_TOKENS, QUANT_BLOCK, TILES
from fathom.backend.fp8_dense_kernels import gemv, group_dot
from fathom.backend.fp8_moe_router import expert_ranks, router_topk

# --- The MoE's expert GEMMs on tl.dot ------------------------------------------------------
# Loops like fp8_dense_kernels.py's ``_gemv_kernel`` hold one tile of weights per program in
# registers: the first MoE kernels, loops that each ranked the experts, reached ~1 TB/s. With
# the experts ranked once (fp8_moe_router.py), 768 loop programs at one token stream the up
# weights at ~2.2 TB/s (``_moe_up_loop_kernel``). The kernels here feed ``tl.dot``
# (``group_dot``): the token's row padded to 16, the weights the other operand, a K loop that Triton
# software-pipelines (``num_stages`` tiles of every program in flight through shared memory),
# as vLLM's ``fused_moe_kernel`` does. A program's rows lie in one 128-row scale block, and
# each product covers 128 columns, so each is scaled by one number. The products are fp16
# (bf16 products and row-scaled fp16 activations measured slower:
# bench/results/decode_kernels_dot.md); vLLM's W8A8 path quantizes them to FP8.


@triton.jit
def _ranked_slot(logits_ptr, m, slot, E, E_P2: tl.constexpr, TOP_K: tl.constexpr,
                 RENORMALIZE: tl.constexpr):  # fmt: skip
    """The expert in place ``slot`` of token ``m``'s softmax top-k, and its weight: the one
    of that rank (``expert_ranks``)."""
    offs_e = tl.arange(0, E_P2)
    logits = tl.load(logits_ptr + m * E + offs_e, mask=offs_e < E, other=float("-inf"))
    rank, weight = expert_ranks(logits, offs_e, TOP_K, RENORMALIZE)
    mine = rank == slot
    return tl.sum(tl.where(mine, offs_e, 0), axis=0), tl.sum(tl.where(mine, weight, 0.0), axis=0)


@triton.jit
def _zero(out_ptr, NUMEL):
    """Zeroes ``out``'s NUMEL elements, which the down kernel adds into (and counts in)."""
    offs = tl.arange(0, 1024)
    for i in range(0, NUMEL, 1024):
        zero = tl.zeros((1024,), out_ptr.dtype.element_ty)
        tl.store(out_ptr + i + offs, zero, mask=i + offs < NUMEL)


@triton.jit
def _moe_up_dot_kernel(
    x_ptr, logits_ptr, w_ptr, s_ptr, act_ptr, ids_ptr, weights_ptr, out_ptr, E, INTER, K,
    OUT_NUMEL, stride_xm, stride_we, stride_wn, stride_se, stride_sn,
    E_P2: tl.constexpr, TOP_K: tl.constexpr, RENORMALIZE: tl.constexpr,
    BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, QBLOCK: tl.constexpr, SPLIT: tl.constexpr,
):  # fmt: skip
    """act[pair] = silu(x W_gate.T) * (x W_up.T) for the pair's expert; zeroes ``out``, which
    the down kernel adds into. With SPLIT > 1, program (pair, tile, part) sums the part-th
    K range only and stores gate and up in float32 (act [pairs, SPLIT, 2 INTER]) for the down
    kernel to add up before SiLU."""
    pair = tl.program_id(0)  # token * TOP_K + slot
    tile = tl.program_id(1)
    part = tl.program_id(2)
    m = pair // TOP_K
    expert, weight = _ranked_slot(logits_ptr, m, pair % TOP_K, E, E_P2, TOP_K, RENORMALIZE)
    if (tile == 0) & (part == 0):
        tl.store(ids_ptr + pair, expert)
        tl.store(weights_ptr + pair, weight)
    if (pair == 0) & (tile == 0) & (part == 0):
        _zero(out_ptr, OUT_NUMEL)
    offs_m = tl.arange(0, 16)
    offs_n = tile * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_g = tl.arange(0, QBLOCK)
    # Row 0 of the padded activations is the token; the others read nothing.
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
    g = tl.sum(gate, axis=0)  # row 0: the others are zero
    u = tl.sum(up, axis=0)
    if SPLIT == 1:
        act = g / (1.0 + tl.exp(-g)) * u
        tl.store(act_ptr + pair * INTER + offs_n, act.to(act_ptr.dtype.element_ty))
    else:
        partial = act_ptr + (pair * SPLIT + part) * 2 * INTER + offs_n
        tl.store(partial, g)
        tl.store(partial + INTER, u)


@triton.jit
def _moe_up_loop_kernel(
    x_ptr, logits_ptr, ids_ptr, weights_ptr, w_ptr, s_ptr, act_ptr, out_ptr, E, OUT_NUMEL,
    INTER, stride_xm, stride_we, stride_wn, stride_se, stride_sn,
    K: tl.constexpr, TOP_K: tl.constexpr, E_P2: tl.constexpr, RENORMALIZE: tl.constexpr,
    RANK: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, QBLOCK: tl.constexpr,
):  # fmt: skip
    """act[pair] = silu(x W_gate.T) * (x W_up.T) for the pair's expert, BLOCK_N gate rows and
    the matching up rows a program, with a broadcast multiply and a sum as
    fp8_dense_kernels.py's loop does; zeroes ``out``, which the down kernel adds into. The
    expert: ``ids`` from the router kernel's top-k, or with RANK ranked from ``logits`` by
    each program (the first of a pair's programs storing it for the down kernel)."""
    pair = tl.program_id(0)  # token * TOP_K + slot
    tile = tl.program_id(1)
    m = pair // TOP_K
    if RANK:
        expert, weight = _ranked_slot(logits_ptr, m, pair % TOP_K, E, E_P2, TOP_K, RENORMALIZE)
        if tile == 0:
            tl.store(ids_ptr + pair, expert)
            tl.store(weights_ptr + pair, weight)
        expert = expert.to(tl.int64)
    else:
        expert = tl.load(ids_ptr + pair).to(tl.int64)
    if (pair == 0) & (tile == 0):
        _zero(out_ptr, OUT_NUMEL)
    offs_n = tile * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    g_rows = w_ptr + expert * stride_we + offs_n[:, None].to(tl.int64) * stride_wn
    u_rows = g_rows + INTER * stride_wn
    s_base = s_ptr + expert * stride_se
    # The program's rows lie in one 128-row scale block: one scale a 128 columns, applied to
    # the token's columns rather than to every weight.
    sg_row = s_base + (tile * BLOCK_N // QBLOCK) * stride_sn
    su_row = s_base + ((INTER + tile * BLOCK_N) // QBLOCK) * stride_sn
    gate = tl.zeros((BLOCK_N,), dtype=tl.float32)
    up = tl.zeros((BLOCK_N,), dtype=tl.float32)
    # Unrolled (K is a constexpr), so every load of the program can be in flight at once.
    for k0 in tl.static_range(0, K, BLOCK_K):
        ks = k0 + offs_k
        x = tl.load(x_ptr + m * stride_xm + ks).to(tl.float32)
        wg = tl.load(g_rows + ks[None, :]).to(tl.float32)
        wu = tl.load(u_rows + ks[None, :]).to(tl.float32)
        gate += tl.sum(wg * (x * tl.load(sg_row + ks // QBLOCK))[None, :], axis=1)
        up += tl.sum(wu * (x * tl.load(su_row + ks // QBLOCK))[None, :], axis=1)
    act = gate / (1.0 + tl.exp(-gate)) * up
    tl.store(act_ptr + pair * INTER + offs_n, act.to(act_ptr.dtype.element_ty))


@triton.jit
def _summed_act(act_ptr, pair, cols, inside, INTER, SPLIT: tl.constexpr):
    """A pair's activations at ``cols`` from the up kernel's SPLIT float32 partial sums,
    rounded to bf16 as the unsplit up kernel stores them."""
    g = tl.zeros(cols.shape, dtype=tl.float32)
    u = tl.zeros(cols.shape, dtype=tl.float32)
    for part in tl.static_range(SPLIT):
        base = act_ptr + (pair * SPLIT + part) * 2 * INTER + cols
        g += tl.load(base, mask=inside, other=0.0)
        u += tl.load(base + INTER, mask=inside, other=0.0)
    return (g / (1.0 + tl.exp(-g)) * u).to(tl.bfloat16).to(tl.float32)


@triton.jit
def _moe_down_dot_kernel(
    act_ptr, ids_ptr, weights_ptr, w_ptr, s_ptr, out_ptr, H, INTER,
    stride_we, stride_wn, stride_se, stride_sn, stride_om, cast_ptr, OUT_NUMEL, PROGRAMS,
    TOP_K: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, QBLOCK: tl.constexpr,
    SPLIT: tl.constexpr, CAST: tl.constexpr,
):  # fmt: skip
    """out[token] += weight x act[pair] W_down.T, one program per pair and row tile (act from
    the up kernel's partial sums when it split K). With CAST, the last of the PROGRAMS to
    finish writes ``cast`` = out in 16 bits; out's element OUT_NUMEL (zeroed by the up
    kernel) counts the programs done."""
    pair = tl.program_id(0)
    tile = tl.program_id(1)
    m = pair // TOP_K
    expert = tl.load(ids_ptr + pair).to(tl.int64)
    weight = tl.load(weights_ptr + pair)
    offs_m = tl.arange(0, 16)
    offs_n = tile * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_g = tl.arange(0, QBLOCK)
    first = offs_m[:, None] == 0
    a_ptrs = act_ptr + pair * INTER + offs_m[:, None] * 0 + offs_g[None, :]
    w_ptrs = w_ptr + expert * stride_we + offs_n[None, :].to(tl.int64) * stride_wn
    w_ptrs += offs_g[:, None]
    s_ptr += expert * stride_se + (tile * BLOCK_N // QBLOCK) * stride_sn
    acc = tl.zeros((16, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, INTER, BLOCK_K):
        for g in tl.static_range(BLOCK_K // QBLOCK):
            kg = k0 + g * QBLOCK
            inside = offs_g < INTER - kg
            if SPLIT == 1:
                a = tl.load(a_ptrs + kg, mask=first & inside[None, :], other=0.0)
            else:
                act = _summed_act(act_ptr, pair, kg + offs_g, inside, INTER, SPLIT)
                a = tl.where(first, act[None, :], 0.0)
            w = tl.load(w_ptrs + kg, mask=inside[:, None], other=0.0)
            s = tl.load(s_ptr + tl.minimum(kg, INTER - 1) // QBLOCK)  # a, w: 0 past INTER
            acc = group_dot(acc, a, w, s * weight)
    tl.atomic_add(out_ptr + m * stride_om + offs_n, tl.sum(acc, axis=0), sem="relaxed")
    if CAST:
        # Every thread's adds are issued before the program counts itself done; the count's
        # acquire-release makes all programs' adds visible to the last one, which reads the
        # sums from L2 (.cg), where the atomics were made.
        tl.debug_barrier()
        done = tl.atomic_add(out_ptr + OUT_NUMEL, 1.0, sem="acq_rel")
        if done == PROGRAMS - 1:
            offs = tl.arange(0, 1024)
            for j in range(0, OUT_NUMEL, 1024):
                inside = j + offs < OUT_NUMEL
                total = tl.load(out_ptr + j + offs, mask=inside, other=0.0, cache_modifier=".cg")
                tl.store(cast_ptr + j + offs, total.to(cast_ptr.dtype.element_ty), mask=inside)


def moe_decode(
    x: torch.Tensor,
    gate_weight: torch.Tensor,
    w13: torch.Tensor,
    w13_scale: torch.Tensor,
    w2: torch.Tensor,
    w2_scale: torch.Tensor,
    *,
    top_k: int,
    renormalize: bool,
    block_n: tuple[int, int] | None = None,
    block_k: tuple[int, int] | None = None,
    stages: int | None = None,
    num_warps: int | None = None,
    split_k: int | None = None,
    fused_cast: bool | None = None,
    up_loop: bool | None = None,
    topk_once: bool | None = None,
    count: torch.Tensor | None = None,
) -> torch.Tensor:
    """A softmax-top-k MoE layer (SiLU-and-mul experts) for x [M, H], M ≤ MAX_DECODE_TOKENS.

    ``gate_weight`` [E, H] is the router (16-bit); ``w13`` [E, 2I, H] holds each expert's
    gate rows then up rows and ``w2`` [E, H, I] its down projection, FP8 with one scale per
    128x128 block (``w13_scale`` [E, 2I/128, H/128], ``w2_scale`` [E, H/128, I/128]).
    ``block_n`` and ``block_k`` (up, down), ``stages``, ``num_warps``, ``split_k`` (the up
    kernel's), ``fused_cast``, ``up_loop`` (the loop up kernel instead of the tl.dot one) and
    ``topk_once`` (with the loop: the router kernel ranks the experts, fp8_moe_router.py,
    rather than each up program) override ``TILES``. ``count``: the router kernel's counter
    (one int32 zero it leaves at zero; a new one for each call without).
    """
    m, h = x.shape
    e, two_i, _ = w13.shape
    i = two_i // 2
    up_n, down_n = block_n or (TILES["moe_up_block_n"], TILES["moe_down_block_n"])
    up_k, down_k = block_k or (TILES["moe_up_block_k"], TILES["moe_down_block_k"])
    split = split_k or TILES["moe_up_split_k"]
    while up_k > QUANT_BLOCK and h % (up_k * split):  # a hidden size the tiles do not divide
        up_k //= 2
    if h % (up_k * split):
        raise ValueError(f"moe_decode: hidden size {h} not {split} parts of {up_k} columns")
    if m > MAX_DECODE_TOKENS or w2.shape != (e, h, i) or i % up_n or h % down_n:
        raise ValueError(f"moe_decode: x {tuple(x.shape)}, w13 {tuple(w13.shape)}")
    loop_n = TILES["moe_up_loop_block_n"]
    rows = any(QUANT_BLOCK % n for n in (up_n, down_n, loop_n)) or i % loop_n
    if rows or up_k % QUANT_BLOCK or down_k % QUANT_BLOCK:
        raise ValueError("moe_decode: tiles across scale blocks")
    stages = stages or TILES["moe_stages"]
    num_warps = num_warps or TILES["moe_warps"]
    loop = bool(TILES["moe_up_loop"] if up_loop is None else up_loop)
    once = loop and bool(TILES["moe_topk_once"] if topk_once is None else topk_once)
    if loop and split > 1:
        raise ValueError("moe_decode: the loop up kernel does not split K")
    pairs = m * top_k
    if split == 1:
        act = torch.empty((pairs, i), dtype=torch.bfloat16, device=x.device)
    else:  # float32 gate and up partial sums, added up by the down kernel
        act = torch.empty((pairs, split, 2 * i), dtype=torch.float32, device=x.device)
    # float32: the down kernel adds into it (bf16 atomics measured slower and less exact).
    # One more element: the count of down programs done, for the fused cast (exact in float32
    # far beyond the few hundred programs).
    out = torch.empty((m * h + 1,), dtype=torch.float32, device=x.device)
    cast = bool(TILES["moe_fused_cast"] if fused_cast is None else fused_cast)
    result = torch.empty((m, h), dtype=x.dtype, device=x.device) if cast else out
    if once:
        if count is None:
            count = torch.zeros(1, dtype=torch.int32, device=x.device)
        ids, weights = router_topk(
            x, gate_weight, count, top_k=top_k, renormalize=renormalize,
            block_n=TILES["router_block_n"],
        )  # fmt: skip
        logits = weights  # not read: the up kernel takes the router's ids
    else:
        logits = gemv(x, gate_weight, out_dtype=torch.float32, block_n=TILES["router_block_n"])
        ids = torch.empty((pairs,), dtype=torch.int32, device=x.device)
        weights = torch.empty((pairs,), dtype=torch.float32, device=x.device)
    if loop:
        loop_k = TILES["moe_up_loop_block_k"]
        while h % loop_k:  # a power of two (tl.arange) that divides the hidden size
            loop_k //= 2
        _moe_up_loop_kernel[(pairs, i // loop_n)](
            x, logits, ids, weights, w13, w13_scale, act, out, e, out.numel(), i, x.stride(0),
            w13.stride(0), w13.stride(1), w13_scale.stride(0), w13_scale.stride(1),
            K=h, TOP_K=top_k, E_P2=triton.next_power_of_2(e), RENORMALIZE=renormalize,
            RANK=not once, BLOCK_N=loop_n, BLOCK_K=loop_k, QBLOCK=QUANT_BLOCK,
            num_warps=TILES["moe_up_loop_warps"],
        )  # fmt: skip
    else:
        _moe_up_dot_kernel[(pairs, i // up_n, split)](
            x, logits, w13, w13_scale, act, ids, weights, out, e, i, h, out.numel(),
            x.stride(0), w13.stride(0), w13.stride(1), w13_scale.stride(0), w13_scale.stride(1),
            E_P2=triton.next_power_of_2(e), TOP_K=top_k, RENORMALIZE=renormalize,
            BLOCK_N=up_n, BLOCK_K=up_k,
            QBLOCK=QUANT_BLOCK, SPLIT=split, num_warps=num_warps, num_stages=stages,
        )  # fmt: skip
    _moe_down_dot_kernel[(pairs, h // down_n)](
        act, ids, weights, w2, w2_scale, out, h, i,
        w2.stride(0), w2.stride(1), w2_scale.stride(0), w2_scale.stride(1), h,
        result, m * h, pairs * (h // down_n),
        TOP_K=top_k, BLOCK_N=down_n, BLOCK_K=down_k, QBLOCK=QUANT_BLOCK, SPLIT=split,
        CAST=cast, num_warps=num_warps, num_stages=stages,
    )  # fmt: skip
    return result if cast else out[: m * h].view(m, h).to(x.dtype)
