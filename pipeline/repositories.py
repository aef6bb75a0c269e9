"""Where each workspace root's index lives, and opening it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from fathom.backend.default_model import cache_root
from fathom.context.cache_db import is_unwritable
from fathom.context.index import IndexStats, RepoIndex
from fathom.context.repository import Repository
from fathom.context.tokens import TokenCounter


def index_path(root: Path) -> Path:
    """One SQLite file per root under the user's cache dir (nothing is written into the repo)."""
    key = hashlib.blake2b(str(root.resolve()).encode(), digest_size=8).hexdigest()
    return cache_root() / "index" / f"{root.name}-{key}.sqlite"


def open_index(root: Path, counter: TokenCounter, tokenizer_id: str) -> RepoIndex:
    return RepoIndex(root, counter, index_path(root), tokenizer_id=tokenizer_id)


def open_repository(root: Path, counter: TokenCounter, tokenizer_id: str) -> Repository:
    return Repository(open_index(root, counter, tokenizer_id))


def build_index(
    root: Path,
    counter: TokenCounter,
    tokenizer_id: str,
    progress: Callable[[int, int], None] = lambda _done, _total: None,
) -> tuple[IndexStats, list[str]]:
    """Index ``root`` (in the calling thread) and say what went wrong with the cache.

    A write that fails (disk full, locked, I/O error) moves the cache to memory and indexes
    again there: the user gets a working index and a note, never a dead feature.
    """
    index = open_index(root, counter, tokenizer_id)
    cache = index.cache
    try:
        try:
            stats = index.refresh(progress)
        except Exception as exc:
            if not is_unwritable(exc) or cache.in_memory:
                raise
            cache.fall_back(exc)
            index.close()
            index = open_index(root, counter, tokenizer_id)
            stats = index.refresh(progress)
    finally:
        index.close()
    notes, cache.notes[:] = list(cache.notes), []
    return stats, notes


def index_repository(
    root: Path,
    counter: TokenCounter,
    tokenizer_id: str,
    progress: Callable[[int, int], None] = lambda _done, _total: None,
) -> tuple[Repository, IndexStats, list[str]]:
    """``root`` indexed and its file graph loaded, ready to rank context: what the server and
    the command line both use (slow: call it from a worker thread)."""
    stats, notes = build_index(root, counter, tokenizer_id, progress)
    # Opened after the build: a cache that fell back to memory while indexing is read there.
    repository = open_repository(root, counter, tokenizer_id)
    repository.load_graph()
    return repository, stats, notes
