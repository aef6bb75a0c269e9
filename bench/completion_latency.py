"""Inline completion latency over a stretch of typing: request to suggestion, p50 / p95,
single-line and multi-line, and the engine's prefix-cache hit rate.

    .venv/bin/python bench/completion_latency.py --requests-out REQUESTS.json    # CPU default
    PYTHONPATH=/tmp/site python bench/completion_latency.py \
        --lengths REQUESTS.json --model DIR --label h200-0.5b --out DIR     # a GPU

**The typing.** A real file nobody here wrote (Django's utils/text.py, from the edit corpus;
its project folder is the workspace, indexed by Fathom for related code). At each of
``--lines`` statement lines spread over the file's function bodies, the line is emptied to
its indentation and typed again one character at a time, a completion asked after every
keystroke (the first ``--keys`` characters); then ``--blocks`` function bodies of the project
are emptied and completed once each (multi-line). Every request runs the server's own steps
(lsp_server/inline_completion.py): related chunks by query through the same cache, secrets
masked, pipeline/completion.py's prompt, stream and cut; the latency is from the start of
those steps to the finished suggestion (the JSON-RPC round trip to the editor is not in it).

**On a GPU** (``--lengths``): no real weights can reach the GPU machine, so the model is its
real config and tokenizer with dummy weights, and every request runs the same steps as on
the CPU but the engine writes exactly as many tokens as the real model wrote for it in the
CPU run (``--requests-out`` of that run): random weights would write something else, of
another length. The prompts are the same (same index, same ranking, same tokenizer), so are
the prefix-cache hits.

Writes bench/results/completion_latency_<label>.json and .md (or into ``--out``).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import sys
import time
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common
from bench.common import percentile
from fathom.backend.engine import GenerationStats
from fathom.backend.vllm_engine import VllmEngine
from fathom.backend.vllm_settings import VllmSettings

DOCUMENT = "utils/text.py"
NOTES = """Typing: 8 statement lines of Django's utils/text.py emptied to their indentation and typed
again, a completion after each of the first 8 keystrokes (72 requests), then 8 function bodies of
the project emptied and completed (multi-line); the project indexed for related code. Latency =
the server's steps (related chunks, prompt, engine, cut) to the finished suggestion. Single/multi
is the mode Fathom chose. A GPU run (`--lengths`) uses the model's config and tokenizer with dummy
weights, each request writing exactly the tokens the real model wrote in the CPU run."""


class RecordingEngine(VllmEngine):
    """The default engine, writing down each raw prompt it is asked to continue."""

    def __init__(self, settings: VllmSettings) -> None:
        super().__init__(settings)
        self.asked: list[dict[str, Any]] = []

    def complete_stream(
        self,
        prompt: str,
        max_tokens: int,
        stop: Sequence[str],
        request_id: str,
        *,
        stop_token_ids: Sequence[int] = (),
        stats: GenerationStats | None = None,
    ) -> AsyncGenerator[str, None]:
        self.asked.append({"prompt": prompt, "max_tokens": max_tokens, "stop": list(stop)})
        return super().complete_stream(
            prompt, max_tokens, stop, request_id, stop_token_ids=stop_token_ids, stats=stats
        )


class ForcedLengthEngine(VllmEngine):
    """Writes, for the n-th prompt, exactly ``lengths[n]`` tokens, whatever they are: with
    dummy weights the text is random, its length is the real model's (from a CPU run)."""

    def __init__(self, settings: VllmSettings, lengths: list[int]) -> None:
        super().__init__(settings)
        self.lengths = list(lengths)
        self.asked: list[dict[str, Any]] = []

    async def _forced(
        self, prompt: str, request_id: str, stats: GenerationStats | None
    ) -> AsyncGenerator[str, None]:
        tokens = self.lengths[len(self.asked)]
        self.asked.append({"completion_tokens": tokens})
        written = ""
        async for piece in self._generate(
            lambda: prompt, request_id, stats, max_tokens=tokens, min_tokens=tokens,
            ignore_eos=True, temperature=0.0,
        ):  # fmt: skip
            written += piece
        # All at once: the pipeline's early stop must not cut a forced length short.
        yield written

    def complete_stream(
        self,
        prompt: str,
        max_tokens: int,
        stop: Sequence[str],
        request_id: str,
        *,
        stop_token_ids: Sequence[int] = (),
        stats: GenerationStats | None = None,
    ) -> AsyncGenerator[str, None]:
        return self._forced(prompt, request_id, stats)


