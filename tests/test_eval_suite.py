"""The edit evaluation's self-check (bench/eval/run_eval.py --check-references) on a few
tasks: each task's hidden tests fail on the project as given and pass with the reference
solution; and a task that breaks either rule is named and fails the check. The harness runs
as a program (tests never import bench/); Rust and Java tasks are left to the full check,
since a CI machine may lack their toolchains. No model is involved."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HARNESS = ROOT / "bench" / "eval" / "run_eval.py"
SUITE = ROOT / "bench" / "eval" / "suite"
# Two Python and two JavaScript tasks, and a multi-file one (a rename across two modules).
CI_TASKS = [
    "py-roman-subtractive",
    "py-withdraw-overdraft",
    "js-paginate",
    "js-escape-html",
    "py-rename-quantity",
]
ROMAN = "py-roman-subtractive"
ROMAN_FILE = "numerals/roman.py"


def check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HARNESS), "--check-references", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_ci_tasks_fail_before_and_pass_with_their_reference():
    done = check("--tasks", ",".join(CI_TASKS))
    assert done.returncode == 0, done.stdout + done.stderr
    for task in CI_TASKS:
        assert f"ok   {task}" in done.stdout
    assert f"{len(CI_TASKS)} of {len(CI_TASKS)} tasks" in done.stdout


def _copy_task(tmp_path: Path) -> Path:
    suite = tmp_path / "suite"
    shutil.copytree(SUITE / ROMAN, suite / ROMAN)
    return suite


def test_a_wrong_reference_fails_the_check_and_is_named(tmp_path: Path):
    suite = _copy_task(tmp_path)
    reference = suite / ROMAN / "reference" / ROMAN_FILE
    text = reference.read_text()
    assert '(4, "IV")' in text
    reference.write_text(text.replace('(4, "IV")', '(4, "IIII")'))
    done = check("--suite", str(suite))
    assert done.returncode == 1
    assert f"FAIL {ROMAN}: its hidden tests fail with reference/" in done.stdout
    assert ROMAN in done.stderr


def test_a_task_that_passes_before_fails_the_check(tmp_path: Path):
    suite = _copy_task(tmp_path)
    before = suite / ROMAN / "before" / ROMAN_FILE
    # Solved already (plus a comment, so that it is not the reference byte for byte, which
    # is a problem of its own): the task asks for nothing, so it cannot measure an edit.
    solved = (suite / ROMAN / "reference" / ROMAN_FILE).read_text()
    before.write_text(solved + "\n# solved already\n")
    done = check("--suite", str(suite))
    assert done.returncode == 1
    assert f"FAIL {ROMAN}: its hidden tests pass on before/" in done.stdout


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("selection", '"30-40"', "selection 30-40 is outside 1-25"),
        ("multi_file", "true", "multi_file is True"),
    ],
)
def test_a_malformed_task_is_named(tmp_path: Path, field: str, value: str, problem: str):
    suite = _copy_task(tmp_path)
    toml = suite / ROMAN / "task.toml"
    lines = [
        f"{field} = {value}" if line.startswith(f"{field} =") else line
        for line in toml.read_text().splitlines()
    ]
    toml.write_text("\n".join(lines) + "\n")
    done = check("--suite", str(suite))
    assert done.returncode == 1
    assert f"FAIL {ROMAN}: " in done.stdout
    assert problem in done.stdout
