"""CPU default engine: start-up, time to first token, decode speed, and `fathom demo` wall time.

    .venv/bin/python bench/cpu_engine.py [--install-seconds S]

Everything goes through Fathom's own VllmEngine with the packaged default model. Writes
bench/results/cpu_engine.json and .md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import write_results
from fathom.backend.engine import ChatMessage, ChatRequest, GenerationStats
from fathom.backend.vllm_engine import VllmEngine
from fathom.backend.vllm_settings import VllmSettings

LONG_ANSWER = (
    "Write a Python module with ten small utility functions for strings, each with a docstring."
)
SOURCE = Path(__file__).resolve().parents[1] / "cli" / "demo_project" / "shop" / "report.py"


def _decode_rate(stats: GenerationStats) -> float:
    first = stats.first_token_s or 0.0
    return (stats.completion_tokens - 1) / max(stats.total_s - first, 1e-9)


async def _one(engine: VllmEngine, prompt: str, max_tokens: int) -> GenerationStats:
    stats = GenerationStats()
    request = ChatRequest([ChatMessage("user", prompt)], max_tokens=max_tokens)
    async for _ in engine.stream(request, stats):
        pass
    return stats


async def measure_engine() -> dict:
    engine = VllmEngine(VllmSettings())
    started = time.perf_counter()
    await engine.start()
    start_s = time.perf_counter() - started
    try:
        await _one(engine, "Say hi.", 8)  # warm-up
        singles = [await _one(engine, LONG_ANSWER, 256) for _ in range(3)]
        # A long prompt (the kind of context an edit sends): time to first token. Each one
        # differs from its first line on, so the engine's prefix cache holds none of it (a
        # marker at the end would leave all but the last line cached). Sent again, the same
        # prompts time the prefix cache's hit.
        body = "Summarise this file in one sentence.\n" + SOURCE.read_text() * 12
        prompts = [f"# request {i}\n{body}" for i in range(3)]
        ttft = [await _one(engine, prompt, 4) for prompt in prompts]
        ttft_cached = [await _one(engine, prompt, 4) for prompt in prompts]
        # Eight requests at once: the engine batches them.
        batch_started = time.perf_counter()
        batch = await asyncio.gather(
            *(_one(engine, f"{LONG_ANSWER} Variant {i}.", 128) for i in range(8))
        )
        batch_s = time.perf_counter() - batch_started
    finally:
        await engine.close()
    return {
        "engine_start_s": round(start_s, 1),
        "decode_tok_s_single": round(statistics.median(_decode_rate(s) for s in singles), 2),
        "decode_tokens_single": [s.completion_tokens for s in singles],
        "ttft_s_long_prompt": round(statistics.median(s.first_token_s or 0 for s in ttft), 2),
        "ttft_s_long_prompt_cached": round(
            statistics.median(s.first_token_s or 0 for s in ttft_cached), 2
        ),
        "cached_tokens_second_send": [s.cached_prompt_tokens for s in ttft_cached],
        "cached_tokens_first_send": [s.cached_prompt_tokens for s in ttft],
        "prompt_tokens_ttft": ttft[0].prompt_tokens,
        "aggregate_tok_s_8_requests": round(sum(s.completion_tokens for s in batch) / batch_s, 1),
    }


def measure_demo() -> dict:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "fathom.cli", "demo"], capture_output=True, text=True, timeout=900
    )
    wall = time.perf_counter() - started
    return {
        "demo_wall_s": round(wall, 1),
        "demo_ok": done.returncode == 0,
        "demo_summary": next(
            (ln for ln in done.stderr.splitlines() if ln.startswith("engine start")), ""
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--install-seconds", type=float, help="measured install time, to record")
    args = parser.parse_args()
    figures = asyncio.run(measure_engine())
    figures.update(measure_demo())
    if args.install_seconds:
        figures["install_s"] = args.install_seconds
    rows = [
        ("engine start (Fathom's CPU settings, model cached)", f"{figures['engine_start_s']} s"),
        ("decode, one request", f"{figures['decode_tok_s_single']} tok/s"),
        (
            f"time to first token, {figures['prompt_tokens_ttft']}-token prompt (none cached)",
            f"{figures['ttft_s_long_prompt']} s",
        ),
        (
            "the same prompt sent again (prefix cache)",
            f"{figures['ttft_s_long_prompt_cached']} s",
        ),
        (
            "aggregate decode, 8 concurrent requests",
            f"{figures['aggregate_tok_s_8_requests']} tok/s",
        ),
        ("`fathom demo` wall time (fresh process, model cached)", f"{figures['demo_wall_s']} s"),
    ]
    if args.install_seconds:
        rows.insert(
            0, ("`scripts/setup.sh --test` on a clean clone", f"{args.install_seconds:.0f} s")
        )
    write_results("cpu_engine", figures, rows, notes=f"demo: {figures['demo_summary']}")


if __name__ == "__main__":
    main()
