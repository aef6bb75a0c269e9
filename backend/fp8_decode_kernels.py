"""Triton kernels for decode steps of a few tokens over FP8 block-quantized weights.

At batch 1 a decode step of a whole FP8 MoE model is bound by kernels, not bytes (issue 23:
~1,000 kernels a step on Qwen3-Coder-30B-A3B, 20% of the HBM roofline). These kernels read
each weight byte once and do the work of several of vLLM's kernels in one:

- ``gemv``: ``x @ W.T`` with ``W`` FP8 (e4m3) and one float scale per 128x128
  block (the DeepSeek-V3 / Qwen3-FP8 format). The activations stay in 16 bits, so the
  per-token activation quantization kernel vLLM runs before its W8A8 GEMM is not needed.
- ``moe_decode``: router logits, softmax top-k, both expert GEMMs, SiLU-and-mul and the
  weighted sum over the chosen experts in three kernels (vLLM: routing, alignment,
  activation quantization, two grouped GEMMs, activation, another quantization and a sum).

They are for a handful of tokens (``MAX_DECODE_TOKENS``); larger batches keep vLLM's kernels.
Each program multiplies a tile of weight rows by the (few) activation rows with a broadcast
multiply and a sum, since ``tl.dot`` needs 16 rows. Results are accumulated in float32.

Measured on an H200 (bench/results/decode_kernels.md): a mean error 15-30x smaller than
vLLM's W8A8 path's, and 605 instead of 942 kernels in a Qwen3-Coder-30B-A3B batch-1 step,
but slower: 4.71 against 4.10 ms a step. The expert kernels stream ~1.1 and ~0.6 TB/s where
vLLM's ``fused_moe_kernel`` streams ~2.3; likely too few loads in flight, as Triton
software-pipelines loads that feed ``tl.dot`` and not these loops. Hence the plugin that
uses them is off unless asked for.
"""

from __future__ import annotations

import json
import os

import torch
import triton
import triton.language as tl

QUANT_BLOCK = 128  # the weights' scale blocks are QUANT_BLOCK x QUANT_BLOCK
MAX_DECODE_TOKENS = 4

