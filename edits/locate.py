"""Find where each hunk's original lines are in the current text, by content.

Line numbers from a model are hints at best. Strategies, in order, each tried only when the
one before found nothing:

1. exact: the original lines, byte for byte;
2. whitespace-insensitive: ignoring indentation and line-end whitespace (the replacement is
   re-indented relative to the file);
3. elided: the model wrote ``...`` (or ``# ...``, ``// ...``) for a run of unchanged lines;
   the pieces between the markers must appear in order;
4. fuzzy: the model dropped, invented or misquoted a few lines; the best window by line
   similarity wins if it clears ``FUZZY_THRESHOLD`` and no other window comes close, where
   the hunk's context lines decide between near-equal windows.

A hunk that matches in more than one place, or nowhere, is an error naming the hunk: guessing
between two places could put the edit in the wrong one, which is worse than asking again.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from enum import StrEnum

from fathom.context.text import dominant_ending, line_ending, line_starts, split_lines, strip_ending
from fathom.edits.diff_parse import Hunk, is_elision
from fathom.edits.errors import HunkLocationError

# Share of the hunk's original lines (similarity-weighted) a fuzzy window must match.
FUZZY_THRESHOLD = 0.8
# A quoted line this similar to a file line is that line, misquoted.
MISQUOTE = 0.6
# A runner-up within this score of the best window makes the hunk ambiguous...
NEAR_EQUAL = 0.05
# ...unless the context lines alone separate the two by at least this much.
CONTEXT_DECIDES = 0.1
# An elided run of unchanged lines is at most this long (a marker is not "the rest of the file").
MAX_ELIDED_LINES = 400
# Between equal candidates, the hunk header's line number decides if it names exactly one of
# them within this many lines: "@@ -236,7" for a block that is at 236 and at 299 means 236.
# Far-off numbers (models miscount by tens) decide nothing.
HEADER_SLACK = 2


class Strategy(StrEnum):
    EXACT = "exact"
    WHITESPACE = "whitespace-insensitive"
    ELIDED = "elided lines"
    FUZZY = "fuzzy"


@dataclass(frozen=True, slots=True)
class OffsetEdit:
    """Replace ``text[start:end]`` with ``new_text`` (offsets in Python characters)."""

    start: int
    end: int
    new_text: str


@dataclass(frozen=True, slots=True)
class LocatedHunk:
    hunk: Hunk
    first_line: int  # 0-based line of the first original line in the text
    strategy: Strategy
    edit: OffsetEdit
    score: float = 1.0  # similarity of the matched window (1.0 unless fuzzy)
    # Set when the hunk matched several places and its header's line number chose one.
    chosen_by_header: str = ""


@dataclass(frozen=True, slots=True)
class _Match:
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


def _loose(s: str) -> str:
    return s.strip()


def _ranges(found: list[int], n: int) -> list[_Match]:
    return [_Match(tuple(range(i, i + n))) for i in found]


def _contiguous(have: list[str], want: list[str]) -> list[int]:
    n = len(want)
    first = want[0]
    return [i for i in range(len(have) - n + 1) if have[i] == first and have[i : i + n] == want]


def _elided(have: list[str], old: list[str]) -> list[_Match]:
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
    keys = [_loose(x) for x in old]
    results: list[_Match] = []
    for anchor in _contiguous(have, keys[pieces[0][0] : pieces[0][1]]):
        pairs: list[int | None] = [None] * len(old)
        covers: list[tuple[int, range]] = []
        cursor = anchor
        ok = True
        for n, (a, b) in enumerate(pieces):
            if n:
                want = keys[a:b]
                window = have[cursor : cursor + MAX_ELIDED_LINES + len(want)]
                hits = _contiguous(window, want)
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
            results.append(_Match(tuple(pairs), tuple(covers)))
    return results


def _similarity(a: str, b: str) -> float:
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    if matcher.real_quick_ratio() < 0.5 or matcher.quick_ratio() < 0.5:
        return 0.0
    return matcher.ratio()


def _align(old: list[str], region: list[str], offset: int) -> _Match | None:
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
                scored = [(_similarity(old_nb[i], region_nb[j]), j) for j in range(next_j, j2)]
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
            1.0 if region[p - offset] == old[i] else _similarity(old[i], region[p - offset])
            for i, p in enumerate(pairs)
            if p is not None
        )
        placed = [p for p in pairs if p is not None]
    window = max(placed) - min(placed) + 1
    return _Match(tuple(pairs), score=credit / max(len(old), window))


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


def _fuzzy(have: list[str], old: list[str]) -> list[_Match]:
    """Windows of ``have`` similar to ``old``, best first; anchored on lines found verbatim."""
    keys = [_loose(x) for x in old]
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
    matches: dict[tuple[int | None, ...], _Match] = {}
    for start in starts:
        lo = max(0, start - slack)
        region = have[lo : start + n + slack]
        match = _align(keys, region, lo)
        if match is not None and match.score >= FUZZY_THRESHOLD:
            matches.setdefault(match.pairs, match)
    return sorted(matches.values(), key=lambda m: -m.score)


def _context_score(hunk: Hunk, match: _Match, have: list[str]) -> float:
    """How well the hunk's context lines (not the removed ones) agree with the match."""
    old = [ln for ln in hunk.lines if ln.kind != "+"]
    scores = [
        _similarity(_loose(line.text), have[p]) if p is not None else 0.0
        for line, p in zip(old, match.pairs, strict=True)
        if line.kind == " "
    ]
    return sum(scores) / len(scores) if scores else 0.0


