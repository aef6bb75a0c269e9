"""Tunes vLLM's fused-MoE Triton kernel for one model's expert shapes on this GPU.

    PYTHONPATH=/tmp/site:. python bench/gpu_moe_tune.py --model deepseek-v2-lite --out DIR

vLLM picks the tiles of ``fused_moe_kernel`` from a JSON file per (experts, intermediate
size, GPU, dtype), and falls back to ``get_default_config`` ("Using default MoE config.
Performance might be sub-optimal!") where it ships none: so for DeepSeek-V2-Lite on an H200.
vLLM's own tuner (benchmarks/kernels/benchmark_moe.py) is not in the offline bundle and
needs ray; this one runs in one process:

- for each batch, a coordinate search that starts from vLLM's current choice (its shipped
  file's config for the nearest batch, or its default), tries every other value of one
  parameter at a time, keeps a change that is at least 1% faster and repeats until none is;
- each config timed with ``fused_experts`` (what vLLM's layer calls) under vLLM's
  ``override_config``, 100 calls captured in a CUDA graph, routing redrawn every call so the
  experts' weights come from HBM (bench/gpu_decode_kernels.py's ``graph_time_us``);
- the file: the tuned config at each tuned batch where it beat vLLM's by 1% or more, vLLM's
  own choice at every other key (its file's batches, or 256 to 16384 tokens for prefill), so
  no batch gets a config that was not measured against vLLM's.

Writes ``DIR/moe_configs/<vLLM's file name>`` (what ``VLLM_TUNED_CONFIG_FOLDER`` reads) and
``DIR/moe_tune_<model>_<gpu>.json`` (every config timed; vLLM's choice beside the best).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import dummy_models
from bench.gpu_decode_kernels import gpu_tag, graph_time_us, quantize, run_header

KEYS = ("BLOCK_SIZE_M", "BLOCK_SIZE_N", "BLOCK_SIZE_K", "GROUP_SIZE_M", "num_warps", "num_stages")
# FP8 128x128 blocks take one scale per K tile: K tiles no wider than a block.
SPACE: dict[str, tuple[int, ...]] = {
    "BLOCK_SIZE_M": (16, 32, 64, 128),
    "BLOCK_SIZE_N": (32, 64, 128, 256),
    "BLOCK_SIZE_K": (64, 128, 256),
    "GROUP_SIZE_M": (1, 16, 32, 64),
    "num_warps": (4, 8),
    "num_stages": (2, 3, 4, 5),
}
PREFILL_KEYS = (256, 512, 1024, 2048, 4096, 8192, 16384)
ROUTINGS = 32  # routings a timed call cycles through


class Shape:
    """One model's MoE layer: experts, intermediate size, hidden size, top-k, weights."""

    def __init__(self, model: str) -> None:
        cfg = dummy_models.config(model)
        self.experts = cfg.get("n_routed_experts") or cfg["num_experts"]
        self.inter, self.hidden = cfg["moe_intermediate_size"], cfg["hidden_size"]
        self.top_k = cfg["num_experts_per_tok"]
        quant = cfg.get("quantization_config") or {}
        self.block = quant.get("weight_block_size")  # [128, 128] for FP8 blocks, else None
        self.dtype = "fp8_w8a8" if self.block else None
        w13 = torch.randn(self.experts, 2 * self.inter, self.hidden, device="cuda") * 0.02
        w2 = torch.randn(self.experts, self.hidden, self.inter, device="cuda") * 0.02
        if self.block:
            from vllm.model_executor.layers.fused_moe.config import fp8_w8a8_moe_quant_config

            (self.w13, s13), (self.w2, s2) = quantize(w13), quantize(w2)
            self.quant: Any = fp8_w8a8_moe_quant_config(
                w1_scale=s13, w2_scale=s2, block_shape=self.block
            )
        else:
            self.w13, self.w2, self.quant = w13.bfloat16(), w2.bfloat16(), None
        del w13, w2

    def space(self) -> dict[str, tuple[int, ...]]:
        space = dict(SPACE)
        if self.block:
            space["BLOCK_SIZE_K"] = tuple(k for k in SPACE["BLOCK_SIZE_K"] if k <= self.block[1])
        return space

    def vllm_choice(self, batch: int) -> dict[str, int]:
        from vllm.model_executor.layers.fused_moe.fused_moe import try_get_optimal_moe_config

        config = try_get_optimal_moe_config(
            tuple(self.w13.shape), tuple(self.w2.shape), self.top_k, self.dtype, batch, self.block
        )
        return {key: int(config[key]) for key in KEYS if key in config}

    def shipped(self) -> dict[int, Any] | None:
        from vllm.model_executor.layers.fused_moe.fused_moe import get_moe_configs

        block_n, block_k = self.block or (0, 0)
        return get_moe_configs(self.experts, self.inter, self.dtype, block_n, block_k)

    def file_name(self) -> str:
        from vllm.model_executor.layers.fused_moe.fused_moe import get_config_file_name

        return get_config_file_name(self.experts, self.inter, self.dtype, self.block)

    def call(self, batch: int) -> Callable[[], torch.Tensor]:
        from vllm.model_executor.layers.fused_moe.fused_moe import fused_experts
        from vllm.model_executor.layers.fused_moe.router.fused_topk_router import fused_topk

        x = torch.randn(batch, self.hidden, device="cuda", dtype=torch.bfloat16)
        routings = []
        for _ in range(ROUTINGS):
            logits = torch.randn(batch, self.experts, device="cuda")
            weights, ids, _ = fused_topk(x, logits, self.top_k, True)
            routings.append((weights, ids))
        turn = itertools.cycle(routings)

        def run() -> torch.Tensor:
            weights, ids = next(turn)
            return fused_experts(x, self.w13, self.w2, weights, ids, quant_config=self.quant)

        return run


