"""One workspace root's live context: the persisted index plus the in-memory symbol graph.

The language server keeps one per root, feeds it editor changes, and asks it which chunks
of the repository matter for a request.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from context.chunking import Chunk
from context.index import IndexStats, Progress, RepoIndex
from context.languages import language_of
from context.ranking import BM25, SymbolGraph, combined, normalise, proximity, terms

CANDIDATE_FILES = 40  # files, by PageRank, whose chunks compete on BM25 and proximity


@dataclass(frozen=True, slots=True)
class RankedChunk:
    path: str
    chunk: Chunk
    score: float


class Repository:
    def __init__(self, index: RepoIndex) -> None:
        self.index = index
        self.graph = SymbolGraph()
        self.ready = False  # the graph covers the whole index
        # Per file, computed once per content: BM25 terms of its chunks, its map lines.
        self._terms: dict[str, list[list[str]]] = {}
        self._map_lines: dict[str, list[str]] = {}

    @property
    def root(self) -> Path:
        return self.index.root

    def refresh(self, progress: Progress = lambda _d, _t: None) -> IndexStats:
        """Index the tree (cache hits are nearly free), then rebuild the graph from it."""
        stats = self.index.refresh(progress)
        self._terms.clear()
        self._map_lines.clear()
        self.load_graph()
        return stats

    def load_graph(self) -> None:
        self.graph = SymbolGraph.build(self.index.all_symbols())
        self.ready = True

    def update_document(self, relative: str, text: str) -> bool:
        """The editor's text of one file; only that file is re-chunked. True if it was."""
        language = language_of(Path(relative))
        if language is None:
            return False
        changed = self.index.update_text(relative, text, language)
        self.graph.update_file(relative, self.index.symbols_of(relative))
        self._forget(relative)
        return changed

    def _forget(self, relative: str) -> None:
        self._terms.pop(relative, None)
        self._map_lines.pop(relative, None)

    def remove_document(self, relative: str) -> None:
        self.index.remove(relative)
        self.graph.remove_file(relative)
        self._forget(relative)

    def file_text(self, relative: str) -> str:
        """A file's indexed text (its chunks cover it exactly)."""
        return "".join(c.text for c in self.index.chunks_of(relative))

    def page_rank(
        self, target: str, selection_names: Iterable[str], open_files: Iterable[str]
    ) -> dict[str, float]:
        return self.graph.pagerank(self.graph.restart_weights(target, selection_names, open_files))

    def ranked_chunks(
        self,
        ranks: dict[str, float],
        target: str,
        query: str,
        cursor_line: int,
    ) -> list[RankedChunk]:
        """Chunks of the best-ranked files, best first; the target file's own are left out
        (the pack shows that file itself)."""
        files = sorted((p for p in ranks if p != target), key=lambda p: (-ranks[p], p))
        candidates: list[tuple[str, Chunk]] = []
        documents: list[list[str]] = []
        for path in files[:CANDIDATE_FILES]:
            chunks = self.index.chunks_of(path)
            if path not in self._terms:
                self._terms[path] = [terms(c.text) for c in chunks]
            candidates += [(path, c) for c in chunks]
            documents += self._terms[path]
        if not candidates:
            return []
        lexical = normalise(BM25(documents).scores(terms(query)))
        graph = normalise([ranks[p] for p, _c in candidates])
        near = [
            proximity(c.start_line, c.end_line, cursor_line) if p == target else 0.0
            for p, c in candidates
        ]
        scored = [
            RankedChunk(path, chunk, combined(g, b, n))
            for (path, chunk), g, b, n in zip(candidates, graph, lexical, near, strict=True)
        ]
        scored.sort(key=lambda r: (-r.score, r.path, r.chunk.start_line))
        return scored

    def repo_map_lines(self, ranks: dict[str, float], exclude: str, limit: int) -> list[str]:
        """``path:`` then its definitions' first lines, for the best-ranked files."""
        lines: list[str] = []
        files = sorted((p for p in ranks if p != exclude), key=lambda p: (-ranks[p], p))
        for path in itertools.islice(files, limit):
            if path not in self._map_lines:
                self._map_lines[path] = self._definition_lines(path)
            lines += self._map_lines[path]
        return lines

    def _definition_lines(self, path: str) -> list[str]:
        text_lines = self.file_text(path).split("\n")
        rows = sorted({s.line for s in self.index.symbols_of(path) if s.is_definition})
        if not rows:
            return []
        return [f"{path}:"] + [f"  {text_lines[r].strip()}" for r in rows if r < len(text_lines)]