def _distinct(matches: list[_Match]) -> list[_Match]:
    """Drop candidates that overlap a better one: they are the same place, aligned differently."""
    kept: list[_Match] = []
    for m in matches:
        if all(m.end <= k.first or m.first >= k.end for k in kept):
            kept.append(m)
    return kept


def _indent(s: str) -> str:
    return s[: len(s) - len(s.lstrip(" \t"))]


def _uses_tabs(doc: list[str]) -> bool:
    """The file indents with tabs (more tab-indented lines than space-indented ones)."""
    tabs = sum(1 for line in doc if line.startswith("\t"))
    spaces = sum(1 for line in doc if line.startswith(" ") and line.strip())
    return tabs > spaces


def _space_unit(pairs: list[tuple[str, str]], model_lines: list[str]) -> int:
    """How many of the model's spaces make one of the file's tabs."""
    for model, doc in pairs:
        tabs, spaces = len(_indent(doc)), len(_indent(model))
        if tabs and spaces and spaces % tabs == 0 and "\t" not in _indent(model):
            return spaces // tabs
    widths = [len(_indent(x)) for x in model_lines if x.strip() and _indent(x)]
    return min(widths, default=4) or 4


def _reference_indents(pairs: list[tuple[str, str]]) -> tuple[str, str]:
    """The (model, file) indentation of the pair whose shift most matched lines agree on.

    One pair alone can mislead: a dropped outer "}" lets the model's "    }" pair with the
    file's "}", and its shift would move every added line. Lines with words in them vote;
    brace- or punctuation-only lines only if nothing else is there.
    """
    wordy = [pr for pr in pairs if any(c.isalnum() for c in pr[0])] or pairs
    shifts = Counter(
        len(_indent(doc).expandtabs(4)) - len(_indent(model).expandtabs(4)) for model, doc in wordy
    )
    best = max(shifts.values())
    for model, doc in wordy:  # the first pair with a winning shift
        if shifts[len(_indent(doc).expandtabs(4)) - len(_indent(model).expandtabs(4))] == best:
            return _indent(model), _indent(doc)
    raise AssertionError("unreachable: pairs is not empty")


