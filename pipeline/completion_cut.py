"""Shape what the model wrote into a suggestion: the syntactic unit and nothing after it.

Single-line: up to the end of the line. Multi-line (the cursor opens an empty block): up to
the first line that dedents below the block, a closing line of the block included in that.
Dropped: nothing but whitespace, a repeat of the text after the cursor, and text that makes
the buffer fail to parse where it parsed before (tree-sitter ERROR / MISSING nodes, as
edits/syntax_check.py judges edits).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from fathom.context.insertion_parse import document_tree, error_spans, tree_with_insertion
from fathom.context.languages import source_bytes
from fathom.context.text import dominant_ending

Mode = Literal["single", "multi"]

EMPTY = "the model wrote nothing to insert here"
REPEATS = "the suggestion only repeats the text after the cursor"
BREAKS = "the suggestion would break the syntax"

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class Suggestion:
    """Text to insert at the cursor; empty, with the reason, when there is none."""

    text: str
    reason: str = ""


def _indent(line: str) -> int:
    """Columns of leading whitespace, a tab reaching the next multiple of 8 (as Python
    reads it)."""
    expanded = line.expandtabs(8)
    return len(expanded) - len(expanded.lstrip(" "))


def _leading(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def heal_indentation(written: str, indent: str, *, final: bool = False) -> str | None:
    """What the model wrote, as text to insert after the cursor's ``indent`` (the cursor's
    line up to it, when that is whitespace only), or None while it is only whitespace so far.

    A prompt that ends in a run of spaces splits the model's usual indentation token: small
    models then write a further indentation level (Qwen2.5-Coder-0.5B did in 4 of 40
    completions of bench/completion_quality.py, in Python, JavaScript and C). So the prompt
    ends at the line's start, the model writes the indentation itself, and that much is taken
    off here; a shallower indentation is dropped (the cursor's stands), a deeper one keeps
    its extra."""
    if not indent:
        return written
    lead = _leading(written)
    if lead == written and not final:
        return None
    if lead.startswith(indent):
        return written[len(indent) :]
    return written[len(lead) :] if indent.startswith(lead) else written


def cut_block(raw: str, line_before: str) -> tuple[str, bool]:
    """``raw`` up to the first line that dedents below the block it opens (whose first
    line of code sets the indentation), and whether such a line came: the block is done.

    ``line_before``: the cursor's line up to the cursor; when it holds code (a header such as
    ``def f(x):`` or ``fn f() {``), the block starts on the next line."""
    lines = _LINE_BREAK.split(raw)
    full = [line_before + lines[0], *lines[1:]]
    first = 1 if line_before.strip() else 0
    content = next((i for i in range(first, len(full)) if full[i].strip()), None)
    if content is None:
        return "\n".join(lines), False
    indent = _indent(full[content])
    for i in range(content + 1, len(full)):
        if full[i].strip() and _indent(full[i]) < indent:
            return "\n".join(lines[:i]), True
    return "\n".join(lines), False


def _cut_at_stops(raw: str, stop: Sequence[str]) -> str:
    ends = [i for s in stop if s and (i := raw.find(s)) >= 0]
    return raw[: min(ends)] if ends else raw


def _repeats(body: str, suffix: str) -> bool:
    """Whether ``body`` is what follows the cursor already (whitespace aside)."""
    words = " ".join(body.split())
    head = " ".join(suffix[: 2 * len(body) + 64].split())
    return bool(words) and head.startswith(words)


def _without_overlap(body: str, line_after: str) -> Iterator[str]:
    """``body`` without a tail that repeats the start of the rest of the line (a model
    closing the bracket that is already there), longest tail first."""
    for k in range(min(len(body), len(line_after)), 0, -1):
        tail = line_after[:k]
        if tail.strip() and body.endswith(tail):
            yield body[:-k]


def _excused(
    new: list[tuple[int, int]], old: list[tuple[int, int]], at: int, inserted: int
) -> bool:
    """Whether every error of the completed buffer sits where the buffer was already
    broken: its span, mapped back (the inserted text shrinks to the cursor), touches an
    error of the original."""

    def back(position: int) -> int:
        if position <= at:
            return position
        return at if position <= at + inserted else position - inserted

    for start, end in new:
        lo, hi = back(start), back(end)
        if not any(o_start <= hi and lo <= o_end for o_start, o_end in old):
            return False
    return True


def _line_around(text: str, offset: int) -> tuple[str, str]:
    """The cursor's line before and after the cursor (without its ending)."""
    start = max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset)) + 1
    match = _LINE_BREAK.search(text, offset)
    end = match.start() if match else len(text)
    return text[start:offset], text[offset:end]


def _shape(raw: str, mode: Mode, line_before: str, line_after: str, truncated: bool) -> str:
    if mode == "single":
        return _LINE_BREAK.split(raw, maxsplit=1)[0].rstrip()
    body, closed = cut_block(raw, line_before)
    lines = body.split("\n")
    if truncated and not closed and len(lines) > 1:
        lines.pop()  # the answer ran out of tokens mid-line
    lines = [line.rstrip() for line in lines]
    while len(lines) > 1 and not lines[-1]:
        lines.pop()
    if len(lines) > 1 and line_before.strip() and line_after.strip():
        # The block's closing text is already after the cursor ("{|}"): it goes on a line of
        # its own, at the header's indentation.
        lines.append(_leading(line_before))
    return "\n".join(lines)


def postprocess(
    raw: str,
    text: str,
    offset: int,
    mode: Mode,
    language: str | None,
    stop: Sequence[str] = (),
    truncated: bool = False,
) -> Suggestion:
    """The suggestion to insert at ``offset`` (code points) of ``text`` from what the model
    wrote. ``truncated``: the answer ran out of tokens (its last line is partial)."""
    line_before, line_after = _line_around(text, offset)
    body = _shape(_cut_at_stops(raw, stop), mode, line_before, line_after, truncated)
    ending = dominant_ending(text)
    if ending != "\n":
        body = body.replace("\n", ending)
    if not body.strip():
        return Suggestion("", EMPTY)
    suffix = text[offset:]
    if _repeats(body, suffix):
        return Suggestion("", REPEATS)
    candidates = [body]
    candidates += [c for c in _without_overlap(body, line_after) if c.strip()]
    candidates = [c for c in candidates if not _repeats(c, suffix)]
    if language is None:
        return Suggestion(candidates[0])
    before = source_bytes(text[:offset])
    after = source_bytes(text[offset:])
    old = error_spans(document_tree(before + after, language).root_node)
    scored = []
    for candidate in candidates:
        inserted = source_bytes(candidate)
        errors = error_spans(tree_with_insertion(before, inserted, after, language).root_node)
        scored.append((errors, candidate, inserted))
    # The fewest errors wins; the model's own text when it ties.
    new, best, inserted = min(scored, key=lambda s: len(s[0]))
    if not _excused(new, old, len(before), len(inserted)):
        return Suggestion("", BREAKS)
    return Suggestion(best)
