"""Ranking what to show: a symbol graph with personalised PageRank, BM25, and proximity.

Weighting (the pack combines the three per chunk, each normalised to 0..1):

- **PageRank, 0.5.** Files are nodes; a file that references a name another file defines
  gets an edge to it, weighted by sqrt(reference count) / (number of files defining the
  name), so a name defined everywhere (``__init__``, ``get``) connects little. The random
  walk restarts at the target file (weight 1), the files defining identifiers of the
  selection (0.5 split among them) and the open documents (0.25 split). Names defined in
  more than 20 files add no edges at all. This is what finds
  the definitions an edit depends on, and it is the strongest signal, so it weighs most.
- **BM25, 0.35.** Over identifier parts and words of each chunk, queried with the
  instruction's words and the selection's identifiers: it finds code about what the user
  said even when no reference links it (a test of the function, a similar helper).
- **Proximity, 0.15.** Files near the target in the folder tree: the same folder 1, a parent
  or child folder 1/2, and so on (1 / (1 + folder steps)). Code beside the file being edited
  (its package, its tests) is likelier to matter than code far away, even when no reference
  links them yet. Small, because it knows nothing of the code. (It used to mean chunks of
  the target near the cursor; but the target's own chunks never compete — the pack shows
  the target itself — so that weight never took part.)
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from fathom.context.symbols import FileSymbols

WEIGHT_PAGERANK = 0.5
WEIGHT_BM25 = 0.35
WEIGHT_PROXIMITY = 0.15
MAX_DEFINERS = 20  # a name defined in more files than this adds no edges

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CAMEL = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def terms(text: str) -> Counter[str]:
    """Lower-case words and identifier parts, counted: ``parseHTTPResponse_v2`` -> parse, http,
    response, v2 (and the whole identifier, so exact names match best)."""
    words = Counter(_WORD.findall(text))  # counted in C; each distinct word expands once
    out: Counter[str] = Counter()
    for word, count in words.items():
        for term in _expand(word):
            out[term] += count
    return out


@lru_cache(maxsize=1 << 16)
def _expand(word: str) -> tuple[str, ...]:
    word = word.strip("_")
    if not word:
        return ()
    parts = [p.lower() for piece in word.split("_") for p in _CAMEL.findall(piece)]
    return (word.lower(), *parts) if len(parts) > 1 else (word.lower(),)


class SymbolGraph:
    """Files and the references between them, kept current by deltas.

    An edit changes only the edges its changed names touch: a reference count that moved
    shifts that file's edges to the name's definers; a definition that appeared or vanished
    moves the edges of the files that reference it. Nothing is rebuilt.
    """

    def __init__(self) -> None:
        self.defs_of: dict[str, set[str]] = {}
        self.refs_of: dict[str, Counter[str]] = {}
        self.definers: dict[str, set[str]] = defaultdict(set)
        self.referrers: dict[str, set[str]] = defaultdict(set)
        self.edges: dict[str, dict[str, float]] = {}
        self._index: dict[str, int] = {}  # stable node numbers: a removed file keeps its own
        self._rows: dict[str, tuple[Any, Any]] = {}  # per source: target numbers, weights
        self._arrays: tuple[Any, Any, Any] | None = None

    @classmethod
    def build(cls, symbols_by_file: Mapping[str, FileSymbols]) -> SymbolGraph:
        graph = cls()
        for path in sorted(symbols_by_file):
            symbols = symbols_by_file[path]
            graph._node(path)
            graph.defs_of[path] = symbols.def_names()
            graph.refs_of[path] = Counter(name for name, _line in symbols.refs)
            for name in graph.defs_of[path]:
                graph.definers[name].add(path)
            for name in graph.refs_of[path]:
                graph.referrers[name].add(path)
        for path, refs in graph.refs_of.items():
            out: dict[str, float] = {}
            for name, count in refs.items():
                graph._spread(out, path, graph.definers.get(name), math.sqrt(count))
            graph.edges[path] = out
        return graph

    def _node(self, path: str) -> int:
        if path not in self._index:
            self._index[path] = len(self._index)
        return self._index[path]

    @staticmethod
    def _spread(
        out: dict[str, float], source: str, definers: set[str] | None, amount: float
    ) -> None:
        """Add ``amount`` shared among a name's definers to ``source``'s edges. A name defined
        in more than MAX_DEFINERS files (``get``, ``__init__``, ``setUp``) says nothing about
        which one is meant, and would only fill the graph with faint edges."""
        if not definers or len(definers) > MAX_DEFINERS:
            return
        share = amount / len(definers)
        for target in definers:
            if target != source:
                weight = out.get(target, 0.0) + share
                if weight > 1e-9:
                    out[target] = weight
                else:
                    out.pop(target, None)

    def update_file(self, path: str, symbols: FileSymbols) -> None:
        """Replace ``path``'s symbols."""
        refs = Counter(name for name, _line in symbols.refs)
        old = self.refs_of.get(path, Counter())
        counts = {name: refs.get(name, 0) for name in refs.keys() | old.keys()}
        self.change_file(path, symbols.def_names(), counts)

    def change_file(self, path: str, defs: set[str], ref_counts: Mapping[str, int]) -> None:
        """``path`` now defines ``defs``; each name of ``ref_counts`` is referenced that many
        times (0: no more); names not given keep their counts."""
        self._node(path)
        refs = self.refs_of.setdefault(path, Counter())
        out = self.edges.setdefault(path, {})
        touched = {path}
        for name, count in ref_counts.items():
            old = refs.get(name, 0)
            if count == old:
                continue
            self._spread(out, path, self.definers.get(name), math.sqrt(count) - math.sqrt(old))
            if count:
                refs[name] = count
                self.referrers[name].add(path)
            else:
                del refs[name]
                self.referrers[name].discard(path)
        old_defs = self.defs_of.get(path, set())
        for name in defs ^ old_defs:
            before = set(self.definers.get(name, ()))
            if name in defs:
                self.definers[name].add(path)
            else:
                self.definers[name].discard(path)
            after = self.definers[name]
            for referrer in self.referrers.get(name, ()):
                weight = math.sqrt(self.refs_of[referrer][name])
                edges = self.edges.setdefault(referrer, {})
                self._spread(edges, referrer, before, -weight)
                self._spread(edges, referrer, after, weight)
                touched.add(referrer)
        self.defs_of[path] = set(defs)
        for source in touched:
            self._rows.pop(source, None)
        self._arrays = None

    def remove_file(self, path: str) -> None:
        self.change_file(path, set(), dict.fromkeys(self.refs_of.get(path, ()), 0))
        self.defs_of.pop(path, None)
        self.refs_of.pop(path, None)
        self.edges.pop(path, None)
        self._rows.pop(path, None)

    def _matrix(self) -> tuple[Any, Any, Any]:
        """Edges as arrays (source, target, weight), rebuilt only for sources that changed."""
        if self._arrays is None:
            src, dst, weight = [], [], []
            for source, targets in self.edges.items():
                if source not in self._rows:
                    self._rows[source] = (
                        np.fromiter((self._index[t] for t in targets), np.int64, len(targets)),
                        np.fromiter(targets.values(), np.float64, len(targets)),
                    )
                row_dst, row_weight = self._rows[source]
                src.append(np.full(len(row_dst), self._index[source], np.int64))
                dst.append(row_dst)
                weight.append(row_weight)
            empty = [np.zeros(0, np.int64)]
            self._arrays = (
                np.concatenate(src or empty),
                np.concatenate(dst or empty),
                np.concatenate(weight or [np.zeros(0)]),
            )
        return self._arrays

    def pagerank(
        self, restart: Mapping[str, float], damping: float = 0.85, tolerance: float = 1e-5
    ) -> dict[str, float]:
        """Personalised PageRank; ``restart`` weights need not sum to 1. Iterates until the
        ranks move less than ``tolerance`` in total (at most 50 rounds)."""
        src, dst, weight = self._matrix()
        n = len(self._index)
        live = [p for p in self._index if p in self.edges or p in self.defs_of]
        if not live:
            return {}
        base = np.zeros(n)
        for path, w in restart.items():
            if path in self._index:
                base[self._index[path]] += w
        alive = np.zeros(n, dtype=bool)
        alive[[self._index[p] for p in live]] = True
        base = base / base.sum() if base.sum() else alive / alive.sum()
        out_weight = np.bincount(src, weights=weight, minlength=n)
        share = np.divide(
            weight, out_weight[src], out=np.zeros_like(weight), where=out_weight[src] > 0
        )
        dead = (out_weight == 0) & alive
        rank = alive / alive.sum()
        for _ in range(50):
            flow = np.bincount(dst, weights=rank[src] * share, minlength=n)
            # A dead end restarts like the walker does.
            new = damping * (flow + rank[dead].sum() * base) + (1 - damping) * base
            moved = np.abs(new - rank).sum()
            rank = new
            if moved < tolerance:
                break
        return {p: float(rank[self._index[p]]) for p in live}

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
    """Okapi BM25 over documents given as term lists or Counters (k1 1.2, b 0.75).

    Document frequencies are counted only for the query's terms, when scoring: a pack scores
    one query over a fresh candidate set, so a full vocabulary table would be wasted work.
    """

    def __init__(
        self, documents: Sequence[Sequence[str] | Counter[str]], k1: float = 1.2, b: float = 0.75
    ) -> None:
        self.k1, self.b = k1, b
        self.counts = [d if isinstance(d, Counter) else Counter(d) for d in documents]
        self.lengths = [c.total() for c in self.counts]
        self.average = (sum(self.lengths) / len(documents)) if documents else 0.0

    def scores(self, query: Iterable[str]) -> list[float]:
        wanted = sorted(set(query))
        if not self.counts or not wanted:
            return [0.0] * len(self.counts)
        # documents x query terms; the arithmetic is vectorised, and each document is only
        # asked for the query terms it has (a set intersection, in C)
        column = {t: i for i, t in enumerate(wanted)}
        tf = np.zeros((len(self.counts), len(wanted)))
        for row, counts in enumerate(self.counts):
            for term in counts.keys() & column.keys():
                tf[row, column[term]] = counts[term]
        n = len(self.counts)
        df = (tf > 0).sum(axis=0)
        idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
        lengths = np.asarray(self.lengths, dtype=np.float64)
        norm = self.k1 * (1 - self.b + self.b * lengths / (self.average or 1))
        return (tf * (self.k1 + 1) / (tf + norm[:, None]) * idf).sum(axis=1).tolist()


def normalise(values: Sequence[float]) -> list[float]:
    top = max(values, default=0.0)
    return [v / top for v in values] if top > 0 else [0.0 for _ in values]


def proximity(path: str, target: str) -> float:
    """1 for a file in the target's folder, 1 / (1 + folder steps) elsewhere (posix paths
    relative to the root)."""
    here, there = path.split("/")[:-1], target.split("/")[:-1]
    common = 0
    for a, b in zip(here, there, strict=False):
        if a != b:
            break
        common += 1
    return 1.0 / (1.0 + len(here) + len(there) - 2 * common)


def combined(pagerank: float, bm25: float, near: float) -> float:
    return WEIGHT_PAGERANK * pagerank + WEIGHT_BM25 * bm25 + WEIGHT_PROXIMITY * near
