"""Eval runs side by side (``report.py --compare A.json B.json ...``): one column per run (a
model, a format, a setting), their rates over all tasks and each group, and every task's
outcome in each. The figures are recomputed from each record's tasks, so older records
compare with newer ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.eval.report import decoding_words, groups, markdown_table

# (row, summary key) over all tasks.
METRICS = (
    ("tasks", "tasks"),
    ("passed", "passed"),
    ("pass %", "pass_rate"),
    ("applied %", "applied_rate"),
    ("well-formed %", "well_formed_rate"),
    ("refused", "refused"),
    ("unchanged", "unchanged"),
    ("engine error", "engine_error"),
    ("crashed or timed out", None),
    ("loops applied", "degenerate_applied"),
    ("replies looped", "replies_looped"),
    ("several files changed", "several_files_changed"),
    ("mean rounds", "mean_rounds"),
    ("total tokens", "total_tokens"),
    ("mean edit s", "mean_edit_s"),
    ("mean generation s", "mean_generation_s"),
)

Run = tuple[str, dict[str, Any]]


def load(path: Path) -> Run:
    """(the run's name, its record) from an ``eval_<label>.json``."""
    record = json.loads(path.read_text())
    return str(record.get("name") or path.stem), record


def only_tasks(runs: list[Run], ids: list[str]) -> list[Run]:
    """Each run restricted to the tasks ``ids`` (a run that lacks one is an error: its rates
    would be over another set)."""
    kept = []
    for name, record in runs:
        rows = {row["id"]: row for row in record["tasks"]}
        missing = [i for i in ids if i not in rows]
        if missing:
            raise ValueError(f"{name} did not run {', '.join(missing)}")
        kept.append((name, {**record, "tasks": [rows[i] for i in ids]}))
    return kept


def _metric(summary: dict[str, Any], key: str | None) -> Any:
    if key is None:
        return summary["crashed"] + summary["timeout"]
    return summary.get(key)


def _rates(summary: dict[str, Any] | None) -> str | None:
    if summary is None:
        return None
    return " / ".join(
        "–" if summary[k] is None else f"{summary[k]:g}"
        for k in ("pass_rate", "applied_rate", "well_formed_rate")
    )


def _outcome(row: dict[str, Any] | None) -> str | None:
    if row is None:
        return None
    loop = " (loop)" if row.get("degenerate") else ""
    return f"{'passed' if row['passed'] else row['outcome']}{loop}"


def comparison(runs: list[Run]) -> list[str]:
    """Markdown: the runs named, then the tables side by side."""
    names = [name for name, _ in runs]
    summaries = [groups(record["tasks"]) for _, record in runs]
    lines = ["Runs:", ""]
    for name, record in runs:
        commit = (record.get("versions") or {}).get("fathom_commit") or "?"
        lines.append(
            f"- {name}: {record.get('model')} · edit format "
            f"{record.get('edit_format', 'not recorded')} · decoding: {decoding_words(record)} · "
            f"{len(record['tasks'])} tasks · "
            f"{record.get('date')} · Fathom {commit[:10]}"
        )
    task_sets = {frozenset(r["id"] for r in record["tasks"]) for _, record in runs}
    if len(task_sets) > 1:
        lines += ["", "The runs did not run the same tasks: their rates are over different sets."]
    lines += ["", "## All tasks", ""]
    lines += markdown_table(
        ["", *names],
        [[label, *(_metric(s["all"], key) for s in summaries)] for label, key in METRICS],
    )
    group_names = list(dict.fromkeys(g for s in summaries for g in s))
    lines += ["", "## Pass / applied / well-formed % by group", ""]
    lines += markdown_table(
        ["group", *names], [[g, *(_rates(s.get(g)) for s in summaries)] for g in group_names]
    )
    by_id = [{r["id"]: r for r in record["tasks"]} for _, record in runs]
    ids = list(dict.fromkeys(i for rows in by_id for i in rows))
    lines += ["", "## Tasks", ""]
    lines += markdown_table(
        ["task", *names], [[i, *(_outcome(rows.get(i)) for rows in by_id)] for i in ids]
    )
    return lines
