"""Packages the VS Code extension for a test, one packaging at a time.

``npm run package`` writes ``editors/vscode/dist/`` (the bundle, then the ``.vsix``), and two
test modules package it, possibly at once on two pytest-xdist workers: each holds a lock
beside ``dist/`` while it packages and copies the ``.vsix`` out, so neither reads a file the
other is still writing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from filelock import FileLock

EXTENSION = Path(__file__).resolve().parents[1] / "editors" / "vscode"


def package_vsix(into: Path) -> Path:
    """A fresh ``.vsix`` of the extension, copied to ``into``; fails with npm's output."""
    (EXTENSION / "dist").mkdir(exist_ok=True)
    with FileLock(EXTENSION / "dist" / ".package.lock"):
        done = subprocess.run(
            ["npm", "run", "--silent", "package"],
            cwd=EXTENSION,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"npm run package:\n{done.stdout}\n{done.stderr}"
        into.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy2(EXTENSION / "dist" / "fathom.vsix", into / "fathom.vsix"))
