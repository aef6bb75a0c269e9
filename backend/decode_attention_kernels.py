"""A Triton decode attention over vLLM's paged KV cache, for steps of one token a sequence.

Issue 23's profile of a batch-1 step of Qwen3-Coder-30B-A3B (bench/results/
whole_model_fused_cast.md): FlashAttention-3 took 10.1 µs a layer and its split-KV combine
2.9 µs more, 15% of the step, for a 1K context whose K and V a layer are 2 MB (0.5 µs of HBM
time). Its tiles are sized for many query rows; a decode step has one a head.

``decode_attention``: one kernel. A program takes one sequence, one KV head and one slice of
the context (``splits`` slices at most, each at least ``min_chunk`` tokens, so a short context
uses fewer programs); the KV head's query heads (grouped-query attention) are the rows of a
``tl.dot`` against ``block_t`` cached tokens at a time, with an online softmax. A sequence
whose context took one slice writes its output; otherwise each program stores its partial sum
and softmax statistics, counts itself done, and the sequence's last program combines the
slices (so no second kernel runs) and resets the count for the next step.

Settings (``ATTENTION_TILES``, overridable with the JSON in FATHOM_DECODE_TILES): the tile
bench/gpu_decode_attention.py found fastest at batch 1 (1K and 32K contexts summed) on an
H100. Even so the kernel is 1.3-1.4x slower than FlashAttention-3 there (and 1.05-1.6x at 4-32
sequences, bench/results/decode_attention_h100*.md), so the plugin runs it only where
FATHOM_DECODE_OPS names ``attention``; it stays for that sweep and its tests.
"""

from __future__ import annotations

import json
import os

import torch
import triton
import triton.language as tl

ATTENTION_TILES: dict[str, int] = {
    "attn_splits": 64,
    "attn_min_chunk": 16,
    "attn_block_t": 32,
    "attn_warps": 2,
    "attn_stages": 3,
    # Decode batches of at most this many sequences take the kernel; larger ones keep
    # FlashAttention (whose tiles fill up with more query rows). It lost at every batch
    # timed (1.05-1.6x), so where it is named it takes only the case it was written for.
    "attn_max_seqs": 1,
}
ATTENTION_TILES.update(
    {
        key: value
        for key, value in json.loads(os.environ.get("FATHOM_DECODE_TILES") or "{}").items()
        if key in ATTENTION_TILES
    }
)
LOG2E = 1.4426950408889634


