"""Where each workspace root's index lives, and opening it."""

from __future__ import annotations

import hashlib
from pathlib import Path

from backend.default_model import cache_root
from context.index import RepoIndex
from context.repository import Repository
from context.tokens import TokenCounter


def index_path(root: Path) -> Path:
    """One SQLite file per root under the user's cache dir (nothing is written into the repo)."""
    key = hashlib.blake2b(str(root.resolve()).encode(), digest_size=8).hexdigest()
    return cache_root() / "index" / f"{root.name}-{key}.sqlite"


def open_index(root: Path, counter: TokenCounter, tokenizer_id: str) -> RepoIndex:
    return RepoIndex(root, counter, index_path(root), tokenizer_id=tokenizer_id)


def open_repository(root: Path, counter: TokenCounter, tokenizer_id: str) -> Repository:
    return Repository(open_index(root, counter, tokenizer_id))
