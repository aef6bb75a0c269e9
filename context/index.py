"""The repository index: chunks and symbols per file, persisted in SQLite by content hash.

Rows are keyed by the hash of a file's bytes, so a restart, a branch switch back, or a file
copied elsewhere reuses what was computed once. A file whose size and mtime are unchanged is
not even read again. Each content's chunks and symbols are one row of two orjson blobs:
a row per symbol made Django's 850K symbols the slowest part of indexing it.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import orjson

from fathom.context.cache_db import cache_db
from fathom.context.chunking import Chunk, chunk_text
from fathom.context.files import SourceFile, walk_sources
from fathom.context.languages import parser_for, source_bytes
from fathom.context.symbols import Definition, FileSymbols, extract_symbols
from fathom.context.text import UnreadableFileError, read_text_file
from fathom.context.tokens import LineTokens, TokenCounter, line_token_counts

SCHEMA_VERSION = "3"
MAX_INDEXED_FILES = 50_000
DEFAULT_CHUNK_TOKENS = 512
BATCH_CHARS = 1 << 20  # text tokenised per batched tokenizer call

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, hash TEXT NOT NULL, language TEXT NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS analyses (
    hash TEXT PRIMARY KEY, chunk_count INTEGER NOT NULL, symbol_count INTEGER NOT NULL,
    chunks BLOB NOT NULL, defs BLOB NOT NULL, refs BLOB NOT NULL);
"""
_TABLES = ("files", "analyses", "meta")

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
    over_limit: int = 0  # source files left out: more than MAX_INDEXED_FILES


@dataclass(frozen=True, slots=True)
class Analysis:
    chunks: list[Chunk]
    symbols: FileSymbols


def content_hash(text: str) -> str:
    return hashlib.blake2b(source_bytes(text), digest_size=16).hexdigest()


def analyse(
    text: str, language: str, counter: TokenCounter, chunk_tokens: int, tokens: LineTokens
) -> Analysis:
    """Chunks and symbols of one file from a single parse."""
    tree = parser_for(language).parse(source_bytes(text))
    chunks = chunk_text(text, language, counter, chunk_tokens, tree=tree, tokens=tokens)
    return Analysis(chunks, extract_symbols(tree, language))


