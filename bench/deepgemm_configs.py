"""Which prefills of a completion run needed a DeepGEMM kernel no earlier step had compiled.

    .venv/bin/python bench/deepgemm_configs.py bench/results/completion_latency_h100-qwen3-30b-cold.json

DeepGEMM (vendored in vLLM, vLLM's default for FP8 block linears on Hopper) compiles one kernel
with nvcc per (N, K, block M, block N, cluster) and picks the blocks from the row count M. This
re-implements its SM90 choice (DeepGEMM's csrc/jit_kernels/heuristics/common.hpp and sm90.hpp:
the candidates, their shared-memory stages, the L1/L2 cycle estimate; 1D2D kernel, bf16
output, 132 SMs) for Qwen3-Coder-30B-A3B's QKV (5120x2048) and o_proj (2048x4096), seeds the
set of compiled kernels with the row counts a start ran through those layers while vLLM's
DeepGEMM warm-up skipped them (Fathom's decode plugin before 71673ab: CUDA-graph capture at
8..256, the 8192-token profile run, the sampler's warm-up at 128 sequences), then walks the run's prefills
past 256 new tokens in order and prints the kernels each would have compiled first, beside
the first-token time it measured. It is an estimate of DeepGEMM's code, not DeepGEMM.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SHARED_MEMORY = 232448  # bytes a block may use on an H100
SMS = 132
SHAPES = {"qkv_proj": (5120, 2048), "o_proj": (2048, 4096)}  # N, K
WARMED = [8, *range(16, 257, 8), 8192, 128]
Layout = tuple[int, int, int, int]  # block M, block N, cluster M, cluster N


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _stages(block_m: int, block_n: int, k: int) -> int:
    out_tile = _cdiv(block_m * block_n * 2, 1024) * 1024
    scale_b = _cdiv(_cdiv(k, 128) * 4 * (1 if 128 % block_n == 0 else 2), 8) * 8
    fixed = out_tile + 16 * 8 * 2 + scale_b
    per_stage = block_m * 128 + block_n * 128 + _cdiv(block_m * 4, 128) * 128
    return min((SHARED_MEMORY - fixed) // per_stage, 16)


def _candidates(m: int, k: int) -> list[Layout]:
    block_ms = [64, 128] + ([16] if m <= 16 else []) + ([32] if m <= 32 else []) + [256]
    layouts = []
    for cluster_m, cluster_n in ((1, 1), (1, 2), (2, 1)):
        for bm in block_ms:
            for bn in range(16, 193, 16):
                if bn > 128 and bn % (bn - 128) and 128 % (bn - 128):
                    continue
                if bm > 128 and bn > 128:
                    continue
                stages = _stages(bm, bn, k)
                if stages < 3 or (bm * bn < 128 * 192 and stages < 4):
                    continue
                layouts.append((bm, bn, cluster_m, cluster_n))
    return layouts


def _cycles(m: int, n: int, k: int, layout: Layout) -> int:
    bm, bn, cluster_m, cluster_n = layout
    blocks = _cdiv(m, bm) * _cdiv(n, bn)
    waves = _cdiv(blocks, SMS)
    l2_bandwidth, l1_bandwidth = int(min(64.0 * SMS, 8e6 / 1.3e3)), 128 * SMS
    out_tile = bm * bn * 2
    l2 = (k * (bm // cluster_n + bn // cluster_m) + out_tile) * blocks // l2_bandwidth
    l1_bytes = k * (bm + bn) + k * (max(64, bm) + bn) + out_tile + out_tile
    l1 = l1_bytes * blocks // l1_bandwidth
    if cluster_m * cluster_n > 1 and waves <= 1:
        return 2**63 - 1
    return int(max(l1, l2) / (blocks / (waves * SMS)))


def layout_for(m: int, n: int, k: int) -> Layout:
    """The blocks and cluster DeepGEMM's heuristic picks for an M x N x K GEMM."""
    return min(_candidates(m, k), key=lambda layout: _cycles(m, n, k, layout))


def main(path: str) -> int:
    compiled = {(name, layout_for(m, n, k)) for m in WARMED for name, (n, k) in SHAPES.items()}
    print("| request | new tokens | first token ms | kernels it compiles first |")
    print("|---|---|---|---|")
    for request in json.loads(Path(path).read_text())["figures"]["requests"]:
        rows = request["prompt_tokens"] - request["cached_tokens"]
        if rows <= 256:  # a captured CUDA graph's size: compiled at start
            continue
        first = []
        for name, (n, k) in SHAPES.items():
            kernel = (name, layout_for(rows, n, k))
            if kernel not in compiled:
                compiled.add(kernel)
                first.append(f"{name} {kernel[1]}")
        ms = request["first_token_s"] * 1000
        print(f"| {request['n']} | {rows} | {ms:.0f} | {', '.join(first) or '-'} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
