"""Edit application on the edit corpus: Fathom's diff applier and Aider's udiff side by side.

    .venv/bin/python bench/edit_engine.py [--aider-python PATH] [--repeats N]

Every case of bench/edit_corpus/corpus.jsonl (a real file, an intended edit, and the diff a
model wrote for it, clean or damaged) is applied in memory by Fathom (bench/in_memory_edits.py, in
process) and by Aider 0.86.2's udiff coder (bench/aider_udiff.py, in Aider's own venv, which
is created at /tmp/aider-venv if missing). Each applier's result is the whole workspace state
it leaves, compared with the intended one:

- correct: the intended state; for a case that should be refused, the workspace unchanged;
- refused: the workspace unchanged (an error) where an edit was expected;
- wrong: any other state: the edit in the wrong place or with the wrong text, a partial
  application, or a change where the right answer was to refuse.

Times are per case (median of --repeats runs), parse + locate + apply, after a warm-up.
Writes bench/results/edit_engine.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import percentile, write_results
from bench.edit_corpus import corpus_io
from bench.in_memory_edits import apply_to_texts
from fathom.edits.errors import EditError

AIDER_VERSION = "0.86.2"
AIDER_VENV = Path("/tmp/aider-venv")
OUTCOMES = ("correct", "refused", "wrong")


def ensure_aider(python: str | None) -> str:
    if python:
        return python
    found = AIDER_VENV / "bin" / "python"
    if not found.exists():
        subprocess.run([sys.executable, "-m", "venv", str(AIDER_VENV)], check=True)
        subprocess.run(
            [str(found), "-m", "pip", "install", "--quiet", f"aider-chat=={AIDER_VERSION}"],
            check=True,
        )
    return str(found)


def classify(expected: dict[str, str] | None, before: dict[str, str], after: dict[str, str]):
    if expected is None:  # the right answer is to refuse
        return "correct" if after == before else "wrong"
    if after == expected:
        return "correct"
    return "refused" if after == before else "wrong"


def run_fathom(cases: list[dict], repeats: int) -> dict[str, dict]:
    def once(case: dict, files: dict[str, str]):
        started = time.perf_counter()
        try:
            applied = apply_to_texts(case["reply"], files)
        except EditError as exc:
            return None, str(exc), time.perf_counter() - started
        return applied, None, time.perf_counter() - started

    # Warm-up: one case per language loads the imports and each tree-sitter parser.
    for lang in dict.fromkeys(c["language"] for c in cases):
        case = next(c for c in cases if c["language"] == lang)
        once(case, corpus_io.case_files(case))
    out = {}
    for case in cases:
        files = corpus_io.case_files(case)
        timings = []
        for _ in range(repeats):
            applied, error, seconds = once(case, files)
            timings.append(seconds)
        state = corpus_io.state_of(files, applied.texts if applied else {})
        out[case["id"]] = {
            "state": state,
            "error": error,
            "seconds": statistics.median(timings),
            "repairs": list(applied.repairs) if applied else [],
            "strategies": list(applied.strategies) if applied else [],
        }
    return out


def run_aider(python: str, repeats: int) -> tuple[str, dict[str, dict]]:
    done = subprocess.run(
        [
            python,
            str(Path(__file__).with_name("aider_udiff.py")),
            str(corpus_io.CORPUS),
            "--repeats",
            str(repeats),
        ],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"aider_udiff.py failed:\n{done.stderr[-2000:]}")
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    version = lines[0]["aider-chat"]
    return version, {r["id"]: r for r in lines[1:]}


def summary(rows: list[dict], who: str) -> dict:
    counts = Counter(r[who] for r in rows)
    times = [r[f"{who}_ms"] for r in rows]
    return {
        "correct": counts["correct"],
        "refused": counts["refused"],
        "wrong": counts["wrong"],
        "success_rate": round(counts["correct"] / len(rows), 4),
        "ms_p50": round(statistics.median(times), 3),
        "ms_p99": round(percentile(times, 99), 3),
    }


def table(groups: dict[str, list[dict]], title: str) -> str:
    out = [
        f"| {title} | cases | Fathom correct | Aider correct | Fathom refused / wrong "
        "| Aider refused / wrong |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, rows in groups.items():
        f, a = Counter(r["fathom"] for r in rows), Counter(r["aider"] for r in rows)
        out.append(
            f"| {name} | {len(rows)} | {f['correct']}/{len(rows)} | {a['correct']}/{len(rows)} "
            f"| {f['refused']} / {f['wrong']} | {a['refused']} / {a['wrong']} |"
        )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--aider-python", help="python of a venv with aider-chat installed")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case (median)")
    args = parser.parse_args()
    cases = corpus_io.load_corpus()
    fathom = run_fathom(cases, args.repeats)
    aider_version, aider = run_aider(ensure_aider(args.aider_python), args.repeats)

    rows = []
    for case in cases:
        files = corpus_io.case_files(case)
        before = corpus_io.state_of(files, {})
        expected = corpus_io.expected_state(case, files)
        f, a = fathom[case["id"]], aider[case["id"]]
        rows.append(
            {
                "id": case["id"],
                "language": case["language"],
                "kind": case["kind"],
                "fathom": classify(expected, before, f["state"]),
                "aider": classify(expected, before, a["state"]),
                "fathom_ms": round(f["seconds"] * 1000, 3),
                "aider_ms": round(a["seconds"] * 1000, 3),
                "fathom_error": f["error"],
                "aider_error": (a["error"] or "")[:300] or None,
                "fathom_repairs": f["repairs"],
                "fathom_strategies": f["strategies"],
                "note": case.get("note", ""),
            }
        )

    by_kind: dict[str, list[dict]] = defaultdict(list)
    by_lang: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_kind[r["kind"]].append(r)
        by_lang[r["language"]].append(r)
    fs, ag = summary(rows, "fathom"), summary(rows, "aider")
    failures = [
        {k: r[k] for k in ("id", "kind", "fathom", "fathom_error", "fathom_strategies", "note")}
        for r in rows
        if r["fathom"] != "correct"
    ]
    figures = {
        "cases": len(rows),
        "aider_chat": aider_version,
        "fathom": fs,
        "aider": ag,
        "success_ratio_fathom_over_aider": round(
            fs["success_rate"] / max(ag["success_rate"], 1e-9), 2
        ),
        "p50_ratio_aider_over_fathom": round(ag["ms_p50"] / max(fs["ms_p50"], 1e-9), 2),
        "per_kind": {
            k: {
                "cases": len(v),
                **{
                    f"{w}_{o}": sum(r[w] == o for r in v)
                    for w in ("fathom", "aider")
                    for o in OUTCOMES
                },
            }
            for k, v in by_kind.items()
        },
        "per_language": {
            k: {
                "cases": len(v),
                **{f"{w}_correct": sum(r[w] == "correct" for r in v) for w in ("fathom", "aider")},
            }
            for k, v in by_lang.items()
        },
        "fathom_failures": failures,
        "outcomes": rows,
    }
    n = len(rows)
    table_rows = [
        ("cases", f"{n} ({len(by_lang)} languages, {len(by_kind)} kinds)"),
        (
            "success rate, Fathom / Aider udiff",
            f"{fs['correct']}/{n} = {fs['success_rate']:.1%} / {ag['correct']}/{n} = {ag['success_rate']:.1%}",
        ),
        (
            "refused (workspace unchanged where an edit was expected), Fathom / Aider",
            f"{fs['refused']} / {ag['refused']}",
        ),
        (
            "wrong (wrong text or place, partial, or applied where it should refuse), Fathom / Aider",
            f"{fs['wrong']} / {ag['wrong']}",
        ),
        ("apply time per case, Fathom", f"p50 {fs['ms_p50']} ms, p99 {fs['ms_p99']} ms"),
        (
            f"apply time per case, Aider {aider_version} udiff",
            f"p50 {ag['ms_p50']} ms, p99 {ag['ms_p99']} ms",
        ),
        ("Fathom success ÷ Aider success", f"{figures['success_ratio_fathom_over_aider']}×"),
        ("Aider p50 ÷ Fathom p50", f"{figures['p50_ratio_aider_over_fathom']}×"),
    ]
    notes = "\n\n".join(
        [
            "Run: `.venv/bin/python bench/edit_engine.py` (Aider's venv is made at "
            f"/tmp/aider-venv with aider-chat=={AIDER_VERSION} if missing; "
            "`--aider-python PATH` to use another). Regenerate the corpus with "
            "`.venv/bin/python bench/edit_corpus/generate.py` (kinds and sources: "
            "bench/edit_corpus/SOURCES.md).",
            "Aider runs its own `UnifiedDiffCoder.get_edits` and `apply_edits` with in-memory "
            "I/O (bench/aider_udiff.py): replies without a ```diff fence are fenced for it, "
            "missing files are created as with `--yes-always`, hunks that apply are kept when "
            "others fail, and files are read with universal newlines as Aider does on Linux. "
            "What that makes of Aider's results: an edited CRLF file comes back LF; a hunk "
            "that matches several places is applied at all of them; after the first file of "
            "a fence (or after `diff --git` lines) `+++ b/path` keeps its `b/`, so later "
            "files are created under `b/`; it has no delete or rename; and when context does "
            "not match it retries with less context, which can land a hunk elsewhere.",
            table(dict(sorted(by_kind.items())), "kind"),
            table(by_lang, "language"),
        ]
    )
    write_results("edit_engine", figures, table_rows, notes)
    print()
    print(table(dict(sorted(by_kind.items())), "kind"))
    print(f"\nFathom cases not correct ({len(failures)}):")
    for fail in failures:
        print(f"  {fail['id']}: {fail['fathom']}: {fail['fathom_error'] or '(applied)'}")


if __name__ == "__main__":
    main()
