"""One run made in parts: a run stopped for time, then continued on the tasks it had not
reached, at the same Fathom commit with the same settings, joined into one record
(``report.py --join A.json B.json --label L``). The figures are recomputed from the tasks;
parts that differ in anything that could change an outcome are refused."""

from __future__ import annotations

from typing import Any

from bench.eval.report import groups

# What a task's outcome depends on besides the model's weights: equal in every part.
SETTINGS = ("model", "suite", "edit_timeout_s", "edit_format", "decoding", "check_loop")


def _versions(record: dict[str, Any]) -> dict[str, Any]:
    return dict(record["versions"])


def join(records: list[dict[str, Any]], label: str) -> dict[str, Any]:
    """The parts as one record named ``eval_<label>``; ValueError if they may not be joined."""
    if len(records) < 2:
        raise ValueError("joining needs two parts or more")
    first = records[0]
    for record in records:
        if record["versions"].get("fathom_tree_dirty"):
            raise ValueError(f"{record['name']} ran with uncommitted changes: no commit to match")
    for record in records[1:]:
        for key in SETTINGS:
            if record.get(key) != first.get(key):
                raise ValueError(
                    f"{record['name']} differs from {first['name']} in {key}: "
                    f"{record.get(key)!r} against {first.get(key)!r}"
                )
        if _versions(record) != _versions(first):
            differing = sorted(
                k
                for k in _versions(record) | _versions(first)
                if _versions(record).get(k) != _versions(first).get(k)
            )
            raise ValueError(
                f"{record['name']} ran other versions than {first['name']}: {differing}"
            )
    rows = [row for record in records for row in record["tasks"]]
    ids = [row["id"] for row in rows]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise ValueError(f"tasks in more than one part: {', '.join(twice)}")
    planned = first["tasks_planned"]
    return {
        **first,
        "name": f"eval_{label}",
        "date": records[-1]["date"],
        "tasks_planned": planned,
        "complete": len(rows) >= planned and records[-1]["complete"] is not False,
        "parts": [
            {
                "name": record["name"],
                "date": record["date"],
                "tasks": len(record["tasks"]),
                "complete": record["complete"],
                "server_start_s": (record.get("server") or {}).get("start_s"),
            }
            for record in records
        ],
        "summary": groups(rows),
        "tasks": rows,
    }
