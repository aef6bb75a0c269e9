"""N-gram speculative decoding on edit requests: a small real model on one GPU, on vs off.

    PYTHONPATH=/tmp/site python bench/ngram_speculation.py MODEL_DIR --out DIR

An edit reply copies most of its input (the whole block quoted with ``-``, then re-written
with ``+``), which is what prompt-lookup (n-gram) speculation exploits. Each request is the
prompt Fathom sends for an edit (its system message from edits/prompt.py, the file, the
selected block, the instruction, the reply opened with the diff header), on real functions
from the edit corpus. Both runs go through Fathom's ``VllmEngine``; only ``speculative``
differs. Writes ``ngram_speculation.json``.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.edit_corpus.corpus_io import sources_dir  # noqa: E402
from fathom.backend.engine import ChatMessage, ChatRequest, GenerationStats  # noqa: E402
from fathom.backend.gpu_defaults import detect_gpus, gpu_settings_for  # noqa: E402
from fathom.backend.vllm_engine import VllmEngine  # noqa: E402

INSTRUCTIONS = (
    "Add a one-line comment above the return statement saying what it returns.",
    "Rename the first parameter to `value` everywhere in the function.",
    "Add type hints to the parameters.",
)


def _system_prompt() -> str:
    """edits/prompt.py's SYSTEM, read without importing context/ (no tree-sitter on GPU hosts)."""
    tree = ast.parse((ROOT / "edits" / "prompt.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "SYSTEM":
            return ast.literal_eval(node.value)
    raise RuntimeError("edits/prompt.py has no SYSTEM")


def edit_requests(count: int) -> list[ChatRequest]:
    """``count`` edit prompts of real Django functions of 8-40 lines, as Fathom lays them out."""
    system = _system_prompt()
    django = sources_dir() / "python" / "django"
    out: list[ChatRequest] = []
    for path in sorted(django.rglob("*.py")):
        text = path.read_text()
        rel = path.relative_to(django.parent).as_posix()
        lines = text.splitlines(keepends=True)
        for node in ast.parse(text).body:
            if not isinstance(node, ast.FunctionDef):
                continue
            first, last = node.lineno - 1, node.end_lineno or node.lineno
            if not 8 <= last - first <= 40:
                continue
            block = "".join(lines[first:last])
            instruction = INSTRUCTIONS[len(out) % len(INSTRUCTIONS)]
            user = (
                f"## {rel}\n```python\n{text}```\n"
                f"Selected lines {first + 1}-{last} of {rel}:\n```python\n{block}```\n"
                f"Instruction: {instruction}\n\n"
                f"Reply with a unified diff of {rel} that carries out the instruction on the "
                "selected lines."
            )
            out.append(
                ChatRequest(
                    [ChatMessage("system", system), ChatMessage("user", user)],
                    max_tokens=512,
                    stop=("\n```",),
                    assistant_prefix=f"```diff\n--- a/{rel}\n+++ b/{rel}\n@@ @@\n-",
                )
            )
            if len(out) == count:
                return out
    return out


# Runs compared: name -> settings. "ngram" is vLLM's CPU proposer, "ngram_gpu" its GPU one.
MODES: dict[str, dict[str, Any]] = {
    "off": {"speculative": "off"},
    "ngram": {"speculative": "ngram", "ngram_method": "ngram"},
    "ngram_gpu": {"speculative": "ngram", "ngram_method": "ngram_gpu"},
}


async def measure(model: str, mode: str, requests: list[ChatRequest]) -> dict[str, Any]:
    gpus = detect_gpus()
    settings = gpu_settings_for(
        model, gpus.count, gpus.memory_gib, max_model_len=8192, **MODES[mode]
    )
    engine = VllmEngine(settings)
    started = time.perf_counter()
    await engine.start()
    start_s = time.perf_counter() - started
    for req in requests[:2]:  # warm-up (CUDA graphs, caches), not counted
        async for _ in engine.stream(req):
            pass
    rows = []
    for req in requests:
        stats = GenerationStats()
        pieces = [req.assistant_prefix]
        async for piece in engine.stream(req, stats):
            pieces.append(piece)
        rows.append(
            {
                "prompt_tokens": stats.prompt_tokens,
                "output_tokens": stats.completion_tokens,
                "seconds": round(stats.total_s, 4),
                "ttft_s": round(stats.first_token_s or 0.0, 4),
                "reply": "".join(pieces),
            }
        )
    await engine.close()
    tokens = sum(r["output_tokens"] for r in rows)
    seconds = sum(r["seconds"] for r in rows)
    return {
        "speculative": mode,
        "speculative_config": settings.engine_kwargs(model).get("speculative_config"),
        "engine_start_s": round(start_s, 1),
        "requests": len(rows),
        "output_tokens": tokens,
        "seconds": round(seconds, 3),
        "output_tokens_per_s": round(tokens / seconds, 1),
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", help="an HF model folder")
    parser.add_argument("--requests", type=int, default=24)
    parser.add_argument("--modes", nargs="+", choices=sorted(MODES), default=list(MODES))
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args()
    if args.modes[0] != "off":
        parser.error("the first mode is the baseline and must be 'off'")
    requests = edit_requests(args.requests)
    import torch
    import vllm

    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "torch": torch.__version__,
        "vllm": vllm.__version__,
        "model": Path(args.model).name,
    }
    for mode in args.modes:
        result[mode] = asyncio.run(measure(args.model, mode, requests))
        print(f"[bench] {mode}: {result[mode]['output_tokens_per_s']} output tokens/s", flush=True)
    base = result["off"]
    for mode in args.modes[1:]:
        same = sum(
            a["reply"] == b["reply"]
            for a, b in zip(base["rows"], result[mode]["rows"], strict=True)
        )
        # Greedy decoding: speculation must not change the text.
        result[mode]["identical_replies"] = same
        result[mode]["speedup"] = round(
            result[mode]["output_tokens_per_s"] / base["output_tokens_per_s"], 2
        )
        print(f"[bench] {mode}: {result[mode]['speedup']}x, identical {same}/{len(requests)}")
    if "ngram" in result:  # the fields earlier results were read by (bench/gpu_report.py)
        result["speedup"] = result["ngram"]["speedup"]
        result["identical_replies"] = result["ngram"]["identical_replies"]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ngram_speculation.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
