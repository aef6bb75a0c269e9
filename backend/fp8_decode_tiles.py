"""Tiles and limits of Fathom's FP8 decode kernels (fp8_dense_kernels.py, fp8_decode_kernels.py).

Each is the fastest bench/gpu_decode_kernels.py found on the GPU named beside it; another
GPU's best can be given as JSON in ``FATHOM_DECODE_TILES``, read once at import.
"""

from __future__ import annotations

import json
import os

QUANT_BLOCK = 128  # the weights' scale blocks are QUANT_BLOCK x QUANT_BLOCK
MAX_DECODE_TOKENS = 4  # the most rows the MoE kernel and the dense loop kernel take

# Tiles: rows (N) and columns (K) a program loads, pipeline stages and warps per program: the
# fastest among those bench/gpu_decode_kernels.py tries (MoE: one token on an H200,
# decode_kernels_h200-dot3.json; dense: decode_kernels_h100-gemv-after.json, an H100).
# Another GPU's best can be given as JSON in FATHOM_DECODE_TILES, e.g. '{"moe_stages": 4}'
# (and DOT_TILES' entries under "dense_dot_tiles_by_shape").
TILES: dict[str, int] = {
    "dense_block_n": 8,
    "dense_block_k": 2048,
    "dense_warps": 4,
    # From this many activation rows ``gemv`` runs fp8_dense_kernels.py's tl.dot kernel on FP8
    # weights, with these tiles (or DOT_TILES'). Alone, on an H100, it beat the loop from 2
    # rows (decode_kernels_h100-wide.md), but in the whole model a batch-2 step took 4.56 ms
    # with it against 4.35 with the loop, same machine (whole_model_wide_h100.md), so the
    # loop keeps 2 and 3. vLLM's CUDA graphs pad a step of 3 tokens to 4.
    "dense_dot_min_rows": 4,
    "dense_dot_block_n": 64,
    "dense_dot_block_k": 512,
    "dense_dot_warps": 4,
    "dense_stages": 3,
    # The plugin takes the FP8 linears with at least this many columns: there ``gemv`` beat
    # vLLM's activation quantization + CUTLASS GEMM. On an H100 both of Qwen3's do at one
    # token: QKV (K 2048) 7.5 against 10.0 µs, o_proj (K 4096) 7.1 against 12.0.
    "dense_min_k": 2048,
    # The plugin's dense linears take steps of up to this many tokens (at most 64, the tl.dot
    # kernel's one program of rows); larger ones go to vLLM's activation quantization and
    # CUTLASS GEMM. Alone, on an H100, the tl.dot kernel beat vLLM's up to 32 tokens
    # (decode_kernels_h100-wide.md); in the whole model, against plain vLLM on the same
    # machine, steps of 8 and 16 sequences took 0.954 and 0.988 of the time and 32 took 1.004
    # (its kernels 1,203 µs a step against CUTLASS's 1,179; whole_model_wide_h100.md).
    "dense_max_tokens": 16,
    "router_block_n": 8,
    "moe_up_block_n": 64,
    "moe_up_block_k": 256,
    # Down: 128 x 128 was faster alone on an H100 (26.1 against 26.5 µs at one token, 43.1
    # against 45.1 at two: read_floor_h100-topk-once3-*.md) but is not yet measured in the
    # whole model apart from the loop up kernel (whole_model_topk_once_h100.md).
    "moe_down_block_n": 64,
    "moe_down_block_k": 256,
    "moe_stages": 3,
    "moe_warps": 4,
    # Split K (the hidden size) of the up kernel over this many programs a row tile: at 1 it
    # runs only 96 programs at one token (8 experts x 12 tiles) on 132 SMs, streaming ~1.8 TB/s.
    # Above 1 the programs store float32 partial sums and the down kernel adds them before
    # SiLU-and-mul. Timed on an H200 (decode_kernels_h200-split.json, one token): 2 and 4 are
    # slower (29.1 and 36.5 µs against 27.6): the partial sums cost more than the SMs won.
    "moe_up_split_k": 1,
    # The MoE kernel takes at most this many tokens (vLLM's CUDA graphs pad a batch of 3 to
    # 4): at 4 it measured slower than vLLM's path (68.7 against 61.1 µs), at 1 faster (27.4
    # against 37.0); at 2, faster too (39.7 against 45.5, decode_kernels_h200-split.json).
    "moe_max_tokens": 2,
    # 1: the down kernel's last program to finish converts the float32 sums to 16 bits (a
    # counter in the sum's buffer says which), so no cast kernel runs after it (~1 µs a layer,
    # 50 µs a batch-1 step). On an H200: 26.6 µs a call against 27.6 with the separate cast
    # (decode_kernels_h200-split.json), checked against float32 math by the GPU test.
    "moe_fused_cast": 1,
    # 1: the up kernel is a loop of moe_up_loop_block_n gate and up rows a program (768
    # programs at one token) instead of the tl.dot kernel's 64-row tiles (96 programs).
    # Alone, on an H100, one token, with the experts ranked once: 25.9-26.5 µs a layer
    # against 28.3-28.8 (read_floor_h100-topk-once*.md); in the whole model, with the experts
    # ranked once, a batch-1 step took 3.498 ms against 3.494 (whole_model_topk_once_h100.md).
    # With the ranking in each of its programs (moe_topk_once 0) it lost: 32.9 against 28.6 µs
    # a layer alone, a batch-1 step 3.733 against 3.514 ms (whole_model_loop_rank_h100.md).
    "moe_up_loop": 0,
    "moe_up_loop_block_n": 8,
    "moe_up_loop_block_k": 512,
    "moe_up_loop_warps": 4,
    # 1: with the loop, the router kernel's last program ranks the experts once
    # (fp8_moe_router.py) and the up programs load their expert's id; 0: each up program
    # ranks them. In the whole model the router kernel took 5.0 µs a layer, the plain router
    # GEMV ~2.4 (two profiles, two H100s), which ate the loop's gain: a batch-1 step took 3.498
    # against 3.494 ms (whole_model_topk_once_h100.md).
    "moe_topk_once": 0,
}
# The tl.dot kernel's [row tile, K tile] by weight shape ("NxK") and rows a program (16, 32
# or 64: the step's tokens padded), where they differ from dense_dot_block_n/_k: the fastest
# for each of Qwen3-Coder-30B-A3B's two shapes on an H100
# (bench/results/decode_kernels_h100-wide.json). Its output projection, with half QKV's rows,
# runs 32 programs at 64 rows each: 32 and 16 rows a program took 11.8 and 12.8 µs at 16 and
# 32 tokens, 64 rows 13.1 and 20.6. QKV at 32 tokens: 12.5 µs at 256 columns, 14.9 at 512.
# In the whole model, same machine, these against one 64 x 512 tile for both: batch 4 / 8 /
# 16 steps of 6.14 / 7.74 / 10.49 ms against 6.26 / 7.99 / 10.77 (whole_model_wide_h100.md).
DOT_TILES: dict[str, dict[str, list[int]]] = {
    "5120x2048": {"16": [64, 256], "32": [64, 256], "64": [64, 256]},  # QKV
    "2048x4096": {"16": [32, 512], "32": [16, 512], "64": [16, 512]},  # the output projection
}
_given = json.loads(os.environ.get("FATHOM_DECODE_TILES") or "{}")
DOT_TILES.update(_given.pop("dense_dot_tiles_by_shape", {}))
TILES.update(_given)
