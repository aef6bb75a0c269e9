"""Opening Fathom's SQLite caches so that a broken cache never stops the editor's work.

The index and the edit journal are caches: losing one costs time, never a user's code. So:

- a corrupt file (not a database, malformed) is moved aside (``*.corrupt-<time>``) and a new
  one started;
- a file that cannot be opened or written (locked by another process past the timeout, a
  read-only or full disk, an I/O error) is replaced by a shared in-memory database for this
  process: Fathom keeps working, without persistence, and says so.

Every fallback is returned as a note for the user.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

LOCK_TIMEOUT_S = 10.0

_CORRUPT_MARKERS = ("not a database", "malformed", "file is encrypted")


def is_corrupt(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.DatabaseError) and any(
        marker in str(exc) for marker in _CORRUPT_MARKERS
    )


def is_unwritable(exc: BaseException) -> bool:
    """Locked, full, read-only or failing storage: the file cannot serve as a cache now."""
    return isinstance(exc, sqlite3.OperationalError | sqlite3.DatabaseError) and not is_corrupt(exc)


def memory_uri(path: Path) -> str:
    """A named in-memory database shared by this process's connections (one per thread)."""
    return f"file:fathom-{abs(hash(str(path)))}?mode=memory&cache=shared"


@dataclass
class CacheDb:
    """Where a cache lives now: its file, or memory after a failure."""

    path: Path
    in_memory: bool = False
    notes: list[str] = field(default_factory=list)
    # Keeps a shared in-memory database alive while Fathom runs (it vanishes with its last
    # connection).
    _anchor: sqlite3.Connection | None = None

    def connect(self, prepare: Callable[[sqlite3.Connection], None]) -> sqlite3.Connection:
        """A connection on which ``prepare`` (pragmas, schema) succeeded; falls back as the
        module says. Raises only what is not a storage failure."""
        if not self.in_memory:
            try:
                return self._open_file(prepare)
            except sqlite3.DatabaseError as exc:
                if is_corrupt(exc):
                    self._move_aside(exc)
                    try:
                        return self._open_file(prepare)
                    except sqlite3.DatabaseError as again:
                        exc = again
                self.fall_back(exc)
        return self._open_memory(prepare)

    def fall_back(self, exc: BaseException) -> None:
        """Use memory from now on (after ``exc`` on the file)."""
        if self.in_memory:
            return
        self.in_memory = True
        self.notes.append(
            f"Fathom cannot use its cache {self.path} ({exc}); it keeps working from memory "
            "for this session (nothing is persisted)."
        )

    def _open_file(self, prepare: Callable[[sqlite3.Connection], None]) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT_S, check_same_thread=False)
        try:
            prepare(db)
        except BaseException:
            db.close()
            raise
        return db

    def _open_memory(self, prepare: Callable[[sqlite3.Connection], None]) -> sqlite3.Connection:
        uri = memory_uri(self.path)
        if self._anchor is None:
            self._anchor = sqlite3.connect(uri, uri=True, check_same_thread=False)
        db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        prepare(db)
        return db

    def _move_aside(self, exc: BaseException) -> None:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
        for suffix in ("", "-wal", "-shm"):
            part = Path(f"{self.path}{suffix}")
            if part.exists():
                part.replace(Path(f"{aside}{suffix}"))
        self.notes.append(
            f"Fathom's cache {self.path} was corrupt ({exc}); it was moved to {aside.name} and "
            "is being rebuilt."
        )


_OPENED: dict[Path, CacheDb] = {}


def cache_db(path: Path) -> CacheDb:
    """The one CacheDb per file for this process: a fallback taken holds for every connection."""
    path = path.absolute()
    if path not in _OPENED:
        _OPENED[path] = CacheDb(path)
    return _OPENED[path]
