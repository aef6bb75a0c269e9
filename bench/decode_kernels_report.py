"""bench/results/decode_kernels.md from the runs of Fathom's FP8 decode kernels on a GPU.

    python bench/decode_kernels_report.py    # reads and writes bench/results

Inputs: ``decode_kernels_h200.json`` (bench/gpu_decode_kernels.py: each kernel against vLLM's
op, alone) and two whole-model runs of bench/gpu_whole_model.py on the same GPU, one with the
kernels (``whole_model_qwen3_fathom-kernels.json``) and one plain vLLM
(``whole_model_qwen3_plain-no-sim.json``), both with real top-k routing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
KERNELS = "decode_kernels_h200.json"
AFTER = "whole_model_qwen3_fathom-kernels.json"
BEFORE = "whole_model_qwen3_plain-no-sim.json"


def _load(name: str) -> dict[str, Any]:
    return json.loads((RESULTS / name).read_text())


def kernel_table(kernels: dict[str, Any]) -> list[str]:
    lines = [
        "| op | tokens | vLLM µs | Fathom µs (tile) | Fathom ÷ vLLM | error vs exact, mean / max: Fathom | vLLM |",
        "|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for row in kernels["dense"] + kernels["moe"]:
        fathom, vllm = row["fathom_error"], row["vllm_error"]
        # The run's vLLM dense reference at >1 token laid its activation scales out row-major
        # where CUTLASS reads them M-major (fixed in the bench since): that error is the bench's.
        vllm_err = (
            "(wrong scale layout in the run)"
            if row["op"] != "moe" and row["tokens"] > 1
            else f"{vllm['mean_rel']:.2%} / {vllm['max_rel']:.2%}"
        )
        lines.append(
            f"| {row['op']} | {row['tokens']} | {row['vllm_us']} | {row['fathom_us']} "
            f"({row['best_tile']}) | {row['fathom_us'] / row['vllm_us']:.2f} | "
            f"{fathom['mean_rel']:.3%} / {fathom['max_rel']:.3%} | {vllm_err} |"
        )
    return lines


def _decode(run: dict[str, Any], batch: int) -> dict[str, Any]:
    return next(r for r in run["decode"]["raw"] if r["batch"] == batch)


def whole_table(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    lines = [
        "| batch | plain vLLM ms/step (share of roofline) | with Fathom's kernels | ratio |",
        "|---|---|---|---|",
    ]
    for batch in (1, 8, 32):
        b, a = _decode(before, batch), _decode(after, batch)
        lines.append(
            f"| {batch} | {b['tpot_ms']} ({b['of_roofline_pct']}%) | {a['tpot_ms']} "
            f"({a['of_roofline_pct']}%) | {a['tpot_ms'] / b['tpot_ms']:.3f} |"
        )
    return lines


def profile_table(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    fb, fa = before["trace"]["families_per_step"], after["trace"]["families_per_step"]
    lines = [
        "| family (per batch-1 step) | plain vLLM µs (kernels) | with Fathom's kernels µs (kernels) |",
        "|---|---|---|",
    ]  # fmt: skip
    for family in sorted(set(fb) | set(fa), key=lambda f: -fb.get(f, fa.get(f, {})).get("us", 0)):
        cells = [
            f"{d[family]['us']:.0f} ({d[family]['kernels']:.0f})" if family in d else "—"
            for d in (fb, fa)
        ]
        lines.append(f"| {family} | {cells[0]} | {cells[1]} |")
    sb, sa = before["trace"]["per_step"], after["trace"]["per_step"]
    lines.append(
        f"| **GPU busy per step** | **{sb['busy_ms'] * 1000:.0f} ({sb['kernels']:.0f})** | "
        f"**{sa['busy_ms'] * 1000:.0f} ({sa['kernels']:.0f})** |"
    )
    return lines


def top_kernels(run: dict[str, Any], count: int = 8) -> list[str]:
    return [
        f"  - `{k['name'][:80]}`: {k['us_per_step']:.0f} µs per step"
        for k in run["trace"]["top_kernels"][:count]
    ]


def reading(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    fb, fa = before["trace"]["families_per_step"], after["trace"]["families_per_step"]
    us = lambda d, f: d.get(f, {}).get("us", 0.0)  # noqa: E731
    small = ("other (norms, quantization, rotary, sampling, copies)",
             "BF16 cuBLAS GEMMs (LM head; MLA's absorbed K/V projections)")  # fmt: skip
    saved = sum(us(fb, f) - us(fa, f) for f in small)
    experts = us(fa, "MoE experts") - us(fb, "MoE experts")
    linears = us(fa, "Fathom FP8 GEMV (dense linears; MoE router)") - us(
        fb, "dense FP8 GEMMs (block-scaled)"
    )
    kernels = before["trace"]["per_step"]["kernels"] - after["trace"]["per_step"]["kernels"]
    return [
        "Reading: the kernels do what they were written for, fewer kernels and no activation",
        f"quantization: {kernels:.0f} fewer kernels a step and {saved:.0f} µs less in the small",
        "kernels (activation quantization, top-k gating, the router GEMMs, `moe_sum`). But the",
        f"expert kernels take {experts:.0f} µs more than vLLM's Triton `fused_moe_kernel`, and",
        f"the GEMVs {linears:.0f} µs more than the CUTLASS GEMMs (the router's 48 GEMVs",
        "included). The up and down expert kernels stream ~1.1 and ~0.6 TB/s where",
        "`fused_moe_kernel` streams ~2.3 TB/s. The likely cause, not yet confirmed with a",
        "counter profile: each program loops over narrow tiles with few loads in flight, and",
        "Triton software-pipelines loads that feed `tl.dot` (which `fused_moe_kernel` uses, with",
        "its rows padded to 16), not these multiply-and-sum loops; the next try is `tl.dot`.",
        "So the plugin stays off by default (`FATHOM_DECODE_KERNELS=1` turns it on). Batches",
        "8 and 32 run vLLM's kernels in both runs (Fathom's take ≤ 4 tokens): their ratios",
        "are run-to-run variation.",
        "",
    ]


def report() -> str:
    kernels, before, after = _load(KERNELS), _load(BEFORE), _load(AFTER)
    tiles = json.dumps(kernels["best_tiles"])
    parts = [
        "# decode_kernels",
        "",
        f"Fathom's FP8 decode kernels (backend/fp8_decode_kernels.py, plugged into vLLM by "
        f"backend/vllm_decode_plugin.py) on one {kernels['gpu']}, vLLM {kernels.get('vllm')}, "
        f"torch {kernels['torch']}, Triton {kernels.get('triton')}, {kernels['date']}. "
        "Made by bench/decode_kernels_report.py.",
        "",
        "## Each kernel beside vLLM's op (bench/gpu_decode_kernels.py)",
        "",
        "Qwen3-Coder-30B-A3B shapes, random weights quantized to FP8 in 128×128 blocks; each op",
        "captured 100 times in one CUDA graph (weights stay in the 50 MB L2 for the dense ops, so",
        "both sides read faster than from HBM); the tile is the fastest of the sweep. vLLM's",
        "dense op: per-token-group FP8 quantization + CUTLASS block-scaled GEMM; MoE: router",
        "GEMM + `fused_topk` + `fused_experts` (Triton, the tuned H200 config). Error: absolute",
        "difference from float32 math on the dequantized weights, relative to the largest output.",
        "",
        *kernel_table(kernels),
        "",
        "## A whole model (bench/gpu_whole_model.py, same GPU, same session)",
        "",
        "Qwen3-Coder-30B-A3B-Instruct-FP8 architecture, dummy weights, ~1K-token context, raw",
        "token ids into `AsyncLLM` (no Fathom code on the request path), vLLM's routing",
        "simulation off in both runs (the kernels route with the model's router; real top-k over",
        "random router weights, so batches 8 and 32 touch fewer experts than the roofline's",
        "uniform routing assumes and their shares are not comparable with whole_model.md).",
        f"Tiles given to the kernels: `{tiles}` (now the defaults).",
        "",
        *whole_table(before, after),
        "",
        "Where a batch-1 step's time went (vLLM's torch profiler, ~0.25 s of decode):",
        "",
        *profile_table(before, after),
        "",
        "- plain vLLM, top kernels:",
        *top_kernels(before),
        "- with Fathom's kernels, top kernels:",
        *top_kernels(after),
        "",
        *reading(before, after),
    ]
    return "\n".join(parts) + "\n"


def main() -> None:
    text = report()
    (RESULTS / "decode_kernels.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
