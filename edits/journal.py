"""A SQLite journal of edits: what was asked, what the model said, and what became of it.

Nothing is lost when an edit is refused or the editor rejects it: the reply and the planned
diff stay here, so the user can see why and copy what they need. Replies hold the secrets the
prompt had masked, so the journal is bounded (``journalMaxDays``, ``journalMaxMegabytes``;
either 0 keeps none) and deleted entries are zeroed and their pages given back to the disk.

Inline completions are counted here too (``completions``): each one offered to the editor, and
whether the editor said it was accepted, so acceptance can be measured locally. A row holds
no code: the file, the kind, the size and the latency of the suggestion. Nothing leaves the
machine.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import orjson

from fathom.context.cache_db import cache_db

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

# One row per inline completion offered; ``accepted`` is set when the editor runs the item's
# command (lsp_server/inline_completion.py).
_COMPLETIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS completions (
    id INTEGER PRIMARY KEY,
    offered REAL NOT NULL,
    accepted REAL,
    target TEXT NOT NULL,
    mode TEXT NOT NULL,
    chars INTEGER NOT NULL,
    lines INTEGER NOT NULL,
    seconds REAL NOT NULL
)
"""
# Completions come one per pause in typing: rows beyond this many go, oldest first (a row is
# under 200 bytes, so the table stays within a few MiB whatever the size limit).
MAX_COMPLETION_ROWS = 20_000

DEFAULT_MAX_DAYS = 30
DEFAULT_MAX_MEGABYTES = 50
# Pruning after an insert scans the table: at most this often, plus at open and on new limits.
PRUNE_EVERY_S = 60.0
_DAY_S = 86_400
_MEGABYTE = 1 << 20
# An entry's bytes, for journals written before the size column.
_ROW_SIZE = (
    "length(CAST(root AS BLOB)) + length(CAST(target AS BLOB)) + "
    "length(CAST(instruction AS BLOB)) + length(CAST(reason AS BLOB)) + "
    "length(CAST(diff AS BLOB)) + length(replies) + length(repairs)"
)


