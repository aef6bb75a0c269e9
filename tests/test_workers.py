"""The suite runs on two pytest-xdist workers (pyproject.toml's ``addopts``), and a module's
tests stay on one worker (``--dist loadscope``), so a module-scoped engine or editor starts
once. The modules that start the real model come first (tests/conftest.py orders them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

MODULE = """
import json, os
from pathlib import Path

import pytest

OUT = Path({out!r})


@pytest.fixture(scope="module")
def started():
    # What a module-scoped engine start would be: counted once per worker that runs it.
    with (OUT / "starts").open("a") as f:
        f.write(__name__ + "\\n")


@pytest.mark.parametrize("n", range(4))
def test_one(started, n):
    with (OUT / "ran").open("a") as f:
        f.write(json.dumps([__name__, os.environ["PYTEST_XDIST_WORKER"]]) + "\\n")
"""


def _suite(tmp_path: Path, *args: str) -> str:
    """Runs the repository's pytest settings and conftest on three small modules, the third
    marked ``model``, and returns pytest's output."""
    suite = tmp_path / "suite"
    suite.mkdir(exist_ok=True)
    for name in ("test_first", "test_second", "test_third"):
        mark = "pytestmark = pytest.mark.model\n" if name == "test_third" else ""
        (suite / f"{name}.py").write_text(MODULE.format(out=str(tmp_path)) + mark)
    done = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-q", "-c", str(REPO / "pyproject.toml")),
            *("--rootdir", str(suite), "-p", "tests.conftest", *args, str(suite)),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_modules_with_the_model_come_first(tmp_path: Path):
    listed = _suite(tmp_path, "--collect-only", "-n", "0").splitlines()
    modules = [line.split("::")[0] for line in listed if "::" in line]
    assert list(dict.fromkeys(modules)) == ["test_third.py", "test_first.py", "test_second.py"]


def test_a_modules_tests_share_one_worker_and_one_module_fixture(tmp_path: Path):
    output = _suite(tmp_path)
    assert "12 passed" in output
    ran = [json.loads(line) for line in (tmp_path / "ran").read_text().splitlines()]
    workers = {worker for _, worker in ran}
    assert workers == {"gw0", "gw1"}  # two workers, both used
    by_module: dict[str, set[str]] = {}
    for module, worker in ran:
        by_module.setdefault(module, set()).add(worker)
    assert {m: len(w) for m, w in by_module.items()} == {
        "test_first": 1,
        "test_second": 1,
        "test_third": 1,
    }
    starts = (tmp_path / "starts").read_text().split()
    assert sorted(starts) == ["test_first", "test_second", "test_third"]