def _batches(items: list[tuple[SourceFile, str]]) -> Iterator[list[tuple[SourceFile, str]]]:
    batch: list[tuple[SourceFile, str]] = []
    size = 0
    for item in items:
        batch.append(item)
        size += len(item[1])
        if size >= BATCH_CHARS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _symbols(defs: bytes, refs: bytes) -> FileSymbols:
    return FileSymbols(
        [tuple(d) for d in orjson.loads(defs)],
        [tuple(r) for r in orjson.loads(refs)],
    )


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

        def prepare(db: sqlite3.Connection) -> None:
            # WAL: the background indexer writes while requests read through another
            # connection; synchronous=NORMAL: a crash loses at most the last commits, which
            # are re-derived.
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._check_meta(db, tokenizer_id)

        # A corrupt cache is rebuilt, an unusable one replaced by memory (context/cache_db.py).
        # check_same_thread off: the server builds the graph from this connection in a worker
        # thread while requests wait for it; it is never used by two threads at once.
        self.cache = cache_db(db_path)
        self.db = self.cache.connect(prepare)
        self.in_memory = self.cache.in_memory  # this connection's; the cache may move later

    def _check_meta(self, db: sqlite3.Connection, tokenizer_id: str) -> None:
        """Counts made with another tokenizer, chunk size or schema are worthless: start over."""
        want = {
            "schema": SCHEMA_VERSION,
            "tokenizer": tokenizer_id,
            "chunk_tokens": str(self.chunk_tokens),
        }
        try:
            have = dict(db.execute("SELECT key, value FROM meta"))
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise  # locked, full, unreadable: the caller falls back
            have = {}
        if have != want:
            with db:
                tables = [
                    t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                ]
                for table in tables:
                    db.execute(f"DROP TABLE {table}")
                db.executescript(_SCHEMA)
                db.executemany("INSERT INTO meta VALUES (?, ?)", want.items())

    def close(self) -> None:
        self.db.close()

    # -- one file -------------------------------------------------------------------------
    def _known(self, digest: str) -> bool:
        row = self.db.execute("SELECT 1 FROM analyses WHERE hash = ?", (digest,)).fetchone()
        return row is not None

    def _store(self, digest: str, analysis: Analysis) -> None:
        chunks = [
            [c.start_line, c.end_line, c.kind, c.signature, c.text, c.tokens]
            for c in analysis.chunks
        ]
        symbols = analysis.symbols
        self.db.execute(
            "INSERT OR REPLACE INTO analyses VALUES (?, ?, ?, ?, ?, ?)",
            (
                digest,
                len(chunks),
                len(symbols.defs) + len(symbols.refs),
                orjson.dumps(chunks),
                orjson.dumps(symbols.defs),
                orjson.dumps(symbols.refs),
            ),
        )

    def _record(self, relative: str, digest: str, language: str, size: int, mtime: int) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)",
            (relative, digest, language, size, mtime),
        )

    def _analyse_batch(self, texts: list[str], languages: list[str]) -> list[Analysis]:
        counts = line_token_counts(self.counter, texts)
        return [
            analyse(text, language, self.counter, self.chunk_tokens, LineTokens(per_line))
            for text, language, per_line in zip(texts, languages, counts, strict=True)
        ]

    def update_text(
        self, relative: str, text: str, language: str, size: int = 0, mtime_ns: int = 0
    ) -> bool:
        """Record ``text`` as the content of ``relative``; True if it had to be chunked."""
        digest = content_hash(text)
        row = self.db.execute("SELECT hash FROM files WHERE path = ?", (relative,)).fetchone()
        if row and row[0] == digest:
            return False
        with self.db:
            fresh = not self._known(digest)
            if fresh:
                (analysis,) = self._analyse_batch([text], [language])
                self._store(digest, analysis)
            self._record(relative, digest, language, size, mtime_ns)
        return fresh

    def store_analysis(self, relative: str, text: str, language: str, analysis: Analysis) -> None:
        """Persist what a live document computed (on save) without analysing it again."""
        digest = content_hash(text)
        with self.db:
            if not self._known(digest):
                self._store(digest, analysis)
            self._record(relative, digest, language, 0, 0)

    # -- the whole tree ---------------------------------------------------------------------
    def refresh(self, progress: Progress = lambda _d, _t: None) -> IndexStats:
        """Bring the index up to date with the tree on disk.

        Unchanged files (size and mtime) cost nothing; changed ones whose content was seen
        before cost a hash. The rest are tokenised in batches on a worker thread (the Rust
        tokenizer releases the GIL and uses every core) while this thread parses, chunks and
        extracts symbols from the previous batch. Each batch is committed as it completes,
        so a reader sees the index fill up.
        """
        started = time.perf_counter()
        sources = list(walk_sources(self.root))
        # A cap keeps a huge monorepo (or a mistaken root such as $HOME) from filling memory
        # and disk; the walk's order is stable, so the same files are kept each time.
        over_limit = max(0, len(sources) - MAX_INDEXED_FILES)
        sources = sources[:MAX_INDEXED_FILES]
        known = {
            path: (size, mtime)
            for path, size, mtime in self.db.execute("SELECT path, size, mtime_ns FROM files")
        }
        hits = 0
        pending: list[tuple[SourceFile, str]] = []
        digests: dict[str, str] = {}
        for source in sources:
            if known.get(source.relative) == (source.size, source.mtime_ns):
                hits += 1
                continue
            try:
                text = read_text_file(source.path)
            except UnreadableFileError:
                continue  # vanished or changed into something unreadable since the walk
            digest = digests[source.relative] = content_hash(text)
            if self._known(digest):
                hits += 1
                with self.db:
                    self._record(
                        source.relative, digest, source.language, source.size, source.mtime_ns
                    )
            else:
                pending.append((source, text))
        done = hits
        progress(done, len(sources))
        seen: set[str] = set()
        with ThreadPoolExecutor(1, thread_name_prefix="fathom-tokenize") as pool:
            batches = list(_batches(pending))

            def tokenize(batch: list[tuple[SourceFile, str]]) -> list[list[int]]:
                return line_token_counts(self.counter, [text for _source, text in batch])

            ahead = pool.submit(tokenize, batches[0]) if batches else None
            for i, batch in enumerate(batches):
                assert ahead is not None
                counts = ahead.result()
                if i + 1 < len(batches):
                    ahead = pool.submit(tokenize, batches[i + 1])
                with self.db:
                    for (source, text), per_line in zip(batch, counts, strict=True):
                        digest = digests[source.relative]
                        if digest not in seen:  # the same content twice in one batch
                            seen.add(digest)
                            tokens = LineTokens(per_line)
                            analysis = analyse(
                                text, source.language, self.counter, self.chunk_tokens, tokens
                            )
                            self._store(digest, analysis)
                        self._record(
                            source.relative, digest, source.language, source.size, source.mtime_ns
                        )
                done += len(batch)
                progress(done, len(sources))
        present = {s.relative for s in sources}
        gone = [p for p in known if p not in present]
        with self.db:
            self.db.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in gone])
            self._collect_garbage()
        files, chunks, symbols = self.counts()
        return IndexStats(
            files,
            chunks,
            symbols,
            time.perf_counter() - started,
            hits,
            len(seen),
            len(gone),
            over_limit,
        )

    def _collect_garbage(self) -> None:
        self.db.execute("DELETE FROM analyses WHERE hash NOT IN (SELECT hash FROM files)")

    # -- reading --------------------------------------------------------------------------
    def counts(self) -> tuple[int, int, int]:
        (files,) = self.db.execute("SELECT count(*) FROM files").fetchone()
        chunks, symbols = self.db.execute(
            "SELECT coalesce(sum(a.chunk_count), 0), coalesce(sum(a.symbol_count), 0) "
            "FROM files f JOIN analyses a ON a.hash = f.hash"
        ).fetchone()
        return files, chunks, symbols

    def chunks_of(self, relative: str) -> list[Chunk]:
        row = self.db.execute(
            "SELECT a.chunks FROM files f JOIN analyses a ON a.hash = f.hash WHERE f.path = ?",
            (relative,),
        ).fetchone()
        return [Chunk(*c) for c in orjson.loads(row[0])] if row else []

    def symbols_of(self, relative: str) -> FileSymbols:
        row = self.db.execute(
            "SELECT a.defs, a.refs FROM files f JOIN analyses a ON a.hash = f.hash "
            "WHERE f.path = ?",
            (relative,),
        ).fetchone()
        return _symbols(*row) if row else FileSymbols()

    def definitions_of(self, relative: str) -> list[Definition]:
        """Only the definitions (the repository map needs no references)."""
        row = self.db.execute(
            "SELECT a.defs FROM files f JOIN analyses a ON a.hash = f.hash WHERE f.path = ?",
            (relative,),
        ).fetchone()
        return [tuple(d) for d in orjson.loads(row[0])] if row else []

    def symbols_since(self, rowid: int) -> tuple[int, dict[str, FileSymbols]]:
        """Symbols of the files recorded after ``rowid`` (a replaced row gets a new rowid),
        and the last rowid seen: how a reader follows an index being built."""
        rows = self.db.execute(
            "SELECT f.rowid, f.path, a.defs, a.refs FROM files f "
            "JOIN analyses a ON a.hash = f.hash WHERE f.rowid > ? ORDER BY f.rowid",
            (rowid,),
        ).fetchall()
        last = rows[-1][0] if rows else rowid
        return last, {path: _symbols(defs, refs) for _r, path, defs, refs in rows}

    def language_of(self, relative: str) -> str | None:
        row = self.db.execute("SELECT language FROM files WHERE path = ?", (relative,)).fetchone()
        return row[0] if row else None

    def remove(self, relative: str) -> None:
        with self.db:
            self.db.execute("DELETE FROM files WHERE path = ?", (relative,))

    def paths(self) -> list[str]:
        return [p for (p,) in self.db.execute("SELECT path FROM files ORDER BY path")]