@triton.jit
def _decode_attention_kernel(
    q_ptr, k_ptr, v_ptr, out_ptr, table_ptr, lens_ptr, part_ptr, stat_ptr, count_ptr,
    scale_log2,
    stride_qt, stride_qh, stride_kb, stride_ks, stride_kh, stride_vb, stride_vs, stride_vh,
    stride_ot, stride_oh, stride_table,
    PAGE: tl.constexpr, HEAD: tl.constexpr, GROUP: tl.constexpr, ROWS: tl.constexpr,
    GROUP_P: tl.constexpr, KV_HEADS: tl.constexpr, SPLITS: tl.constexpr,
    MIN_CHUNK: tl.constexpr, BLOCK_T: tl.constexpr,
):  # fmt: skip
    seq = tl.program_id(0)
    kv_head = tl.program_id(1)
    split = tl.program_id(2)
    length = tl.load(lens_ptr + seq)
    # Slices of whole BLOCK_T tiles, as many as keep each at least MIN_CHUNK tokens (every
    # program of the sequence works this out the same way, and none is left empty).
    wanted = tl.minimum(SPLITS, tl.maximum(1, tl.cdiv(length, MIN_CHUNK)))
    chunk = tl.maximum(BLOCK_T, tl.cdiv(tl.cdiv(length, wanted), BLOCK_T) * BLOCK_T)
    used = tl.maximum(1, tl.cdiv(length, chunk))
    if split < used:
        start = split * chunk
        end = tl.minimum(length, start + chunk)
        rows = tl.arange(0, ROWS)  # ROWS >= 16: tl.dot's smallest tile; GROUP of them real
        dims = tl.arange(0, HEAD)
        heads = kv_head * GROUP + rows
        q = tl.load(
            q_ptr + seq * stride_qt + heads[:, None] * stride_qh + dims[None, :],
            mask=(rows < GROUP)[:, None],
            other=0.0,
        )
        top = tl.full((ROWS,), float("-inf"), dtype=tl.float32)
        total = tl.zeros((ROWS,), dtype=tl.float32)
        acc = tl.zeros((ROWS, HEAD), dtype=tl.float32)
        table = table_ptr + seq * stride_table
        for t0 in range(start, end, BLOCK_T):
            tokens = t0 + tl.arange(0, BLOCK_T)
            inside = tokens < end
            block = tl.load(table + tokens // PAGE, mask=inside, other=0).to(tl.int64)
            slot = tokens % PAGE
            k = _cached_rows(k_ptr, block, slot, kv_head, dims, inside, stride_kb, stride_ks,
                             stride_kh)  # fmt: skip
            scores = tl.dot(q, tl.trans(k)) * scale_log2
            scores = tl.where(inside[None, :], scores, float("-inf"))
            new_top = tl.maximum(top, tl.max(scores, axis=1))
            p = tl.exp2(scores - new_top[:, None])
            alpha = tl.exp2(top - new_top)
            total = total * alpha + tl.sum(p, axis=1)
            v = _cached_rows(v_ptr, block, slot, kv_head, dims, inside, stride_vb, stride_vs,
                             stride_vh)  # fmt: skip
            acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v)
            top = new_top
        if used == 1:
            out = acc / tl.where(total > 0, total, 1.0)[:, None]  # an empty context: zeros
            tl.store(
                out_ptr + seq * stride_ot + heads[:, None] * stride_oh + dims[None, :],
                out.to(out_ptr.dtype.element_ty),
                mask=(rows < GROUP)[:, None],
            )
        else:
            pair = seq * KV_HEADS + kv_head
            part = part_ptr + ((pair * SPLITS + split) * GROUP_P) * HEAD
            keep = (rows < GROUP)[:, None]
            tl.store(part + rows[:, None] * HEAD + dims[None, :], acc, mask=keep)
            stat = stat_ptr + (pair * SPLITS + split) * GROUP_P * 2
            tl.store(stat + rows * 2, top, mask=rows < GROUP)
            tl.store(stat + rows * 2 + 1, total, mask=rows < GROUP)
            # Every thread's stores are issued before the program counts itself done; the
            # count's acquire-release makes all slices' stores visible to the last program,
            # which reads them from L2 (.cg).
            tl.debug_barrier()
            done = tl.atomic_add(count_ptr + pair, 1, sem="acq_rel")
            if done == used - 1:
                _combine(part_ptr, stat_ptr, out_ptr, pair, seq, kv_head, used,
                         stride_ot, stride_oh, HEAD, GROUP, GROUP_P, SPLITS)  # fmt: skip
                tl.atomic_xchg(count_ptr + pair, 0)


@triton.jit
def _cached_rows(base, block, slot, kv_head, dims, inside, stride_b, stride_s, stride_h):
    """One KV head's rows of the cache (K or V) for the tokens at ``block``/``slot``; zeros
    where ``inside`` is false."""
    rows = base + (block * stride_b + slot * stride_s + kv_head * stride_h)[:, None]
    return tl.load(rows + dims[None, :], mask=inside[:, None], other=0.0)


