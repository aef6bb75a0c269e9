"""Fixtures every test shares, and the rules they keep:

- Each test runs with its own Fathom cache dir (``FATHOM_CACHE_DIR``, inherited by the servers
  it starts; servers shared by a module or the session get the session's): no test reads or
  writes the user's ``~/.cache/fathom`` (nor vLLM's ``~/.cache/vllm``) or another test's index
  or journal. Converted models are the one thing shared: ``<cache>/models`` links to the
  checkout's ``.test-cache/models`` (git-ignored), so the default model is converted once
  (under a lock: the two workers may both ask first).
- Plumbing tests count tokens with the real model's tokenizer, committed in
  ``tests/data/qwen2.5-coder-tokenizer`` (Apache-2.0, as the model), and need no model. A
  test that uses the model itself (the ``model_dir`` fixture) is marked ``model``, so
  ``pytest -m "not model"`` is fast and model-free.
"""

from __future__ import annotations

import lzma
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.openai_stub import StubServer, serve_stub

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "cli" / "demo_project"
TOKENIZER = Path(__file__).resolve().parent / "data" / "qwen2.5-coder-tokenizer"
TEST_CACHE = REPO / ".test-cache"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "model_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.model)
    # The suite runs on two pytest-xdist workers, a module's tests on one (``--dist loadscope``
    # in pyproject.toml), so a module-scoped engine or editor starts once. The modules that
    # start the real model come first, in their order: the long ones start early instead of
    # leaving one worker alone at the end.
    with_model = {item.module for item in items if item.get_closest_marker("model")}
    items.sort(key=lambda item: item.module not in with_model)  # stable: order kept within


@pytest.fixture(scope="session", autouse=True)
def session_caches(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Caches for what starts before a test's own cache dir is set: a module- or
    session-scoped server inherits this environment, not the user's ``~/.cache/fathom``.
    vLLM's own cache (compiled graphs, model info) goes to the checkout's test cache, one
    folder per worker, not ``~/.cache/vllm``."""
    cache = tmp_path_factory.mktemp("fathom-session-cache")
    models = TEST_CACHE / "models"
    models.mkdir(parents=True, exist_ok=True)
    (cache / "models").symlink_to(models, target_is_directory=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FATHOM_CACHE_DIR", str(cache))
        # One per pytest-xdist worker: two engines starting at once would write the same files.
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        patch.setenv("VLLM_CACHE_ROOT", str(TEST_CACHE / f"vllm-{worker}"))
        yield cache


@pytest.fixture(autouse=True)
def own_cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> Path:
    """A fresh cache dir for this test and every server it starts."""
    cache = tmp_path_factory.mktemp("fathom-cache")
    models = TEST_CACHE / "models"
    models.mkdir(parents=True, exist_ok=True)
    (cache / "models").symlink_to(models, target_is_directory=True)
    monkeypatch.setenv("FATHOM_CACHE_DIR", str(cache))
    return cache


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The real CPU default model (assembled and converted on first use into the checkout's
    test cache, then reused)."""
    from fathom.backend.default_model import ensure_default_model

    return ensure_default_model(root=TEST_CACHE)


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the default model's tokenizer, config and chat template, no weights:
    what ``--model`` needs for recorded replies and token counts."""
    folder = tmp_path_factory.mktemp("tokenizer") / "qwen2.5-coder-tokenizer"
    folder.mkdir()
    for item in TOKENIZER.iterdir():
        if item.suffix == ".xz":
            (folder / item.stem).write_bytes(lzma.decompress(item.read_bytes()))
        else:
            shutil.copy(item, folder / item.name)
    return folder


@pytest.fixture(scope="session")
def tokenizer(tokenizer_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tokenizer_dir)


@pytest.fixture(scope="session")
def counter(tokenizer_dir: Path):
    """The real model's token counter, as context/ uses it."""
    from fathom.backend.tokenizer import HFTokenCounter

    return HFTokenCounter.from_model(str(tokenizer_dir))


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
