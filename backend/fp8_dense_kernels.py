"""Dense FP8 linears (``x @ W.T``) for the tokens of a decode step, two ways.

Weights are FP8 (e4m3) with one float scale per 128x128 block (the DeepSeek-V3 / Qwen3-FP8
format); the activations stay in 16 bits, so no activation quantization kernel runs before
them, where vLLM quantizes them to FP8 for its CUTLASS GEMM. ``gemv`` picks one of:

- a loop (``_gemv_kernel``): each program a few weight rows times the (1-4) activation rows
  with a broadcast multiply and a sum, the block scale applied to the activations' columns
  (one number per 128 columns: a program's rows lie in one scale block). Also the MoE router
  (16-bit weights, no scale). Fastest at 1-2 rows: on an H100, QKV (K 2048) 7.5 µs and o_proj
  (K 4096) 7.1 µs against vLLM's 10.0 and 12.0 (bench/results/whole_model_gemv_h100.md);
- ``tl.dot`` (``_dense_dot_kernel``): the rows padded to 16, 32 or 64 (tl.dot's smallest M is
  16; the padding rows are masked and read nothing), a K loop that Triton software-pipelines
  (``num_stages`` weight tiles of every program in flight), one scale per 128x128 product, as
  the MoE kernels (fp8_decode_kernels.py) do. Each program reads its weight rows once for all
  the tokens, so up to 64 of them cost little more than one. Fastest at 4 rows: there, 8.9
  and 13.0 µs against the loop's 18.1 and 17.2; up to ``TILES["dense_max_tokens"]`` rows it
  takes the steps vLLM would give its activation quantization and CUTLASS GEMM.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from fathom.backend.fp8_decode_tiles import DOT_TILES, MAX_DECODE_TOKENS, QUANT_BLOCK, TILES

DOT_MAX_ROWS = 64  # one program's rows: more would read each weight tile again per 64 rows


@triton.jit
def group_dot(acc, x, w, s):
    """``acc + (x @ w) * s``: x [BM, 128] 16-bit, w [128, BN] FP8, s a float32 scalar.

    The products are fp16: FP8 weights convert to fp16 exactly, in one instruction a pair,
    and the 16-bit activations are clamped to fp16's range (±65504) first."""
    xh = tl.clamp(x.to(tl.float32), -65504.0, 65504.0).to(tl.float16)
    return acc + tl.dot(xh, w.to(tl.float16)) * s


