"""Symlink loops in a workspace (``a.py -> b.py -> a.py``, a folder linked to itself) never
crash the command line: ``fathom edit`` of a file importing a looped module edits it, and
``fathom context`` shows what it can, or says clearly why it cannot, without a traceback.

The real CLI runs in a subprocess against a loopback OpenAI-compatible stub
(tests/openai_stub.py), with the committed tokenizer (no model) and its own cache dir.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.openai_stub import StubServer, serve_stub, sse_reply

MAIN = "import helper\nfrom pkg import thing\n\n\ndef total(values):\n    return sum(values)\n"
# What the model writes after the prefix Fathom gave it (the fence and the first "-").
REPLY = "def total(values):\n-    return sum(values)\n+def total(values):\n+    return sum(values, 0)\n```\n"  # noqa: E501


@pytest.fixture
def looped(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / ".git").mkdir()
    (root / "main.py").write_text(MAIN)
    (root / "helper.py").symlink_to("loop.py")  # helper.py -> loop.py -> helper.py
    (root / "loop.py").symlink_to("helper.py")
    (root / "pkg").symlink_to("pkg")  # a folder that is itself
    return root


@pytest.fixture
def model_server() -> Iterator[StubServer]:
    gen = serve_stub(max_model_len=32768)
    stub = next(gen)
    stub.on("/v1/chat/completions", sse_reply([REPLY]))
    yield stub
    next(gen, None)


def _fathom(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FATHOM_CACHE_DIR": str(tmp_path / "cache")}
    return subprocess.run(
        [sys.executable, "-m", "fathom.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_fathom_edit_of_a_file_importing_a_looped_module_edits_it(
    looped: Path, model_server: StubServer, tokenizer_dir: Path, tmp_path: Path
):
    done = _fathom(
        tmp_path,
        "edit",
        str(looped / "main.py"),
        "--range",
        "6:6",
        "--instruction",
        "Start the sum at 0.",
        "--apply",
        "--server-url",
        model_server.url,
        "--server-tokenizer",
        str(tokenizer_dir),
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stderr
    assert "sum(values, 0)" in (looped / "main.py").read_text()
    assert (looped / "helper.py").is_symlink() and (looped / "pkg").is_symlink()


def test_fathom_context_of_a_file_importing_a_looped_module_shows_the_file(
    looped: Path, tokenizer_dir: Path, tmp_path: Path
):
    done = _fathom(
        tmp_path, "context", f"{looped / 'main.py'}:6", "x", "--model", str(tokenizer_dir)
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stderr
    assert "target file     main.py" in done.stdout
    assert "helper.py" not in done.stdout and "loop.py" not in done.stdout


@pytest.mark.parametrize("target", ["loop.py", "pkg/mod.py"])
def test_fathom_context_of_a_looped_path_says_why_it_cannot(
    looped: Path, tokenizer_dir: Path, tmp_path: Path, target: str
):
    done = _fathom(tmp_path, "context", f"{looped / target}:1", "x", "--model", str(tokenizer_dir))
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2
    assert "symlink loop" in done.stderr.lower()
    assert target.split("/")[0] in done.stderr


def test_fathom_edit_of_a_looped_path_says_why_it_cannot(
    looped: Path, model_server: StubServer, tokenizer_dir: Path, tmp_path: Path
):
    done = _fathom(
        tmp_path,
        "edit",
        str(looped / "loop.py"),
        "--range",
        "1:1",
        "--instruction",
        "x",
        "--server-url",
        model_server.url,
        "--server-tokenizer",
        str(tokenizer_dir),
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2
    assert "symlink loop" in done.stderr.lower()
    assert model_server.requests("/v1/chat/completions") == []
