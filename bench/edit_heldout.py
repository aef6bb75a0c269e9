"""Held-out check: Fathom on corpora the generator makes with other seeds (not committed).

    .venv/bin/python bench/edit_heldout.py 1 2 3        # seeds; prints counts and failures

The committed corpus (bench/edit_corpus/corpus.jsonl) is what Fathom's fixes were made
against; fresh seeds pick other blocks and other damage, so this shows whether the applier
was fitted to that one corpus. Writes bench/results/edit_heldout.json and .md.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import write_results
from bench.edit_corpus import corpus_io
from bench.edit_engine import classify, run_fathom

OUTCOMES = ("correct", "refused", "wrong")
GENERATE = Path(__file__).resolve().parent / "edit_corpus" / "generate.py"


def main() -> None:
    seeds = [int(s) for s in sys.argv[1:]] or [1, 2, 3]
    report: dict = {"seeds": {}}
    total: Counter[str] = Counter()
    with tempfile.TemporaryDirectory() as scratch:
        for seed in seeds:
            path = Path(scratch) / f"seed{seed}.jsonl"
            subprocess.run(
                [sys.executable, str(GENERATE), "--seed", str(seed), "--out", str(path)],
                check=True,
                capture_output=True,
            )
            cases = corpus_io.load_corpus(path)
            results = run_fathom(cases, repeats=1)
            counts: Counter[str] = Counter()
            failures = []
            for case in cases:
                files = corpus_io.case_files(case)
                before = {p: corpus_io.sha(t) for p, t in files.items()}
                outcome = classify(
                    corpus_io.expected_state(case, files), before, results[case["id"]]["state"]
                )
                counts[outcome] += 1
                if outcome != "correct":
                    failures.append([case["id"], outcome, results[case["id"]]["error"]])
            total.update(counts)
            report["seeds"][seed] = {"counts": dict(counts), "failures": failures}
            print(f"seed {seed}: {dict(counts)}", flush=True)
            for failure in failures:
                print("   ", *failure)
    report["total"] = dict(total)
    print(f"all seeds: {dict(total)}")
    case_count = sum(total.values())
    rows = [
        ("seeds", f"{len(seeds)} ({seeds[0]}..{seeds[-1]})" if seeds else "none"),
        ("cases", str(case_count)),
        *(
            (outcome, f"{total[outcome]} ({total[outcome] / case_count:.2%})")
            for outcome in OUTCOMES
        ),
    ]
    notes = (
        f"Run: `.venv/bin/python bench/edit_heldout.py {' '.join(map(str, seeds))}`. Each seed "
        "is a corpus the generator makes fresh (bench/edit_corpus/generate.py --seed N), not "
        "the committed one Fathom's fixes were made against. Cases not correct, per seed, are "
        "listed in the JSON's figures."
    )
    write_results("edit_heldout", report, rows, notes)


if __name__ == "__main__":
    main()
