"""Review findings that follow the text while the user types.

A review is slow (a model call), but the user keeps typing. Publishing the old diagnostics
unchanged puts them on the wrong lines as soon as a line is inserted above them, and re-reviewing
on every keystroke is far too expensive. So every finding is moved with each
``textDocument/didChange`` and dropped once the text it points at is edited: a finding about code
that changed may no longer hold, and a stale finding is worse than a missing one.

Only lsprotocol types are used here, so the store can be tested without a server.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from dataclasses import replace as _with
from difflib import SequenceMatcher

from lsprotocol import types

from fathom.lsp_server.positions import PositionCodec

# LSP line breaks: \r\n, \r or \n (not the extra ones str.splitlines knows). Splitting on them
# gives exactly the LSP lines, including the empty line after a final newline.
_BREAK = re.compile(r"\r\n|\r|\n")

_Partial = types.TextDocumentContentChangePartial


@dataclass(frozen=True, slots=True)
class Finding:
    range: types.Range  # in the document's position encoding
    severity: types.DiagnosticSeverity
    message: str
    fix: object | None = None  # opaque to the store (the caller keeps an edit plan here)
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])


@dataclass(slots=True)
class _Entry:
    version: int | None
    findings: tuple[Finding, ...]


class FindingStore:
    """Findings per document URI, kept in step with the document's text."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def replace(self, uri: str, version: int | None, findings: Sequence[Finding]) -> None:
        """A (re-)review replaces every finding of ``uri``."""
        self._entries[uri] = _Entry(version, tuple(findings))

    def get(self, uri: str) -> tuple[Finding, ...]:
        entry = self._entries.get(uri)
        return entry.findings if entry else ()

    def version(self, uri: str) -> int | None:
        """The document version the findings were reviewed at (they may have moved since)."""
        entry = self._entries.get(uri)
        return entry.version if entry else None

    def uris(self) -> list[str]:
        return list(self._entries)

    def find(self, uri: str, finding_id: str) -> Finding | None:
        return next((f for f in self.get(uri) if f.id == finding_id), None)

    def clear(self, uri: str) -> None:
        self._entries.pop(uri, None)

    def apply_changes(
        self,
        uri: str,
        old_text: str,
        changes: Sequence[types.TextDocumentContentChangeEvent],
        encoding: str,
    ) -> bool:
        """Move the findings of ``uri`` with one didChange; True when any moved or was dropped.

        ``old_text`` is the text before ``changes``; the changes apply one after the other, each
        to the text the previous one left (LSP semantics).
        """
        entry = self._entries.get(uri)
        if entry is None or not entry.findings:
            return False  # the common case while typing: nothing to do, stay cheap
        findings = list(entry.findings)
        # The running text is only needed to diff against a later whole-document change, so
        # partial changes after the last one skip the (whole-text) splice.
        last_whole = max(
            (i for i, c in enumerate(changes) if not isinstance(c, _Partial)), default=-1
        )
        text = old_text
        for index, change in enumerate(changes):
            if isinstance(change, _Partial):
                start, end = sorted((change.range.start, change.range.end), key=_key)
                new_end = _end_after_insert(start, change.text, encoding)
                findings = [
                    moved
                    for finding in findings
                    if (moved := _shift(finding, start, end, new_end)) is not None
                ]
                if index < last_whole:
                    codec = PositionCodec(text, encoding)
                    text = text[: codec.offset(start)] + change.text + text[codec.offset(end) :]
            else:
                findings = _follow_lines(findings, text, change.text)
                text = change.text
            if not findings:
                break
        changed = len(findings) != len(entry.findings) or any(
            new is not old for new, old in zip(findings, entry.findings, strict=True)
        )
        if changed:
            entry.findings = tuple(findings)
        return changed

    def to_diagnostics(self, uri: str) -> list[types.Diagnostic]:
        return [
            types.Diagnostic(
                range=finding.range,
                severity=finding.severity,
                message=finding.message,
                source="fathom",
                code=finding.id,
                # Code actions get the diagnostic back; the id finds the fix in the store.
                data={"findingId": finding.id, "hasFix": finding.fix is not None},
            )
            for finding in self.get(uri)
        ]


def _key(position: types.Position) -> tuple[int, int]:
    return position.line, position.character


def _end_after_insert(start: types.Position, text: str, encoding: str) -> tuple[int, int]:
    """Where the inserted ``text`` ends when put at ``start``: the old change end moves here."""
    *above, last = _BREAK.split(text)
    # A codec of the one-line tail measures its width in the negotiated encoding (UTF-16 counts
    # a character above U+FFFF as 2, UTF-8 counts bytes).
    width = PositionCodec(last, encoding).position(len(last)).character if last else 0
    if not above:
        return start.line, start.character + width
    return start.line + len(above), width


def _move(
    position: types.Position, end: types.Position, new_end: tuple[int, int]
) -> types.Position:
    """``position`` (at or after the old change ``end``) after the change."""
    line = position.line + new_end[0] - end.line
    if position.line != end.line:
        return types.Position(line=line, character=position.character)
    return types.Position(line=line, character=new_end[1] + position.character - end.character)


def _shift(
    finding: Finding, start: types.Position, end: types.Position, new_end: tuple[int, int]
) -> Finding | None:
    """``finding`` after replacing start..end; None when the change edits its text."""
    first, last = _key(finding.range.start), _key(finding.range.end)
    begin, stop = _key(start), _key(end)
    # Ranges are half-open, so a change that only meets the finding at its start or end (an
    # insertion there, or deleting the lines above a finding at column 0) leaves its text whole;
    # an insertion strictly inside it (begin == stop) does not.
    if begin < last and first < stop:
        return None
    if last <= begin:
        return finding  # wholly before the change
    new_range = types.Range(
        start=_move(finding.range.start, end, new_end),
        end=_move(finding.range.end, end, new_end),
    )
    return finding if new_range == finding.range else _with(finding, range=new_range)


def _follow_lines(findings: list[Finding], old_text: str, new_text: str) -> list[Finding]:
    """Findings after a whole-document change: they move with unchanged lines or are dropped."""
    old, new = _BREAK.split(old_text), _BREAK.split(new_text)
    # Most full-sync changes touch a few lines; trimming the common head and tail keeps the
    # (worst case quadratic) matcher off the rest of the file.
    limit = min(len(old), len(new))
    head = 0
    while head < limit and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < limit - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    # No autojunk: it would stop frequent lines (blank lines, "}") from matching at all.
    matcher = SequenceMatcher(
        None, old[head : len(old) - tail], new[head : len(new) - tail], autojunk=False
    )
    blocks = [(0, 0, head), (len(old) - tail, len(new) - tail, tail)]
    blocks += [(head + a, head + b, size) for a, b, size in matcher.get_matching_blocks()]

    kept = []
    for finding in findings:
        start, end = finding.range.start, finding.range.end
        # A range ending at column 0 of a later line (a whole-line finding) does not cover that
        # line's text, so an edit there must not drop it.
        last = end.line - 1 if end.character == 0 and end.line > start.line else end.line
        delta = next((b - a for a, b, size in blocks if a <= start.line and last < a + size), None)
        if delta is None:
            continue  # some line it covers was edited
        if delta == 0:
            kept.append(finding)
            continue
        kept.append(
            _with(
                finding,
                range=types.Range(
                    start=types.Position(line=start.line + delta, character=start.character),
                    end=types.Position(line=end.line + delta, character=end.character),
                ),
            )
        )
    return kept
