"""Fathom's decode attention kernel against FlashAttention-3 (vLLM's) on the GPU.

    PYTHONPATH=/tmp/site:. python bench/gpu_decode_attention.py --out DIR [--tiles-file F]

Qwen3-Coder-30B-A3B's attention (32 query heads, 4 KV heads of 128, bfloat16 KV cache in
vLLM's FlashAttention layout, 16-token pages in shuffled order), one new token a sequence:
- correctness: both against float32 attention over the same cache (error relative to the
  largest output);
- time: each captured 100 times in one CUDA graph, rotating over copies of the cache (4x the
  L2 cache, so K and V come from HBM as in a model's step), µs per call. FlashAttention is
  called as vLLM's decode graphs call it: an ahead-of-time schedule and at most 32 splits.
  Fathom's kernel at each tile swept at the smallest batch of each context, the tile with the
  least time relative to FlashAttention's summed over those then at every other shape.
Writes ``decode_attention_<tag>.json``; with ``--tiles-file`` merges the fastest tile and
``attn_max_seqs`` (the batches up to which it beat FlashAttention at a 1K context) into
that JSON, and adds ``attention`` to its ``ops`` when it won at batch 1.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import math
import sys
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from gpu_decode_kernels import L2_BYTES, gpu_tag, graph_time_us, rotating, run_header  # noqa: E402
from paged_attention_reference import attention, paged_cache  # noqa: E402

from fathom.backend.decode_attention_kernels import decode_attention  # noqa: E402

HEADS, KV_HEADS, HEAD_DIM, PAGE = 32, 4, 128, 16
SPLITS_FOR_GRAPHS = 32  # vLLM's flash_attn_max_num_splits_for_cuda_graph default


def flash_attention(
    query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, table: torch.Tensor,
    lens: torch.Tensor, out: torch.Tensor, schedule: torch.Tensor | None, longest: int,
) -> torch.Tensor:  # fmt: skip
    from vllm.vllm_flash_attn import flash_attn_varlen_func

    seqs = query.shape[0]
    cu_q = torch.arange(seqs + 1, dtype=torch.int32, device=query.device)
    return flash_attn_varlen_func(
        q=query, k=keys, v=values, out=out, cu_seqlens_q=cu_q, max_seqlen_q=1,
        seqused_k=lens, max_seqlen_k=longest, softmax_scale=1 / math.sqrt(HEAD_DIM),
        causal=True, block_table=table, scheduler_metadata=schedule, fa_version=3,
        num_splits=SPLITS_FOR_GRAPHS,
    )  # fmt: skip


def fa_schedule(seqs: int, lens: torch.Tensor, longest: int) -> torch.Tensor | None:
    from vllm.vllm_flash_attn import get_scheduler_metadata

    return get_scheduler_metadata(
        batch_size=seqs, max_seqlen_q=1, max_seqlen_k=longest, num_heads_q=HEADS,
        num_heads_kv=KV_HEADS, headdim=HEAD_DIM, cache_seqlens=lens,
        qkv_dtype=torch.bfloat16,
        cu_seqlens_q=torch.arange(seqs + 1, dtype=torch.int32, device=lens.device),
        page_size=PAGE, causal=True, num_splits=SPLITS_FOR_GRAPHS,
    )  # fmt: skip


def case(seqs: int, context: int) -> list[tuple[Any, ...]]:
    """Copies of one batch's cache and query, enough to exceed the L2 cache 4x."""
    per_copy = seqs * context * KV_HEADS * HEAD_DIM * 2 * 2
    copies = max(2, min(64, -(-4 * L2_BYTES // per_copy)))
    variants = []
    for _ in range(copies):
        keys, values, table, lens = paged_cache(
            [context] * seqs, KV_HEADS, HEAD_DIM, page=PAGE, device="cuda", spare_blocks=0
        )
        query = torch.randn(seqs, HEADS, HEAD_DIM, device="cuda").bfloat16()
        variants.append((query, keys, values, table, lens))
    return variants


def error(out: torch.Tensor, exact: torch.Tensor) -> float:
    return round(((out.float() - exact).abs().max() / exact.abs().max()).item(), 6)


def measure(seqs: int, context: int, tiles: list[tuple[int, ...]]) -> dict[str, Any]:
    variants = case(seqs, context)
    query, keys, values, table, lens = variants[0]
    scale = 1 / math.sqrt(HEAD_DIM)
    counts = torch.zeros(seqs * KV_HEADS, dtype=torch.int32, device="cuda")
    out = torch.empty_like(query)
    exact = attention(query, keys, values, table, lens, scale)
    row: dict[str, Any] = {"seqs": seqs, "context": context, "copies": len(variants)}
    row["kv_bytes"] = seqs * context * KV_HEADS * HEAD_DIM * 2 * 2
    try:
        schedule = fa_schedule(seqs, lens, context)
    except Exception as exc:  # an older flash-attn: its own schedule
        row["fa_schedule_error"] = repr(exc)[:200]
        schedule = None
    fa = functools.partial(flash_attention, out=out, schedule=schedule, longest=context)
    row["fa_error"] = error(fa(query, keys, values, table, lens), exact)
    row["fa_us"] = graph_time_us(rotating(fa, variants))
    times = {}
    for splits, min_chunk, block_t, warps, stages in tiles:
        run = functools.partial(
            decode_attention, output=out, scale=scale, counts=counts, splits=splits,
            min_chunk=min_chunk, block_t=block_t, num_warps=warps, stages=stages,
        )  # fmt: skip
        key = f"{splits},{min_chunk},{block_t},{warps},{stages}"
        row.setdefault("fathom_error", {})[key] = error(
            run(query, keys, values, table, lens), exact
        )
        times[key] = graph_time_us(rotating(run, variants))
    best = min(times, key=times.__getitem__)
    row.update(fathom_us=times[best], best_tile=best, tiles=times)
    row["counts_zero"] = bool((counts == 0).all().item())
    row["fathom_tb_s"] = round(row["kv_bytes"] / row["fathom_us"] / 1e6, 3)
    row["fa_tb_s"] = round(row["kv_bytes"] / row["fa_us"] / 1e6, 3)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seqs", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32])
    parser.add_argument("--contexts", type=int, nargs="+", default=[1024, 32768])
    parser.add_argument("--splits", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--min-chunk", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--block-t", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--warps", type=int, nargs="+", default=[4])
    parser.add_argument("--stages", type=int, nargs="+", default=[2])
    parser.add_argument("--tag", default=None, help="file name's tag; default: the GPU's model")
    parser.add_argument("--tiles-file", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args()
    torch.manual_seed(0)
    result = {**run_header(), "rows": []}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"decode_attention_{args.tag or gpu_tag()}.json"
    sweep = list(
        itertools.product(args.splits, args.min_chunk, args.block_t, args.warps, args.stages)
    )
    # The sweep runs at the smallest batch of every context, and one tile is chosen for all
    # (the kernel's settings are per process): the least summed time relative to FA's.
    first = [measure(args.seqs[0], context, sweep) for context in args.contexts]
    chosen = min(first[0]["tiles"], key=lambda t: sum(r["tiles"][t] / r["fa_us"] for r in first))
    for row in first:
        row.update(fathom_us=row["tiles"][chosen], best_tile=chosen)
        row["fathom_tb_s"] = round(row["kv_bytes"] / row["fathom_us"] / 1e6, 3)
    by_shape = {(row["context"], row["seqs"]): row for row in first}
    best = [tuple(map(int, chosen.split(",")))]
    for context, seqs in itertools.product(args.contexts, args.seqs):
        row = by_shape.get((context, seqs)) or measure(seqs, context, best)
        result["rows"].append(row)
        path.write_text(json.dumps(result, indent=2))
        print(f"[attention] {json.dumps({k: v for k, v in row.items() if k != 'tiles'})}")
    result["best_tiles"] = best_tiles(result["rows"])
    path.write_text(json.dumps(result, indent=2))
    table = markdown(result)
    path.with_suffix(".md").write_text(table)
    print(table, flush=True)
    print(f"[attention] wrote {path}; best {json.dumps(result['best_tiles'])}", flush=True)
    if args.tiles_file:
        tiles = json.loads(args.tiles_file.read_text()) if args.tiles_file.exists() else {}
        ops = [op for op in tiles.get("ops", "moe,dense").split(",") if op]
        if result["best_tiles"].pop("wins_at_one"):
            ops.append("attention")
        tiles.update(result["best_tiles"], ops=",".join(ops))
        args.tiles_file.write_text(json.dumps(tiles))


def markdown(result: dict[str, Any]) -> str:
    """The rows as a table: µs a call for each kernel, their ratio, and their errors."""
    lines = [
        f"# Decode attention, {result['gpu']}, {result['date']}",
        "",
        f"vLLM {result.get('vllm')}, torch {result['torch']}, Triton {result.get('triton')}. "
        "Qwen3-Coder-30B-A3B's attention (32 query heads, 4 KV heads of 128, bf16 cache, "
        "16-token pages), one new token a sequence, K and V from HBM. µs a call in a CUDA graph; "
        "error: max |out - float32| over the largest output. Fathom's tile: splits, min chunk, "
        f"block, warps, stages. Settings chosen: `{json.dumps(result.get('best_tiles'))}`.",
        "",
        "| sequences | context | FlashAttention-3 µs | Fathom µs (tile) | Fathom ÷ FA | "
        "KV TB/s (FA, Fathom) | error (FA, Fathom) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        mine = row["fathom_error"].get(row["best_tile"])
        lines.append(
            f"| {row['seqs']} | {row['context']} | {row['fa_us']} | {row['fathom_us']} "
            f"({row['best_tile']}) | {row['fathom_us'] / row['fa_us']:.3f} | "
            f"{row['fa_tb_s']}, {row['fathom_tb_s']} | {row['fa_error']}, {mine} |"
        )
    return "\n".join(lines) + "\n"


def best_tiles(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The kernel's settings: the tile chosen (the first row's) and the largest batch up to which
    (from 1, at the shortest context) it beat FlashAttention."""
    splits, min_chunk, block_t, warps, stages = map(int, rows[0]["best_tile"].split(","))
    shortest = min(row["context"] for row in rows)
    max_seqs = 0
    for row in sorted((r for r in rows if r["context"] == shortest), key=lambda r: r["seqs"]):
        if row["fathom_us"] >= row["fa_us"]:
            break
        max_seqs = row["seqs"]
    return {
        "attn_splits": splits, "attn_min_chunk": min_chunk, "attn_block_t": block_t,
        "attn_warps": warps, "attn_stages": stages, "attn_max_seqs": max(max_seqs, 1),
        "wins_at_one": max_seqs >= 1,
    }  # fmt: skip


if __name__ == "__main__":
    main()
