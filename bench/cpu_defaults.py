"""The CPU default engine as vLLM would run it and as Fathom does, side by side.

    .venv/bin/python bench/cpu_defaults.py

backend/cpu_defaults.py changes two things on a small x86 machine: no core reserved for
vLLM's scheduler (``VLLM_CPU_NUM_OF_RESERVED_CPU=0``) and float32 where the CPU builds no
bfloat16 matmul. Three configurations, one after the other in this process, each through
Fathom's VllmEngine with the packaged default model:

- ``vllm``: vLLM's own choices (one core reserved, the checkpoint's bfloat16);
- ``cores``: no core reserved, bfloat16;
- ``fathom``: what Fathom now asks for on this machine (``VllmSettings()``, no core reserved).

Each measures the engine start, the first token of two ~500-token prompts that share no
prefix (an edit's size; nothing from the prefix cache), the decode of one 128-token reply,
and the demo's edit (``fathom demo`` without its process start: the same project, selection
and instruction through pipeline.headless). Writes bench/results/cpu_defaults.json and .md.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import write_results
from bench.cpu_engine import LONG_ANSWER, SOURCE, _decode_rate, _one
from fathom.backend.cpu_defaults import cpu_dtype
from fathom.backend.vllm_engine import VllmEngine
from fathom.backend.vllm_settings import VllmSettings
from fathom.cli.demo import INSTRUCTION, LINES, SAMPLE, TARGET
from fathom.pipeline.headless import headless_edit

CONFIGS: dict[str, tuple[str, VllmSettings]] = {
    "vllm": ("1", VllmSettings(dtype="bfloat16")),
    "cores": ("0", VllmSettings(dtype="bfloat16")),
    "fathom": ("0", VllmSettings()),
}
FIGURES = (
    ("engine_start_s", "engine start, s"),
    ("ttft_uncached_s", "first token of a {prompt_tokens}-token prompt, no cache, s"),
    ("decode_tok_s", "decode, one request, tok/s"),
    ("demo_edit_s", "the demo's edit (prompt, reply, apply), s"),
)


async def measure(settings: VllmSettings) -> dict[str, Any]:
    engine = VllmEngine(settings)
    started = time.perf_counter()
    await engine.start()
    figures: dict[str, Any] = {"engine_start_s": round(time.perf_counter() - started, 1)}
    try:
        await _one(engine, "Say hi.", 8)  # warm-up
        # Each prompt starts differently, so no prefix of it is in the cache.
        prompts = [f"Review #{i}. Summarise this file.\n" + SOURCE.read_text() * 7 for i in (1, 2)]
        ttft = [await _one(engine, prompt, 2) for prompt in prompts]
        figures["prompt_tokens"] = ttft[0].prompt_tokens
        figures["ttft_uncached_s"] = round(statistics.median(s.first_token_s or 0 for s in ttft), 2)
        decode = await _one(engine, LONG_ANSWER, 128)
        figures["decode_tok_s"] = round(_decode_rate(decode), 2)
        with tempfile.TemporaryDirectory(prefix="fathom-bench-") as scratch:
            project = Path(scratch) / "sample"
            shutil.copytree(SAMPLE, project)
            started = time.perf_counter()
            result = await headless_edit(project / TARGET, LINES, INSTRUCTION, engine, project)
            figures["demo_edit_s"] = round(time.perf_counter() - started, 1)
            figures["demo_reply_tokens"] = result.outcome.stats.completion_tokens
    finally:
        await engine.close()
    return figures


def main() -> None:
    # What the first start would import in this process (~10 s here): imported before any is
    # timed, so every configuration's start counts only its engine's own processes.
    import vllm.engine.arg_utils
    import vllm.v1.engine.async_llm  # noqa: F401

    runs: dict[str, dict[str, Any]] = {}
    for name, (reserved, settings) in CONFIGS.items():
        os.environ["VLLM_CPU_NUM_OF_RESERVED_CPU"] = reserved
        runs[name] = {
            "reserved_cores": int(reserved),
            "dtype": cpu_dtype(settings.dtype),
            **asyncio.run(measure(settings)),
        }
        print(name, runs[name], flush=True)
    rows = [
        (
            "configurations",
            "; ".join(
                f"{n}: {r['reserved_cores']} reserved, {r['dtype']}" for n, r in runs.items()
            ),
        ),
    ]
    for key, label in FIGURES:
        values = [runs[name][key] for name in CONFIGS]
        rows.append(
            (
                # The prompt's size as the tokenizer counted it, not as it was meant to be.
                label.format(prompt_tokens=runs["fathom"]["prompt_tokens"]),
                " / ".join(str(v) for v in values)
                + f" (fathom ÷ vllm {values[-1] / values[0]:.2f})",
            )
        )
    write_results("cpu_defaults", {"runs": runs}, rows)


if __name__ == "__main__":
    main()