def _reindenter(
    pairs: list[tuple[str, str]], model_lines: list[str], file_uses_tabs: bool
) -> Callable[[str], str]:
    """Shift every line by the indentation difference between the model's copy and the file.

    ``pairs`` are (model's line, file's line) for the matched lines; the first one sets the
    shift. Each line moves by the same amount, so the block's own structure is kept, and a
    model that wrote spaces into a tab-indented file gets tabs back.
    """
    model_ref, doc_ref = _reference_indents(pairs)
    model_indents = [_indent(x) for x in model_lines if x.strip()]
    spaces_for_tabs = file_uses_tabs and not any("\t" in i for i in model_indents)
    spaces_for_tabs = spaces_for_tabs and any(" " in i for i in model_indents)
    if spaces_for_tabs:
        unit = _space_unit(pairs, model_lines)
        delta = len(doc_ref.expandtabs(unit)) // unit - len(model_ref) // unit

        def to_tabs(line: str) -> str:
            if not line.strip():
                return line
            lead = _indent(line)
            levels, rest = divmod(len(lead.expandtabs(unit)), unit)
            return "\t" * max(0, levels + delta) + " " * rest + line[len(lead) :]

        return to_tabs
    if model_ref == doc_ref:
        return lambda line: line
    delta = len(doc_ref) - len(model_ref)
    fill = doc_ref[:1] or model_ref[:1]

    def shift(line: str) -> str:
        if not line.strip():
            return line
        if line.startswith(model_ref):
            return doc_ref + line[len(model_ref) :]
        lead = _indent(line)  # shallower than the reference line: same shift, in the file's kind
        return fill * max(0, len(lead) + delta) + line[len(lead) :]

    return shift


def _replacement(hunk: Hunk, doc: list[str], match: _Match, reindent: bool, eol: str) -> str:
    """New text for the document lines ``match.first`` .. ``match.end``."""
    old_kinds = [ln for ln in hunk.lines if ln.kind != "+"]
    shift: Callable[[str], str] = lambda line: line  # noqa: E731
    if reindent:
        pairs = [
            (line.text, strip_ending(doc[p]))
            for line, p in zip(old_kinds, match.pairs, strict=True)
            if p is not None and line.text.strip()
        ]
        if pairs:
            shift = _reindenter(pairs, [ln.text for ln in hunk.lines], _uses_tabs(doc))
    covers = dict(match.covers)
    pieces: list[str] = []
    cursor = match.first  # next document line not yet emitted or dropped
    j = 0  # index into the original (non-"+") lines
    for line in hunk.lines:
        if line.kind == "+":
            pieces.append(shift(line.text) + eol)
            continue
        target = match.pairs[j]
        span = covers.get(j)
        j += 1
        if span is not None:
            # Lines behind an elision marker: kept as context, dropped if the marker is "-".
            if line.kind == " ":
                pieces += doc[cursor : span.stop]
            cursor = max(cursor, span.stop)
            continue
        if target is None:
            continue  # a line the model invented: there is nothing in the file to keep or drop
        pieces += doc[cursor:target]  # lines the model left out of its quote are kept
        if line.kind == " ":
            pieces.append(doc[target])  # the file's own bytes, ending included
        cursor = target + 1
    pieces += doc[cursor : match.end]
    # The file's last line may have no ending; lines that now follow it need one.
    for i, piece in enumerate(pieces[:-1]):
        if not line_ending(piece):
            pieces[i] = piece + eol
    new_text = "".join(pieces)
    # The last replaced line had no ending (end of file without a final newline): keep it so.
    last = doc[match.end - 1]
    if match.end == len(doc) and not line_ending(last) and new_text.endswith(eol):
        new_text = new_text[: -len(eol)]
    return new_text


def _ambiguous(hunk: Hunk, path: str, matches: Sequence[_Match], how: str) -> HunkLocationError:
    lines = ", ".join(str(m.first + 1) for m in matches[:5])
    return HunkLocationError(
        f"Hunk {hunk.index} of {path} matches {len(matches)} places {how}(lines {lines}); "
        "it needs more context lines to say which one."
    )


def _named_by_header(hunk: Hunk, matches: Sequence[_Match]) -> _Match | None:
    """The one candidate the hunk header's line number points at, if it points at one."""
    if hunk.header_line is None:
        return None
    near = [m for m in matches if abs(m.first + 1 - hunk.header_line) <= HEADER_SLACK]
    return near[0] if len(near) == 1 else None


