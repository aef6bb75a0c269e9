"""Find where each hunk's original lines are in the current text, by content.

Line numbers from a model are hints at best. Strategies, in order: exact, then ignoring
indentation and trailing whitespace (the replacement is re-indented relatively). A hunk that
matches nowhere, or in more than one place, is an error naming the hunk; the edit-engine
issue adds fuzzy matching behind these two.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from context.text import dominant_ending, line_ending, line_starts, split_lines, strip_ending
from edits.diff_parse import Hunk
from edits.errors import HunkLocationError


class Strategy(StrEnum):
    EXACT = "exact"
    WHITESPACE = "whitespace-insensitive"


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


_COMPARE: dict[Strategy, Callable[[str], str]] = {
    Strategy.EXACT: lambda s: s,
    Strategy.WHITESPACE: lambda s: s.strip(),
}


def _matches(doc: list[str], old: list[str], key: Callable[[str], str]) -> list[int]:
    want = [key(x) for x in old]
    have = [key(strip_ending(x)) for x in doc]
    n = len(want)
    return [i for i in range(len(have) - n + 1) if have[i : i + n] == want]


def _indent(s: str) -> str:
    return s[: len(s) - len(s.lstrip(" \t"))]


def _reindent(line: str, model_indent: str, doc_indent: str) -> str:
    """Shift ``line`` by the indentation difference between the model's copy and the file."""
    if model_indent == doc_indent or not line.strip():
        return line
    if line.startswith(model_indent):
        return doc_indent + line[len(model_indent) :]
    return doc_indent + line.lstrip(" \t")


def _replacement(
    hunk: Hunk, doc: list[str], first: int, strategy: Strategy, eol: str
) -> tuple[str, int]:
    """New text for the matched lines, and how many document lines it replaces."""
    model_indent = doc_indent = ""
    if strategy is Strategy.WHITESPACE:
        pairs = zip(hunk.old_lines, doc[first:], strict=False)
        for model_line, doc_line in pairs:
            if model_line.strip():
                model_indent, doc_indent = _indent(model_line), _indent(strip_ending(doc_line))
                break
    pieces: list[str] = []
    cursor = first
    for line in hunk.lines:
        if line.kind == " ":
            pieces.append(doc[cursor])  # the file's own bytes, ending included
            cursor += 1
        elif line.kind == "-":
            cursor += 1
        else:
            pieces.append(_reindent(line.text, model_indent, doc_indent) + eol)
    consumed = cursor - first
    # The last replaced line had no ending (end of file without a final newline): keep it so.
    if consumed and pieces and not line_ending(doc[cursor - 1]) and cursor == len(doc):
        pieces[-1] = strip_ending(pieces[-1])
    return "".join(pieces), consumed


def locate_hunk(hunk: Hunk, text: str, path: str) -> LocatedHunk:
    doc = split_lines(text)
    old = hunk.old_lines
    if not old:
        if text:
            raise HunkLocationError(
                f"Hunk {hunk.index} of {path} adds lines but quotes no existing line to place "
                "them by; ask again with context lines."
            )
        new_text = "".join(line + "\n" for line in hunk.new_lines)
        return LocatedHunk(hunk, 0, Strategy.EXACT, OffsetEdit(0, 0, new_text))
    for strategy, key in _COMPARE.items():
        found = _matches(doc, old, key)
        if len(found) > 1:
            lines = ", ".join(str(i + 1) for i in found[:5])
            raise HunkLocationError(
                f"Hunk {hunk.index} of {path} matches {len(found)} places (lines {lines}); "
                "it needs more context lines to say which one."
            )
        if found:
            first = found[0]
            new_text, consumed = _replacement(hunk, doc, first, strategy, dominant_ending(text))
            starts = line_starts(text)
            edit = OffsetEdit(starts[first], starts[first + consumed], new_text)
            return LocatedHunk(hunk, first, strategy, edit)
    preview = strip_ending(old[0])[:60]
    raise HunkLocationError(
        f"Hunk {hunk.index} of {path} does not match the file: its original lines "
        f"(starting {preview!r}) are not there, even ignoring whitespace."
    )


def locate_all(hunks: tuple[Hunk, ...], text: str, path: str) -> list[LocatedHunk]:
    """Locate every hunk of one file against the same text; all or none."""
    located = sorted((locate_hunk(h, text, path) for h in hunks), key=lambda h: h.edit.start)
    for before, after in itertools.pairwise(located):
        if after.edit.start < before.edit.end:
            raise HunkLocationError(
                f"Hunks {before.hunk.index} and {after.hunk.index} of {path} overlap."
            )
    return located
