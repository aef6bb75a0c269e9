"""The suite's self-check: every task's hidden tests fail on ``before/`` and pass once
``reference/`` is laid over it. A task that passes before measures nothing; one whose
reference fails cannot be passed by anyone."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.eval.suite_io import Task, add_tests, copy_into, run_command, shape_problems


def _run_tests(task: Task, workspace: Path, with_reference: bool) -> tuple[bool, str]:
    """(passed, output tail) of the task's tests on ``before/`` (+ ``reference/``)."""
    copy_into(task.before, workspace)
    if with_reference:
        copy_into(task.reference, workspace)
    add_tests(task, workspace)
    result = run_command(task.test_command, workspace, task.test_timeout_s)
    if result.timed_out:
        return False, f"timed out after {task.test_timeout_s} s"
    return result.exit_code == 0, result.tail()


def check_task(task: Task) -> list[str]:
    """What is wrong with ``task`` (empty: it fails before and passes with the reference)."""
    problems = shape_problems(task)
    if problems:
        return problems
    with tempfile.TemporaryDirectory(prefix=f"fathom-eval-check-{task.id}-") as scratch:
        passed, tail = _run_tests(task, Path(scratch) / "before", with_reference=False)
        if passed:
            problems.append("its hidden tests pass on before/ (the task asks for nothing)")
        elif tail.startswith("timed out"):
            problems.append(f"its hidden tests {tail} on before/ (should fail, not hang)")
        passed, tail = _run_tests(task, Path(scratch) / "reference", with_reference=True)
        if not passed:
            problems.append(f"its hidden tests fail with reference/:\n{tail}")
    return problems


def check_references(
    tasks: list[Task], jobs: int = 1, say: Callable[[str], None] = print
) -> dict[str, list[str]]:
    """Check every task (``jobs`` at a time); say each verdict as it comes; return the
    problems of the tasks that have any, by id."""
    failed: dict[str, list[str]] = {}

    def one(task: Task) -> None:
        problems = check_task(task)
        if problems:
            failed[task.id] = problems
            say(f"FAIL {task.id}: " + "\n    ".join(problems))
        else:
            say(f"ok   {task.id}")

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(one, tasks))
    return {task.id: failed[task.id] for task in tasks if task.id in failed}