def _one_of(
    hunk: Hunk, path: str, strategy: Strategy, matches: Sequence[_Match], how: str
) -> tuple[Strategy, _Match, str]:
    named = _named_by_header(hunk, matches)
    if named is None:
        raise _ambiguous(hunk, path, matches, how)
    lines = ", ".join(str(m.first + 1) for m in matches[:5])
    note = (
        f"hunk {hunk.index} of {path} matched {len(matches)} places {how}(lines {lines}); "
        f"took line {named.first + 1}, the one its header names"
    )
    return strategy, named, note


def _find(hunk: Hunk, doc: list[str], path: str) -> tuple[Strategy, _Match, str]:
    old = hunk.old_lines
    stripped = [strip_ending(x) for x in doc]
    exact = _ranges(_contiguous(stripped, old), len(old))
    if len(exact) > 1:
        return _one_of(hunk, path, Strategy.EXACT, exact, "")
    if exact:
        return Strategy.EXACT, exact[0], ""
    loose_doc = [_loose(x) for x in stripped]
    loose = _ranges(_contiguous(loose_doc, [_loose(x) for x in old]), len(old))
    if len(loose) > 1:
        return _one_of(hunk, path, Strategy.WHITESPACE, loose, "ignoring whitespace ")
    if loose:
        return Strategy.WHITESPACE, loose[0], ""
    elided = _distinct(_elided(loose_doc, old))
    if len(elided) > 1:
        return _one_of(hunk, path, Strategy.ELIDED, elided, "with its elided lines ")
    if elided:
        return Strategy.ELIDED, elided[0], ""
    fuzzy = _distinct(_fuzzy(loose_doc, old))
    if len(fuzzy) > 1:
        # Several places clear the threshold. Where the two best are near-equal, the context
        # lines may tell them apart. Otherwise only the header can: a better score elsewhere
        # may be a misquote there against a dropped line here (a "Get" comment misread as
        # "Set"), and guessing would put the edit in the wrong function.
        near_tie = fuzzy[1].score >= fuzzy[0].score - NEAR_EQUAL
        best, runner_up = (_context_score(hunk, m, loose_doc) for m in fuzzy[:2])
        if not near_tie or best < runner_up + CONTEXT_DECIDES:
            return _one_of(hunk, path, Strategy.FUZZY, fuzzy, "about equally well ")
    if fuzzy:
        return Strategy.FUZZY, fuzzy[0], ""
    preview = strip_ending(old[0])[:60]
    raise HunkLocationError(
        f"Hunk {hunk.index} of {path} does not match the file: its original lines "
        f"(starting {preview!r}) are not there, even ignoring whitespace or allowing for "
        "a few misquoted lines."
    )


def locate_hunk(hunk: Hunk, text: str, path: str) -> LocatedHunk:
    doc = split_lines(text)
    if not hunk.old_lines:
        if text:
            raise HunkLocationError(
                f"Hunk {hunk.index} of {path} adds lines but quotes no existing line to place "
                "them by; ask again with context lines."
            )
        new_text = "".join(line + "\n" for line in hunk.new_lines)
        return LocatedHunk(hunk, 0, Strategy.EXACT, OffsetEdit(0, 0, new_text))
    strategy, match, note = _find(hunk, doc, path)
    eol = dominant_ending(text)
    new_text = _replacement(hunk, doc, match, strategy is not Strategy.EXACT, eol)
    starts = line_starts(text)
    edit = OffsetEdit(starts[match.first], starts[match.end], new_text)
    return LocatedHunk(hunk, match.first, strategy, edit, match.score, note)


def locate_all(hunks: tuple[Hunk, ...], text: str, path: str) -> list[LocatedHunk]:
    """Locate every hunk of one file against the same text; all or none."""
    located = sorted((locate_hunk(h, text, path) for h in hunks), key=lambda h: h.edit.start)
    check_overlaps(located, path)
    return located


def check_overlaps(located: Sequence[LocatedHunk], path: str) -> None:
    for before, after in itertools.pairwise(sorted(located, key=lambda h: h.edit.start)):
        if after.edit.start < before.edit.end:
            raise HunkLocationError(
                f"Hunks {before.hunk.index} and {after.hunk.index} of {path} overlap."
            )
