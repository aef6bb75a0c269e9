"""Ranking what to show: a symbol graph with personalised PageRank, BM25, and proximity.

Weighting (the pack combines the three per chunk, each normalised to 0..1):

- **PageRank, 0.5.** Files are nodes; a file that references a name another file defines
  gets an edge to it, weighted by sqrt(reference count) / (number of files defining the
  name), so a name defined everywhere (``__init__``, ``get``) connects little. The random
  walk restarts at the target file (weight 1), the files defining identifiers of the
  selection (0.5 split among them) and the open documents (0.25 split). This is what finds
  the definitions an edit depends on, and it is the strongest signal, so it weighs most.
- **BM25, 0.35.** Over identifier parts and words of each chunk, queried with the
  instruction's words and the selection's identifiers: it finds code about what the user
  said even when no reference links it (a test of the function, a similar helper).
- **Proximity, 0.15.** Within the target file, chunks near the cursor; small, because the
  target file is shown whole whenever it fits anyway.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from context.symbols import Symbol

WEIGHT_PAGERANK = 0.5
WEIGHT_BM25 = 0.35
WEIGHT_PROXIMITY = 0.15

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CAMEL = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def terms(text: str) -> list[str]:
    """Lower-case words and identifier parts: ``parseHTTPResponse_v2`` -> parse, http, response, v2
    (and the whole identifier, so exact names match best)."""
    out: list[str] = []
    for word in _WORD.findall(text):
        word = word.strip("_")
        if not word:
            continue
        out.append(word.lower())
        parts = [p.lower() for piece in word.split("_") for p in _CAMEL.findall(piece)]
        if len(parts) > 1:
            out += parts
    return out


class SymbolGraph:
    """Files and the references between them, updated one file at a time.

    An edit to one file recomputes that file's out-edges, and the out-edges of the files that
    reference a name it started or stopped defining; nothing else.
    """

    def __init__(self) -> None:
        self.defs_of: dict[str, set[str]] = {}
        self.refs_of: dict[str, Counter[str]] = {}
        self.definers: dict[str, set[str]] = defaultdict(set)
        self.referrers: dict[str, set[str]] = defaultdict(set)
        self.edges: dict[str, dict[str, float]] = {}
        self._arrays: tuple[list[str], Any, Any, Any] | None = None

    @classmethod
    def build(cls, symbols_by_file: Mapping[str, Sequence[Symbol]]) -> SymbolGraph:
        graph = cls()
        for path, symbols in symbols_by_file.items():
            graph._store(path, symbols)
        for path in graph.refs_of:
            graph._relink(path)
        return graph

    def _store(self, path: str, symbols: Iterable[Symbol]) -> set[str]:
        """Record ``path``'s symbols; return the names whose set of definers changed."""
        defs = {s.name for s in symbols if s.is_definition}
        refs = Counter(s.name for s in symbols if not s.is_definition)
        old_defs = self.defs_of.get(path, set())
        for name in old_defs - defs:
            self.definers[name].discard(path)
        for name in defs - old_defs:
            self.definers[name].add(path)
        for name in self.refs_of.get(path, Counter()).keys() - refs.keys():
            self.referrers[name].discard(path)
        for name in refs:
            self.referrers[name].add(path)
        self.defs_of[path], self.refs_of[path] = defs, refs
        self._arrays = None
        return old_defs ^ defs

    def _relink(self, path: str) -> None:
        out: dict[str, float] = defaultdict(float)
        for name, count in self.refs_of.get(path, Counter()).items():
            definers = self.definers.get(name)
            if not definers:
                continue
            for target in definers:
                if target != path:
                    out[target] += math.sqrt(count) / len(definers)
        self.edges[path] = dict(out)

    def update_file(self, path: str, symbols: Sequence[Symbol]) -> None:
        changed = self._store(path, symbols)
        stale = {path} | {f for name in changed for f in self.referrers.get(name, ())}
        for file in stale:
            self._relink(file)

    def remove_file(self, path: str) -> None:
        changed = self._store(path, [])
        self.defs_of.pop(path, None)
        self.refs_of.pop(path, None)
        self.edges.pop(path, None)
        for file in {f for name in changed for f in self.referrers.get(name, ())}:
            self._relink(file)

    def _matrix(self) -> tuple[list[str], Any, Any, Any]:
        if self._arrays is None:
            nodes = sorted(self.edges)
            index = {n: i for i, n in enumerate(nodes)}
            src, dst, weight = [], [], []
            for node, targets in self.edges.items():
                for target, w in targets.items():
                    if target in index:
                        src.append(index[node])
                        dst.append(index[target])
                        weight.append(w)
            self._arrays = (nodes, np.array(src, dtype=np.int64), np.array(dst, dtype=np.int64),
                            np.array(weight, dtype=np.float64))  # fmt: skip
        return self._arrays

    def pagerank(
        self, restart: Mapping[str, float], damping: float = 0.85, iterations: int = 30
    ) -> dict[str, float]:
        """Personalised PageRank; ``restart`` weights need not sum to 1."""
        nodes, src, dst, weight = self._matrix()
        n = len(nodes)
        if not n:
            return {}
        position = {p: i for i, p in enumerate(nodes)}
        base = np.zeros(n)
        for path, w in restart.items():
            if path in position:
                base[position[path]] += w
        base = base / base.sum() if base.sum() else np.full(n, 1 / n)
        out_weight = np.bincount(src, weights=weight, minlength=n)
        share = np.divide(
            weight, out_weight[src], out=np.zeros_like(weight), where=out_weight[src] > 0
        )
        dead = out_weight == 0
        rank = np.full(n, 1 / n)
        for _ in range(iterations):
            flow = np.bincount(dst, weights=rank[src] * share, minlength=n)
            # A dead end restarts like the walker does.
            rank = damping * (flow + rank[dead].sum() * base) + (1 - damping) * base
        return dict(zip(nodes, rank.tolist(), strict=True))

    def restart_weights(
        self, target: str, selection_names: Iterable[str], open_files: Iterable[str]
    ) -> dict[str, float]:
        weights: dict[str, float] = defaultdict(float)
        weights[target] += 1.0
        defining = {f for n in selection_names for f in self.definers.get(n, ())} - {target}
        for path in defining:
            weights[path] += 0.5 / len(defining)
        others = [p for p in open_files if p != target]
        for path in others:
            weights[path] += 0.25 / len(others)
        return dict(weights)


