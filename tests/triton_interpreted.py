"""Runs a script of Triton kernels under Triton's interpreter, in a process of its own.

``TRITON_INTERPRET=1`` must be set before a kernel is defined, so not inside the pytest
process; the script prints one JSON line last, which is returned.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def run_interpreted(script: str, **env: str) -> dict[str, Any]:
    """The JSON the script ``tests/<script>`` printed last, with ``env`` added."""
    done = subprocess.run(
        [sys.executable, str(HERE / script)],
        capture_output=True,
        text=True,
        env={**os.environ, "TRITON_INTERPRET": "1", "PYTHONPATH": str(HERE.parent), **env},
        cwd=HERE.parent,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