# Tiles: rows (N) and columns (K) a program loads, and warps per program: the fastest at one
# token on an H200 among those bench/gpu_decode_kernels.py tries
# (bench/results/decode_kernels_h200.json). Another GPU's best can be given as JSON in
# FATHOM_DECODE_TILES, e.g. '{"dense_block_k": 512}'.
TILES: dict[str, int] = {
    "dense_block_n": 8,
    "dense_block_k": 2048,
    "dense_warps": 4,
    "router_block_n": 8,
    "moe_up_block_n": 16,
    "moe_up_block_k": 256,
    "moe_down_block_n": 4,
    "moe_down_block_k": 512,
    "moe_warps": 4,
    # The tl.dot kernels (below): 1 = used by gemv (FP8 weights) and moe_decode.
    "dot_dense": 0,  # gemv (FP8 weights) on the tl.dot kernel, else on the loop
    "dot_moe": 1,  # moe_decode on the tl.dot kernels, else on the loops
    "dense_min_k": 4096,  # the plugin takes only FP8 linears with at least this many columns
    "dot_ranked_top_k": 1,
    "dot_mode": 3,
    "dot_stages": 3,
    "dot_warps": 4,
    "dot_dense_mode": 1,
    "dot_dense_stages": 3,
    "dot_dense_block_n": 32,
    "dot_dense_block_k": 512,
    "dot_up_block_n": 64,
    "dot_up_block_k": 256,
    "dot_down_block_n": 64,
    "dot_down_block_k": 256,
    "dot_out_f32": 1,  # 1: the MoE sum in float32 atomics, then a conversion (one more kernel)
}
if os.environ.get("TRITON_INTERPRET") == "1":
    # Triton's CPU interpreter multiplies bf16 tl.dot operands wrongly and has no bf16
    # atomics: tests there run the fp16 products and the float32 sum.
    TILES.update(dot_mode=2, dot_dense_mode=2, dot_out_f32=1)
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
    HAS_SCALE: tl.constexpr, M_P2: tl.constexpr,
    BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, QBLOCK: tl.constexpr,
):  # fmt: skip
    offs_n = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_m = tl.arange(0, M_P2)
    offs_k = tl.arange(0, BLOCK_K)
    mask_n = offs_n < N
    mask_m = offs_m < M
    acc = tl.zeros((M_P2, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        ks = k0 + offs_k
        mask_w = mask_n[:, None] & (ks < K)[None, :]
        if HAS_SCALE:
            w = _dequantized(w_ptr, s_ptr, offs_n, ks, mask_w, stride_wn, stride_sn, QBLOCK)
        else:
            w = tl.load(w_ptr + offs_n[:, None] * stride_wn + ks[None, :], mask=mask_w, other=0.0)
            w = w.to(tl.float32)
        x = tl.load(
            x_ptr + offs_m[:, None] * stride_xm + ks[None, :],
            mask=mask_m[:, None] & (ks < K)[None, :],
            other=0.0,
        )
        acc += tl.sum(x.to(tl.float32)[:, None, :] * w[None, :, :], axis=2)
    out = out_ptr + offs_m[:, None] * stride_om + offs_n[None, :]
    tl.store(out, acc.to(out_ptr.dtype.element_ty), mask=mask_m[:, None] & mask_n[None, :])


def _k_tile(k: int, widest: int, rows: int = 1) -> int:
    """Columns a program loads at once: ``widest``, narrower for a short K or more rows."""
    return max(16, min(_pow2(k), widest // _pow2(rows)))


def _pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def gemv(
    x: torch.Tensor,
    weight: torch.Tensor,
    scale: torch.Tensor | None = None,
    *,
    out_dtype: torch.dtype | None = None,
    block_n: int | None = None,
    block_k: int | None = None,
    num_warps: int | None = None,
) -> torch.Tensor:
    """``x @ dequant(weight).T`` for ``x`` [M, K] with M ≤ MAX_DECODE_TOKENS.

    ``weight`` is [N, K], FP8 with ``scale`` [ceil(N/128), K/128] (one per block), or any
    float type with ``scale`` None (then K may be anything).
    """
    if scale is not None and TILES["dot_dense"] and not (block_n or block_k or num_warps):
        return dot_gemv(x, weight, scale)
    m, k = x.shape
    block_n = block_n or TILES["dense_block_n"]
    block_k = block_k or _k_tile(k, TILES["dense_block_k"], m)
    num_warps = num_warps or TILES["dense_warps"]
    n = weight.shape[0]
    if m > MAX_DECODE_TOKENS or weight.shape[1] != k or (scale is not None and k % QUANT_BLOCK):
        raise ValueError(f"gemv: x {tuple(x.shape)}, weight {tuple(weight.shape)}")
    if weight.stride(1) != 1 or x.stride(1) != 1:
        raise ValueError("gemv: rows of x and weight must be contiguous")
    out = torch.empty((m, n), dtype=out_dtype or x.dtype, device=x.device)
    has_scale = scale is not None
    _gemv_kernel[(triton.cdiv(n, block_n),)](
        x, weight, scale if has_scale else weight, out, m, n, k,
        x.stride(0), weight.stride(0), scale.stride(0) if scale is not None else 0, out.stride(0),
        HAS_SCALE=has_scale, M_P2=_pow2(m), BLOCK_N=block_n, BLOCK_K=block_k,
        QBLOCK=QUANT_BLOCK, num_warps=num_warps,
    )  # fmt: skip
    return out


@triton.jit
def _top_k_slot(logits_ptr, m, slot, E, E_P2: tl.constexpr, TOP_K: tl.constexpr,
                RENORMALIZE: tl.constexpr):  # fmt: skip
    """The expert in place ``slot`` of token ``m``'s softmax top-k, and its weight."""
    offs_e = tl.arange(0, E_P2)
    logits = tl.load(logits_ptr + m * E + offs_e, mask=offs_e < E, other=float("-inf"))
    top = tl.max(logits, axis=0)
    probs = tl.exp(logits - top)
    total = tl.sum(probs, axis=0)
    # Scalar tensors of the loop's types, updated with tl.where (``slot`` is a runtime value).
    chosen_sum = total * 0.0
    weight = total * 0.0
    expert = tl.min(offs_e, axis=0)
    for j in tl.static_range(TOP_K):
        best = tl.max(probs, axis=0)
        # Ties go to the lowest index: a fixed rule, so every program that recomputes the
        # top-k for a token (one per slot and row tile) picks the same experts.
        idx = tl.min(tl.where(probs == best, offs_e, E_P2), axis=0)
        chosen_sum += best
        expert = tl.where(slot == j, idx, expert)
        weight = tl.where(slot == j, best, weight)
        probs = tl.where(offs_e == idx, -1.0, probs)
    return expert, weight / (chosen_sum if RENORMALIZE else total)


@triton.jit
def _moe_up_kernel(
    x_ptr, logits_ptr, w_ptr, s_ptr, act_ptr, ids_ptr, weights_ptr, E, INTER, K,
    stride_xm, stride_we, stride_wn, stride_se, stride_sn,
    E_P2: tl.constexpr, TOP_K: tl.constexpr, RENORMALIZE: tl.constexpr,
    BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, QBLOCK: tl.constexpr,
):  # fmt: skip
    """act[m, slot] = silu(x W_gate.T) * (x W_up.T) for the slot's expert."""
    pair = tl.program_id(0)  # token * TOP_K + slot
    m = pair // TOP_K
    expert, weight = _top_k_slot(logits_ptr, m, pair % TOP_K, E, E_P2, TOP_K, RENORMALIZE)
    if tl.program_id(1) == 0:
        tl.store(ids_ptr + pair, expert)
        tl.store(weights_ptr + pair, weight)
    offs_n = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    mask_n = offs_n < INTER
    w_base = w_ptr + expert.to(tl.int64) * stride_we
    s_base = s_ptr + expert.to(tl.int64) * stride_se
    gate = tl.zeros((BLOCK_N,), dtype=tl.float32)
    up = tl.zeros((BLOCK_N,), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        ks = k0 + offs_k
        mask_k = ks < K
        mask_w = mask_n[:, None] & mask_k[None, :]
        x = tl.load(x_ptr + m * stride_xm + ks, mask=mask_k, other=0.0).to(tl.float32)
        for half in tl.static_range(2):
            rows = offs_n + half * INTER
            w = _dequantized(w_base, s_base, rows, ks, mask_w, stride_wn, stride_sn, QBLOCK)
            part = tl.sum(w * x[None, :], axis=1)
            if half == 0:
                gate += part
            else:
                up += part
    act = gate / (1.0 + tl.exp(-gate)) * up
    tl.store(act_ptr + pair * INTER + offs_n, act, mask=mask_n)


@triton.jit
def _moe_down_kernel(
    act_ptr, ids_ptr, weights_ptr, w_ptr, s_ptr, out_ptr, H, INTER,
    stride_we, stride_wn, stride_se, stride_sn, stride_om,
    TOP_K: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, QBLOCK: tl.constexpr,
):  # fmt: skip
    """out[m] = Σ over the token's experts of weight x act[m, slot] W_down.T."""
    m = tl.program_id(0)
    offs_n = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    mask_n = offs_n < H
    acc = tl.zeros((BLOCK_N,), dtype=tl.float32)
    # Unrolled over the slots so every slot's weight loads can be in flight at once.
    for slot in tl.static_range(TOP_K):
        pair = m * TOP_K + slot
        expert = tl.load(ids_ptr + pair).to(tl.int64)
        weight = tl.load(weights_ptr + pair)
        w_base = w_ptr + expert * stride_we
        s_base = s_ptr + expert * stride_se
        part = tl.zeros((BLOCK_N,), dtype=tl.float32)
        for k0 in range(0, INTER, BLOCK_K):
            ks = k0 + offs_k
            mask_k = ks < INTER
            mask_w = mask_n[:, None] & mask_k[None, :]
            act = tl.load(act_ptr + pair * INTER + ks, mask=mask_k, other=0.0)
            w = _dequantized(w_base, s_base, offs_n, ks, mask_w, stride_wn, stride_sn, QBLOCK)
            part += tl.sum(w * act[None, :], axis=1)
        acc += weight * part
    tl.store(out_ptr + m * stride_om + offs_n, acc.to(out_ptr.dtype.element_ty), mask=mask_n)


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
    block_n: tuple[int, int, int] | None = None,
    block_k: tuple[int, int] | None = None,
    num_warps: int | None = None,
) -> torch.Tensor:
    """A softmax-top-k MoE layer (SiLU-and-mul experts) for x [M, H], M ≤ MAX_DECODE_TOKENS.

    ``gate_weight`` [E, H] is the router (16-bit); ``w13`` [E, 2I, H] holds each expert's
    gate rows then up rows and ``w2`` [E, H, I] its down projection, FP8 with one scale per
    128x128 block (``w13_scale`` [E, 2I/128, H/128], ``w2_scale`` [E, H/128, I/128]).
    ``block_n`` (router, up, down) and ``block_k`` (up, down) override ``TILES``.
    """
    if TILES["dot_moe"] and not (block_n or block_k or num_warps):
        return moe_decode_dot(
            x, gate_weight, w13, w13_scale, w2, w2_scale, top_k=top_k, renormalize=renormalize
        )
    m, h = x.shape
    e, two_i, _ = w13.shape
    i = two_i // 2
    if m > MAX_DECODE_TOKENS or w2.shape != (e, h, i) or h % QUANT_BLOCK or i % QUANT_BLOCK:
        raise ValueError(f"moe_decode: x {tuple(x.shape)}, w13 {tuple(w13.shape)}")
    block_n = block_n or (
        TILES["router_block_n"],
        TILES["moe_up_block_n"],
        TILES["moe_down_block_n"],
    )
    up_k, down_k = block_k or (TILES["moe_up_block_k"], TILES["moe_down_block_k"])
    num_warps = num_warps or TILES["moe_warps"]
    logits = gemv(x, gate_weight, out_dtype=torch.float32, block_n=block_n[0])
    pairs = m * top_k
    act = torch.empty((pairs, i), dtype=torch.float32, device=x.device)
    ids = torch.empty((pairs,), dtype=torch.int32, device=x.device)
    weights = torch.empty((pairs,), dtype=torch.float32, device=x.device)
    _moe_up_kernel[(pairs, triton.cdiv(i, block_n[1]))](
        x, logits, w13, w13_scale, act, ids, weights, e, i, h,
        x.stride(0), w13.stride(0), w13.stride(1), w13_scale.stride(0), w13_scale.stride(1),
        E_P2=_pow2(e), TOP_K=top_k, RENORMALIZE=renormalize,
        BLOCK_N=block_n[1], BLOCK_K=_k_tile(h, up_k), QBLOCK=QUANT_BLOCK, num_warps=num_warps,
    )  # fmt: skip
    out = torch.empty((m, h), dtype=x.dtype, device=x.device)
    _moe_down_kernel[(m, triton.cdiv(h, block_n[2]))](
        act, ids, weights, w2, w2_scale, out, h, i,
        w2.stride(0), w2.stride(1), w2_scale.stride(0), w2_scale.stride(1), out.stride(0),
        TOP_K=top_k, BLOCK_N=block_n[2], BLOCK_K=_k_tile(i, down_k), QBLOCK=QUANT_BLOCK,
        num_warps=num_warps,
    )  # fmt: skip
    return out


# --- Kernels on tl.dot (issue 23, third attempt) -------------------------------------------
# The loops above hold one tile of weights per program in registers, too few bytes in flight
# to stream from HBM (~1 TB/s). These feed ``tl.dot`` instead: the activation rows padded to
# 16, the weights the other operand, a K loop that Triton software-pipelines (``num_stages``
# tiles of every program in flight through shared memory), the way vLLM's ``fused_moe_kernel``
# streams ~2.2 TB/s. A program's rows lie in one 128-row scale block, and each product covers
# 128 columns, so each is scaled by one number. MODE 1 multiplies in bf16 (the FP8 weights
# upcast exactly), MODE 2 in fp16 (a cheaper upcast; the activations scaled per row into
# fp16's range), MODE 3 in fp16 on the activations clamped to its range (no row scale, so no
# reduction in the loop). All keep the activations in 16 bits, unlike vLLM's W8A8 path.


@triton.jit
def _group_dot(acc, x, w, s, MODE: tl.constexpr):
    """``acc + (x @ w) * s``: x [16, 128] 16-bit, w [128, BN] FP8, s a float32 scalar."""
    if MODE == 3:
        # fp16 products on the activations as loaded (clamped to fp16's range), so nothing
        # is done to either operand but an elementwise conversion after it is loaded.
        xh = tl.clamp(x.to(tl.float32), -65504.0, 65504.0).to(tl.float16)
        acc += tl.dot(xh, w.to(tl.float16)) * s
    elif MODE == 2:
        # fp16 products (FP8 weights convert to fp16 in one instruction a pair, exactly);
        # each activation row scaled to fp16's range, so large values cannot overflow.
        xf = x.to(tl.float32)
        rs = tl.maximum(tl.max(tl.abs(xf), axis=1), 1e-30) / 16384.0
        xh = (xf / rs[:, None]).to(tl.float16)
        acc += tl.dot(xh, w.to(tl.float16)) * (rs * s)[:, None]
    else:
        acc += tl.dot(x.to(tl.bfloat16), w.to(tl.bfloat16)) * s
    return acc


@triton.jit
def _dot_gemv_kernel(
    x_ptr, w_ptr, s_ptr, out_ptr, M, N, K,
    stride_xm, stride_wn, stride_sn, stride_om,
    BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, QBLOCK: tl.constexpr, MODE: tl.constexpr,
):  # fmt: skip
    """out[:M] = x[:M] @ dequant(w).T for a BLOCK_N-row tile of w per program."""
    pid = tl.program_id(0)
    offs_m = tl.arange(0, 16)
    offs_n = pid * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_g = tl.arange(0, QBLOCK)
    mask_m = offs_m[:, None] < M
    mask_n = offs_n[None, :] < N
    x_ptrs = x_ptr + offs_m[:, None] * stride_xm + offs_g[None, :]
    w_ptrs = w_ptr + offs_n[None, :].to(tl.int64) * stride_wn + offs_g[:, None]
    s_ptr += (pid * BLOCK_N // QBLOCK) * stride_sn
    acc = tl.zeros((16, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        for g in tl.static_range(BLOCK_K // QBLOCK):
            kg = k0 + g * QBLOCK
            inside = offs_g < K - kg
            x = tl.load(x_ptrs + kg, mask=mask_m & inside[None, :], other=0.0)
            w = tl.load(w_ptrs + kg, mask=mask_n & inside[:, None], other=0.0)
            s = tl.load(s_ptr + tl.minimum(kg, K - 1) // QBLOCK)  # x, w: 0 past K
            acc = _group_dot(acc, x, w, s, MODE)
    out = out_ptr + offs_m[:, None] * stride_om + offs_n[None, :]
    tl.store(out, acc.to(out_ptr.dtype.element_ty), mask=mask_m & mask_n)


def dot_gemv(
    x: torch.Tensor,
    weight: torch.Tensor,
    scale: torch.Tensor,
    *,
    block_n: int | None = None,
    block_k: int | None = None,
    stages: int | None = None,
    mode: int | None = None,
) -> torch.Tensor:
    """``x @ dequant(weight).T`` on ``tl.dot`` for FP8 ``weight`` [N, K] with block ``scale``."""
    m, k = x.shape
    n = weight.shape[0]
    block_n = block_n or TILES["dot_dense_block_n"]
    block_k = block_k or TILES["dot_dense_block_k"]
    if m > MAX_DECODE_TOKENS or weight.shape[1] != k or k % QUANT_BLOCK:
        raise ValueError(f"dot_gemv: x {tuple(x.shape)}, weight {tuple(weight.shape)}")
    if QUANT_BLOCK % block_n or block_k % QUANT_BLOCK:
        raise ValueError(f"dot_gemv: tile {block_n}x{block_k} across scale blocks")
    if weight.stride(1) != 1 or x.stride(1) != 1:
        raise ValueError("dot_gemv: rows of x and weight must be contiguous")
    out = torch.empty((m, n), dtype=x.dtype, device=x.device)
    _dot_gemv_kernel[(triton.cdiv(n, block_n),)](
        x, weight, scale, out, m, n, k,
        x.stride(0), weight.stride(0), scale.stride(0), out.stride(0),
        BLOCK_N=block_n, BLOCK_K=block_k, QBLOCK=QUANT_BLOCK,
        MODE=mode or TILES["dot_dense_mode"], num_warps=TILES["dot_warps"],
        num_stages=stages or TILES["dot_dense_stages"],
    )  # fmt: skip
    return out


@triton.jit
def _ranked_slot(logits_ptr, m, slot, E, E_P2: tl.constexpr, TOP_K: tl.constexpr,
                 RENORMALIZE: tl.constexpr):  # fmt: skip
    """``_top_k_slot`` in a few parallel reductions instead of 2 x TOP_K sequential ones: each
    expert's rank is the number of experts ahead of it (ties: the lower index ahead), and the
    slot's expert is the one of that rank. The programs of the up kernel all wait on this
    before they can load their expert's weights."""
    offs_e = tl.arange(0, E_P2)
    valid = offs_e < E
    logits = tl.load(logits_ptr + m * E + offs_e, mask=valid, other=float("-inf"))
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
def _moe_up_dot_kernel(
    x_ptr, logits_ptr, w_ptr, s_ptr, act_ptr, ids_ptr, weights_ptr, out_ptr, E, INTER, K,
    OUT_NUMEL, stride_xm, stride_we, stride_wn, stride_se, stride_sn,
    E_P2: tl.constexpr, TOP_K: tl.constexpr, RENORMALIZE: tl.constexpr,
    BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, QBLOCK: tl.constexpr, MODE: tl.constexpr,
    RANKED: tl.constexpr,
):  # fmt: skip
    """act[pair] = silu(x W_gate.T) * (x W_up.T) for the pair's expert; zeroes ``out``, which
    the down kernel adds into."""
    pair = tl.program_id(0)  # token * TOP_K + slot
    tile = tl.program_id(1)
    m = pair // TOP_K
    if RANKED:
        expert, weight = _ranked_slot(logits_ptr, m, pair % TOP_K, E, E_P2, TOP_K, RENORMALIZE)
    else:
        expert, weight = _top_k_slot(logits_ptr, m, pair % TOP_K, E, E_P2, TOP_K, RENORMALIZE)
    if tile == 0:
        tl.store(ids_ptr + pair, expert)
        tl.store(weights_ptr + pair, weight)
    if (pair == 0) & (tile == 0):
        offs = tl.arange(0, 1024)
        for i in range(0, OUT_NUMEL, 1024):
            zero = tl.zeros((1024,), out_ptr.dtype.element_ty)
            tl.store(out_ptr + i + offs, zero, mask=i + offs < OUT_NUMEL)
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
    for k0 in range(0, K, BLOCK_K):
        for g in tl.static_range(BLOCK_K // QBLOCK):
            kg = k0 + g * QBLOCK
            x = tl.load(x_ptrs + kg, mask=first, other=0.0)
            gate = _group_dot(gate, x, tl.load(g_ptrs + kg), tl.load(sg_ptr + kg // QBLOCK), MODE)
            up = _group_dot(up, x, tl.load(u_ptrs + kg), tl.load(su_ptr + kg // QBLOCK), MODE)
    g = tl.sum(gate, axis=0)  # row 0: the others are zero
    u = tl.sum(up, axis=0)
    act = g / (1.0 + tl.exp(-g)) * u
    tl.store(act_ptr + pair * INTER + offs_n, act.to(act_ptr.dtype.element_ty))


@triton.jit
def _moe_down_dot_kernel(
    act_ptr, ids_ptr, weights_ptr, w_ptr, s_ptr, out_ptr, H, INTER,
    stride_we, stride_wn, stride_se, stride_sn, stride_om,
    TOP_K: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, QBLOCK: tl.constexpr,
    MODE: tl.constexpr,
):  # fmt: skip
    """out[token] += weight x act[pair] W_down.T, one program per pair and row tile."""
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
            a = tl.load(a_ptrs + kg, mask=first & inside[None, :], other=0.0)
            w = tl.load(w_ptrs + kg, mask=inside[:, None], other=0.0)
            s = tl.load(s_ptr + tl.minimum(kg, INTER - 1) // QBLOCK)  # a, w: 0 past INTER
            acc = _group_dot(acc, a, w, s * weight, MODE)
    tl.atomic_add(out_ptr + m * stride_om + offs_n, tl.sum(acc, axis=0), sem="relaxed")


def moe_decode_dot(
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
    mode: int | None = None,
) -> torch.Tensor:
    """``moe_decode`` on ``tl.dot``: the router GEMV, then up + SiLU-and-mul (top-k inside),
    then down + the weighted sum (atomic adds into an output the up kernel zeroes)."""
    m, h = x.shape
    e, two_i, _ = w13.shape
    i = two_i // 2
    up_n, down_n = block_n or (TILES["dot_up_block_n"], TILES["dot_down_block_n"])
    up_k, down_k = block_k or (TILES["dot_up_block_k"], TILES["dot_down_block_k"])
    while up_k > QUANT_BLOCK and h % up_k:  # a hidden size the default tile does not divide
        up_k //= 2
    if m > MAX_DECODE_TOKENS or w2.shape != (e, h, i) or h % up_k or i % up_n or h % down_n:
        raise ValueError(f"moe_decode_dot: x {tuple(x.shape)}, w13 {tuple(w13.shape)}")
    if QUANT_BLOCK % up_n or QUANT_BLOCK % down_n or up_k % QUANT_BLOCK or down_k % QUANT_BLOCK:
        raise ValueError("moe_decode_dot: tiles across scale blocks")
    mode = mode or TILES["dot_mode"]
    stages = stages or TILES["dot_stages"]
    logits = gemv(x, gate_weight, out_dtype=torch.float32, block_n=TILES["router_block_n"])
    pairs = m * top_k
    act = torch.empty((pairs, i), dtype=torch.bfloat16, device=x.device)
    ids = torch.empty((pairs,), dtype=torch.int32, device=x.device)
    weights = torch.empty((pairs,), dtype=torch.float32, device=x.device)
    out = torch.empty((m, h), dtype=torch.float32 if TILES["dot_out_f32"] else x.dtype,
                      device=x.device)  # fmt: skip
    _moe_up_dot_kernel[(pairs, i // up_n)](
        x, logits, w13, w13_scale, act, ids, weights, out, e, i, h, out.numel(),
        x.stride(0), w13.stride(0), w13.stride(1), w13_scale.stride(0), w13_scale.stride(1),
        E_P2=_pow2(e), TOP_K=top_k, RENORMALIZE=renormalize, BLOCK_N=up_n, BLOCK_K=up_k,
        QBLOCK=QUANT_BLOCK, MODE=mode, RANKED=bool(TILES["dot_ranked_top_k"]),
        num_warps=TILES["dot_warps"], num_stages=stages,
    )  # fmt: skip
    _moe_down_dot_kernel[(pairs, h // down_n)](
        act, ids, weights, w2, w2_scale, out, h, i,
        w2.stride(0), w2.stride(1), w2_scale.stride(0), w2_scale.stride(1), out.stride(0),
        TOP_K=top_k, BLOCK_N=down_n, BLOCK_K=down_k, QBLOCK=QUANT_BLOCK, MODE=mode,
        num_warps=TILES["dot_warps"], num_stages=stages,
    )  # fmt: skip
    return out.to(x.dtype)
