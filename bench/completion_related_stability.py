"""How often the related code an inline completion shows changes as the cursor moves one line
down: within its aligned block of lines, and into the next block.

    .venv/bin/python bench/completion_related_stability.py

The document and project are bench/completion_latency.py's (Django's utils/text.py, its
project indexed with the default model's tokenizer). At every line of the document the
related chunks are ranked and fitted as the language server does
(lsp_server/completion_context.py, pipeline/completion.py: ``completion_query``,
``ranked_related``, ``select_related``), and each line's chunks are compared with the next
line's. Different chunks change the prompt's head, so the engine's prefix cache holds only
the part before the first chunk that changed, and the rest of the prompt is computed again
(bench/results/completion_block_size_cpu.md: ~8-13 s where a keystroke on a line takes
~2 s on 2 CPU cores). No model runs. Writes bench/results/completion_related_stability.json
and .md.
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
    from fathom.lsp_server.completion_context import completion_query, ranked_related
    from fathom.pipeline.completion import DEFAULT_BUDGET, WINDOW_STEP, select_related
    from fathom.pipeline.repositories import index_repository

    counter = HFTokenCounter.from_model(resolve_model("default", lambda *_: None))
    root = project_roots("python")[0]
    fingerprint = tokenizer_fingerprint(counter.tokenizer)
    repository, _stats, _notes = index_repository(root, counter, fingerprint)
    rules = IgnoreRules(root)
    text = (root / DOCUMENT).read_text()
    shown = []
    for line in range(len(text.splitlines())):
        related = ranked_related(repository, rules, DOCUMENT, completion_query(text, line))
        budget = DEFAULT_BUDGET.context_tokens
        shown.append(select_related(related, counter.count_tokens, budget, exclude=DOCUMENT))
    moves = {"within a block": [0, 0], "into the next block": [0, 0]}
    for line in range(len(shown) - 1):
        within = line // WINDOW_STEP == (line + 1) // WINDOW_STEP
        counts = moves["within a block" if within else "into the next block"]
        counts[0] += shown[line] != shown[line + 1]
        counts[1] += 1
    figures = {
        "document": DOCUMENT,
        "lines": len(shown),
        "window_step": WINDOW_STEP,
        "context_tokens": DEFAULT_BUDGET.context_tokens,
        **{f"changed {kind}": counts for kind, counts in moves.items()},
    }
    rows = [
        (f"moves one line down {kind} where the related code shown changed", f"{c} / {n}")
        for kind, (c, n) in moves.items()
    ]
    notes = (
        f"{DOCUMENT} of the edit corpus's Django, {len(shown)} lines, blocks of {WINDOW_STEP} "
        f"lines, related code within {DEFAULT_BUDGET.context_tokens} tokens."
    )
    write_results("completion_related_stability", figures, rows, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
