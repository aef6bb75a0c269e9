"""Installing Fathom adds one top-level name to an environment, ``fathom``; nothing generic
(``context``, ``edits``, ``backend``) that another project could collide with."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_wheel_holds_only_the_fathom_package(tmp_path):
    # Built from a copy of the tracked files, so no build/ folder of the checkout's (which
    # setuptools would reuse) decides what goes in.
    source = tmp_path / "src"
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, tracked.split("\0")):
        if name.startswith(("bench/", "tests/", "editors/")):
            continue
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (REPO / name).is_symlink():
            target.symlink_to((REPO / name).readlink())
        else:
            target.write_bytes((REPO / name).read_bytes())
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(wheels),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = wheels.glob("fathom_lsp-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"fathom"}
    # Every room is in it, as real files (the links in fathom/ are followed).
    for room in ("backend", "cli", "context", "edits", "lsp_server", "pipeline"):
        assert f"fathom/{room}/__init__.py" in names
    assert "fathom/errors.py" in names and "fathom/cli/demo_project/shop/report.py" in names
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "fathom = fathom.cli.main:main" in zipfile.ZipFile(wheel).read(entry).decode()
