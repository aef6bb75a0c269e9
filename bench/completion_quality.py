"""Inline completion quality: holes punched in real code nobody here wrote
(bench/completion_holes.py), completed three ways by the same model, scored.

    .venv/bin/python bench/completion_quality.py [--per-kind 4] [--label cpu-0.5b]

The three ways, on every hole:

- ``fathom``: what the server does (lsp_server/inline_completion.py): the project folder
  indexed by Fathom, related chunks of its other files ranked for the cursor's code, the
  model's FIM format with the file's path, pipeline/completion.py's windows, stops and cut;
- ``fathom-no-context``: the same without the repository (``fathom complete --no-context``):
  what the related code adds is the difference between the two;
- ``plain-fim``: the same model prompted with prefix and suffix only, as a minimal client
  does (the same text windows, no path, no repository, no mode: at most
  :data:`PLAIN_MAX_TOKENS` tokens, ending where the model ends, nothing cut); scored again
  on line holes with its answer cut at the first line break (``plain-fim, first line``).

Scores per way and hole kind: exact match (lines compared without trailing spaces) and edit
similarity (difflib's ratio, 0..1), suggestions shown, latency. Writes
bench/results/completion_quality_<label>.json and .md.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common
from bench.completion_holes import PROJECTS, Hole, pick_holes
from fathom.backend.engine import GenerationStats
from fathom.backend.fim import FimFormat
from fathom.backend.vllm_engine import VllmEngine
from fathom.backend.vllm_settings import VllmSettings
from fathom.context.repository import Repository

WAYS = ("fathom", "fathom-no-context", "plain-fim")
NOTES = """Holes: bench/completion_holes.py (the edit corpus's Django, Django admin JS, ujson, psutil,
MarkupSafe, semver, bytes, indexmap, gojq and blackfriday sources; 4 line and 4 block holes per
language, seed 1). Ways: `fathom` = the server's completion (repository indexed, related chunks,
the file's path, windows, stops and cut); `fathom-no-context` = the same without the repository;
`plain-fim` = the same model with prefix and suffix only, 128 tokens at most, nothing cut;
`plain-fim, first line` = its line-hole answers cut at the first line break. Exact = lines equal
without trailing spaces; similarity = difflib ratio (0..1), 0 for nothing shown. Greedy decoding.
Latency is on the 2-core CPU, one request at a time."""
PLAIN_MAX_TOKENS = 128


def normalized(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()).rstrip()


def scores(written: str, expected: str) -> tuple[bool, float]:
    a, b = normalized(written), normalized(expected)
    return a == b, difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


async def _plain(engine: VllmEngine, fim: FimFormat, hole: Hole, stats: GenerationStats) -> str:
    from fathom.pipeline.completion import completion_site, prompt_window

    site = completion_site(hole.text, hole.line, hole.character, hole.language)
    prefix, suffix = prompt_window(site, engine.count_tokens)
    written = ""
    stream = engine.complete_stream(
        fim.prompt(prefix, suffix), PLAIN_MAX_TOKENS, list(fim.stop), f"plain-{id(hole)}",
        stop_token_ids=fim.stop_token_ids, stats=stats,
    )  # fmt: skip
    async for piece in stream:
        written += piece
    return written


async def _one(
    engine: VllmEngine, fim: FimFormat, hole: Hole, way: str, repository: Repository
) -> dict[str, Any]:
    from fathom.context.files import IgnoreRules
    from fathom.lsp_server.completion_context import (
        RedactedCompletions,
        completion_query,
        ranked_related,
    )
    from fathom.pipeline.completion import complete

    stats = GenerationStats()
    started = time.perf_counter()
    related: list[tuple[str, str]] = []
    mode = None
    if way == "plain-fim":
        written = await _plain(engine, fim, hole, stats)
    else:
        if way == "fathom":
            query = completion_query(hole.text, hole.line)
            related = ranked_related(repository, IgnoreRules(hole.root), hole.relative, query)
        result = await complete(
            RedactedCompletions(engine), fim, hole.text, hole.line, hole.character,
            language=hole.language, count_tokens=engine.count_tokens, path=hole.relative,
            related=related, repo_name=hole.root.name, stats=stats,
        )  # fmt: skip
        written, mode = result.text, result.mode
    exact, similarity = scores(written, hole.expected)
    return {
        "hole": hole.name, "kind": hole.kind, "language": hole.language, "way": way,
        "mode": mode, "exact": exact, "similarity": round(similarity, 4), "shown": bool(written),
        "latency_s": round(time.perf_counter() - started, 3),
        "prompt_tokens": stats.prompt_tokens, "completion_tokens": stats.completion_tokens,
        "related_files": sorted({path for path, _ in related}), "written": written,
        "expected": hole.expected,
    }  # fmt: skip


async def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    from fathom.backend.tokenizer import engine_fingerprint
    from fathom.lsp_server.completion_context import model_fim
    from fathom.pipeline.repositories import index_repository

    engine = VllmEngine(VllmSettings(model=args.model))
    await engine.start()
    found = model_fim(engine)
    assert found.format is not None, found.reason
    fingerprint = engine_fingerprint(engine)
    rows: list[dict[str, Any]] = []
    repositories: dict[Path, Repository] = {}
    try:
        for language in args.languages:
            for hole in pick_holes(language, args.per_kind, args.seed):
                if hole.root not in repositories:
                    repositories[hole.root] = index_repository(hole.root, engine, fingerprint)[0]
                for way in args.ways:
                    row = await _one(engine, found.format, hole, way, repositories[hole.root])
                    rows.append(row)
                    print(f"{row['hole']:48} {way:18} exact {row['exact']!s:5} "
                          f"sim {row['similarity']:.2f} {row['latency_s']:6.1f}s "
                          f"{row['written'][:50]!r}", flush=True)  # fmt: skip
    finally:
        for repository in repositories.values():
            repository.index.close()
        await engine.close()
    return rows


def _first_lines(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Plain FIM's line holes again, its answer cut at the first line break: the kindest
    reading of a client that knows no mode (it costs no model call)."""
    cut = []
    for row in rows:
        if row["way"] == "plain-fim" and row["kind"] == "line":
            first = row["written"].split("\n", 1)[0]
            exact, similarity = scores(first, row["expected"])
            cut.append({**row, "way": "plain-fim, first line", "written": first,
                        "exact": exact, "similarity": round(similarity, 4)})  # fmt: skip
    return cut


