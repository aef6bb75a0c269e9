"""The fathom command: argument errors, headless edit, and the demo with the real model."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fathom.cli.main import build_parser


def _fathom(*args: str, cwd: Path | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fathom.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
    )


@pytest.mark.parametrize("bad", ["x", "5:2", "0:3", "1:b"])
def test_bad_range_is_a_usage_error(bad, capsys):
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["edit", "f.py", "--range", bad, "--instruction", "x"])
    assert exited.value.code == 2
    assert "--range" in capsys.readouterr().err


def test_edit_of_a_missing_file_says_so(tmp_path):
    done = _fathom("edit", str(tmp_path / "nope.py"), "--range", "1:2", "--instruction", "x")
    assert done.returncode == 2
    assert "cannot be read" in done.stderr
    assert "Starting the engine" not in done.stderr  # said before any engine was started


def test_edit_with_a_missing_model_folder_says_what_to_do(sample_project):
    done = _fathom(
        "edit",
        str(sample_project / "shop/report.py"),
        "--range",
        "4:8",
        "--instruction",
        "Rename it",
        "--model",
        str(sample_project / "no-model"),
    )
    assert done.returncode == 3  # the engine failed (1 is a refused edit; see fathom edit -h)
    assert "does not exist" in done.stderr


@pytest.mark.model
def test_demo_prints_a_real_diff_that_applies_and_parses():
    done = _fathom("demo")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("--- a/shop/report.py\n+++ b/shop/report.py\n@@ ")
    assert "\n+" in done.stdout and "\n-" in done.stdout
    assert "Applied to shop/report.py (parses)" in done.stderr
    assert "Starting the engine" in done.stderr  # the progress line while the engine starts
    # ... and the steps vLLM's own processes logged on the way (engine_start_steps.py)
    assert "Loading the weights" in done.stderr
    assert "Engine ready (its set-up after loading took" in done.stderr


def test_index_prints_counts_and_reuses_its_cache_on_the_next_run(
    sample_project, tmp_path, tokenizer_dir
):
    # The index goes to a private cache; the model folder is named explicitly.
    env = {**os.environ, "FATHOM_CACHE_DIR": str(tmp_path / "cache")}
    run = [
        sys.executable,
        "-m",
        "fathom.cli",
        "index",
        str(sample_project),
        "--model",
        str(tokenizer_dir),
    ]
    first = subprocess.run(run, capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("3 files, 3 chunks, ")
    assert "3 indexed" in first.stdout and "0 from the cache" in first.stdout
    second = subprocess.run(run, capture_output=True, text=True, env=env, timeout=300)
    assert "0 indexed" in second.stdout and "3 from the cache" in second.stdout


def test_context_prints_sections_with_token_counts(sample_project, tmp_path, tokenizer_dir):
    env = {**os.environ, "FATHOM_CACHE_DIR": str(tmp_path / "cache")}
    run = [
        sys.executable,
        "-m",
        "fathom.cli",
        "context",
        f"{sample_project / 'shop/report.py'}:5",
        "use sum",
        "--root",
        str(sample_project),
        "--model",
        str(tokenizer_dir),
        "--budget",
        "3000",
    ]
    done = subprocess.run(run, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1].startswith("budget 3000 tokens, used ")
    assert "repository map" in lines[2]
    assert any("ranked chunk" in ln and "shop/models.py" in ln for ln in lines)
    assert "target file" in lines[-2] and "selection" in lines[-1]
    bad = subprocess.run([*run[:4], "shop/report.py", "x"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and "PATH:LINE" in bad.stderr
