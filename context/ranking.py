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
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class SymbolGraph:
    edges: Mapping[str, Mapping[str, float]]  # file -> {file it references: weight}
    definers: Mapping[str, frozenset[str]]  # name -> files defining it

    @classmethod
    def build(cls, symbols_by_file: Mapping[str, Sequence[Symbol]]) -> SymbolGraph:
        definers: dict[str, set[str]] = defaultdict(set)
        for path, symbols in symbols_by_file.items():
            for symbol in symbols:
                if symbol.is_definition:
                    definers[symbol.name].add(path)
        edges: dict[str, dict[str, float]] = {}
        for path, symbols in symbols_by_file.items():
            refs = Counter(s.name for s in symbols if not s.is_definition and s.name in definers)
            out: dict[str, float] = defaultdict(float)
            for name, count in refs.items():
                targets = definers[name] - {path}
                for target in targets:
                    out[target] += math.sqrt(count) / len(definers[name])
            edges[path] = dict(out)
        return cls(edges, {k: frozenset(v) for k, v in definers.items()})

    def pagerank(
        self, restart: Mapping[str, float], damping: float = 0.85, iterations: int = 30
    ) -> dict[str, float]:
        """Personalised PageRank; ``restart`` weights need not sum to 1."""
        nodes = list(self.edges)
        if not nodes:
            return {}
        total = sum(v for k, v in restart.items() if k in self.edges) or 0.0
        base = (
            {k: v / total for k, v in restart.items() if k in self.edges}
            if total
            else {n: 1 / len(nodes) for n in nodes}
        )
        rank = dict.fromkeys(nodes, 1 / len(nodes))
        out_weight = {n: sum(e.values()) for n, e in self.edges.items()}
        for _ in range(iterations):
            nxt = {n: (1 - damping) * base.get(n, 0.0) for n in nodes}
            dangling = sum(rank[n] for n in nodes if not out_weight[n])
            for node, targets in self.edges.items():
                if out_weight[node]:
                    share = damping * rank[node] / out_weight[node]
                    for target, weight in targets.items():
                        nxt[target] += share * weight
            for n, b in base.items():  # a dead end restarts like the walker does
                nxt[n] += damping * dangling * b
            rank = nxt
        return rank

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
