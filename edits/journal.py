"""A SQLite journal of edits: what was asked, what the model said, and what became of it.

Nothing is lost when an edit is refused or the editor rejects it: the reply and the planned
diff stay here, so the user can see why and copy what they need.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import orjson

from context.cache_db import cache_db

_SCHEMA = """
CREATE TABLE IF NOT EXISTS edits (
    id INTEGER PRIMARY KEY,
    started REAL NOT NULL,
    finished REAL NOT NULL,
    root TEXT NOT NULL,
    target TEXT NOT NULL,
    instruction TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    diff TEXT NOT NULL DEFAULT '',
    replies BLOB NOT NULL,
    repairs BLOB NOT NULL
)
"""


class Outcome(StrEnum):
    APPLIED = "applied"
    REFUSED = "refused"  # Fathom refused: no diff, no match, stale, unsafe path...
    REJECTED = "rejected by the editor"  # the client's ApplyWorkspaceEditResult said no
    FAILED = "failed"  # the engine failed
    CANCELLED = "cancelled"  # by the user, or superseded by a newer request


@dataclass(frozen=True, slots=True)
class JournalEntry:
    id: int
    started: float
    target: str
    instruction: str
    outcome: Outcome
    reason: str
    diff: str
    replies: list[str]
    repairs: list[str]


class EditJournal:
    def __init__(self, path: Path) -> None:
        self.path = path
        # Written from the server's event loop and read from tests or the CLI.
        self._lock = threading.Lock()

        def prepare(db: sqlite3.Connection) -> None:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)
            db.commit()

        # Corrupt: moved aside and restarted; unusable: kept in memory (context/cache_db.py).
        self.cache = cache_db(path)
        self._db = self.cache.connect(prepare)
        self._prepare = prepare

    def record(
        self,
        *,
        started: float,
        root: Path,
        target: Path,
        instruction: str,
        outcome: Outcome,
        reason: str = "",
        diff: str = "",
        replies: list[str] | tuple[str, ...] = (),
        repairs: list[str] | tuple[str, ...] = (),
    ) -> int:
        row = (
            started, time.time(), str(root), str(target), instruction, outcome.value, reason,
            diff, orjson.dumps(list(replies)), orjson.dumps(list(repairs)),
        )  # fmt: skip
        with self._lock:
            try:
                return self._insert(row)
            except sqlite3.Error as exc:
                # A journal that cannot be written must not fail the edit: keep it in memory.
                if self.cache.in_memory:
                    raise
                self.cache.fall_back(exc)
                self._db = self.cache.connect(self._prepare)
                return self._insert(row)

    def _insert(self, row: tuple[object, ...]) -> int:
        cursor = self._db.execute(
            "INSERT INTO edits (started, finished, root, target, instruction, outcome, "
            "reason, diff, replies, repairs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            row,
        )
        self._db.commit()
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def recent(self, limit: int = 20) -> list[JournalEntry]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, started, target, instruction, outcome, reason, diff, replies, repairs "
                "FROM edits ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            JournalEntry(
                row[0],
                row[1],
                row[2],
                row[3],
                Outcome(row[4]),
                row[5],
                row[6],
                orjson.loads(row[7]),
                orjson.loads(row[8]),
            )
            for row in rows
        ]

    def close(self) -> None:
        with self._lock:
            self._db.close()
