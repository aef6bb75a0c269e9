"""``report.py --join``: a run stopped for time and continued on the tasks it had not reached
becomes one record, its figures recomputed over every part's tasks; parts that ran other
settings or code, or the same task twice, are refused. Run as a program (tests never import
bench/), on records the harness wrote with its stand-in ``fathom``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.test_eval_suite import ROMAN, ROOT, harness_command, stand_in

REPORT = ROOT / "bench" / "eval" / "report.py"
WITHDRAW = "py-withdraw-overdraft"


def part(tmp_path: Path, task: str, mode: str, *options: str) -> Path:
    """The record of a one-task run; marked clean, as a run at a commit is (this checkout may
    have uncommitted changes, and a part that ran with them is refused: see below)."""
    fake, env = stand_in(tmp_path / task, mode)
    out = tmp_path / task / "results"
    done = subprocess.run(
        harness_command(fake, task, "part", out, *options),
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    path = out / "eval_part.json"
    record = json.loads(path.read_text())
    record["versions"]["fathom_tree_dirty"] = False
    path.write_text(json.dumps(record))
    return path


def join(tmp_path: Path, *parts: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(REPORT), "--join", *map(str, parts)]
    return subprocess.run(
        [*command, "--label", "joined", "--out", str(tmp_path / "joined")],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_parts_join_into_one_run_and_mismatches_are_refused(tmp_path: Path):
    first, second = part(tmp_path, ROMAN, "reference"), part(tmp_path, WITHDRAW, "refuse")
    done = join(tmp_path, first, second)
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "joined" / "eval_joined.json").read_text())
    assert [t["id"] for t in record["tasks"]] == [ROMAN, WITHDRAW]
    everything = record["summary"]["all"]
    assert (everything["tasks"], everything["passed"], everything["refused"]) == (2, 1, 1)
    assert [p["tasks"] for p in record["parts"]] == [1, 1]
    assert (
        "Run in 2 parts at the same commit" in (tmp_path / "joined" / "eval_joined.md").read_text()
    )

    twice = join(tmp_path, first, first)
    assert twice.returncode == 2 and f"tasks in more than one part: {ROMAN}" in twice.stderr

    other = part(tmp_path / "other", WITHDRAW, "refuse", "--edit-format", "search-replace")
    differing = join(tmp_path, first, other)
    assert differing.returncode == 2 and "in edit_format" in differing.stderr

    dirty = json.loads(second.read_text())
    dirty["versions"]["fathom_tree_dirty"] = True
    second.write_text(json.dumps(dirty))
    refused = join(tmp_path, first, second)
    assert refused.returncode == 2 and "uncommitted changes" in refused.stderr
