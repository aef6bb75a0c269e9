"""Replies models really wrote on the eval suite, applied by Fathom and by Aider side by side.

    .venv/bin/python bench/real_replies.py [--eval bench/results/eval_X.json ...]

The eval harness (bench/eval/run_eval.py) keeps every reply the model wrote for each task
(``fathom edit --json``). This takes each task's first reply (the model's answer to the
request alone; later rounds answer Fathom's feedback, which Aider would not have sent) and
applies it to the task's ``before/`` project twice:

- Fathom: ``fathom apply --file TARGET --range L1:L2``'s machinery (pipeline/apply_reply.py):
  the selected file is the file of blocks that name none, and a hunk quoting the
  selection already rewritten (a whole block's or a unified diff's hunk) is read as its new
  version, as ``fathom edit`` does;
- Aider 0.86.2 (bench/aider_editblock.py, in Aider's own venv, made at /tmp/aider-venv if
  missing): the coder for the format the model was asked for, its search/replace coder with
  every project file in the chat for search/replace replies, its udiff coder for diffs.

No one wrote down the right result of a real reply, so each applier's result is judged by the
task's hidden tests: what the user gets. Outcomes: applied (files changed, no error), refused
(nothing changed), partial (Aider changed files and reported blocks it could not apply).
Writes bench/results/real_replies_<label>.{json,md}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import RESULTS, fathom_commit, machine, versions
from bench.edit_engine import ensure_aider
from bench.eval.suite_io import Task, add_tests, files_under, load_suite, run_command
from fathom.context import LineRange
from fathom.edits.errors import EditError
from fathom.pipeline.apply_reply import apply_reply

SUITE = Path(__file__).resolve().parent / "eval" / "suite"
HERE = Path(__file__).resolve().parent


def project_texts(folder: Path) -> dict[str, str]:
    return {rel: (folder / rel).read_text() for rel in files_under(folder)}


def fathom_result(task: Task, reply: str) -> tuple[dict[str, str], str | None]:
    with tempfile.TemporaryDirectory(prefix="fathom-replies-") as scratch:
        root = Path(scratch) / task.id
        root.mkdir()
        for rel, text in project_texts(task.before).items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
        try:
            selection = LineRange(task.start - 1, task.end)
            apply_reply(reply, root, default_path=task.target, selection=selection)
            error = None
        except EditError as exc:
            error = str(exc)
        return project_texts(root), error


def aider_results(cases: list[dict[str, Any]], python: str) -> tuple[str, dict[str, Any]]:
    done = subprocess.run(
        [python, str(HERE / "aider_editblock.py")],
        input="".join(json.dumps(case) + "\n" for case in cases),
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return lines[0]["aider-chat"], {row["id"]: row for row in lines[1:]}


def state_key(texts: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(texts, sort_keys=True).encode()).hexdigest()


class TestRuns:
    """The hidden tests on a project state, each distinct state once."""

    def __init__(self) -> None:
        self.seen: dict[str, bool] = {}

    def passes(self, task: Task, texts: dict[str, str]) -> bool:
        key = f"{task.id}:{state_key(texts)}"
        if key not in self.seen:
            with tempfile.TemporaryDirectory(prefix="fathom-replies-tests-") as scratch:
                root = Path(scratch) / task.id
                for rel, text in texts.items():
                    (root / rel).parent.mkdir(parents=True, exist_ok=True)
                    (root / rel).write_text(text)
                add_tests(task, root)
                ran = run_command(task.test_command, root, task.test_timeout_s)
                self.seen[key] = ran.exit_code == 0
        return self.seen[key]


def outcome(before: dict[str, str], after: dict[str, str], error: str | None) -> str:
    if after == before:
        return "refused"
    return "partial" if error else "applied"


def first_replies(evals: list[Path]) -> list[tuple[str, str, str, str]]:
    """(run label, task id, first reply, Aider's format for it) of every task that has one.

    Aider's applier follows what the model was asked for: its search/replace coder for
    search/replace replies, its udiff coder for the diffs of the other formats.
    """
    found = []
    for path in evals:
        record = json.loads(path.read_text())
        aider_format = "editblock" if record.get("edit_format") == "search-replace" else "udiff"
        for row in record["tasks"]:
            if row.get("replies"):
                found.append((record["name"], row["id"], row["replies"][0], aider_format))
    return found


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    total = len(rows)
    summary: dict[str, Any] = {"replies": total}
    for side in ("fathom", "aider"):
        for kind in ("applied", "refused", "partial"):
            summary[f"{side}_{kind}"] = sum(r[f"{side}_outcome"] == kind for r in rows)
        summary[f"{side}_tests_pass"] = sum(r[f"{side}_passes"] for r in rows)
    summary["same_result"] = sum(r["same_result"] for r in rows)
    return summary


def _short(message: str, chars: int = 110) -> str:
    flat = " ".join(message.split()).replace("|", "\\|")
    return flat if len(flat) <= chars else flat[: chars - 1] + "…"


def markdown(record: dict[str, Any]) -> str:
    s = record["summary"]
    used = Counter(r.get("aider_coder", "editblock") for r in record["rows"])
    coders = ", ".join(f"{name} {count}" for name, count in sorted(used.items()))
    lines = [
        f"# {record['name']}",
        "",
        f"{record['date']} · {record['machine']['cpu']}, {record['machine']['cores']} cores · "
        f"fathom-lsp {record['versions'].get('fathom-lsp')} at "
        f"{(record['versions'].get('fathom_commit') or '?')[:10]}"
        f"{' (with uncommitted changes)' if record['versions'].get('fathom_tree_dirty') else ''}, "
        f"aider-chat {record['aider_chat']} · "
        f"replies from {', '.join(record['evals'])}",
        "",
        "Each task's first reply, applied to its `before/` project by Fathom (`fathom apply`'s",
        "machinery, the selected file as the default) and by Aider's coder for the format the",
        "model was asked for (search/replace replies: its search/replace coder, every project",
        "file in the chat; diffs: its udiff coder), then judged by the task's hidden tests.",
        f"Aider's coders: {coders}.",
        "",
        "| replies from | applier | replies | applied | refused | partial | hidden tests pass |",
        "|---|---|---|---|---|---|---|",
    ]
    runs = list(dict.fromkeys(r["run"] for r in record["rows"]))
    by_run = [(run, summarize([r for r in record["rows"] if r["run"] == run])) for run in runs]
    for run, summary in [*by_run, *([("all", s)] if len(runs) > 1 else [])]:
        for side, name in (("fathom", "Fathom"), ("aider", "Aider")):
            lines.append(
                f"| {run} | {name} | {summary['replies']} | {summary[f'{side}_applied']} | "
                f"{summary[f'{side}_refused']} | {summary[f'{side}_partial']} | "
                f"{summary[f'{side}_tests_pass']} |"
            )
    lines += [
        "",
        f"Both left the same files: {s['same_result']} of {s['replies']}.",
        "",
        "| run | task | Fathom | tests | Aider | tests | same files | Fathom's refusal / Aider's error |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in record["rows"]:
        why = " / ".join(
            f"{name}: {_short(r[key])}"
            for name, key in (("Fathom", "fathom_error"), ("Aider", "aider_error"))
            if r[key]
        )
        lines.append(
            f"| {r['run']} | {r['task']} | {r['fathom_outcome']} | {'pass' if r['fathom_passes'] else '–'} | "
            f"{r['aider_outcome']} | {'pass' if r['aider_passes'] else '–'} | "
            f"{'yes' if r['same_result'] else 'no'} | {why} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--eval", type=Path, nargs="+", required=True, help="eval_*.json")
    parser.add_argument("--aider-python", help="python of a venv with aider-chat installed")
    parser.add_argument("--label", default="cpu-0.5b")
    args = parser.parse_args()
    tasks = {task.id: task for task in load_suite(SUITE)}
    replies = first_replies(args.eval)
    cases: list[dict[str, Any]] = [
        {
            "id": f"{run}/{task_id}",
            "files": project_texts(tasks[task_id].before),
            "chat": files_under(tasks[task_id].before),
            "reply": reply,
            "format": aider_format,
        }
        for run, task_id, reply, aider_format in replies
    ]
    commit, dirty = fathom_commit()  # before the run: what it applies with
    aider_version, aider = aider_results(cases, ensure_aider(args.aider_python))
    tests, rows = TestRuns(), []
    for (run, task_id, reply, aider_format), case in zip(replies, cases, strict=True):
        task, before = tasks[task_id], case["files"]
        fathom_texts, fathom_error = fathom_result(task, reply)
        aider_texts, aider_error = aider[case["id"]]["texts"], aider[case["id"]]["error"]
        row = {
            "run": run,
            "task": task_id,
            "aider_coder": aider_format,
            "fathom_outcome": outcome(before, fathom_texts, fathom_error),
            "fathom_error": fathom_error,
            "fathom_passes": fathom_texts != before and tests.passes(task, fathom_texts),
            "aider_outcome": outcome(before, aider_texts, aider_error),
            "aider_error": aider_error,
            "aider_passes": aider_texts != before and tests.passes(task, aider_texts),
            "same_result": fathom_texts == aider_texts,
        }
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if not k.endswith("_error")}), flush=True)
    record = {
        "name": f"real_replies_{args.label}",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        # Fathom's applier is this checkout's: its commit says which one was measured.
        "versions": {
            "fathom_commit": commit,
            "fathom_tree_dirty": dirty,
            **versions("fathom-lsp"),
        },
        "aider_chat": aider_version,
        "evals": [p.name for p in args.eval],
        "summary": summarize(rows),
        "rows": rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{record['name']}.json").write_text(json.dumps(record, indent=2) + "\n")
    text = markdown(record)
    (RESULTS / f"{record['name']}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
