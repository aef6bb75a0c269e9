"""One task through Fathom as a user runs it: the project copied into a fresh git repository,
``fathom edit TARGET --range L1:L2 --instruction ... --apply --json`` run there, then the
hidden tests copied in and run. What comes back is one row of the results.

The outcome is read from ``fathom edit``'s exit status (0 an edit, 1 refused, 2 a bad
request, 3 the engine failed: cli/edit.py) and what ``git diff`` says was written; rounds,
tokens and times from the JSON object ``--json`` prints (pipeline/headless.py
``edit_summary``)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from bench.eval.suite_io import Task, add_tests, cache_env, copy_into, run_command, tool_env

# An added block of this many lines seen this many times over is a repetition loop (issue 21
# saw one block repeated 20 to 57 times); legitimate edits in this suite repeat nothing thrice.
LOOP_WINDOW = 3
LOOP_REPEATS = 5
# ``fathom edit``'s exit statuses (cli/edit.py).
EXIT_EDIT, EXIT_REFUSED, EXIT_BAD_REQUEST, EXIT_ENGINE_FAILED = 0, 1, 2, 3

# The figures of ``fathom edit --json`` a row keeps (None where it does not give them: a
# refusal before any reply, a crash).
SUMMARY_FIGURES = (
    "rounds",
    "prompt_tokens",
    "completion_tokens",
    "generation_s",
    "context_s",
    "engine_start_s",
    "attempts",  # with --check: edits asked for, the first and those after a failed check
)


def edit_summary(stdout: str) -> dict[str, Any] | None:
    """The JSON object ``fathom edit --json`` printed (its last line that is one), or None:
    a traceback or a usage error prints none."""
    for line in reversed(stdout.splitlines()):
        try:
            found = json.loads(line)
        except ValueError:
            continue
        if isinstance(found, dict):
            return found
    return None


def summary_figures(summary: dict[str, Any] | None) -> dict[str, Any]:
    """Rounds, tokens and times from the edit's JSON; ``tokens`` is prompt plus completion."""
    figures = {name: (summary or {}).get(name) for name in SUMMARY_FIGURES}
    prompt, completion = figures["prompt_tokens"], figures["completion_tokens"]
    figures["tokens"] = (
        prompt + completion if prompt is not None and completion is not None else None
    )
    return figures


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
        "--json",
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


def classify(
    exit_code: int | None, changed: list[str], summary: dict[str, Any] | None, stderr: str
) -> tuple[str, str]:
    """(outcome, Fathom's own message). Outcomes: ``applied`` (exit 0, files changed),
    ``refused`` (exit 1 or 2 with its JSON, nothing written: well-formed), ``unchanged``
    (exit 0 and nothing changed), ``engine_error`` (exit 3: no reply to judge), ``timeout``,
    ``crashed`` (anything else: a traceback or a usage error, which print no JSON, or files
    written despite an error)."""
    message = str((summary or {}).get("error") or "")
    if exit_code is None:
        return "timeout", ""
    if exit_code == EXIT_EDIT:
        return ("applied", message) if changed else ("unchanged", message)
    if not changed and summary is not None:
        if exit_code == EXIT_ENGINE_FAILED:
            return "engine_error", message
        if exit_code in (EXIT_REFUSED, EXIT_BAD_REQUEST):
            return "refused", message
    lines = [line for line in stderr.splitlines() if line.strip()]
    return "crashed", (lines[-1] if lines else f"exit {exit_code}")


def run_task(
    task: Task,
    fathom: list[str],
    engine_args: list[str],
    edit_timeout_s: float,
    cache_dir: Path,
) -> dict[str, Any]:
    """Make the task's edit with Fathom (its cache in ``cache_dir``, never the user's) and
    run its hidden tests; the row of results."""
    scratch = Path(tempfile.mkdtemp(prefix=f"fathom-eval-{task.id}-"))
    try:
        workspace = scratch / task.id
        make_repository(task, workspace)
        env = {**tool_env(), **cache_env(cache_dir)}
        command = fathom_command(task, fathom, engine_args)
        edit = run_command(command, workspace, edit_timeout_s, env=env)
        changed, diff = _changes(workspace)
        summary = edit_summary(edit.stdout)
        outcome, message = classify(edit.exit_code, changed, summary, edit.stderr)
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
            "edit_s": round(edit.seconds, 1),
            **summary_figures(summary),
            **diff_figures(diff),
            "diff": diff,
            # What the model wrote, every round (fathom edit --json): the apply benchmark's
            # real replies. None from a Fathom that does not give them.
            "replies": (summary or {}).get("replies"),
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
