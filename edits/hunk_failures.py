"""What the model is told about a hunk that did not land: the reason, and the text around.

The feedback loop (edits/feedback.py) quotes these back to the model, so each failure names
its hunk and shows the current lines near where it was meant to go, numbered, the way the
model can quote them correctly on its next try.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from fathom.context.text import split_lines, strip_ending
from fathom.edits.diff_parse import Hunk
from fathom.edits.locate import LocatedHunk
from fathom.edits.syntax_check import SyntaxProblem


@dataclass(frozen=True, slots=True)
class HunkFailure:
    """A hunk (or file operation) that did not land, and what to tell the model about it."""

    path: str  # as the diff names it
    hunk: Hunk | None  # None for a failure of the whole file (missing, already exists...)
    reason: str
    around: str = ""  # the current text near where the hunk was meant to go, numbered


@lru_cache(maxsize=4)
def _split(text: str) -> tuple[str, ...]:
    """The lines of a text many failures quote from (split once, not once per failure)."""
    return tuple(split_lines(text))


def numbered_excerpt(text: str, first: int, last: int) -> str:
    """Lines ``first``..``last`` (0-based, inclusive, clamped) with 1-based line numbers."""
    lines = _split(text)
    first, last = max(0, first), min(len(lines) - 1, last)
    return "".join(f"{i + 1:>5} | {strip_ending(lines[i])}\n" for i in range(first, last + 1))


def _nearest_line(hunk: Hunk, text: str) -> int:
    """The line most like the hunk's first distinctive original line (for the model's retry)."""
    lines = [ln.strip() for ln in split_lines(text)]
    quoted = [ln.strip() for ln in hunk.old_lines if len(ln.strip()) > 3] or [""]
    best = difflib.get_close_matches(quoted[0], lines, n=1, cutoff=0.3)
    if best:
        return lines.index(best[0])
    return max(0, (hunk.header_line or 1) - 1)


def unlocated(name: str, hunk: Hunk, text: str, reason: str) -> HunkFailure:
    """A hunk of ``name`` that matched nowhere in ``text`` (or ambiguously, or overlapping)."""
    near = _nearest_line(hunk, text)
    return HunkFailure(name, hunk, reason, numbered_excerpt(text, near - 10, near + 20))


def syntax_failures(
    name: str, new_text: str, located: Sequence[LocatedHunk], problems: Sequence[SyntaxProblem]
) -> list[HunkFailure]:
    """One failure per hunk that breaks the syntax of ``new_text`` (its first error, not one
    per broken line of a long reply)."""
    blamed = Counter(problem.hunk_index for problem in problems)
    hunks = {h.hunk.index: h.hunk for h in located}
    firsts: dict[int, SyntaxProblem] = {}
    for problem in problems:
        firsts.setdefault(problem.hunk_index, problem)
    failures = []
    for problem in firsts.values():
        hunk, more = hunks[problem.hunk_index], blamed[problem.hunk_index] - 1
        failures.append(
            HunkFailure(
                name,
                hunk,
                f"Hunk {hunk.index} of {name} breaks the syntax: {problem.what} "
                f"at line {problem.line + 1} of the edited file"
                + (f" (and {more} more syntax errors in it)." if more else "."),
                numbered_excerpt(new_text, problem.line - 8, problem.line + 8),
            )
        )
    return failures


def created_file_failure(name: str, text: str, problem: SyntaxProblem) -> HunkFailure:
    """A file the reply creates that does not parse."""
    line = problem.line
    return HunkFailure(
        name,
        None,
        f"The created file {name} does not parse: {problem.what} at line {line + 1}.",
        numbered_excerpt(text, line - 8, line + 8),
    )
