"""How often the related code an inline completion shows changes as the cursor moves one line
down: within its aligned block of lines, and into the next block.

    .venv/bin/python bench/completion_related_stability.py

The document and project are bench/completion_latency.py's (Django's utils/text.py, its
project indexed with the default model's tokenizer). The cursor goes down the document a
line at a time, and at each line the related chunks are found and fitted as the language
server does (lsp_server/completion_context.py, pipeline/completion.py: ``completion_query``,
``RelatedCache``, ``ranked_related``, ``select_related``); each line's chunks are compared
with the line before's. Different chunks change the prompt's head, so the engine's prefix
cache holds only the part before the first chunk that changed, and the rest of the prompt is
computed again (bench/results/completion_block_size_cpu.md: ~8-13 s where a keystroke on a
line takes ~2 s on 2 CPU cores). Twice, side by side: with the cache as the server has it,
and with a ranking for every query (``near_lines=0``, the cache before a near query took the
last ranking). No model runs. Writes bench/results/completion_related_stability.json and .md.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import write_results


def main() -> int:
    from bench.completion_holes import project_roots
    from bench.completion_latency import DOCUMENT
    from fathom.backend.tokenizer import HFTokenCounter, tokenizer_fingerprint
    from fathom.backend.vllm_engine import resolve_model
    from fathom.context.files import IgnoreRules
    from fathom.lsp_server.completion_context import (
        NEAR_LINES,
        RelatedCache,
        completion_query,
        ranked_related,
    )
    from fathom.pipeline.completion import DEFAULT_BUDGET, WINDOW_STEP, select_related
    from fathom.pipeline.repositories import index_repository

    counter = HFTokenCounter.from_model(resolve_model("default", lambda *_: None))
    root = project_roots("python")[0]
    fingerprint = tokenizer_fingerprint(counter.tokenizer)
    repository, _stats, _notes = index_repository(root, counter, fingerprint)
    rules = IgnoreRules(root)
    text = (root / DOCUMENT).read_text()
    budget = DEFAULT_BUDGET.context_tokens
    figures: dict[str, object] = {
        "document": DOCUMENT,
        "lines": len(text.splitlines()),
        "window_step": WINDOW_STEP,
        "context_tokens": budget,
    }
    rows = []
    ranked: list[str] = []  # the queries ranked, by both caches

    def rank(query: str) -> list[tuple[str, str]]:
        ranked.append(query)
        return ranked_related(repository, rules, DOCUMENT, query)

    for label, near in (("ranked for every query", 0), ("the server's cache", NEAR_LINES)):
        cache, shown, before = RelatedCache(near_lines=near), [], len(ranked)
        for line in range(len(text.splitlines())):
            related = cache.get_or_rank(repository, DOCUMENT, completion_query(text, line), rank)
            shown.append(select_related(related, counter.count_tokens, budget, exclude=DOCUMENT))
        rankings = len(ranked) - before
        moves = {"within a block": [0, 0], "into the next block": [0, 0]}
        for line in range(len(shown) - 1):
            within = line // WINDOW_STEP == (line + 1) // WINDOW_STEP
            counts = moves["within a block" if within else "into the next block"]
            counts[0] += shown[line] != shown[line + 1]
            counts[1] += 1
        figures[label] = {"near_lines": near, "rankings": rankings, **moves}
        rows += [
            (f"{label}: related code changed, moving one line down {kind}", f"{c} / {n}")
            for kind, (c, n) in moves.items()
        ]
        rows.append((f"{label}: rankings", str(rankings)))
    notes = (
        f"{DOCUMENT} of the edit corpus's Django, {figures['lines']} lines, blocks of "
        f"{WINDOW_STEP} lines, related code within {budget} tokens; the server's cache takes "
        f"the last ranking for a query within {NEAR_LINES} lines of it."
    )
    write_results("completion_related_stability", figures, rows, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
