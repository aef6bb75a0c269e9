"""Where a hunk's original lines are in a document: the alignments behind each strategy.

Each function answers "where could these lines be?" and never "which one is meant?": that
choice (several candidates, a header's line number, the context lines) is the policy in
edits/locate.py, kept apart so the alignments can be read and tuned without it.

- exact and whitespace-insensitive: a contiguous run equal to the quote (``contiguous``);
- elided: the quote's pieces between ``...`` markers, found in order (``elided``);
- fuzzy: windows the quote aligns to line by line, with misquoted, dropped and invented
  lines allowed, scored by how much of the quote they account for (``fuzzy``).
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher

from fathom.edits.diff_parse import is_elision

# Share of the hunk's original lines (similarity-weighted) a fuzzy window must match.
FUZZY_THRESHOLD = 0.8
# A quoted line this similar to a file line is that line, misquoted.
MISQUOTE = 0.6
# An elided run of unchanged lines is at most this long (a marker is not "the rest of the file").
MAX_ELIDED_LINES = 400


@dataclass(frozen=True, slots=True)
class Match:
    """Where a hunk's original lines are: one document line (or None) per original line."""

    pairs: tuple[int | None, ...]
    # For elision markers: the document lines the marker stands for.
    covers: tuple[tuple[int, range], ...] = ()
    score: float = 1.0

    @property
    def first(self) -> int:
        starts = [p for p in self.pairs if p is not None]
        starts += [r.start for _, r in self.covers if len(r)]
        return min(starts)

    @property
    def end(self) -> int:
        ends = [p + 1 for p in self.pairs if p is not None]
        ends += [r.stop for _, r in self.covers if len(r)]
        return max(ends)


def loose(s: str) -> str:
    """A line as the whitespace-insensitive strategies compare it."""
    return s.strip()


def ranges(found: list[int], n: int) -> list[Match]:
    """Matches for runs of ``n`` lines starting at each of ``found``."""
    return [Match(tuple(range(i, i + n))) for i in found]


def contiguous(have: list[str], want: list[str]) -> list[int]:
    """Every line of ``have`` where ``want`` starts as a contiguous run (``want`` not empty)."""
    n = len(want)
    first = want[0]
    return [i for i in range(len(have) - n + 1) if have[i] == first and have[i : i + n] == want]


def elided(have: list[str], old: list[str]) -> list[Match]:
    """Pieces of ``old`` between elision markers, found in order, each gap ≤ MAX_ELIDED_LINES."""
    markers = [j for j, line in enumerate(old) if is_elision(line)]
    pieces: list[tuple[int, int]] = []  # [start, stop) of each non-marker run in ``old``
    start = 0
    for m in [*markers, len(old)]:
        if m > start:
            pieces.append((start, m))
        start = m + 1
    if not markers or not pieces:
        return []
    keys = [loose(x) for x in old]
    results: list[Match] = []
    for anchor in contiguous(have, keys[pieces[0][0] : pieces[0][1]]):
        pairs: list[int | None] = [None] * len(old)
        covers: list[tuple[int, range]] = []
        cursor = anchor
        ok = True
        for n, (a, b) in enumerate(pieces):
            if n:
                want = keys[a:b]
                window = have[cursor : cursor + MAX_ELIDED_LINES + len(want)]
                hits = contiguous(window, want)
                if not hits:
                    ok = False
                    break
                gap_start = cursor
                cursor += hits[0]
                # The marker just before this piece stands for the skipped lines.
                covers.append((a - 1, range(gap_start, cursor)))
            for k in range(a, b):
                pairs[k] = cursor + k - a
            cursor += b - a
        if ok:
            results.append(Match(tuple(pairs), tuple(covers)))
    return results


def similarity(a: str, b: str) -> float:
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    if matcher.real_quick_ratio() < 0.5 or matcher.quick_ratio() < 0.5:
        return 0.0
    return matcher.ratio()


