"""A paged KV cache laid out as vLLM's FlashAttention backend keeps it, and attention over it
in float32: what Fathom's decode attention kernel is checked against (on the CPU under
Triton's interpreter, and on a GPU)."""

from __future__ import annotations

import torch


def paged_cache(
    lengths: list[int],
    kv_heads: int,
    head: int,
    *,
    page: int = 16,
    dtype: torch.dtype = torch.bfloat16,
    device: str = "cpu",
    spare_blocks: int = 3,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(key_cache, value_cache, block_table, seq_lens) for sequences of ``lengths`` tokens.

    The cache is one tensor [blocks, KV heads, page, 2 x head] (K and V side by side, as
    FlashAttention's ``get_kv_cache_shape``), seen as [blocks, page, KV heads, head] views;
    each sequence's pages are blocks in shuffled order, with unused blocks between them."""
    pages = [-(-n // page) for n in lengths]
    widest = max(max(pages), 1)
    blocks = sum(pages) + spare_blocks
    cache = torch.randn(blocks, kv_heads, page, 2 * head, device=device).to(dtype)
    key_cache, value_cache = cache.transpose(1, 2).split(head, dim=-1)
    order = torch.randperm(blocks, device=device).int()
    table = torch.zeros(len(lengths), widest, dtype=torch.int32, device=device)
    used = 0
    for row, count in enumerate(pages):
        table[row, :count] = order[used : used + count]
        used += count
    lens = torch.tensor(lengths, dtype=torch.int32, device=device)
    return key_cache, value_cache, table, lens


def attention(
    query: torch.Tensor,
    key_cache: torch.Tensor,
    value_cache: torch.Tensor,
    block_table: torch.Tensor,
    seq_lens: torch.Tensor,
    scale: float,
) -> torch.Tensor:
    """Each sequence's one query token over its whole context, float32, [S, H, D]."""
    seqs, heads, head = query.shape
    page, kv_heads = key_cache.shape[1], key_cache.shape[2]
    group = heads // kv_heads
    out = torch.zeros(seqs, heads, head, device=query.device)
    for seq in range(seqs):
        length = int(seq_lens[seq])
        if length == 0:
            continue
        tokens = torch.arange(length, device=query.device)
        blocks = block_table[seq, tokens // page].long()
        k = key_cache[blocks, tokens % page].float().repeat_interleave(group, dim=1)
        v = value_cache[blocks, tokens % page].float().repeat_interleave(group, dim=1)
        scores = torch.einsum("hd,thd->ht", query[seq].float(), k) * scale
        out[seq] = torch.einsum("ht,thd->hd", scores.softmax(-1), v)
    return out
