"""The MoE router of a decode step and its softmax top-k, in one kernel.

A GEMV over the router's 16-bit weights writes each token's expert logits; the program that
finishes last (a counter the programs add to, which it resets for the next call) ranks each
token's logits once and writes the top-k experts and their weights, so the expert kernels
(fp8_decode_kernels.py) load a pair's expert id instead of ranking 128 logits in each of
their programs. ``moe_decode`` uses it where ``TILES["moe_topk_once"]`` says (off by default):
in the whole model on an H100 it took 5.0 µs a layer against the plain router GEMV's 2.4,
more than the up kernel saved by not ranking (whole_model_topk_once_h100.md).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from fathom.backend.fp8_dense_kernels import gemv_rows


@triton.jit
def expert_ranks(logits, offs_e, TOP_K: tl.constexpr, RENORMALIZE: tl.constexpr):
    """Each expert's place in the softmax top-k of ``logits`` (-inf past the experts) and its
    weight (softmax over the top-k with RENORMALIZE, else over all), in a few parallel
    reductions: an expert's rank is the number of experts ahead of it (ties: the lower index
    ahead, a fixed rule, so every program that ranks a token's experts picks the same ones)."""
    ahead = (logits[None, :] > logits[:, None]) | (
        (logits[None, :] == logits[:, None]) & (offs_e[None, :] < offs_e[:, None])
    )
    rank = tl.sum(ahead.to(tl.int32), axis=1)
    probs = tl.exp(logits - tl.max(logits, axis=0))
    if RENORMALIZE:
        total = tl.sum(tl.where(rank < TOP_K, probs, 0.0), axis=0)
    else:
        total = tl.sum(probs, axis=0)
    return rank, probs / total


@triton.jit
def _router_topk_kernel(
    x_ptr, w_ptr, logits_ptr, ids_ptr, weights_ptr, count_ptr, M, E, K, stride_xm, stride_wn,
    E_P2: tl.constexpr, TOP_K: tl.constexpr, RENORMALIZE: tl.constexpr, M_P2: tl.constexpr,
    BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
):  # fmt: skip
    n0 = tl.program_id(0) * BLOCK_N
    acc = gemv_rows(
        x_ptr, w_ptr, w_ptr, n0, M, E, K, stride_xm, stride_wn, 0,
        False, M_P2, BLOCK_N, BLOCK_K, 1,
    )  # fmt: skip
    offs_n = n0 + tl.arange(0, BLOCK_N)
    offs_m = tl.arange(0, M_P2)
    inside = (offs_m < M)[:, None] & (offs_n < E)[None, :]
    tl.store(logits_ptr + offs_m[:, None] * E + offs_n[None, :], acc, mask=inside)
    # Every thread's stores are issued before the program counts itself done; the count's
    # acquire-release makes all programs' logits visible to the last one, which reads them
    # from L2 (.cg), where they were written.
    tl.debug_barrier()
    done = tl.atomic_add(count_ptr, 1, sem="acq_rel")
    if done == tl.num_programs(0) - 1:
        offs_e = tl.arange(0, E_P2)
        for m in range(M):
            logits = tl.load(
                logits_ptr + m * E + offs_e, mask=offs_e < E, other=float("-inf"),
                cache_modifier=".cg",
            )  # fmt: skip
            rank, weight = expert_ranks(logits, offs_e, TOP_K, RENORMALIZE)
            top = rank < TOP_K
            tl.store(ids_ptr + m * TOP_K + rank, offs_e, mask=top)
            tl.store(weights_ptr + m * TOP_K + rank, weight, mask=top)
        tl.store(count_ptr, 0)


def router_topk(
    x: torch.Tensor,
    gate_weight: torch.Tensor,
    count: torch.Tensor,
    *,
    top_k: int,
    renormalize: bool,
    block_n: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each token's top-k experts of ``softmax(x @ gate_weight.T)`` [M * top_k] int32, best
    first, and their weights (float32; renormalized over the k or not). ``count``: one int32
    zero on x's device, left at zero (a layer's, or shared by kernels that run one after
    another on a stream)."""
    m, k = x.shape
    e = gate_weight.shape[0]
    if gate_weight.shape[1] != k or gate_weight.stride(1) != 1 or x.stride(1) != 1:
        raise ValueError(f"router_topk: x {tuple(x.shape)}, router {tuple(gate_weight.shape)}")
    if not 0 < top_k <= e or count.dtype != torch.int32:
        raise ValueError(f"router_topk: top {top_k} of {e} experts, count {count.dtype}")
    logits = torch.empty((m, e), dtype=torch.float32, device=x.device)
    ids = torch.empty((m * top_k,), dtype=torch.int32, device=x.device)
    weights = torch.empty((m * top_k,), dtype=torch.float32, device=x.device)
    _router_topk_kernel[(triton.cdiv(e, block_n),)](
        x, gate_weight, logits, ids, weights, count, m, e, k, x.stride(0), gate_weight.stride(0),
        E_P2=triton.next_power_of_2(e), TOP_K=top_k, RENORMALIZE=renormalize,
        M_P2=triton.next_power_of_2(m), BLOCK_N=block_n,
        BLOCK_K=min(2048, triton.next_power_of_2(k)), num_warps=4,
    )  # fmt: skip
    return ids, weights
