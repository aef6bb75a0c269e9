"""Where a prefill step past vLLM's CUDA graphs spends its time: on the host or the GPU.

A step of more than 256 new tokens (the GPU defaults' largest CUDA graph) launches its
kernels one by one from the host. On a first start with Fathom's decode plugin those prefills
took 143 against 100 ms with vLLM's kernels, flat in the prompt's length
(bench/results/completion_whole_model_h100.md), so the time is the host's, not the GPU's.
``profile_prefill`` (the ``profile_prefill`` phase of bench/gpu_whole_model.py) times a few
unprofiled prefills of fresh prompts (one output token each, no prefix-cache hit), then runs
the same under vLLM's torch profiler and reads the trace: per step the GPU-busy time and
kernels (gpu_decode_profile.read_trace), the CUDA launches, and the host's operators and
annotated regions by inclusive time, ``fathom::block_fp8_linear`` among them when the plugin
is on.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench import gpu_decode_profile

LAUNCHES = ("cudaLaunchKernel", "cuLaunchKernel", "cuLaunchKernelEx", "cudaLaunchKernelExC")


async def first_token_ms(bench: Any, tokens: int, requests: int) -> list[float]:
    """Time to the first token of ``requests`` fresh prompts of ``tokens`` tokens (one output
    token each, one at a time, no prefix-cache hit), after one that is not timed: whatever
    this length compiles, it compiles there."""
    await bench.raw(tokens, 977 + tokens, 1)
    ttft_ms = []
    for i in range(requests):
        start = time.perf_counter()
        await bench.raw(tokens, 7919 * (i + 1) + tokens, 1)
        ttft_ms.append((time.perf_counter() - start) * 1000)
    return ttft_ms


async def prefill_sweep(bench: Any, sizes: list[int], requests: int = 5) -> list[dict[str, Any]]:
    """Time to first token at each of ``sizes`` new tokens: on both sides of vLLM's largest
    CUDA graph, where a prefill goes from graph replays to kernels launched one by one from
    the host."""
    rows = []
    for tokens in sizes:
        ttft_ms = [round(t, 2) for t in await first_token_ms(bench, tokens, requests)]
        rows.append(
            {"prompt_tokens": tokens, "ttft_ms": ttft_ms, "median_ms": statistics.median(ttft_ms)}
        )
        print(f"[bench] prefill_sweep {rows[-1]}", flush=True)
    return rows


async def profile_prefill(bench: Any, trace_dir: Path, tokens: int, requests: int = 3) -> dict:
    """``requests`` prefills of ``tokens`` fresh tokens, timed, then profiled."""
    ttft_ms = await first_token_ms(bench, tokens, requests)
    await bench.llm.start_profile()
    for i in range(requests):
        await bench.raw(tokens, 211 * i + 13, 1)
    await bench.llm.stop_profile()
    await asyncio.sleep(5)  # the engine process writes the trace after stopping
    result: dict[str, Any] = {
        "prompt_tokens": tokens,
        "requests": requests,
        "unprofiled_ttft_ms": [round(t, 1) for t in ttft_ms],
        "unprofiled_ttft_median_ms": round(statistics.median(ttft_ms), 1),
        "gpu": gpu_decode_profile.read_trace(trace_dir, None, steps=requests),
    }
    loaded = gpu_decode_profile.load_trace(trace_dir)
    if loaded is not None:
        result["host"] = host_figures(loaded[1], requests)
    return result


def host_figures(events: list[dict[str, Any]], steps: int, top: int = 25) -> dict[str, Any]:
    """CUDA launches, and host operators and annotations by inclusive ms per step."""
    launches = sum(1 for e in events if e.get("cat") == "cuda_runtime" and e["name"] in LAUNCHES)
    by_category: dict[str, dict[str, list[float]]] = defaultdict(
        lambda: defaultdict(lambda: [0.0, 0])
    )
    for event in events:
        if event.get("ph") == "X" and event.get("cat") in ("cpu_op", "user_annotation"):
            item = by_category[event["cat"]][event["name"][:120]]
            item[0] += float(event.get("dur", 0))
            item[1] += 1

    def ranked(category: str) -> list[dict[str, Any]]:
        rows = sorted(by_category[category].items(), key=lambda kv: -kv[1][0])[:top]
        return [
            {
                "name": name,
                "ms_per_step": round(us / 1000 / steps, 3),
                "calls_per_step": round(n / steps, 2),
            }
            for name, (us, n) in rows
        ]

    return {
        "launches_per_step": round(launches / steps, 1),
        "operators": ranked("cpu_op"),
        "annotations": ranked("user_annotation"),
    }