def timed(shape: Shape, batch: int, config: dict[str, int]) -> float:
    """µs per ``fused_experts`` call with ``config``; inf where it does not compile or run."""
    from vllm.model_executor.layers.fused_moe import override_config

    try:
        with override_config(config):
            return graph_time_us(shape.call(batch))
    except Exception as exc:  # out of shared memory, a tile the kernel refuses
        print(f"[tune] {batch} {config}: {type(exc).__name__}", flush=True)
        torch.cuda.synchronize()
        return float("inf")


def search(shape: Shape, batch: int, deadline: float) -> dict[str, Any]:
    """Coordinate search from vLLM's choice; every timing kept."""
    start = shape.vllm_choice(batch)
    seen: dict[str, float] = {}

    def time_of(config: dict[str, int]) -> float:
        key = json.dumps(config, sort_keys=True)
        if key not in seen:
            seen[key] = timed(shape, batch, config)
        return seen[key]

    best, best_us = start, time_of(start)
    vllm_us = best_us
    improved = True
    while improved and time.monotonic() < deadline:
        improved = False
        for key, values in shape.space().items():
            for value in values:
                if value == best[key] or time.monotonic() > deadline:
                    continue
                candidate = {**best, key: value}
                if time_of(candidate) < best_us * 0.99:
                    best, best_us, improved = candidate, time_of(candidate), True
    row = {"batch": batch, "vllm_config": start, "vllm_us": vllm_us, "best_config": best}
    row.update(best_us=best_us, speedup=round(vllm_us / best_us, 3), timed=len(seen))
    print(f"[tune] {json.dumps(row)}", flush=True)
    return row | {"all": seen}


def tuned_file(shape: Shape, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """vLLM's file: the tuned config where it won by 1%, vLLM's own choice at every other key."""
    shipped = shape.shipped() or {}
    keys = set(shipped) | set(PREFILL_KEYS) | {row["batch"] for row in rows}
    configs: dict[str, Any] = {str(m): shape.vllm_choice(m) for m in sorted(keys)}
    for row in rows:
        if row["best_us"] < row["vllm_us"] * 0.99:
            configs[str(row["batch"])] = row["best_config"]
    return configs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=sorted(dummy_models.MODELS), required=True)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64, 128])
    parser.add_argument("--budget-s", type=float, default=240.0, help="search time in all")
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args()
    torch.manual_seed(0)
    shape = Shape(args.model)
    result = run_header() | {"model": args.model, "file": shape.file_name()}
    result["shipped"] = shape.shipped() is not None
    rows = []
    began = time.monotonic()
    for i, batch in enumerate(args.batches):
        # Each batch gets an equal share of what is left, so a slow one cannot starve the rest.
        share = (args.budget_s - (time.monotonic() - began)) / (len(args.batches) - i)
        rows.append(search(shape, batch, time.monotonic() + share))
    result["rows"] = rows
    out = args.out / "moe_configs" / shape.file_name()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(tuned_file(shape, rows), indent=4) + "\n")
    path = args.out / f"moe_tune_{args.model}_{gpu_tag()}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"[tune] wrote {out} and {path}", flush=True)


if __name__ == "__main__":
    main()