class BM25:
    """Okapi BM25 over documents given as term lists (k1 1.2, b 0.75)."""

    def __init__(
        self, documents: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75
    ) -> None:
        self.k1, self.b = k1, b
        self.counts = [Counter(d) for d in documents]
        self.lengths = [len(d) for d in documents]
        self.average = (sum(self.lengths) / len(documents)) if documents else 0.0
        df: Counter[str] = Counter()
        for counts in self.counts:
            df.update(counts.keys())
        n = len(documents)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def scores(self, query: Sequence[str]) -> list[float]:
        wanted = [t for t in set(query) if t in self.idf]
        out = []
        for counts, length in zip(self.counts, self.lengths, strict=True):
            norm = self.k1 * (1 - self.b + self.b * length / (self.average or 1))
            out.append(
                sum(
                    self.idf[t] * counts[t] * (self.k1 + 1) / (counts[t] + norm)
                    for t in wanted
                    if t in counts
                )
            )
        return out


def normalise(values: Sequence[float]) -> list[float]:
    top = max(values, default=0.0)
    return [v / top for v in values] if top > 0 else [0.0 for _ in values]


def proximity(chunk_start: int, chunk_end: int, cursor_line: int, scale: float = 50.0) -> float:
    """1 for a chunk holding the cursor, falling off with distance in lines."""
    if chunk_start <= cursor_line < chunk_end:
        return 1.0
    distance = (
        chunk_start - cursor_line if chunk_start > cursor_line else cursor_line - chunk_end + 1
    )
    return 1.0 / (1.0 + distance / scale)


def combined(pagerank: float, bm25: float, near: float) -> float:
    return WEIGHT_PAGERANK * pagerank + WEIGHT_BM25 * bm25 + WEIGHT_PROXIMITY * near
