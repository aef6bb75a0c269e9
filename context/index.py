"""The repository index: chunks and symbols per file, persisted in SQLite by content hash.

Rows are keyed by the hash of a file's bytes, so a restart, a branch switch back, or a file
copied elsewhere reuses what was computed once. A file whose size and mtime are unchanged is
not even read again.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from context.chunking import Chunk, chunk_text
from context.files import SourceFile, walk_sources
from context.languages import parser_for
from context.symbols import Symbol, extract_symbols
from context.text import UnreadableFileError, read_text_file
from context.tokens import TokenCounter

SCHEMA_VERSION = "1"
DEFAULT_CHUNK_TOKENS = 512

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, hash TEXT NOT NULL, language TEXT NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    hash TEXT NOT NULL, seq INTEGER NOT NULL, start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL, kind TEXT NOT NULL, signature TEXT NOT NULL,
    text TEXT NOT NULL, tokens INTEGER NOT NULL, PRIMARY KEY (hash, seq));
CREATE TABLE IF NOT EXISTS symbols (
    hash TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL, line INTEGER NOT NULL,
    is_definition INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS symbols_by_hash ON symbols (hash);
CREATE INDEX IF NOT EXISTS symbols_by_name ON symbols (name);
"""

Progress = Callable[[int, int], None]  # files done, files total


