"""The plugin's tile settings from a kernel sweep's rows (bench/gpu_decode_kernels.py).

Each dense row is one op (``n`` x ``k``) at one token count, with ``tiles``: µs per call by
tile key "dot,block_n,block_k,warps,stages" (a tile that could not launch is absent), and
``vllm_us``: vLLM's activation quantization + CUTLASS GEMM on the same inputs.

The bounds chosen here (``dense_dot_min_rows``, ``dense_max_tokens``) are those of calls
alone; in the whole model they were too generous (2 and 32 tokens where a whole-model pair
bore out 4 and 16, bench/results/whole_model_wide_h100.md), so a sweep's bounds are a
starting point for that pair, not a setting to ship as they are.
"""

from __future__ import annotations

import math
from typing import Any

from fathom.backend.fp8_decode_tiles import MAX_DECODE_TOKENS, TILES
from fathom.backend.fp8_dense_kernels import dot_rows, shaped_tile


def dense_settings(rows: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """The GEMV's tiles and the one-token loop tile's key: one loop tile for every dense op
    (the least time summed over the one-token rows), one tl.dot tile (the same over the rows
    of the most tokens the loop takes), and ``dense_dot_min_rows``: the fewest tokens from
    which the tl.dot tile beat the fastest loop tile at every token count timed (above them
    all where it never did). Where more than MAX_DECODE_TOKENS were timed, also
    ``dense_dot_tiles_by_shape`` (each op's fastest row and K tiles at each program height,
    at that tile's warps and stages) and ``dense_max_tokens``: the most tokens up to
    which those tiles beat vLLM at every count timed past the loop's."""

    def fastest(kind: str, tokens: int) -> str:
        mine = [row for row in rows if row["tokens"] == tokens]
        keys = [key for key in mine[0]["tiles"] if key.startswith(kind)]
        return min(keys, key=lambda key: summed(key, tokens), default="")

    def summed(key: str, tokens: int) -> float:  # a tile that could not launch: never best
        return sum(row["tiles"].get(key, math.inf) for row in rows if row["tokens"] == tokens)

    every = sorted({row["tokens"] for row in rows})
    counts = [tokens for tokens in every if tokens <= MAX_DECODE_TOKENS]  # the loop's
    loop, dot = fastest("0,", 1), fastest("1,", counts[-1])
    if not loop:
        raise ValueError("no loop tile was timed (--dense-dot 0 1)")
    _, block_n, block_k, warps, _ = map(int, loop.split(","))
    settings: dict[str, Any] = {
        "dense_block_n": block_n, "dense_block_k": block_k or TILES["dense_block_k"],
        "dense_warps": warps, "dense_dot_min_rows": 1 + max(counts),
    }  # fmt: skip
    if not dot:
        return settings, loop
    for tokens in reversed(counts):
        if summed(dot, tokens) >= summed(fastest("0,", tokens), tokens):
            break
        settings["dense_dot_min_rows"] = tokens
    _, block_n, block_k, warps, stages = map(int, dot.split(","))
    settings.update(
        dense_dot_block_n=block_n,
        dense_dot_block_k=block_k or TILES["dense_dot_block_k"],
        dense_dot_warps=warps,
        dense_stages=stages,
    )
    wider = [tokens for tokens in every if tokens > MAX_DECODE_TOKENS]
    if wider:
        by_shape = row_tiles_by_shape(rows, dot)
        settings["dense_dot_tiles_by_shape"] = by_shape
        settings["dense_max_tokens"] = MAX_DECODE_TOKENS
    for tokens in wider:
        mine = [row for row in rows if row["tokens"] == tokens]
        ours = sum(row["tiles"].get(shape_tile(row, dot, by_shape), math.inf) for row in mine)
        if ours >= sum(row["vllm_us"] for row in mine):
            break
        settings["dense_max_tokens"] = tokens
    return settings, loop


def row_tiles_by_shape(rows: list[dict[str, Any]], dot: str) -> dict[str, dict[str, list[int]]]:
    """Each op's ("NxK") fastest [row tile, K tile] per program height ("16", "32", "64"),
    summed over the token counts of that height from MAX_DECODE_TOKENS on, among tiles with
    ``dot``'s warps and stages."""
    warps_stages = ",".join(dot.split(",")[3:])
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        if row["tokens"] >= MAX_DECODE_TOKENS:
            key = (f"{row['n']}x{row['k']}", str(dot_rows(row["tokens"])))
            groups.setdefault(key, []).append(row)
    by_shape: dict[str, dict[str, list[int]]] = {}
    for (shape, height), mine in groups.items():
        tiles = mine[-1]["tiles"]
        keys = [k for k in tiles if k.startswith("1,") and k.endswith("," + warps_stages)]
        best = min(keys, key=lambda key: sum(o["tiles"].get(key, math.inf) for o in mine))
        by_shape.setdefault(shape, {})[height] = [int(part) for part in best.split(",")[1:3]]
    return by_shape


def shape_tile(row: dict[str, Any], dot: str, by_shape: dict[str, dict[str, list[int]]]) -> str:
    """The tile key the plugin runs for ``row``'s op and tokens, given ``by_shape``."""
    kind, block_n, block_k, warps_stages = dot.split(",", 3)
    chosen = shaped_tile(by_shape, row["n"], row["k"], row["tokens"])
    block_n, block_k = map(str, chosen) if chosen else (block_n, block_k)
    return f"{kind},{block_n},{block_k},{warps_stages}"


def best_tiles(result: dict[str, Any]) -> dict[str, Any]:
    """The plugin's settings from the one-token rows: the MoE tile fastest there,
    ``dense_min_k`` (the smallest K of the dense ops where ``gemv`` beat vLLM; above them all
    where it beat none), ``ops`` (FATHOM_DECODE_OPS: the kernels that beat vLLM's) and
    ``moe_max_tokens`` (the token counts from 1 up where the MoE kernel beat vLLM's)."""
    one = [row for row in result["dense"] if row["tokens"] == 1]
    moe = next(row for row in result["moe"] if row["tokens"] == 1)
    up, up_k, down, down_k, stages, warps, split, cast = map(int, moe["best_tile"].split(","))
    max_tokens = 0
    for row in sorted(result["moe"], key=lambda row: row["tokens"]):
        if row["fathom_us"] >= row["vllm_us"]:
            break
        max_tokens = row["tokens"]
    dense, loop = dense_settings(result["dense"])
    # Each op's time at the one-token loop tile decides whether the plugin takes it.
    wins = [row["k"] for row in one if row["tiles"][loop] < row["vllm_us"]]
    ops = (["moe"] if moe["fathom_us"] < moe["vllm_us"] else []) + (["dense"] if wins else [])
    return {
        "dense_min_k": min(wins or [1 + max(row["k"] for row in one)]),
        **dense,
        "moe_up_block_n": up, "moe_up_block_k": up_k,
        "moe_down_block_n": down, "moe_down_block_k": down_k,
        "moe_stages": stages, "moe_warps": warps, "moe_up_split_k": split,
        "moe_fused_cast": cast,
        "moe_max_tokens": max(max_tokens, 1),
        "ops": ",".join(ops),
    }  # fmt: skip
