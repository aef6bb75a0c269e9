"""Refuse edits that break the syntax: re-parse the edited file with tree-sitter.

An edit may only add ERROR or MISSING nodes where the file was already broken. Errors are
compared by line: inside an edited range, the old text's errors in the replaced range
excuse it; outside, an error must be the same (shifted) one the old text had.

tree-sitter's Python grammar recovers from what Python itself refuses (a body left indented
under a one-line ``def``: "unexpected indent"), so Python files also go through Python's own
parser (``ast.parse``: parsed, never run) when the file parsed before the edit.
"""

from __future__ import annotations

import ast
import bisect
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

from tree_sitter import Node

from fathom.context.languages import language_of, parser_for, source_bytes
from fathom.context.text import split_lines
from fathom.edits.locate import LocatedHunk


@dataclass(frozen=True, slots=True)
class SyntaxProblem:
    line: int  # 0-based line in the new text
    what: str  # "syntax error" or "missing 'x'"
    hunk_index: int  # the hunk held responsible


def _error_rows(text: str, language: str) -> list[tuple[int, int, str]]:
    """(first row, last row, description) of each ERROR or MISSING node."""
    tree = parser_for(language).parse(source_bytes(text))
    found: list[tuple[int, int, str]] = []
    stack: list[Node] = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_missing:
            found.append((node.start_point.row, node.end_point.row, f"missing {node.type!r}"))
        elif node.is_error:
            found.append((node.start_point.row, node.end_point.row, "syntax error"))
        elif node.has_error:
            stack.extend(node.children)
    return found


def _line_count(text: str) -> int:
    return len(split_lines(text))


def _hunk_spans(
    old_text: str | None, hunks: Sequence[LocatedHunk]
) -> list[tuple[range, range, int]]:
    """Each hunk's rows in the old text and in the new text, and its index, in order."""
    spans: list[tuple[range, range, int]] = []
    delta = 0
    for located in sorted(hunks, key=lambda h: h.edit.start):
        old_rows = _line_count(old_text[located.edit.start : located.edit.end]) if old_text else 0
        new_rows = _line_count(located.edit.new_text)
        start = located.first_line
        spans.append(
            (
                range(start, start + old_rows),
                range(start + delta, start + delta + new_rows),
                located.hunk.index,
            )
        )
        delta += new_rows - old_rows
    return spans


def check_syntax(
    path: Path, old_text: str | None, new_text: str, hunks: Sequence[LocatedHunk]
) -> list[SyntaxProblem]:
    """Problems ``hunks`` introduce into ``path`` (none for languages Fathom cannot parse)."""
    language = language_of(path)
    if language is None:
        return []
    new_errors = _error_rows(new_text, language)
    if not new_errors:
        return _python_problems(old_text, new_text, hunks) if language == "python" else []
    old_errors = _error_rows(old_text, language) if old_text else []
    spans = _hunk_spans(old_text, hunks)
    if not spans:  # a created file: all of it is new
        return [SyntaxProblem(first, what, 1) for first, _last, what in new_errors]

    # Lookups by bisection: a long reply can hold thousands of hunks and errors.
    old_sorted = sorted((first, last) for first, last, _ in old_errors)
    old_firsts = [first for first, _ in old_sorted]
    reach = list(accumulate((last for _, last in old_sorted), max))  # furthest last so far

    def old_has_error(rows: range) -> bool:
        lo, hi = rows.start, max(rows.stop - 1, rows.start)
        count = bisect.bisect_right(old_firsts, hi)  # errors starting at or before ``hi``
        return count > 0 and reach[count - 1] >= lo

    new_starts = [s[1].start for s in spans]
    new_lasts = [max(s[1].stop - 1, s[1].start) for s in spans]  # sorted: hunks never overlap
    problems = []
    for first, last, what in new_errors:
        touched = spans[
            bisect.bisect_left(new_lasts, first) : bisect.bisect_right(new_starts, last)
        ]
        if touched:
            if not any(old_has_error(old_rows) for old_rows, _, _ in touched):
                problems.append(SyntaxProblem(first, what, touched[0][2]))
            continue
        # Outside every hunk: the same error must have been there, shifted by the hunks above.
        before = bisect.bisect_right(new_starts, first) - 1
        shift = 0 if before < 0 else spans[before][1].stop - spans[before][0].stop
        if not old_has_error(range(first - shift, last - shift + 1)):
            blamed = spans[max(before, 0)][2]
            problems.append(SyntaxProblem(first, what, blamed))
    return problems


def _python_error(text: str) -> SyntaxError | None:
    """Python's own verdict on ``text``: its SyntaxError, or None where it parses (or where
    this interpreter cannot tell: nesting too deep for it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SyntaxWarnings (an odd escape) are not errors
        try:
            ast.parse(text)
        except SyntaxError as exc:
            return exc
        except (ValueError, RecursionError, MemoryError):
            return None  # a NUL byte, or too deep: tree-sitter's verdict stands
    return None


def _python_problems(
    old_text: str | None, new_text: str, hunks: Sequence[LocatedHunk]
) -> list[SyntaxProblem]:
    """The error Python finds in ``new_text`` where it found none in ``old_text`` (code for a
    newer Python than this one fails both, and is let through), blamed on the hunk that
    wrote its line, else the last hunk above it."""
    error = _python_error(new_text)
    if error is None or (old_text is not None and _python_error(old_text) is not None):
        return []
    line = max((error.lineno or 1) - 1, 0)
    above = [index for _old, new, index in _hunk_spans(old_text, hunks) if new.start <= line]
    return [SyntaxProblem(line, f"Python: {error.msg}", above[-1] if above else 1)]