@triton.jit
def _dense_dot_kernel(
    x_ptr, w_ptr, s_ptr, out_ptr, M, N, K,
    stride_xm, stride_wn, stride_sn, stride_om,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, QBLOCK: tl.constexpr,
):  # fmt: skip
    pid = tl.program_id(0)
    offs_m = tl.arange(0, BLOCK_M)
    offs_n = pid * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_g = tl.arange(0, QBLOCK)
    rows = offs_m[:, None] < M
    cols = offs_n < N
    x_ptrs = x_ptr + offs_m[:, None] * stride_xm + offs_g[None, :]
    w_ptrs = w_ptr + offs_n[None, :].to(tl.int64) * stride_wn + offs_g[:, None]
    # The program's rows lie in one 128-row scale block (``dense_dot`` checks BLOCK_N).
    s_row = s_ptr + (pid * BLOCK_N // QBLOCK) * stride_sn
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
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
    """``out = x @ dequant(weight).T`` for x [M ≤ 64, K], weight [N, K] FP8 with ``scale``
    [ceil(N/128), K/128]; ``block_k`` a multiple of 128 that divides K."""
    m, k = x.shape
    n = weight.shape[0]
    if m > DOT_MAX_ROWS or k % block_k or block_k % QUANT_BLOCK:
        raise ValueError(f"dense_dot: x {tuple(x.shape)}, block_k {block_k}")
    if QUANT_BLOCK % block_n or block_n < 16:
        raise ValueError(f"dense_dot: a row tile of {block_n} must be 16-128 and divide 128")
    _dense_dot_kernel[(triton.cdiv(n, block_n),)](
        x, weight, scale, out, m, n, k,
        x.stride(0), weight.stride(0), scale.stride(0), out.stride(0),
        BLOCK_M=dot_rows(m), BLOCK_N=block_n, BLOCK_K=block_k,
        QBLOCK=QUANT_BLOCK,
        num_warps=num_warps, num_stages=num_stages,
    )  # fmt: skip
    return out


@triton.jit
def gemv_rows(
    x_ptr, w_ptr, s_ptr, n0, M, N, K, stride_xm, stride_wn, stride_sn,
    HAS_SCALE: tl.constexpr, M_P2: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    QBLOCK: tl.constexpr,
):  # fmt: skip
    """[M_P2, BLOCK_N] float32: the activation rows times weight rows ``n0`` to
    ``n0 + BLOCK_N`` (zero past M and N), a broadcast multiply and a sum over K."""
    offs_n = n0 + tl.arange(0, BLOCK_N)
    offs_m = tl.arange(0, M_P2)
    offs_k = tl.arange(0, BLOCK_K)
    mask_n = offs_n < N
    mask_m = offs_m < M
    s_row = s_ptr + (n0 // QBLOCK) * stride_sn
    acc = tl.zeros((M_P2, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        ks = k0 + offs_k
        mask_w = mask_n[:, None] & (ks < K)[None, :]
        w = tl.load(w_ptr + offs_n[:, None] * stride_wn + ks[None, :], mask=mask_w, other=0.0)
        x = tl.load(
            x_ptr + offs_m[:, None] * stride_xm + ks[None, :],
            mask=mask_m[:, None] & (ks < K)[None, :],
            other=0.0,
        ).to(tl.float32)
        if HAS_SCALE:
            # The program's rows lie in one 128-row scale block (``gemv`` checks that BLOCK_N
            # divides 128), so each column's scale is one number for all of them: scaling the
            # few activation rows instead of every weight takes BLOCK_N times fewer scale
            # loads and products.
            x = x * tl.load(s_row + ks // QBLOCK, mask=ks < K, other=0.0)[None, :]
        acc += tl.sum(x[:, None, :] * w.to(tl.float32)[None, :, :], axis=2)
    return acc


@triton.jit
def _gemv_kernel(
    x_ptr, w_ptr, s_ptr, out_ptr, M, N, K,
    stride_xm, stride_wn, stride_sn, stride_om,
    HAS_SCALE: tl.constexpr, M_P2: tl.constexpr,
    BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, QBLOCK: tl.constexpr,
):  # fmt: skip
    n0 = tl.program_id(0) * BLOCK_N
    acc = gemv_rows(
        x_ptr, w_ptr, s_ptr, n0, M, N, K, stride_xm, stride_wn, stride_sn,
        HAS_SCALE, M_P2, BLOCK_N, BLOCK_K, QBLOCK,
    )  # fmt: skip
    offs_n = n0 + tl.arange(0, BLOCK_N)
    offs_m = tl.arange(0, M_P2)
    inside = (offs_m < M)[:, None] & (offs_n < N)[None, :]
    out = out_ptr + offs_m[:, None] * stride_om + offs_n[None, :]
    tl.store(out, acc.to(out_ptr.dtype.element_ty), mask=inside)


def _k_tile(k: int, widest: int, rows: int = 1) -> int:
    """Columns a program loads at once: ``widest``, narrower for a short K or more rows."""
    return max(16, min(triton.next_power_of_2(k), widest // triton.next_power_of_2(rows)))


def dot_rows(rows: int) -> int:
    """A tl.dot program's rows for a step of ``rows`` tokens: 16, 32 or 64."""
    return max(16, triton.next_power_of_2(rows))


def shaped_tile(
    table: dict[str, dict[str, list[int]]], n: int, k: int, rows: int
) -> list[int] | None:
    """[row tile, K tile] for an N x K weight and ``rows`` tokens from a table laid out as
    fp8_decode_tiles.DOT_TILES ("NxK", then the program height), None where it has none."""
    return table.get(f"{n}x{k}", {}).get(str(dot_rows(rows)))


# Shared memory a program may use on Hopper (227 KiB); Triton refuses to launch beyond it.
SHARED_MEMORY = 227 * 1024


def _dot_k_tile(k: int, rows: int, block_n: int, stages: int) -> int:
    """The tl.dot kernel's K tile: TILES' or the widest whole scale blocks that divide K and
    whose pipeline fits in shared memory. Triton 3.6 compiles it for sm_90 with ``stages - 1``
    copies of the rows' 16-bit tile and the FP8 weight tile in flight, plus the accumulator's
    float32 tile: 64 rows with a 128-row, 512-column tile at 3 stages asked for 288 KiB and
    could not launch (decode_kernels_h100-wide.json); 64 rows of 64 at 512 took 208 KiB."""
    block_m = dot_rows(rows)
    tile = TILES["dense_dot_block_k"]

    def shared(tile: int) -> int:
        return (stages - 1) * tile * (2 * block_m + block_n) + 4 * block_m * block_n

    while tile > QUANT_BLOCK and (k % tile or shared(tile) > SHARED_MEMORY):
        tile //= 2
    return max(tile, QUANT_BLOCK)


def gemv(
    x: torch.Tensor,
    weight: torch.Tensor,
    scale: torch.Tensor | None = None,
    *,
    out_dtype: torch.dtype | None = None,
    block_n: int | None = None,
    block_k: int | None = None,
    num_warps: int | None = None,
    dot: bool | None = None,
    num_stages: int | None = None,
) -> torch.Tensor:
    """``x @ dequant(weight).T`` for ``x`` [M, K].

    ``weight`` is [N, K], FP8 with ``scale`` [ceil(N/128), K/128] (one per block), or any
    float type with ``scale`` None (then K may be anything). ``dot`` (FP8 only): the tl.dot
    kernel instead of the loop (None: from ``TILES["dense_dot_min_rows"]`` rows on). The loop
    takes M ≤ MAX_DECODE_TOKENS, the tl.dot kernel M ≤ DOT_MAX_ROWS.
    """
    m, k = x.shape
    n = weight.shape[0]
    if dot is None:
        dot = m >= TILES["dense_dot_min_rows"] or m > MAX_DECODE_TOKENS
    most = DOT_MAX_ROWS if dot and scale is not None else MAX_DECODE_TOKENS
    if m > most or weight.shape[1] != k or (scale is not None and k % QUANT_BLOCK):
        raise ValueError(f"gemv: x {tuple(x.shape)}, weight {tuple(weight.shape)}")
    if weight.stride(1) != 1 or x.stride(1) != 1:
        raise ValueError("gemv: rows of x and weight must be contiguous")
    out = torch.empty((m, n), dtype=out_dtype or x.dtype, device=x.device)
    if m == 0:  # a step with no rows: no launch (and no 0-wide tl.arange to compile)
        return out
    if scale is not None and dot:
        shaped = shaped_tile(DOT_TILES, n, k, m)
        if shaped and not (block_n or block_k):
            block_n, block_k = shaped
        block_n = block_n or TILES["dense_dot_block_n"]
        num_stages = num_stages or TILES["dense_stages"]
        return dense_dot(
            x, weight, scale, out,
            block_n=block_n,
            block_k=block_k or _dot_k_tile(k, m, block_n, num_stages),
            num_warps=num_warps or TILES["dense_dot_warps"],
            num_stages=num_stages,
        )  # fmt: skip
    block_n = block_n or TILES["dense_block_n"]
    block_k = block_k or _k_tile(k, TILES["dense_block_k"], m)
    num_warps = num_warps or TILES["dense_warps"]
    if scale is not None and QUANT_BLOCK % block_n:
        raise ValueError(f"gemv: a row tile of {block_n} straddles the 128-row scale blocks")
    has_scale = scale is not None
    _gemv_kernel[(triton.cdiv(n, block_n),)](
        x, weight, scale if has_scale else weight, out, m, n, k,
        x.stride(0), weight.stride(0), scale.stride(0) if scale is not None else 0, out.stride(0),
        HAS_SCALE=has_scale, M_P2=triton.next_power_of_2(m), BLOCK_N=block_n, BLOCK_K=block_k,
        QBLOCK=QUANT_BLOCK, num_warps=num_warps,
    )  # fmt: skip
    return out
