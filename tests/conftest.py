from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.openai_stub import StubServer, serve_stub

DEMO = Path(__file__).resolve().parents[1] / "lsp_server" / "demo_project"


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The real CPU default model (assembled and converted on first use, then cached)."""
    from backend.default_model import ensure_default_model

    return ensure_default_model()


@pytest.fixture(scope="session")
def tokenizer(model_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir)


@pytest.fixture(scope="session")
def counter(model_dir: Path):
    """The real model's token counter, as context/ uses it."""
    from backend.tokenizer import HFTokenCounter

    return HFTokenCounter.from_model(str(model_dir))


@pytest.fixture
def sample_project(tmp_path: Path) -> Path:
    """A private copy of the demo project: tests may edit it."""
    target = tmp_path / "sample"
    shutil.copytree(DEMO, target)
    return target


@pytest.fixture
def stub() -> Iterator[StubServer]:
    """A real OpenAI-compatible HTTP server on loopback that answers from a script and
    records every request (tests/openai_stub.py)."""
    yield from serve_stub()