def _typing_requests(
    lines: int, keys: int, blocks: int, consecutive: bool = False
) -> list[dict[str, Any]]:
    """(kind, text, line, character) of each request, in the order they are sent. With
    ``consecutive``, the lines typed are the stretch of ``lines`` candidate lines that spans
    the fewest lines of the file, instead of lines spread over it."""
    import random

    from bench.completion_holes import holes_in, pick_holes, project_roots

    root = project_roots("python")[0]
    candidates = [
        hole
        for hole in holes_in(root / DOCUMENT, root, "python", random.Random(0))
        if hole.kind == "line" and len(hole.expected) >= keys
    ]
    step = max(1, len(candidates) // lines)
    chosen = candidates[::step][:lines]
    if consecutive:
        starts = range(max(1, len(candidates) - lines + 1))
        first = min(starts, key=lambda i: candidates[i + lines - 1].line - candidates[i].line)
        chosen = candidates[first : first + lines]
    requests = []
    for hole in chosen:
        # Start from the line emptied to its indentation, whatever cut the hole drew.
        full = hole.text.splitlines(keepends=True)
        content = full[hole.line][: hole.character] + hole.expected
        indent = len(content) - len(content.lstrip())
        for typed in range(keys + 1):
            line = content[: indent + typed] + "\n"
            text = "".join(full[: hole.line]) + line + "".join(full[hole.line + 1 :])
            requests.append(
                {"kind": "typing", "path": DOCUMENT, "text": text,
                 "line": hole.line, "character": indent + typed, "keystroke": typed}
            )  # fmt: skip
    for hole in pick_holes("python", blocks, seed=1):
        if hole.kind == "block":
            requests.append(
                {"kind": "block", "path": hole.relative, "text": hole.text,
                 "line": hole.line, "character": hole.character, "keystroke": None}
            )  # fmt: skip
    return requests


async def measure(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[dict]]:
    from bench.completion_holes import project_roots
    from fathom.backend.tokenizer import engine_fingerprint
    from fathom.context.files import IgnoreRules
    from fathom.context.languages import language_of
    from fathom.lsp_server.completion_context import (
        RedactedCompletions,
        RelatedCache,
        cached_counter,
        completion_query,
        model_fim,
        ranked_related,
    )
    from fathom.pipeline.completion import complete
    from fathom.pipeline.repositories import index_repository

    root = project_roots("python")[0]
    engine = _engine(args)
    await engine.start()
    if args.lengths:  # compile and capture before anything is timed
        for warm in ("one", "two", "three"):
            prompt = f"warm-up {warm} " * 50
            async for _ in engine._generate(prompt.__str__, warm, None, max_tokens=8):
                pass
    found = model_fim(engine)
    assert found.format is not None, found.reason
    fingerprint = engine_fingerprint(engine)
    repository, _stats, _notes = index_repository(root, engine, fingerprint)
    rules, completer = IgnoreRules(root), RedactedCompletions(engine)
    cache = RelatedCache() if args.near_lines is None else RelatedCache(args.near_lines)
    count_tokens = cached_counter(engine.count_tokens)
    rows: list[dict[str, Any]] = []
    try:
        typing = _typing_requests(args.lines, args.keys, args.blocks, args.consecutive)
        for number, request in enumerate(typing):
            text, line = request["text"], request["line"]
            stats = GenerationStats()
            started = time.perf_counter()
            related = cache.get_or_rank(
                repository, request["path"], completion_query(text, line),
                functools.partial(ranked_related, repository, rules, request["path"]),
            )  # fmt: skip
            result = await complete(
                completer, found.format, text, line, request["character"],
                language=language_of(Path(request["path"])), count_tokens=count_tokens,
                path=request["path"], related=related, repo_name=root.name, stats=stats,
            )  # fmt: skip
            latency = time.perf_counter() - started
            engine.asked[-1]["completion_tokens"] = stats.completion_tokens
            rows.append(
                {"n": number, "kind": request["kind"], "mode": result.mode,
                 "keystroke": request["keystroke"], "latency_s": latency,
                 "engine_s": stats.total_s, "first_token_s": stats.first_token_s,
                 "prompt_tokens": stats.prompt_tokens, "cached_tokens": stats.cached_prompt_tokens,
                 "completion_tokens": stats.completion_tokens, "shown": bool(result.text)}
            )  # fmt: skip
            print(f"{number:3} {request['kind']:6} {result.mode:6} {latency * 1000:8.0f} ms "
                  f"prompt {stats.prompt_tokens} cached {stats.cached_prompt_tokens} "
                  f"out {stats.completion_tokens} {result.text[:40]!r}", flush=True)  # fmt: skip
    finally:
        repository.index.close()
        await engine.close()
    return rows, [
        dict(asked, mode=row["mode"], kind=row["kind"])
        for asked, row in zip(engine.asked, rows, strict=True)
    ]


def _engine(args: argparse.Namespace) -> RecordingEngine | ForcedLengthEngine:
    if not args.lengths:
        return RecordingEngine(VllmSettings(model=args.model, block_size=args.block_size))
    from fathom.backend.gpu_defaults import detect_gpus, gpu_settings_for

    lengths = [
        request["completion_tokens"] for request in json.loads(Path(args.lengths).read_text())
    ]
    gpus = detect_gpus()
    settings = gpu_settings_for(
        args.model, max(gpus.count, 1), gpus.memory_gib, load_format="dummy"
    )
    return ForcedLengthEngine(settings, lengths)


def summarize(rows: list[dict[str, Any]]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Latency by mode (the one Fathom chose: single- or multi-line), and the prefix cache."""
    figures: dict[str, Any] = {}
    table: list[tuple[str, str]] = []
    for mode in ("single", "multi"):
        of_mode = [row for row in rows if row["mode"] == mode]
        if not of_mode:
            continue
        ms = [row["latency_s"] * 1000 for row in of_mode]
        first = [row["first_token_s"] * 1000 for row in of_mode if row["first_token_s"]]
        out = [row["completion_tokens"] for row in of_mode]
        figures[mode] = {
            "requests": len(of_mode),
            "p50_ms": round(percentile(ms, 50), 1),
            "p95_ms": round(percentile(ms, 95), 1),
            "first_token_p50_ms": round(percentile(first, 50), 1) if first else None,
            "mean_output_tokens": round(sum(out) / len(out), 1),
            "mean_prompt_tokens": round(sum(r["prompt_tokens"] for r in of_mode) / len(of_mode)),
        }
        f = figures[mode]
        table.append((
            f"{mode}-line latency p50 / p95 ({f['requests']} requests)",
            f"{f['p50_ms']:.0f} ms / {f['p95_ms']:.0f} ms",
        ))  # fmt: skip
        table.append((
            f"{mode}-line first token p50; mean prompt / output tokens",
            f"{f['first_token_p50_ms']} ms; {f['mean_prompt_tokens']} / {f['mean_output_tokens']}",
        ))  # fmt: skip
        outside = [(row["latency_s"] - row["engine_s"]) * 1000 for row in of_mode]
        f["fathom_steps_p50_ms"] = round(percentile(outside, 50), 1)
        table.append((f"{mode}-line time outside the engine p50", f"{f['fathom_steps_p50_ms']} ms"))
    typing = [row for row in rows if row["kind"] == "typing"]
    prompt = sum(row["prompt_tokens"] for row in typing)
    cached = sum(row["cached_tokens"] for row in typing)
    figures["typing_prefix_cache_hit"] = round(cached / prompt, 4) if prompt else None
    table.append(("prefix-cache hit over the typing (cached / prompt tokens)",
                  f"{cached} / {prompt} = {cached / max(prompt, 1):.1%}"))  # fmt: skip
    firsts = [row["latency_s"] * 1000 for row in typing if row["keystroke"] == 0]
    if firsts:
        figures["first_keystroke_p50_ms"] = round(percentile(firsts, 50), 1)
        figures["first_keystroke_max_ms"] = round(max(firsts), 1)
        table.append((f"first keystroke on a line p50 / max ({len(firsts)} lines)",
                      f"{percentile(firsts, 50):.0f} ms / {max(firsts):.0f} ms"))  # fmt: skip
    if "shown" in rows[0]:
        shown = sum(row["shown"] for row in rows)
        figures["shown"] = shown
        table.append(("requests with a suggestion shown", f"{shown} / {len(rows)}"))
    return figures, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--label", default="cpu-0.5b")
    parser.add_argument("--lines", type=int, default=8, help="lines typed again")
    parser.add_argument("--keys", type=int, default=8, help="keystrokes per line")
    parser.add_argument("--blocks", type=int, default=8, help="function bodies completed")
    parser.add_argument(
        "--lengths", help="a CPU run's requests file: dummy weights (GPU), its output lengths"
    )
    parser.add_argument("--requests-out", help="where a CPU run writes its engine requests")
    parser.add_argument("--out", help="folder for the results (default bench/results)")
    parser.add_argument(
        "--block-size", type=int, help="KV block tokens on the CPU (default: Fathom's, 32)"
    )
    parser.add_argument(
        "--consecutive", action="store_true", help="type one stretch of lines, not spread lines"
    )
    parser.add_argument(
        "--near-lines", type=int, help="RelatedCache's near_lines (default: the server's)"
    )
    args = parser.parse_args(argv)
    if args.out:
        common.RESULTS = Path(args.out)
    rows, asked = asyncio.run(measure(args))
    if args.requests_out:
        Path(args.requests_out).write_text(json.dumps(asked))
    figures, table = summarize(rows)
    figures["settings"] = {"model": args.model, "forced_lengths": bool(args.lengths), "lines": args.lines,
                           "keys": args.keys, "blocks": args.blocks, "block_size": args.block_size,
                           "consecutive": args.consecutive, "near_lines": args.near_lines,
                           "fathom_decode_env": common.fathom_decode_env()}  # fmt: skip
    figures["requests"] = rows
    notes = NOTES
    if args.consecutive or args.lines != 8 or args.keys != 8 or args.blocks != 8:
        notes += (
            f"\n\nThis run: {args.lines} lines"
            + (" in one stretch (--consecutive)" if args.consecutive else "")
            + f", {args.keys} keystrokes each, {args.blocks} function bodies"
            + (
                f", RelatedCache(near_lines={args.near_lines})"
                if args.near_lines is not None
                else ""
            )
            + "."
        )
    common.write_results(f"completion_latency_{args.label}", figures, table, notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
