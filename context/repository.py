"""One workspace root's live context: the persisted index plus the in-memory symbol graph.

The language server keeps one per root, feeds it editor changes, and asks it which chunks
of the repository matter for a request.
"""

from __future__ import annotations

import itertools
from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from fathom.context.chunking import Chunk
from fathom.context.index import Analysis, IndexStats, Progress, RepoIndex
from fathom.context.languages import language_of
from fathom.context.live import LiveDocument
from fathom.context.ranking import BM25, SymbolGraph, combined, normalise, proximity, terms
from fathom.context.symbols import FileSymbols

CANDIDATE_FILES = 40  # files, by PageRank, whose chunks compete on BM25 and proximity
LIVE_DOCUMENTS = 64  # documents kept parsed and tokenised for incremental updates


@dataclass(frozen=True, slots=True)
class RankedChunk:
    path: str
    chunk: Chunk
    score: float


class Repository:
    """The index of one root, what it says in memory, and the documents being edited.

    Everything a pack reads is in memory after its first use: chunks and BM25 term counts per
    file, definition lines for the map, and the symbol graph. Editor changes go to a
    :class:`LiveDocument` and the graph by deltas; they reach SQLite when the file is saved
    (the disk's content is what the cache is keyed by).
    """

    def __init__(self, index: RepoIndex) -> None:
        self.index = index
        self.graph = SymbolGraph()
        self.ready = False  # the graph covers the whole index
        self._seen_rowid = 0  # files rows already in the graph, while the index is being built
        self._chunks: dict[str, list[Chunk]] = {}
        self._terms: dict[str, dict[str, Counter[str]]] = {}  # path -> chunk text -> terms
        self._map_lines: dict[str, list[tuple[str, int]]] = {}
        self._live: OrderedDict[str, LiveDocument] = OrderedDict()

    @property
    def root(self) -> Path:
        return self.index.root

    def refresh(self, progress: Progress = lambda _d, _t: None) -> IndexStats:
        """Index the tree (cache hits are nearly free), then rebuild the graph from it."""
        stats = self.index.refresh(progress)
        self.load_graph()
        return stats

    def load_graph(self) -> None:
        """The graph of the whole index (after it was built, possibly by another connection)."""
        self._seen_rowid, symbols = self.index.symbols_since(0)
        self._forget_all()
        for path, live in self._live.items():
            symbols[path] = live.symbols
        self.graph = SymbolGraph.build(symbols)
        self.ready = True

    def catch_up(self) -> bool:
        """Take into the graph the files the indexer committed since the last call, so a
        request during the first indexing uses what is ready. True if the graph has files."""
        self._seen_rowid, symbols = self.index.symbols_since(self._seen_rowid)
        for path, file_symbols in symbols.items():
            if path not in self._live:
                self.graph.update_file(path, file_symbols)
                self._forget(path)
        return bool(self.graph.edges)

    def _forget_all(self) -> None:
        self._chunks.clear()
        self._terms.clear()
        self._map_lines.clear()

    def _forget(self, relative: str) -> None:
        self._chunks.pop(relative, None)
        self._map_lines.pop(relative, None)

    # -- editor changes -------------------------------------------------------------------
    def update_document(self, relative: str, text: str) -> bool:
        """The editor's text of one file; only that file is re-read, and only what changed in
        it. True if anything changed."""
        language = language_of(Path(relative))
        if language is None:
            return False
        live = self._live.get(relative)
        if live is None or live.language != language:
            live = LiveDocument(text, language, self.index.counter, self.index.chunk_tokens)
            self.graph.update_file(relative, live.symbols)
            changed = True
        else:
            change = live.update(text)
            changed = change is not None
            if change is not None:
                refs = self.graph.refs_of.get(relative, Counter())
                self.graph.change_file(
                    relative,
                    change.defs,
                    {name: refs.get(name, 0) + delta for name, delta in change.ref_deltas.items()},
                )
        self._live[relative] = live
        self._live.move_to_end(relative)
        while len(self._live) > LIVE_DOCUMENTS:
            self._live.popitem(last=False)  # its last text stays in the graph and chunks
        self._chunks[relative] = live.chunks
        self._map_lines.pop(relative, None)
        return changed

    def save_document(self, relative: str) -> None:
        """Persist a live document's analysis (it was saved: the disk has its text now)."""
        live = self._live.get(relative)
        if live is not None:
            analysis = Analysis(live.chunks, live.symbols)
            self.index.store_analysis(relative, live.text, live.language, analysis)

    def remove_document(self, relative: str) -> None:
        self.index.remove(relative)
        self.graph.remove_file(relative)
        self._live.pop(relative, None)
        self._forget(relative)
        self._terms.pop(relative, None)

    # -- reading --------------------------------------------------------------------------
    def chunks(self, relative: str) -> list[Chunk]:
        if relative not in self._chunks:
            self._chunks[relative] = self.index.chunks_of(relative)
        return self._chunks[relative]

    def symbols(self, relative: str) -> FileSymbols:
        live = self._live.get(relative)
        return live.symbols if live is not None else self.index.symbols_of(relative)

    def file_text(self, relative: str) -> str:
        """A file's indexed text (its chunks cover it exactly)."""
        return "".join(c.text for c in self.chunks(relative))

    def _term_counts(self, relative: str, chunks: list[Chunk]) -> list[Counter[str]]:
        """BM25 term counts per chunk, computed once per chunk text."""
        cached = self._terms.get(relative, {})
        fresh = {c.text: cached[c.text] if c.text in cached else terms(c.text) for c in chunks}
        self._terms[relative] = fresh
        return [fresh[c.text] for c in chunks]

    def page_rank(
        self, target: str, selection_names: Iterable[str], open_files: Iterable[str]
    ) -> dict[str, float]:
        return self.graph.pagerank(self.graph.restart_weights(target, selection_names, open_files))

    def ranked_chunks(
        self,
        ranks: dict[str, float],
        target: str,
        query: str,
    ) -> list[RankedChunk]:
        """Chunks of the best-ranked files, best first; the target file's own are left out
        (the pack shows that file itself)."""
        files = sorted((p for p in ranks if p != target), key=lambda p: (-ranks[p], p))
        candidates: list[tuple[str, Chunk]] = []
        documents: list[Counter[str]] = []
        for path in files[:CANDIDATE_FILES]:
            chunks = self.chunks(path)
            candidates += [(path, c) for c in chunks]
            documents += self._term_counts(path, chunks)
        if not candidates:
            return []
        lexical = normalise(BM25(documents).scores(terms(query)))
        graph = normalise([ranks[p] for p, _c in candidates])
        near = [proximity(p, target) for p, _c in candidates]
        scored = [
            RankedChunk(path, chunk, combined(g, b, n))
            for (path, chunk), g, b, n in zip(candidates, graph, lexical, near, strict=True)
        ]
        scored.sort(key=lambda r: (-r.score, r.path, r.chunk.start_line))
        return scored

    def repo_map_lines(
        self, ranks: dict[str, float], exclude: str, limit: int
    ) -> list[tuple[str, int]]:
        """``path:`` then its definitions' first lines, for the best-ranked files, each with
        its token count (newline included; counted once per file content)."""
        lines: list[tuple[str, int]] = []
        files = sorted((p for p in ranks if p != exclude), key=lambda p: (-ranks[p], p))
        for path in itertools.islice(files, limit):
            if path not in self._map_lines:
                own = self._definition_lines(path)
                counts = self.index.counter.count_tokens_batch([f"{line}\n" for line in own])
                self._map_lines[path] = list(zip(own, counts, strict=True))
            lines += self._map_lines[path]
        return lines

    def _definition_lines(self, path: str) -> list[str]:
        text_lines = self.file_text(path).split("\n")
        live = self._live.get(path)
        defs = live.symbols.defs if live is not None else self.index.definitions_of(path)
        rows = sorted({line for _name, _kind, line in defs})
        if not rows:
            return []
        return [f"{path}:"] + [f"  {text_lines[r].strip()}" for r in rows if r < len(text_lines)]
