"""One task through Fathom as a user runs it: the project copied into a fresh git repository,
``fathom edit TARGET --range L1:L2 --instruction ... --apply`` run there, then the hidden
tests copied in and run. What comes back is one row of the results."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from bench.eval.suite_io import Task, add_tests, copy_into, run_command

# An added block of this many lines seen this many times over is a repetition loop (issue 21
# saw one block repeated 20 to 57 times); legitimate edits in this suite repeat nothing thrice.
LOOP_WINDOW = 3
LOOP_REPEATS = 5
# ``fathom edit`` says why it made no edit on a line of its own (pipeline/headless.py).
REFUSAL = re.compile(r"^fathom: (?:no edit|not applied)?:?\s*(.+)$", re.MULTILINE)
# ``fathom edit`` ends an engine failure (backend/: the server unreachable, the engine not
# starting, no such model) as it ends a refused reply, exit 1 and "no edit: ...". Those are no
# verdict on the model's reply, so they are told apart by their wording and not counted as
# well-formed refusals (none of the edit errors in edits/ uses these words).
ENGINE_FAILURE = re.compile(
    r"model server|vLLM|\bengine\b|model folder|not reachable|chat template|did not answer",
    re.IGNORECASE,
)

# Its progress lines (pipeline/headless.py) time the engine's start and the model's writing.
PHASES = {
    "engine_start_s": re.compile(r"Starting the engine… done in ([0-9.]+) s"),
    "writing_s": re.compile(r"The model is writing the edit… done in ([0-9.]+) s"),
}


def phase_seconds(stderr: str) -> dict[str, float | None]:
    """How long ``fathom edit`` says the engine took to start and the model to write (None
    where it does not say)."""
    found = {name: pattern.findall(stderr) for name, pattern in PHASES.items()}
    return {name: float(hits[-1]) if hits else None for name, hits in found.items()}


def fathom_command(task: Task, fathom: list[str], engine_args: list[str]) -> list[str]:
    """The command line a user types to make this task's edit."""
    return [
        *fathom,
        "edit",
        task.target,
        "--range",
        f"{task.start}:{task.end}",
        "--instruction",
        task.instruction,
        "--apply",
        *engine_args,
    ]


def _git(workspace: Path, *args: str) -> str:
    ident = ["-c", "user.name=fathom-eval", "-c", "user.email=eval@localhost"]
    return subprocess.run(
        ["git", *ident, *args], cwd=workspace, check=True, capture_output=True, text=True
    ).stdout


def make_repository(task: Task, workspace: Path) -> None:
    """``before/`` as a committed git repository: Fathom finds the root and the files as in
    a user's checkout, and ``git diff`` says what the edit did."""
    copy_into(task.before, workspace)
    _git(workspace, "init", "-q", "-b", "main")
    _git(workspace, "add", "-A")
    _git(workspace, "commit", "-q", "-m", "before")


def _changes(workspace: Path) -> tuple[list[str], str]:
    """(changed paths, unified diff) since the commit, new and deleted files included."""
    _git(workspace, "add", "-A")
    names = _git(workspace, "diff", "--cached", "--name-only").split()
    return names, _git(workspace, "diff", "--cached", "--no-color")


def diff_figures(diff: str) -> dict[str, Any]:
    """Lines added and removed, and whether the added lines hold a repetition loop."""
    lines = diff.splitlines()
    added = [line[1:] for line in lines if line.startswith("+") and not line.startswith("+++")]
    removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    body = [line.strip() for line in added if line.strip()]
    windows = Counter(tuple(body[i : i + LOOP_WINDOW]) for i in range(len(body) - LOOP_WINDOW + 1))
    repeats = max(windows.values(), default=0)
    return {
        "added_lines": len(added),
        "removed_lines": removed,
        "max_block_repeats": repeats,
        "degenerate": repeats >= LOOP_REPEATS,
    }


def classify(exit_code: int | None, changed: list[str], stderr: str) -> tuple[str, str]:
    """(outcome, Fathom's own message). Outcomes: ``applied`` (exit 0, files changed),
    ``refused`` (a ``fathom:`` error, exit 1 or 2, nothing written: well-formed),
    ``unchanged`` (exit 0 and nothing changed), ``engine_error`` (the engine failed: no
    reply to judge), ``timeout``, ``crashed`` (anything else: a traceback, a usage error,
    files written despite an error)."""
    refusal = REFUSAL.findall(stderr)
    message = refusal[-1].strip() if refusal else ""
    if exit_code is None:
        return "timeout", ""
    if exit_code == 0:
        return ("applied", message) if changed else ("unchanged", message)
    if exit_code in (1, 2) and not changed and refusal and "Traceback" not in stderr:
        return ("engine_error" if ENGINE_FAILURE.search(message) else "refused"), message
    lines = [line for line in stderr.splitlines() if line.strip()]
    return "crashed", (lines[-1] if lines else f"exit {exit_code}")


def run_task(
    task: Task, fathom: list[str], engine_args: list[str], edit_timeout_s: float
) -> dict[str, Any]:
    """Make the task's edit with Fathom and run its hidden tests; the row of results."""
    scratch = Path(tempfile.mkdtemp(prefix=f"fathom-eval-{task.id}-"))
    try:
        workspace = scratch / task.id
        make_repository(task, workspace)
        edit = run_command(fathom_command(task, fathom, engine_args), workspace, edit_timeout_s)
        changed, diff = _changes(workspace)
        outcome, message = classify(edit.exit_code, changed, edit.stderr)
        row: dict[str, Any] = {
            "id": task.id,
            "language": task.language,
            "multi_file": task.multi_file,
            "outcome": outcome,
            "applied": outcome == "applied",
            "well_formed": outcome in ("applied", "refused"),
            "fathom_exit": edit.exit_code,
            "message": message,
            "files_changed": changed,
            "reference_files": list(task.changes),
            "all_reference_files_changed": set(task.changes) <= set(changed),
            # ``fathom edit`` prints the diff and says where it wrote; it does not report
            # rounds or tokens, so these stay null until it does.
            "rounds": None,
            "tokens": None,
            "edit_s": round(edit.seconds, 1),
            **phase_seconds(edit.stderr),
            **diff_figures(diff),
            "diff": diff,
            "stderr_tail": edit.stderr[-2000:],
            "passed": False,
            "test_s": None,
            "test_tail": "",
        }
        if changed:
            # Tests are run only on a changed project: on before/ they fail by construction
            # (the self-check sees to it).
            add_tests(task, workspace)
            tests = run_command(task.test_command, workspace, task.test_timeout_s)
            row.update(
                passed=tests.exit_code == 0,
                test_s=round(tests.seconds, 1),
                test_tail="" if tests.exit_code == 0 else tests.tail(1500),
            )
        return row
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
