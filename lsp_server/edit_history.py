"""Each open document's recent changes, as the server hears them (``textDocument/didChange``):
what next-edit suggestions are made from (pipeline/next_edit.py).

Per document, a ring of the last :data:`MAX_EDITS` changes, each a hunk of whole lines (the
lines before, the lines after, and where). Keystrokes that keep changing the lines of the
newest hunk fold into it, so a word typed (or a whole function) is one edit, not one per key;
a change typed and then undone leaves nothing. Older hunks below a change move with their
lines, so every line number refers to the text as it is now.

Memory stays bounded: :data:`MAX_DOCUMENTS` documents (the least recently changed forgotten
first), each with its last text (the change arrives already applied: the text before it is
kept here), hunks clipped to :data:`MAX_HUNK_LINES` lines of :data:`MAX_LINE_CHARS`
characters, and a document over :data:`MAX_TEXT_CHARS` not followed at all.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from fathom.context.text import common_prefix, common_suffix, split_lines, strip_ending
from fathom.pipeline.next_edit_prompt import RecentEdit

MAX_EDITS = 10
MAX_DOCUMENTS = 64
MAX_HUNK_LINES = 30
MAX_LINE_CHARS = 400
MAX_TEXT_CHARS = 1 << 20
# Edits of other documents shown with a document's own: a rename there, its uses here.
OTHER_DOCUMENTS_EDITS = 3


@dataclass(slots=True)
class _Hunk:
    seq: int  # when it last changed, across documents
    line: int  # 0-based, in the document's current text
    before: list[str]
    after: list[str]
    clipped: bool = False  # a large change, shown in part; never folded into


@dataclass(slots=True)
class _Document:
    text: str
    edits: deque[_Hunk] = field(default_factory=lambda: deque(maxlen=MAX_EDITS))


def _line_start(text: str, i: int) -> int:
    """Where the line before the one holding offset ``i`` starts (a line of slack)."""
    for _ in range(2):
        i = max(text.rfind("\n", 0, max(i - 1, 0)), text.rfind("\r", 0, max(i - 1, 0))) + 1
    return i


def _line_end(text: str, i: int) -> int:
    """Where the line after the one holding offset ``i`` ends (a line of slack)."""
    for _ in range(2):
        found = [k for k in (text.find("\n", i), text.find("\r", i)) if k >= 0]
        i = min(found) + 1 if found else len(text)
    return i


def _lines_before(text: str, offset: int) -> int:
    """LSP lines (ended by ``\n``, ``\r\n`` or ``\r``) wholly before ``offset``."""
    crlf = text.count("\r\n", 0, offset)
    return text.count("\n", 0, offset) + text.count("\r", 0, offset) - crlf


def line_change(old: str, new: str) -> tuple[int, list[str], list[str]] | None:
    """The lines that differ between two texts: (first line, lines before, lines after),
    without line endings; None when only line endings (or nothing) changed.

    Only the few lines around the changed characters are split and compared."""
    if old == new:
        return None
    shortest = min(len(old), len(new))
    prefix = common_prefix(old, new, shortest)
    suffix = common_suffix(old, new, shortest - prefix)
    start = _line_start(old, prefix)
    kept = len(old) - _line_end(old, len(old) - suffix)  # common to both texts' ends
    if old[start - 1 : start] == "\r" or kept > suffix:  # a CRLF cut in two: read it all
        start, kept = 0, 0
    a, b = split_lines(old[start : len(old) - kept]), split_lines(new[start : len(new) - kept])
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    before = [strip_ending(x) for x in a[head : len(a) - tail]]
    after = [strip_ending(x) for x in b[head : len(b) - tail]]
    line = _lines_before(old, start) + head
    return None if before == after else (line, before, after)


def _clip(lines: list[str]) -> tuple[list[str], bool]:
    clipped = len(lines) > MAX_HUNK_LINES or any(len(x) > MAX_LINE_CHARS for x in lines)
    if not clipped:
        return lines, False
    kept = [x[:MAX_LINE_CHARS] for x in lines[:MAX_HUNK_LINES]]
    if len(lines) > MAX_HUNK_LINES:
        kept.append(f"... ({len(lines) - MAX_HUNK_LINES} more lines)")
    return kept, True


class EditHistory:
    def __init__(self) -> None:
        self._documents: OrderedDict[str, _Document] = OrderedDict()
        self._seq = itertools.count()

    def opened(self, uri: str, text: str) -> None:
        self._documents.pop(uri, None)
        if len(text) <= MAX_TEXT_CHARS:
            self._documents[uri] = _Document(text)
            while len(self._documents) > MAX_DOCUMENTS:
                self._documents.popitem(last=False)

    def closed(self, uri: str) -> None:
        self._documents.pop(uri, None)

    def changed(self, uri: str, text: str) -> None:
        """The document ``uri`` now holds ``text``: record what changed."""
        document = self._documents.get(uri)
        if document is None or len(text) > MAX_TEXT_CHARS:
            # Not followed until now (never opened here, forgotten, too large): from here on.
            edits = document.edits if document is not None else None
            self.opened(uri, text)
            if edits is not None and uri in self._documents:
                self._documents[uri].edits = edits
            return
        self._documents.move_to_end(uri)
        change = line_change(document.text, text)
        document.text = text
        if change is not None:
            self._record(document, *change)

    def _record(self, document: _Document, line: int, before: list[str], after: list[str]) -> None:
        edits = document.edits
        end = line + len(before)  # the changed lines' end, in the text before the change
        newest = edits[-1] if edits else None
        for hunk in edits:  # hunks wholly below the change move with their lines
            if hunk is not newest and hunk.line >= end:
                hunk.line += len(after) - len(before)
        if newest is not None and not newest.clipped:
            first, stop = newest.line, newest.line + len(newest.after)
            if first <= line and end <= stop:
                # Inside the newest hunk's new lines: typing on; fold the change into it.
                offset = line - first
                folded = newest.after[:offset] + after + newest.after[offset + len(before) :]
                if len(folded) <= MAX_HUNK_LINES and all(len(x) <= MAX_LINE_CHARS for x in folded):
                    newest.after, newest.seq = folded, next(self._seq)
                    if newest.after == newest.before:
                        edits.pop()  # typed and taken back
                    return
            if newest.line >= end:
                newest.line += len(after) - len(before)
        kept_before, clipped_before = _clip(before)
        kept_after, clipped_after = _clip(after)
        edits.append(
            _Hunk(next(self._seq), line, kept_before, kept_after, clipped_before or clipped_after)
        )

    def recent(
        self, uri: str, path_of: Callable[[str], str | None], others: int = OTHER_DOCUMENTS_EDITS
    ) -> list[RecentEdit]:
        """``uri``'s recent edits, with the latest ``others`` of other documents, oldest first;
        ``path_of`` names a document in the prompt (None: leave its edits out)."""
        own = [(h, uri) for h in self._documents[uri].edits] if uri in self._documents else []
        elsewhere = (
            sorted(
                ((h, u) for u, d in self._documents.items() if u != uri for h in d.edits),
                key=lambda pair: pair[0].seq,
            )[-others:]
            if others > 0
            else []
        )
        out = []
        for hunk, source in sorted([*own, *elsewhere], key=lambda pair: pair[0].seq):
            path = path_of(source)
            if path is not None:
                out.append(RecentEdit(path, hunk.line, tuple(hunk.before), tuple(hunk.after)))
        return out
