"""The edit evaluation (bench/eval/run_eval.py), run as a program (tests never import
bench/), with no model.

The self-check on a few tasks: each task's hidden tests fail on the project as given and pass
with the reference solution, and a task that breaks either rule is named and fails the check.
Rust and Java tasks are left to the full check, since a CI machine may lack their toolchains.
Then the edit run with a stand-in for ``fathom``: the command line it is given, and how an
edit that solves the task, a refusal, a repetition loop and a crash are counted."""

from __future__ import annotations

import json
import os
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


# -- the edit run, with a stand-in for `fathom` (no model) -----------------------------------

FAKE_FATHOM = """#!{python}
import json, os, shutil, sys
from pathlib import Path

# What the harness typed, for the test to read.
Path(os.environ["FAKE_ARGV"]).write_text(json.dumps(sys.argv[1:]))
mode = os.environ["FAKE_FATHOM"]
if mode == "reference":
    shutil.copytree(os.environ["FAKE_REFERENCE"], ".", dirs_exist_ok=True)
elif mode == "refuse":
    print("fathom: no edit: the reply holds no hunk", file=sys.stderr)
    sys.exit(1)
elif mode == "loop":
    target = Path(sys.argv[2])
    target.write_text(target.read_text() + "# again\\nx = 1\\ny = 2\\n" * 8)
elif mode == "traceback":
    raise RuntimeError("boom")
"""


def run_with_fake_fathom(tmp_path: Path, mode: str) -> dict:
    fake = tmp_path / "fathom"
    fake.write_text(FAKE_FATHOM.format(python=sys.executable))
    fake.chmod(0o755)
    env = {
        **os.environ,
        "FAKE_FATHOM": mode,
        "FAKE_ARGV": str(tmp_path / "argv.json"),
        "FAKE_REFERENCE": str(SUITE / ROMAN / "reference"),
    }
    options = ["--fathom", str(fake), "--model", "/models/m", "--label", mode]
    done = subprocess.run(
        [
            sys.executable,
            str(HARNESS),
            "--tasks",
            ROMAN,
            *options,
            "--out",
            str(tmp_path / "results"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    record = json.loads((tmp_path / "results" / f"eval_{mode}.json").read_text())
    assert (tmp_path / "results" / f"eval_{mode}.md").is_file()
    argv = json.loads((tmp_path / "argv.json").read_text())
    assert argv == [
        "edit",
        ROMAN_FILE,
        "--range",
        "7:13",
        "--instruction",
        argv[5],
        "--apply",
        "--model",
        "/models/m",
    ]
    assert "subtractive notation" in argv[5]
    assert [t["id"] for t in record["tasks"]] == [ROMAN]
    return record


def test_an_edit_that_solves_the_task_is_applied_and_passes(tmp_path: Path):
    record = run_with_fake_fathom(tmp_path, "reference")
    (task,) = record["tasks"]
    assert (task["outcome"], task["passed"], task["files_changed"]) == (
        "applied",
        True,
        [ROMAN_FILE],
    )
    assert task["all_reference_files_changed"] and not task["degenerate"]
    summary = record["summary"]["all"]
    assert (summary["pass_rate"], summary["applied_rate"], summary["well_formed_rate"]) == (
        100.0,
        100.0,
        100.0,
    )


def test_a_refusal_is_well_formed_and_fails(tmp_path: Path):
    (task,) = run_with_fake_fathom(tmp_path, "refuse")["tasks"]
    assert (task["outcome"], task["well_formed"], task["passed"]) == ("refused", True, False)
    assert task["message"] == "the reply holds no hunk"
    assert task["files_changed"] == []


def test_a_repetition_loop_is_marked_degenerate(tmp_path: Path):
    record = run_with_fake_fathom(tmp_path, "loop")
    (task,) = record["tasks"]
    assert (task["outcome"], task["degenerate"], task["passed"]) == ("applied", True, False)
    assert task["max_block_repeats"] >= 5
    assert record["summary"]["all"]["degenerate_applied"] == 1


def test_a_traceback_is_a_crash_not_well_formed(tmp_path: Path):
    (task,) = run_with_fake_fathom(tmp_path, "traceback")["tasks"]
    assert (task["outcome"], task["well_formed"]) == ("crashed", False)
    assert "RuntimeError: boom" in task["message"]
