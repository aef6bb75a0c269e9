"""scripts/system-packages.sh: installs missing system packages only as root; otherwise it
names them and the command, and never escalates by itself."""

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "system-packages.sh"


# What each checked command stands for, as the script installs it.
PACKAGES = {
    "nvim": "neovim",
    "chromium": "chromium",
    "krb5-config": "libkrb5-dev",
    "g++": "build-essential",
}
ALL = " ".join(PACKAGES.values())


def fake_bin(tmp_path: Path, uid: int, nvim: bool) -> Path:
    """A PATH holding only an ``id`` that reports ``uid``, recorders for sudo and apt-get, and
    (``nvim``) every command the script checks for."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tools = {"id": f'[ "$1" = -u ] && echo {uid}'}
    for name in ("sudo", "apt-get"):
        tools[name] = f'echo "{name} $*" >> {tmp_path / "calls"}'
    if nvim:
        tools.update(dict.fromkeys(PACKAGES, "exit 0"))
    for name, body in tools.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    return bin_dir


def run(tmp_path: Path, uid: int, nvim: bool) -> subprocess.CompletedProcess[str]:
    bash = shutil.which("bash")
    assert bash
    env = {"PATH": str(fake_bin(tmp_path, uid, nvim))}
    return subprocess.run([bash, str(SCRIPT)], env=env, capture_output=True, text=True)


def calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "calls"
    return log.read_text().splitlines() if log.exists() else []


def test_a_user_is_told_the_command_and_nothing_escalates(tmp_path: Path):
    done = run(tmp_path, uid=1000, nvim=False)
    assert done.returncode != 0
    assert "neovim" in done.stderr
    assert f"sudo apt-get install -y {ALL}" in done.stderr
    assert calls(tmp_path) == []  # neither sudo nor apt-get ran


def test_root_installs_what_is_missing(tmp_path: Path):
    done = run(tmp_path, uid=0, nvim=False)
    assert done.returncode == 0, done.stderr
    assert calls(tmp_path) == [f"apt-get install -y -q {ALL}"]


@pytest.mark.parametrize("uid", [0, 1000])
def test_nothing_happens_when_nothing_is_missing(tmp_path: Path, uid: int):
    done = run(tmp_path, uid=uid, nvim=True)
    assert done.returncode == 0, done.stderr
    assert calls(tmp_path) == []