def _align(old: list[str], region: list[str], offset: int) -> Match | None:
    """Align ``old`` to ``region`` line by line; misquoted lines pair by character similarity.

    Blank lines are aligned last: they are everywhere, so letting them anchor the alignment
    pairs an invented blank line with a far one and leaves the real lines around it unpaired.
    """
    pairs: list[int | None] = [None] * len(old)
    credit = 0.0
    old_idx = [i for i, line in enumerate(old) if line]
    region_idx = [j for j, line in enumerate(region) if line]
    old_nb = [old[i] for i in old_idx]
    region_nb = [region[j] for j in region_idx]
    matcher = SequenceMatcher(None, old_nb, region_nb, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for k in range(i2 - i1):
                pairs[old_idx[i1 + k]] = offset + region_idx[j1 + k]
            credit += i2 - i1
        elif tag == "replace":
            # Pair each quoted line with its most similar file line, keeping the order; below
            # MISQUOTE similarity it is a different line, not a misquote.
            next_j = j1
            for i in range(i1, i2):
                scored = [(similarity(old_nb[i], region_nb[j]), j) for j in range(next_j, j2)]
                ratio, j = max(scored, default=(0.0, -1), key=lambda t: (t[0], -t[1]))
                if ratio >= MISQUOTE:
                    pairs[old_idx[i]] = offset + region_idx[j]
                    credit += ratio
                    next_j = j + 1
    credit += _place_blanks(old, region, offset, pairs)
    placed = [p for p in pairs if p is not None]
    if not placed:
        return None
    if _tighten(old, region, offset, pairs):
        credit = sum(
            1.0 if region[p - offset] == old[i] else similarity(old[i], region[p - offset])
            for i, p in enumerate(pairs)
            if p is not None
        )
        placed = [p for p in pairs if p is not None]
    window = max(placed) - min(placed) + 1
    return Match(tuple(pairs), score=credit / max(len(old), window))


def _place_blanks(old: list[str], region: list[str], offset: int, pairs: list[int | None]) -> int:
    """Pair the blank quoted lines of each gap between paired lines with blank file lines.

    In each gap, the blank quoted lines take the blank file lines in order: all of them when
    the counts agree; otherwise the run of file blanks closest to where the quote puts them
    (measured from the paired line before, or after for the leading gap). A blank line with no
    blank file line left in its gap was invented by the model and stays unpaired. Returns how
    many were paired.
    """
    anchors = [i for i, p in enumerate(pairs) if p is not None]
    if not anchors:
        return 0
    placed = 0
    bounds = [None, *anchors, None]
    for before, after in itertools.pairwise(bounds):
        first = 0 if before is None else before + 1
        last = len(old) if after is None else after
        blanks_old = [i for i in range(first, last) if not old[i]]
        if not blanks_old:
            continue
        low = 0 if before is None else pairs[before] - offset + 1  # type: ignore[operator]
        high = len(region) if after is None else pairs[after] - offset  # type: ignore[operator]
        blanks_doc = [j for j in range(max(low, 0), min(high, len(region))) if not region[j]]
        if not blanks_doc:
            continue
        n = min(len(blanks_old), len(blanks_doc))
        # Which quoted blanks get a file blank: those nearest the paired neighbour.
        chosen = blanks_old[:n] if before is not None else blanks_old[-n:]
        # Where the quote puts each of them, counted from that neighbour.
        wants = [low + (i - first) if before is not None else high - (last - i) for i in chosen]
        best = min(
            range(len(blanks_doc) - n + 1),
            key=lambda w: sum(abs(blanks_doc[w + k] - want) for k, want in enumerate(wants)),
        )
        for k, i in enumerate(chosen):
            pairs[i] = offset + blanks_doc[best + k]
            placed += 1
    return placed


def _tighten(old: list[str], region: list[str], offset: int, pairs: list[int | None]) -> bool:
    """Move lines paired across a gap to an equal line next to their neighbour.

    The matcher pairs a repeated line ("", "}") with its first occurrence in the region, which
    may be a line or two before the quote's real start (or after its end). The model's quote
    is contiguous in intent, so an equal line closer to the next (or previous) paired line is
    the one it meant. Returns whether anything moved.
    """
    moved = False
    paired = [i for i, p in enumerate(pairs) if p is not None]
    for a, b in reversed(list(itertools.pairwise(paired))):  # leading lines, pulled forward
        p, q = pairs[a], pairs[b]
        assert p is not None and q is not None
        if q - p > b - a:
            for t in range(q - 1, p, -1):
                if region[t - offset] == old[a]:
                    pairs[a], moved = t, True
                    break
    for a, b in itertools.pairwise(paired):  # trailing lines, pulled back
        p, q = pairs[a], pairs[b]
        assert p is not None and q is not None
        if q - p > b - a:
            for t in range(p + 1, q):
                if region[t - offset] == old[b]:
                    pairs[b], moved = t, True
                    break
    return moved


def fuzzy(have: list[str], old: list[str]) -> list[Match]:
    """Windows of ``have`` similar to ``old``, best first; anchored on lines found verbatim."""
    keys = [loose(x) for x in old]
    n = len(keys)
    slack = max(2, n // 4)
    positions: dict[str, list[int]] = {}
    wanted = {k for k in keys if k}
    for i, line in enumerate(have):
        if line in wanted:
            positions.setdefault(line, []).append(i)
    votes: Counter[int] = Counter()
    for j, key in enumerate(keys):
        hits = positions.get(key, ())
        if key and len(hits) <= 50:  # a line found everywhere ("}", "") says nothing
            votes.update({i - j for i in hits})
    needed = max(1, sum(1 for k in keys if k) // 4)
    starts = sorted(s for s, v in votes.items() if v >= needed)
    matches: dict[tuple[int | None, ...], Match] = {}
    for start in starts:
        lo = max(0, start - slack)
        region = have[lo : start + n + slack]
        match = _align(keys, region, lo)
        if match is not None and match.score >= FUZZY_THRESHOLD:
            matches.setdefault(match.pairs, match)
    return sorted(matches.values(), key=lambda m: -m.score)


def distinct(matches: list[Match]) -> list[Match]:
    """Drop candidates that overlap a better one: they are the same place, aligned differently."""
    kept: list[Match] = []
    for m in matches:
        if all(m.end <= k.first or m.first >= k.end for k in kept):
            kept.append(m)
    return kept
