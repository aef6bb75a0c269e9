"""Broken caches never stop Fathom: a corrupt index or journal is moved aside and rebuilt; a
locked, full or failing one is replaced by memory for the session; each case says so."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

import fathom.context.cache_db as cache_db
from fathom.edits.journal import EditJournal, Outcome
from fathom.pipeline.repositories import build_index, index_path, open_repository

TOKENIZER = "qwen-test"


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("FATHOM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(cache_db, "_OPENED", {})  # each test starts with no fallback taken


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    for n in range(5):
        body = "".join(f"def f{n}_{i}(x):\n    return x + {i}\n\n\n" for i in range(60))
        (root / "pkg" / f"m{n}.py").write_text(body)  # enough to need new database pages
    return root


def _files_in(repository) -> int:
    return repository.index.db.execute("SELECT COUNT(*) FROM files").fetchone()[0]


def test_a_corrupt_index_is_moved_aside_and_rebuilt(project: Path, counter):
    path = index_path(project)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database at all" * 100)
    stats, notes = build_index(project, counter, TOKENIZER)
    assert stats.files == 5
    assert len(notes) == 1 and "corrupt" in notes[0] and "rebuilt" in notes[0]
    assert list(path.parent.glob(f"{path.name}.corrupt-*"))
    repository = open_repository(project, counter, TOKENIZER)
    assert not repository.index.in_memory and _files_in(repository) == 5


def test_a_locked_index_falls_back_to_memory(project: Path, counter, monkeypatch):
    monkeypatch.setattr(cache_db, "LOCK_TIMEOUT_S", 0.2)
    path = index_path(project)
    path.parent.mkdir(parents=True)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holding the file
    try:
        stats, notes = build_index(project, counter, TOKENIZER)
        assert stats.files == 5
        assert len(notes) == 1 and "locked" in notes[0] and "memory" in notes[0]
        repository = open_repository(project, counter, TOKENIZER)  # what requests read
        assert repository.index.in_memory and _files_in(repository) == 5
    finally:
        holder.rollback()
        holder.close()


def test_a_full_disk_while_indexing_falls_back_to_memory(project: Path, counter, monkeypatch):
    repository = open_repository(project, counter, TOKENIZER)  # opened before the disk fills
    open_file = cache_db.CacheDb._open_file

    def full_disk(self, prepare):
        db = open_file(self, prepare)
        db.execute("PRAGMA max_page_count = 1")  # every new page fails: SQLITE_FULL
        return db

    monkeypatch.setattr(cache_db.CacheDb, "_open_file", full_disk)
    stats, notes = build_index(project, counter, TOKENIZER)
    assert stats.files == 5
    assert len(notes) == 1 and "full" in notes[0]
    assert repository.index.cache.in_memory and not repository.index.in_memory
    # What the server does next: reopen for reading, from memory.
    repository = open_repository(project, counter, TOKENIZER)
    assert repository.index.in_memory and _files_in(repository) == 5


def _record(journal: EditJournal) -> int:
    return journal.record(
        started=time.time(),
        root=Path("/r"),
        target=Path("/r/a.py"),
        instruction="x",
        outcome=Outcome.APPLIED,
        diff="--- a/a.py\n",
    )


def test_a_corrupt_journal_is_moved_aside(tmp_path: Path):
    path = tmp_path / "journal.sqlite"
    path.write_bytes(b"\x00garbage" * 512)
    journal = EditJournal(path)
    assert _record(journal) == 1
    assert "corrupt" in journal.cache.notes[0]
    assert journal.recent(1)[0].diff == "--- a/a.py\n"


def test_a_journal_that_cannot_be_written_keeps_the_edit_going(tmp_path: Path):
    journal = EditJournal(tmp_path / "journal.sqlite")
    _record(journal)
    journal._db.execute("PRAGMA max_page_count = 1")  # the disk fills up
    big = EditJournal.record  # the edit flow calls record; it must not raise
    entry = big(
        journal,
        started=time.time(),
        root=Path("/r"),
        target=Path("/r/a.py"),
        instruction="y" * 100_000,
        outcome=Outcome.APPLIED,
    )
    assert entry >= 1
    assert journal.cache.in_memory and "memory" in journal.cache.notes[-1]
    assert journal.recent(1)[0].instruction == "y" * 100_000