@triton.jit
def _combine(
    part_ptr, stat_ptr, out_ptr, pair, seq, kv_head, used, stride_ot, stride_oh,
    HEAD: tl.constexpr, GROUP: tl.constexpr, GROUP_P: tl.constexpr, SPLITS: tl.constexpr,
):  # fmt: skip
    """The sequence's output for one KV head's query heads from its ``used`` slices; a head
    at a time (unrolled, so the loads of all heads can be in flight together), each head's
    slices [SPLITS, HEAD] in one load."""
    splits = tl.arange(0, SPLITS)
    dims = tl.arange(0, HEAD)
    valid = splits < used
    for row in tl.static_range(GROUP):
        stat = stat_ptr + ((pair * SPLITS + splits) * GROUP_P + row) * 2
        top = tl.load(stat, mask=valid, other=float("-inf"), cache_modifier=".cg")
        total = tl.load(stat + 1, mask=valid, other=0.0, cache_modifier=".cg")
        weight = tl.where(valid, tl.exp2(top - tl.max(top, axis=0)), 0.0)
        denominator = tl.sum(weight * total, axis=0)
        part = tl.load(
            part_ptr + ((pair * SPLITS + splits[:, None]) * GROUP_P + row) * HEAD + dims[None, :],
            mask=valid[:, None],
            other=0.0,
            cache_modifier=".cg",
        )
        out = tl.sum(part * weight[:, None], axis=0) / tl.where(denominator > 0, denominator, 1.0)
        tl.store(
            out_ptr + seq * stride_ot + (kv_head * GROUP + row) * stride_oh + dims,
            out.to(out_ptr.dtype.element_ty),
        )


def decode_attention(
    query: torch.Tensor,
    key_cache: torch.Tensor,
    value_cache: torch.Tensor,
    block_table: torch.Tensor,
    seq_lens: torch.Tensor,
    output: torch.Tensor,
    scale: float,
    counts: torch.Tensor,
    *,
    splits: int | None = None,
    min_chunk: int | None = None,
    block_t: int | None = None,
    num_warps: int | None = None,
    stages: int | None = None,
) -> torch.Tensor:
    """Attention of one new token a sequence over its cached context, into ``output``.

    ``query`` and ``output`` are [S, H, D] (sequence i's token in row i); ``key_cache`` and
    ``value_cache`` [blocks, page, KV heads, D] views of vLLM's cache (any strides, D
    contiguous) holding every token of the context, the new one included; ``block_table``
    [≥S, pages] and ``seq_lens`` [≥S] vLLM's (a length of 0 gives zeros). ``counts`` is an
    int32 buffer of ≥ S x KV heads zeros that the kernel leaves zeroed (kept across calls, so
    it is allocated once, outside any CUDA graph). The keyword settings override
    ``ATTENTION_TILES``.
    """
    seqs, heads, head = query.shape
    _, page, kv_heads, _ = key_cache.shape
    splits = splits or ATTENTION_TILES["attn_splits"]
    group = heads // kv_heads
    group_p = triton.next_power_of_2(group)
    if heads % kv_heads or head != triton.next_power_of_2(head) or group > 64:
        raise ValueError(f"decode_attention: {heads} heads over {kv_heads}, head size {head}")
    if counts.numel() < seqs * kv_heads or counts.dtype != torch.int32:
        raise ValueError("decode_attention: counts must be int32, a slot per sequence and head")
    if query.stride(2) != 1 or key_cache.stride(3) != 1 or value_cache.stride(3) != 1:
        raise ValueError("decode_attention: the head dimension must be contiguous")
    if splits != triton.next_power_of_2(splits):
        raise ValueError(f"decode_attention: splits {splits} is not a power of two")
    # float32 partial sums and (max, sum) pairs of each slice; the slices of one call only.
    part = torch.empty((seqs * kv_heads * splits * group_p * head,), device=query.device)
    stat = torch.empty((seqs * kv_heads * splits * group_p * 2,), device=query.device)
    _decode_attention_kernel[(seqs, kv_heads, splits)](
        query, key_cache, value_cache, output, block_table, seq_lens, part, stat, counts,
        scale * LOG2E,
        query.stride(0), query.stride(1), key_cache.stride(0), key_cache.stride(1),
        key_cache.stride(2), value_cache.stride(0), value_cache.stride(1), value_cache.stride(2),
        output.stride(0), output.stride(1), block_table.stride(0),
        PAGE=page, HEAD=head, GROUP=group, ROWS=max(16, group_p), GROUP_P=group_p,
        KV_HEADS=kv_heads, SPLITS=splits,
        MIN_CHUNK=min_chunk or ATTENTION_TILES["attn_min_chunk"],
        BLOCK_T=block_t or ATTENTION_TILES["attn_block_t"],
        num_warps=num_warps or ATTENTION_TILES["attn_warps"],
        num_stages=stages or ATTENTION_TILES["attn_stages"],
    )  # fmt: skip
    return output