def summarize(rows: list[dict[str, Any]]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    figures: dict[str, Any] = {}
    table: list[tuple[str, str]] = []
    rows = rows + _first_lines(rows)
    for kind in ("line", "block"):
        for way in (*WAYS, "plain-fim, first line"):
            mine = [row for row in rows if row["kind"] == kind and row["way"] == way]
            if not mine:
                continue
            exact = sum(row["exact"] for row in mine)
            similarity = sum(row["similarity"] for row in mine) / len(mine)
            shown = sum(row["shown"] for row in mine)
            latency = sorted(row["latency_s"] for row in mine)[len(mine) // 2]
            figures[f"{kind}/{way}"] = {
                "holes": len(mine), "exact": exact, "exact_rate": round(exact / len(mine), 4),
                "edit_similarity": round(similarity, 4), "shown": shown,
                "latency_p50_s": latency,
            }  # fmt: skip
            table.append((
                f"{kind} holes, {way} ({len(mine)})",
                f"exact {exact} ({exact / len(mine):.0%}), similarity {similarity:.3f}, "
                f"shown {shown}, p50 {latency:.1f} s",
            ))  # fmt: skip
    return figures, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--label", default="cpu-0.5b")
    parser.add_argument("--per-kind", type=int, default=4, help="holes per kind and language")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--languages", nargs="+", default=list(PROJECTS), choices=list(PROJECTS))
    parser.add_argument("--out", help="folder for the results (default bench/results)")
    parser.add_argument("--ways", nargs="+", default=list(WAYS), choices=list(WAYS))
    parser.add_argument(
        "--keep", help="a results JSON of this benchmark: its rows of the ways not run now are kept"
    )
    parser.add_argument("--rescore", help="a results JSON of this benchmark: score it again")
    args = parser.parse_args(argv)
    if args.out:
        common.RESULTS = Path(args.out)
    settings = {"model": args.model, "per_kind": args.per_kind, "seed": args.seed,
                "languages": args.languages, "plain_max_tokens": PLAIN_MAX_TOKENS,
                "ways_run": args.ways, "kept_from": args.keep}  # fmt: skip
    if args.rescore:
        earlier = json.loads(Path(args.rescore).read_text())["figures"]
        rows, settings = earlier["holes"], earlier["settings"]
    else:
        rows = asyncio.run(measure(args))
    if args.keep:
        kept = json.loads(Path(args.keep).read_text())["figures"]["holes"]
        rows += [row for row in kept if row["way"] not in args.ways]
    figures, table = summarize(rows)
    figures["settings"] = settings
    figures["holes"] = rows
    common.write_results(f"completion_quality_{args.label}", figures, table, NOTES)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