def _prepare(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA secure_delete=ON")  # deleted replies may hold secrets: overwrite them
    # Takes effect only before the first table; an older journal is converted by one VACUUM.
    db.execute("PRAGMA auto_vacuum=INCREMENTAL")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(_SCHEMA)
    db.execute(_COMPLETIONS_SCHEMA)
    if "size" not in {row[1] for row in db.execute("PRAGMA table_info(edits)")}:
        db.execute("ALTER TABLE edits ADD COLUMN size INTEGER NOT NULL DEFAULT 0")
        db.execute(f"UPDATE edits SET size = {_ROW_SIZE}")
    db.commit()


class Outcome(StrEnum):
    APPLIED = "applied"
    REFUSED = "refused"  # Fathom refused: no diff, no match, stale, unsafe path...
    REJECTED = "rejected by the editor"  # the client's ApplyWorkspaceEditResult said no
    FAILED = "failed"  # the engine failed
    CANCELLED = "cancelled"  # by the user, or superseded by a newer request


@dataclass(frozen=True, slots=True)
class CompletionCounts:
    """Inline completions offered to the editor, and how many of them it accepted."""

    offered: int
    accepted: int


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
    """The journal at ``path``, keeping entries at most ``max_days`` old and ``max_megabytes``
    in all (oldest go first); a limit of 0 keeps no journal: nothing is recorded and what the
    file held is deleted."""

    def __init__(
        self,
        path: Path,
        *,
        max_days: int = DEFAULT_MAX_DAYS,
        max_megabytes: int = DEFAULT_MAX_MEGABYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        # Written from the server's event loop and read from tests or the CLI.
        self._lock = threading.Lock()
        self._clock = clock
        self._last_prune = float("-inf")
        # Corrupt: moved aside and restarted; unusable: kept in memory (context/cache_db.py).
        self.cache = cache_db(path)
        self._db: sqlite3.Connection | None = None
        self.max_days, self.max_megabytes = max_days, max_megabytes
        self.set_limits(max_days, max_megabytes)

    @property
    def enabled(self) -> bool:
        return self.max_days > 0 and self.max_megabytes > 0

    def set_limits(self, max_days: int, max_megabytes: int) -> None:
        """New limits, applied now: a tighter one prunes at once, 0 clears the journal."""
        with self._lock:
            self.max_days, self.max_megabytes = max_days, max_megabytes
            if self.enabled:
                if self._db is None:
                    self._db = self.cache.connect(_prepare)
                with contextlib.suppress(sqlite3.Error):  # locked: the next prune catches up
                    self._prune()
            elif self._db is not None or self.cache.in_memory or self.path.exists():
                db = self._db or self.cache.connect(_prepare)
                self._db = None
                try:
                    db.execute("DELETE FROM edits")
                    db.execute("DELETE FROM completions")
                    db.commit()
                    self._reclaim(db)
                except sqlite3.Error as exc:
                    self.cache.notes.append(f"Fathom could not clear its journal: {exc}")
                finally:
                    db.close()

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
    ) -> int | None:
        """The new entry's id; None when the journal is off."""
        replies_json, repairs_json = orjson.dumps(list(replies)), orjson.dumps(list(repairs))
        texts = (str(root), str(target), instruction, reason, diff)
        size = sum(len(t.encode()) for t in texts) + len(replies_json) + len(repairs_json)
        row = (
            started,
            self._clock(),
            str(root),
            str(target),
            instruction,
            outcome.value,
            reason,
            diff,
            replies_json,
            repairs_json,
            size,
        )
        with self._lock:
            if self._db is None:
                return None
            try:
                entry = self._insert(self._db, row)
            except sqlite3.Error as exc:
                # A journal that cannot be written must not fail the edit: keep it in memory.
                if self.cache.in_memory:
                    raise
                self.cache.fall_back(exc)
                self._db = self.cache.connect(_prepare)
                entry = self._insert(self._db, row)
            if self._clock() - self._last_prune >= PRUNE_EVERY_S:
                # The next prune catches up; the edit must not fail for it.
                with contextlib.suppress(sqlite3.Error):
                    self._prune()
            return entry

    @staticmethod
    def _insert(db: sqlite3.Connection, row: tuple[object, ...]) -> int:
        cursor = db.execute(
            "INSERT INTO edits (started, finished, root, target, instruction, outcome, "
            "reason, diff, replies, repairs, size) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            row,
        )
        db.commit()
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def _prune(self) -> None:
        """Delete entries past either limit, oldest first, and give their space back."""
        assert self._db is not None
        db, now = self._db, self._clock()
        self._last_prune = now
        deleted = db.execute(
            "DELETE FROM edits WHERE finished < ?", (now - self.max_days * _DAY_S,)
        ).rowcount
        # The newest entry that no longer fits with those after it: it and older ones go.
        over = db.execute(
            "SELECT id FROM (SELECT id, SUM(size) OVER (ORDER BY id DESC) AS total FROM edits) "
            "WHERE total > ? ORDER BY id DESC LIMIT 1",
            (self.max_megabytes * _MEGABYTE,),
        ).fetchone()
        if over is not None:
            deleted += db.execute("DELETE FROM edits WHERE id <= ?", over).rowcount
        deleted += db.execute(
            "DELETE FROM completions WHERE offered < ? OR id <= "
            "(SELECT id FROM completions ORDER BY id DESC LIMIT 1 OFFSET ?)",
            (now - self.max_days * _DAY_S, MAX_COMPLETION_ROWS),
        ).rowcount
        db.commit()
        if deleted:
            self._reclaim(db)

    @staticmethod
    def _reclaim(db: sqlite3.Connection) -> None:
        """Shrink the file to what is kept, and empty the WAL that still holds deleted pages."""
        if db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:  # incremental
            # execute() would step once, freeing one page; a script runs it to the end.
            db.executescript("PRAGMA incremental_vacuum;")
        else:
            db.execute("VACUUM")  # a journal from before auto_vacuum, converted once
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def record_completion(
        self, *, target: str, mode: str, chars: int, lines: int, seconds: float
    ) -> int | None:
        """An inline completion offered to the editor; its id (what the editor sends back
        when the user accepts it), None when the journal is off or cannot be written (a
        completion never fails for its count)."""
        row = (self._clock(), target, mode, chars, lines, round(seconds, 4))
        with self._lock:
            if self._db is None:
                return None
            try:
                cursor = self._db.execute(
                    "INSERT INTO completions (offered, target, mode, chars, lines, seconds) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    row,
                )
                self._db.commit()
            except sqlite3.Error:
                return None
            if self._clock() - self._last_prune >= PRUNE_EVERY_S:
                with contextlib.suppress(sqlite3.Error):
                    self._prune()
            return cursor.lastrowid

    def completion_accepted(self, entry: int) -> bool:
        """The editor accepted completion ``entry``: True when it was offered and not counted
        as accepted already."""
        with self._lock:
            if self._db is None:
                return False
            try:
                changed = self._db.execute(
                    "UPDATE completions SET accepted = ? WHERE id = ? AND accepted IS NULL",
                    (self._clock(), entry),
                ).rowcount
                self._db.commit()
            except sqlite3.Error:
                return False
            return changed == 1

    def completion_counts(self, since: float = 0.0) -> CompletionCounts:
        """Completions offered since ``since`` (a time.time()), and of those, accepted."""
        with self._lock:
            if self._db is None:
                return CompletionCounts(0, 0)
            offered, accepted = self._db.execute(
                "SELECT COUNT(*), COUNT(accepted) FROM completions WHERE offered >= ?", (since,)
            ).fetchone()
        return CompletionCounts(offered, accepted)

    def recent(self, limit: int = 20) -> list[JournalEntry]:
        with self._lock:
            if self._db is None:
                return []
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
            if self._db is not None:
                self._db.close()
                self._db = None
