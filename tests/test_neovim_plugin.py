"""The Neovim plugin (editors/neovim) in a headless Neovim, Debian's package (0.7.2 here),
starting the real server through the plugin with the real CPU model.

tests/nvim/scenario.lua runs :FathomEdit or :FathomReview and writes what it saw as JSON.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import orjson
import pytest

REPO = Path(__file__).resolve().parents[1]
PLUGIN = REPO / "editors" / "neovim"
SCENARIO = REPO / "tests" / "nvim" / "scenario.lua"

pytestmark = pytest.mark.model

STATS = """\
def total_price(items):
    total = 0
    for item in items:
        total += item.price * item.quantity
"""


def _run(scenario: str, project: Path, target: Path, tmp_path: Path) -> dict:
    nvim = shutil.which("nvim")
    assert nvim, "Neovim is not installed: run `bash scripts/setup.sh --test`"
    out = tmp_path / f"{scenario}.json"
    env = {
        **os.environ,
        "FATHOM_BIN": str(Path(sys.executable).with_name("fathom")),
        "FATHOM_SCENARIO": scenario,
        "FATHOM_FILE": str(target),
        "FATHOM_OUT": str(out),
        "XDG_STATE_HOME": str(tmp_path / "state"),  # Neovim's LSP log stays in the test
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    command = [
        nvim, "--headless", "-u", "NONE", "-i", "NONE", "-n",
        "--cmd", f"set runtimepath^={PLUGIN}",
        "-c", f"luafile {SCENARIO}",
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=1200
    )
    assert out.exists(), f"Neovim wrote no report (exit {done.returncode}):\n{done.stderr[-3000:]}"
    report = orjson.loads(out.read_bytes())
    assert done.returncode == 0 and report["code"] == 0, (report.get("error"), done.stderr[-3000:])
    return report


def test_fathom_edit_changes_the_buffer_as_the_edit_said(sample_project: Path, tmp_path: Path):
    target = sample_project / "shop" / "report.py"
    on_disk = target.read_text()
    report = _run("edit", sample_project, target, tmp_path)
    assert report.get("server_error") is None, report.get("server_error")
    result = report["result"]
    assert result["applied"] is True
    before, after = report["before"], report["after"]
    assert any(line.startswith("def describe_item(") for line in after)
    assert not any(line.startswith("def describe(") for line in after)
    # Exactly what the returned diff says: per line, (times now) - (times before) equals
    # (times added) - (times removed).
    diff = result["diff"].splitlines()
    added = Counter(x[1:] for x in diff if x.startswith("+") and not x.startswith("+++ "))
    removed = Counter(x[1:] for x in diff if x.startswith("-") and not x.startswith("--- "))
    now, then = Counter(after), Counter(before)
    assert added
    for line in set(now) | set(then) | set(added) | set(removed):
        assert now[line] - then[line] == added[line] - removed[line], line
    # The preview the user confirmed showed this change, computed from the same edit.
    (preview,) = report["previews"]
    (shown,) = preview["files"]
    assert shown["lines"] == after
    assert "+def describe_item(" in shown["diff"]
    # The edit is in the buffer for the user to keep or undo; the file is not saved for them.
    assert report["modified"] is True
    assert target.read_text() == on_disk
    # The statusline followed the job.
    assert any("editing report.py" in s for s in report["statuslines"]), report["statuslines"]
    assert report["statusline"] in ("Fathom: ready", "Fathom: busy")


def test_fathom_review_publishes_diagnostics(sample_project: Path, tmp_path: Path):
    target = sample_project / "shop" / "stats.py"
    target.write_text(STATS)
    report = _run("review", sample_project, target, tmp_path)
    assert report.get("server_error") is None, report.get("server_error")
    findings = report["result"]["findings"]
    assert findings, "the review found nothing"
    diagnostics = report["diagnostics"]
    assert diagnostics, "no diagnostics in Neovim"
    assert all(d["source"] == "fathom" for d in diagnostics)
    lines = {f["line"] for f in findings}
    assert {d["lnum"] for d in diagnostics} <= lines
    assert report["after"] == report["before"] == STATS.splitlines()
    assert report["statusline"] == "Fathom: ready"
