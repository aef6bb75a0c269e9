"""Find where each hunk's original lines are in the current text, by content.

Line numbers from a model are hints at best. Strategies, in order, each tried only when the
one before found nothing:

1. exact: the original lines, byte for byte;
2. whitespace-insensitive: ignoring indentation and line-end whitespace (the replacement is
   re-indented relative to the file);
3. elided: the model wrote ``...`` (or ``# ...``, ``// ...``) for a run of unchanged lines;
   the pieces between the markers must appear in order;
4. fuzzy: the model dropped, invented or misquoted a few lines; the best window by line
   similarity wins if it clears ``matching.FUZZY_THRESHOLD`` and no other window comes
   close, where the hunk's context lines decide between near-equal windows.

A hunk that matches in more than one place, or nowhere, is an error naming the hunk: guessing
between two places could put the edit in the wrong one, which is worse than asking again.

This module is that policy (which strategy, which candidate, when to refuse) and the
replacement text built from the chosen match. The alignments that produce candidates live
in edits/matching.py and the indentation shift of added lines in edits/reindent.py, so each
can be read on its own; callers import only from here.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from fathom.context.text import dominant_ending, line_ending, line_starts, split_lines, strip_ending
from fathom.edits import matching
from fathom.edits.diff_parse import Hunk
from fathom.edits.errors import HunkLocationError
from fathom.edits.matching import Match
from fathom.edits.reindent import reindenter, uses_tabs

# A runner-up within this score of the best window makes the hunk ambiguous...
NEAR_EQUAL = 0.05
# ...unless the context lines alone separate the two by at least this much.
CONTEXT_DECIDES = 0.1
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


def _context_score(hunk: Hunk, match: Match, have: list[str]) -> float:
    """How well the hunk's context lines (not the removed ones) agree with the match."""
    old = [ln for ln in hunk.lines if ln.kind != "+"]
    scores = [
        matching.similarity(matching.loose(line.text), have[p]) if p is not None else 0.0
        for line, p in zip(old, match.pairs, strict=True)
        if line.kind == " "
    ]
    return sum(scores) / len(scores) if scores else 0.0


def _replacement(hunk: Hunk, doc: list[str], match: Match, reindent: bool, eol: str) -> str:
    """New text for the document lines ``match.first`` .. ``match.end``."""
    old_kinds = [ln for ln in hunk.lines if ln.kind != "+"]
    shift: Callable[[str], str] = lambda line: line  # noqa: E731
    if reindent:
        matched = [
            (line.kind, (line.text, strip_ending(doc[p])))
            for line, p in zip(old_kinds, match.pairs, strict=True)
            if p is not None and line.text.strip()
        ]
        pairs = [pair for _, pair in matched]
        removed = [pair for kind, pair in matched if kind == "-"]
        if pairs:
            shift = reindenter(pairs, [ln.text for ln in hunk.lines], uses_tabs(doc), removed)
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


def _ambiguous(hunk: Hunk, path: str, matches: Sequence[Match], how: str) -> HunkLocationError:
    lines = ", ".join(str(m.first + 1) for m in matches[:5])
    return HunkLocationError(
        f"Hunk {hunk.index} of {path} matches {len(matches)} places {how}(lines {lines}); "
        "it needs more context lines to say which one."
    )


def _named_by_header(hunk: Hunk, matches: Sequence[Match]) -> Match | None:
    """The one candidate the hunk header's line number points at, if it points at one."""
    if hunk.header_line is None:
        return None
    near = [m for m in matches if abs(m.first + 1 - hunk.header_line) <= HEADER_SLACK]
    return near[0] if len(near) == 1 else None


def _one_of(
    hunk: Hunk, path: str, strategy: Strategy, matches: Sequence[Match], how: str
) -> tuple[Strategy, Match, str]:
    named = _named_by_header(hunk, matches)
    if named is None:
        raise _ambiguous(hunk, path, matches, how)
    lines = ", ".join(str(m.first + 1) for m in matches[:5])
    note = (
        f"hunk {hunk.index} of {path} matched {len(matches)} places {how}(lines {lines}); "
        f"took line {named.first + 1}, the one its header names"
    )
    return strategy, named, note


def _find(hunk: Hunk, doc: list[str], path: str) -> tuple[Strategy, Match, str]:
    old = hunk.old_lines
    stripped = [strip_ending(x) for x in doc]
    exact = matching.ranges(matching.contiguous(stripped, old), len(old))
    if len(exact) > 1:
        return _one_of(hunk, path, Strategy.EXACT, exact, "")
    if exact:
        return Strategy.EXACT, exact[0], ""
    loose_doc = [matching.loose(x) for x in stripped]
    loose = matching.ranges(
        matching.contiguous(loose_doc, [matching.loose(x) for x in old]), len(old)
    )
    if len(loose) > 1:
        return _one_of(hunk, path, Strategy.WHITESPACE, loose, "ignoring whitespace ")
    if loose:
        return Strategy.WHITESPACE, loose[0], ""
    elided = matching.distinct(matching.elided(loose_doc, old))
    if len(elided) > 1:
        return _one_of(hunk, path, Strategy.ELIDED, elided, "with its elided lines ")
    if elided:
        return Strategy.ELIDED, elided[0], ""
    fuzzy = matching.distinct(matching.fuzzy(loose_doc, old))
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
