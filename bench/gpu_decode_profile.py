"""Where a batch-1 decode step's time goes: the GPU timeline of a few dozen decode steps.

    PYTHONPATH=/tmp/site python bench/gpu_decode_profile.py --layers 5 --out DIR [--variant NAME]

The 5-layer slice decodes at batch 1 well above its HBM roofline, and adding MoE layers
costs less per layer than their bytes would (bench/results/gpu_engine.md: h200-l5 vs l9), so
the step is not bound by memory traffic. This runs the same engine as bench/gpu_engine.py
(Fathom's ``VllmEngine``, dummy FP8 weights, uniform routing) with vLLM's torch profiler on
the engine process, decodes at batch 1, and reads the trace: GPU-busy time per step (union
of kernel intervals), idle gaps between kernels, and the kernels that take the time.
``--variant`` picks engine settings to compare (see VARIANTS). Writes
``decode_profile_<variant>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import itertools
import json
import os
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import dummy_deepseek
from bench.gpu_engine import ENV, Prompts, add_roofline, copy_bandwidth, decode, gpu_facts
from fathom.backend.gpu_defaults import detect_gpus, gpu_settings_for
from fathom.backend.vllm_engine import VllmEngine

# Settings tried against the default; each is a set of engine-settings overrides.
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "full-graphs": {"extra": {"compilation_config": {"cudagraph_mode": "FULL_DECODE_ONLY"}}},
    "no-async": {"extra": {"async_scheduling": False}},
    "no-stats": {"extra": {"disable_log_stats": True}},
    # Marlin's FP8 weight-only GEMM (weights dequantized in registers, activations stay BF16)
    # instead of the CUTLASS block-scaled FP8 GEMM that quantizes activations per step.
    "marlin": {"env": {"VLLM_TEST_FORCE_FP8_MARLIN": "1"}},
    # ... and Marlin for the dense linears too: the CUTLASS block-scaled kernel is the
    # first choice for block FP8 on Hopper, so it is turned off by name.
    "marlin-all": {
        "env": {
            "VLLM_TEST_FORCE_FP8_MARLIN": "1",
            "VLLM_DISABLED_KERNELS": "CutlassFp8BlockScaledMMKernel",
        }
    },
    "triton-dense": {
        "env": {
            "VLLM_DISABLED_KERNELS": "CutlassFp8BlockScaledMMKernel,MarlinFP8ScaledMMLinearKernel"
        }
    },
    "marlin-moe-triton-dense": {
        "env": {
            "VLLM_TEST_FORCE_FP8_MARLIN": "1",
            "VLLM_DISABLED_KERNELS": "CutlassFp8BlockScaledMMKernel,MarlinFP8ScaledMMLinearKernel",
        }
    },
    "deepgemm": {"env": {"VLLM_USE_DEEP_GEMM": "1", "VLLM_DEEP_GEMM_WARMUP": "skip"}},
    # The dense FP8 linears on CUTLASS whatever VLLM_USE_DEEP_GEMM says (vLLM's KernelConfig):
    # with DeepGEMM on, as vLLM ships, this keeps it for the MoE only. The A/B of what users
    # get (DeepGEMM) against CUTLASS, which every other run here uses.
    "cutlass-linear": {"extra": {"linear_backend": "cutlass"}},
    # vLLM's fusion passes only match its custom ops, which are off by default under
    # Inductor: turn on RMSNorm / FP8 quant / SiLU-mul / rotary and the passes that fuse
    # RMSNorm + per-128-block quant, SiLU-mul + quant, and Qwen3's Q/K RMSNorm + RoPE.
    "fusion": {
        "extra": {
            "compilation_config": {
                "custom_ops": ["+rms_norm", "+quant_fp8", "+silu_and_mul", "+rotary_embedding"],
                "pass_config": {
                    "fuse_norm_quant": True,
                    "fuse_act_quant": True,
                    "enable_qk_norm_rope_fusion": True,
                },
            }
        }
    },
    # One CUDA graph for every batch shape, prefill included (vLLM 0.26's default is
    # FULL_AND_PIECEWISE: full graphs for decode, piecewise for the rest).
    "full": {"extra": {"compilation_config": {"cudagraph_mode": "FULL"}}},
    # CUDA graphs for steps of up to 2048 tokens (vLLM's default stops at 256, so a prefill of
    # more new tokens launches its kernels one by one from the host).
    "graphs-2048": {"extra": {"compilation_config": {"max_cudagraph_capture_size": 2048}}},
    "moe-marlin": {"moe_backend": "marlin"},
    # vLLM's Triton attention: one kernel per layer at decode, no split-KV combine pass.
    "triton-attn": {"attention_backend": "TRITON_ATTN"},
    "moe-cutlass": {"moe_backend": "cutlass"},
    # With DeepGEMM on (vLLM's default) vLLM 0.26 picks its DEEPGEMM FP8 MoE back-end, whose
    # contiguous layout pads every routed expert's rows to a 128-row block: the A/B against
    # the Triton fused-MoE every DeepGEMM-off run here used, with the linears on CUTLASS.
    "moe-triton": {"moe_backend": "triton"},
    "moe-triton-cutlass-linear": {"moe_backend": "triton", "extra": {"linear_backend": "cutlass"}},
    # Fathom's GPU defaults now pick both of the above for Qwen3-MoE on one GPU: this gives the
    # linears back to vLLM's choice (DeepGEMM with it on) beside Triton's MoE, through VllmEngine.
    "deepgemm-linear": {"linear_backend": "auto"},
    # FlashAttention-3 (vLLM 0.26's decode attention on Hopper) caps its split-KV count under
    # CUDA graphs at AttentionConfig.flash_attn_max_num_splits_for_cuda_graph (default 32):
    # at 1 a decode step runs no split-KV combine kernel (~2.9 µs a layer, 140 µs a Qwen3
    # batch-1 step at 1K context), but one program per KV head and sequence streams the whole
    # cache, which a long context (decode_long) may pay for.
    "fa-one-split": {
        "extra": {"attention_config": {"flash_attn_max_num_splits_for_cuda_graph": 1}}
    },
    "fa-splits-8": {"extra": {"attention_config": {"flash_attn_max_num_splits_for_cuda_graph": 8}}},
    # Fathom's FP8 decode kernels (backend/vllm_decode_plugin.py). They route with the
    # model's own router, so vLLM's routing simulation is turned off (real top-k over the
    # dummy router weights: 8 distinct experts per token either way at batch 1).
    "fathom-kernels": {
        "env": {"FATHOM_DECODE_KERNELS": "1", "VLLM_MOE_ROUTING_SIMULATION_STRATEGY": ""}
    },
    "flashmla-full": {
        "attention_backend": "FLASHMLA",
        "extra": {"compilation_config": {"cudagraph_mode": "FULL_DECODE_ONLY"}},
    },
}


# Kernel families by name, first match wins.
FAMILIES = (
    ("Fathom FP8 GEMV (dense linears; MoE router)", ("_gemv_kernel",)),
    # DeepGEMM's MoE path also scatters and gathers the tokens and runs a SiLU-mul-quant in
    # its column-major scale layout; its grouped GEMM is told apart in kernel_family.
    (
        "MoE experts",
        (
            "fused_moe",
            "moe",
            "_fwd_kernel_ep_scatter",
            "_fwd_kernel_ep_gather",
            "quant_fp8_colmajor",
        ),
    ),
    ("dense FP8 GEMMs (block-scaled)", ("gemm_fp8_blockwise", "block_scaled_mm", "deep_gemm")),
    ("Marlin GEMMs", ("marlin", "Marlin")),
    ("BF16 cuBLAS GEMMs (LM head; MLA's absorbed K/V projections)", ("nvjet", "cublas")),
    ("attention", ("Flash", "flash", "mla", "MLA", "_decode_attention_kernel")),
)


# DeepGEMM runs the dense linears and (vLLM's DEEPGEMM MoE back-end) the experts in one
# template, sm90_fp8_gemm_1d2d_impl<major, M, N, K, groups, ...>: more than one group is the
# experts' grouped GEMM, which no name needle can tell from a dense one.
_DEEP_GEMM_GROUPS = re.compile(r"deep_gemm::\w+<[^,]+, \d+u, \d+u, \d+u, (\d+)u")


def kernel_family(name: str) -> str:
    groups = _DEEP_GEMM_GROUPS.search(name)
    if groups and int(groups.group(1)) > 1:
        return "MoE experts"
    for family, needles in FAMILIES:
        if any(n in name for n in needles):
            return family
    return "other (norms, quantization, rotary, sampling, copies)"


def _intervals_union(spans: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for s, e in sorted(spans):
        if s > end:
            total += e - s
            end = e
        elif e > end:
            total += e - end
            end = e
    return total


def load_trace(folder: Path) -> tuple[Path, list[dict[str, Any]]] | None:
    """The newest engine trace in ``folder`` and its events, or None where there is none."""
    traces = sorted(folder.rglob("*.json*"), key=lambda p: p.stat().st_mtime)
    traces = [p for p in traces if "trace" in p.name]
    if not traces:
        return None
    opener = gzip.open if traces[-1].suffix == ".gz" else open
    with opener(traces[-1], "rt") as f:
        return traces[-1], json.load(f)["traceEvents"]


def read_trace(folder: Path, tpot_ms: float | None, steps: int | None = None) -> dict[str, Any]:
    """GPU kernels of the newest engine trace in ``folder``: busy time, gaps, top kernels.

    A batch-1 decode step is one CUDA graph launch, so per-step figures divide by those
    launches (the profiler itself stretches the gaps between steps, so the window per step
    is longer than an unprofiled step; the busy time per step is what to compare). Steps
    that launch no graph (prefills past the largest one) are counted by the caller."""
    loaded = load_trace(folder)
    if loaded is None:
        return {"error": f"no trace in {folder}: {[p.name for p in folder.rglob('*')]}"}
    path, events = loaded
    kernels = [e for e in events if e.get("ph") == "X" and e.get("cat") in ("kernel", "gpu_memcpy")]
    graph_launches = sum(1 for e in events if e.get("name") == "cudaGraphLaunch")
    if not kernels:
        return {"error": "no kernels in the trace", "trace": path.name}
    spans = [(float(e["ts"]), float(e["ts"]) + float(e["dur"])) for e in kernels]
    first, last = min(s for s, _ in spans), max(e for _, e in spans)
    busy = _intervals_union(spans)
    ordered = sorted(spans)
    gaps = [b[0] - a[1] for a, b in itertools.pairwise(ordered) if b[0] > a[1]]
    by_name: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    for e in kernels:
        item = by_name[e["name"][:120]]
        item[0] += float(e["dur"])
        item[1] += 1
    top = sorted(by_name.items(), key=lambda kv: -kv[1][0])[:25]
    families: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    for name, (t, n) in by_name.items():
        families[kernel_family(name)][0] += t
        families[kernel_family(name)][1] += n
    window_us = last - first
    steps = steps or graph_launches or (max(1.0, window_us / 1000 / tpot_ms) if tpot_ms else 1.0)
    return {
        "trace": path.name,
        "kernels": len(kernels),
        "graph_launches": graph_launches,
        "window_ms": round(window_us / 1000, 3),
        "gpu_busy_ms": round(busy / 1000, 3),
        "busy_pct": round(100 * busy / window_us, 1),
        "steps": round(steps, 1),
        "per_step": {
            "window_ms": round(window_us / 1000 / steps, 4),
            "busy_ms": round(busy / 1000 / steps, 4),
            "kernels": round(len(kernels) / steps, 1),
        },
        "gaps_over_20us": {
            "count": sum(1 for g in gaps if g > 20),
            "total_ms": round(sum(g for g in gaps if g > 20) / 1000, 3),
            "largest_us": sorted((round(g, 1) for g in gaps), reverse=True)[:10],
        },
        "families_per_step": {
            family: {"us": round(t / steps, 1), "kernels": round(n / steps, 1)}
            for family, (t, n) in sorted(families.items(), key=lambda kv: -kv[1][0])
        },
        "top_kernels": [
            {
                "name": name,
                "total_ms": round(t / 1000, 3),
                "calls": n,
                "us_per_step": round(t / steps, 1),
            }
            for name, (t, n) in top
        ],
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="dsv3-"))
    cfg = dummy_deepseek.write_model(folder, args.layers)
    bandwidth = copy_bandwidth()
    trace_dir = Path(tempfile.mkdtemp(prefix="trace-"))
    variant = VARIANTS[args.variant]
    extra = {"seed": 0, **variant.get("extra", {})}
    if args.profile:
        from vllm.config import ProfilerConfig

        extra["profiler_config"] = ProfilerConfig(
            profiler="torch",
            torch_profiler_dir=str(trace_dir),
            torch_profiler_with_stack=False,
            ignore_frontend=True,
        )
    overrides = {k: v for k, v in variant.items() if k not in ("extra", "env")}
    gpus = detect_gpus()
    settings = gpu_settings_for(
        folder, gpus.count, gpus.memory_gib, load_format="dummy", extra=extra, **overrides
    )
    engine = VllmEngine(settings, progress=lambda m: print(f"[engine] {m}", flush=True))
    started = time.perf_counter()
    await engine.start()
    print(f"[profile] engine up in {time.perf_counter() - started:.1f} s", flush=True)
    prompts = Prompts(engine)
    await decode(engine, prompts, 8, 512, 32)  # warm-up
    result: dict[str, Any] = {"variant": args.variant, "overrides": variant, "layers": args.layers}
    rows = []
    for batch in args.batches:
        row = await decode(engine, prompts, batch, 1024, 256)
        add_roofline(row, cfg, 1024 + 128, 2, bandwidth)
        rows.append(row)
        print(f"[profile] decode {row}", flush=True)
    result["decode"] = rows
    if args.profile:
        # Profile the middle of a long batch-1 decode, so no prefill lands in the trace.
        tpot_ms = rows[0]["tpot_ms"] if rows and rows[0]["batch"] == 1 else None
        job = asyncio.create_task(decode(engine, prompts, 1, 1024, 600))
        await asyncio.sleep(0.5)
        await engine._llm.start_profile()
        await asyncio.sleep(0.25)
        await engine._llm.stop_profile()
        await job
        await asyncio.sleep(5)  # the engine process writes the trace after stopping
        result["trace"] = read_trace(trace_dir, tpot_ms)
        print(f"[profile] trace {json.dumps(result['trace'])[:3000]}", flush=True)
    await engine.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", type=int, default=5)
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="default")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--profile", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args()
    os.environ.update(VARIANTS[args.variant].get("env", {}))
    for key, value in ENV.items():
        os.environ.setdefault(key, value)
    result = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **gpu_facts(),
        **asyncio.run(run(args)),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    kind = "decode_profile" if args.profile else "decode_ab"
    (args.out / f"{kind}_{args.variant}.json").write_text(json.dumps(result, indent=2))
    print("RESULT_JSON " + json.dumps(result)[:4000], flush=True)


if __name__ == "__main__":
    main()