@dataclass(frozen=True, slots=True)
class IndexStats:
    files: int
    chunks: int
    symbols: int
    seconds: float
    cache_hits: int  # files whose chunks and symbols came from the cache
    indexed: int  # files parsed and chunked in this run
    removed: int


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class RepoIndex:
    def __init__(
        self,
        root: Path,
        counter: TokenCounter,
        db_path: Path,
        *,
        tokenizer_id: str,
        chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
    ) -> None:
        self.root = root.resolve()
        self.counter = counter
        self.chunk_tokens = chunk_tokens
        db_path.parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread off: the server builds the graph from this connection in a worker
        # thread while requests wait for it; it is never used by two threads at once.
        self.db = sqlite3.connect(db_path, timeout=30, check_same_thread=False)
        # WAL: the background indexer writes while requests read through another connection.
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(_SCHEMA)
        self._check_meta(tokenizer_id)

    def _check_meta(self, tokenizer_id: str) -> None:
        """Counts made with another tokenizer or chunk size are worthless: start over."""
        want = {
            "schema": SCHEMA_VERSION,
            "tokenizer": tokenizer_id,
            "chunk_tokens": str(self.chunk_tokens),
        }
        have = dict(self.db.execute("SELECT key, value FROM meta"))
        if have != want:
            with self.db:
                for table in ("files", "chunks", "symbols", "meta"):
                    self.db.execute(f"DELETE FROM {table}")
                self.db.executemany("INSERT INTO meta VALUES (?, ?)", want.items())

    def close(self) -> None:
        self.db.close()

    # -- one file -------------------------------------------------------------------------
    def _known(self, digest: str) -> bool:
        return (
            self.db.execute("SELECT 1 FROM chunks WHERE hash = ? LIMIT 1", (digest,)).fetchone()
            is not None
        )

    def _analyse(self, digest: str, text: str, language: str) -> None:
        chunks = chunk_text(text, language, self.counter, self.chunk_tokens)
        tree = parser_for(language).parse(text.encode("utf-8", "surrogatepass"))
        symbols = extract_symbols(tree)
        self.db.executemany(
            "INSERT OR REPLACE INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(digest, i, c.start_line, c.end_line, c.kind, c.signature, c.text, c.tokens)
             for i, c in enumerate(chunks)],
        )  # fmt: skip
        self.db.executemany(
            "INSERT INTO symbols VALUES (?, ?, ?, ?, ?)",
            [(digest, s.name, s.kind, s.line, int(s.is_definition)) for s in symbols],
        )

    def update_text(
        self, relative: str, text: str, language: str, size: int = 0, mtime_ns: int = 0
    ) -> bool:
        """Record ``text`` as the content of ``relative``; True if it had to be chunked."""
        digest = content_hash(text.encode("utf-8", "surrogatepass"))
        row = self.db.execute("SELECT hash FROM files WHERE path = ?", (relative,)).fetchone()
        if row and row[0] == digest:
            return False
        with self.db:
            fresh = not self._known(digest)
            if fresh:
                self._analyse(digest, text, language)
            self.db.execute(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)",
                (relative, digest, language, size, mtime_ns),
            )
        return fresh

    # -- the whole tree ---------------------------------------------------------------------
    def refresh(self, progress: Progress = lambda _d, _t: None) -> IndexStats:
        started = time.perf_counter()
        sources = list(walk_sources(self.root))
        known = {
            path: (size, mtime)
            for path, size, mtime in self.db.execute("SELECT path, size, mtime_ns FROM files")
        }
        hits = indexed = 0
        for done, source in enumerate(sources, start=1):
            if known.get(source.relative) == (source.size, source.mtime_ns):
                hits += 1
            elif self._index_file(source):
                indexed += 1
            else:
                hits += 1
            if done % 50 == 0 or done == len(sources):
                progress(done, len(sources))
        present = {s.relative for s in sources}
        gone = [p for p in known if p not in present]
        with self.db:
            self.db.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in gone])
            self._collect_garbage()
        files, chunks, symbols = self.counts()
        return IndexStats(
            files, chunks, symbols, time.perf_counter() - started, hits, indexed, len(gone)
        )

    def _index_file(self, source: SourceFile) -> bool:
        try:
            text = read_text_file(source.path)
        except UnreadableFileError:
            return False  # vanished or changed into something unreadable since the walk
        return self.update_text(
            source.relative, text, source.language, source.size, source.mtime_ns
        )

    def _collect_garbage(self) -> None:
        for table in ("chunks", "symbols"):
            self.db.execute(f"DELETE FROM {table} WHERE hash NOT IN (SELECT hash FROM files)")

    # -- reading --------------------------------------------------------------------------
    def counts(self) -> tuple[int, int, int]:
        return tuple(  # type: ignore[return-value]
            self.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("files", "chunks", "symbols")
        )

    def chunks_of(self, relative: str) -> list[Chunk]:
        rows = self.db.execute(
            "SELECT c.start_line, c.end_line, c.kind, c.signature, c.text, c.tokens "
            "FROM files f JOIN chunks c ON c.hash = f.hash WHERE f.path = ? ORDER BY c.seq",
            (relative,),
        )
        return [Chunk(*row) for row in rows]

    def symbols_of(self, relative: str) -> list[Symbol]:
        rows = self.db.execute(
            "SELECT s.name, s.kind, s.line, s.is_definition FROM files f "
            "JOIN symbols s ON s.hash = f.hash WHERE f.path = ?",
            (relative,),
        )
        return [Symbol(name, kind, line, bool(is_def)) for name, kind, line, is_def in rows]

    def all_symbols(self) -> dict[str, list[Symbol]]:
        """Every file's symbols in one query (what the symbol graph is built from)."""
        out: dict[str, list[Symbol]] = {path: [] for path in self.paths()}
        rows = self.db.execute(
            "SELECT f.path, s.name, s.kind, s.line, s.is_definition "
            "FROM files f JOIN symbols s ON s.hash = f.hash"
        )
        for path, name, kind, line, is_def in rows:
            out[path].append(Symbol(name, kind, line, bool(is_def)))
        return out

    def language_of(self, relative: str) -> str | None:
        row = self.db.execute("SELECT language FROM files WHERE path = ?", (relative,)).fetchone()
        return row[0] if row else None

    def remove(self, relative: str) -> None:
        with self.db:
            self.db.execute("DELETE FROM files WHERE path = ?", (relative,))

    def paths(self) -> list[str]:
        return [p for (p,) in self.db.execute("SELECT path FROM files ORDER BY path")]
