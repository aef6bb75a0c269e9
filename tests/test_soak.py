"""A short soak in CI, 300 requests (the committed table comes from bench/soak.py's 500):
mixed edits, reviews, cancellations, typing, code actions and status against one real
server, with no error and the server alive at the end. Memory growth is measured by bench/soak.py
(a benchmark figure, not a test threshold)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SOAK = Path(__file__).resolve().parents[1] / "bench" / "soak.py"


def test_a_short_soak_has_no_errors(tmp_path: Path):
    args = ["--requests", "300", "--seed", "11", "--out", str(tmp_path)]
    done = subprocess.run([sys.executable, str(SOAK), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads((tmp_path / "soak.json").read_text())
    assert result["requests"] == 300 and result["errors"] == 0
    assert result["server_alive_at_end"] is True
    kinds = {row["kind"]: row["requests"] for row in result["by_kind"]}
    assert all(kinds[k] > 0 for k in ("edit", "review", "cancel", "typing"))
