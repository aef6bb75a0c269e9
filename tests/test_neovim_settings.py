"""The Neovim plugin's settings reach the server as a JSON object, on Neovim 0.7.2 and 0.12,
also when the user sets none (an empty Lua table is encoded as [], which the server refuses:
"the Fathom settings must be an object, not list"). Model-free: the plugin starts
tests/nvim/settings_probe.py, a stand-in server that records what it was sent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_neovim_plugin import _binary  # the binary of each Neovim version under test

REPO = Path(__file__).resolve().parents[1]
PLUGIN = REPO / "editors" / "neovim"
PROBE = REPO / "tests" / "nvim" / "settings_probe.py"


def _sent(version: str, settings_lua: str, tmp_path: Path) -> dict:
    out = tmp_path / "seen.json"
    (tmp_path / "a.py").write_text("x = 1\n")
    setup = (
        f"require('fathom').setup({{ cmd = {{ {json.dumps(sys.executable)}, "
        f"{json.dumps(str(PROBE))}, {json.dumps(str(out))} }}, settings = {settings_lua} }})"
    )
    wait = f"vim.wait(20000, function() return vim.loop.fs_stat({json.dumps(str(out))}) end, 50)"
    command = [
        _binary(version),
        "--headless",
        "-u",
        "NONE",
        "-i",
        "NONE",
        "-n",
        "--cmd",
        f"set runtimepath^={PLUGIN}",
        "-c",
        f"lua {setup}",
        "-c",
        "edit a.py",
        "-c",
        f"lua {wait}",
        "-c",
        "qall!",
    ]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path)}
    subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, timeout=60)
    assert out.exists(), "the stand-in server got no answer to workspace/configuration"
    return json.loads(out.read_text())


@pytest.mark.parametrize("version", ["0.7", "0.12"], ids=lambda v: f"nvim-{v}")
def test_no_settings_are_sent_as_an_empty_object(version: str, tmp_path: Path):
    seen = _sent(version, "nil", tmp_path)
    assert seen["initializationOptions"] == {}
    assert seen["configuration"] == [{}]


@pytest.mark.parametrize("version", ["0.7", "0.12"], ids=lambda v: f"nvim-{v}")
def test_settings_are_sent_as_given(version: str, tmp_path: Path):
    seen = _sent(version, "{ reviewSeverity = 'warning' }", tmp_path)
    assert seen["initializationOptions"] == {"reviewSeverity": "warning"}
    assert seen["configuration"] == [{"reviewSeverity": "warning"}]
