"""A document as the editor has it, kept parsed, tokenised, chunked and its symbols read,
edit by edit.

Re-indexing a 5,000-line file from scratch costs tens of milliseconds (tokenising it, parsing
it, walking its symbols). An edit touches a few lines, so each update here:

- finds the changed span (common prefix and suffix), and re-tokenises only its lines;
- lets tree-sitter re-parse incrementally (``Tree.edit`` then ``parse(old_tree=…)``) and
  report which ranges changed structure;
- re-runs the chunker over the new tree with the updated per-line counts (arithmetic only:
  no tokenizer call unless a new signature appears);
- re-reads symbols on the changed rows only, shifts the rest, and returns the difference
  so the symbol graph can move just those edges.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass
from itertools import accumulate

from tree_sitter import Point

from fathom.context.chunking import Chunk, chunk_text
from fathom.context.languages import error_nodes, parser_for, source_bytes
from fathom.context.symbols import FileSymbols, extract_symbols
from fathom.context.text import common_prefix, common_suffix, split_lines
from fathom.context.tokens import LineTokens, TokenCounter, line_token_counts


@dataclass(frozen=True, slots=True)
class SymbolChange:
    """What an update did to a file's symbols: reference counts moved per name (+/-), and
    the definitions it has now."""

    ref_deltas: Counter[str]
    defs: set[str]


def _utf8_len(text: str) -> int:
    return len(source_bytes(text))


class LiveDocument:
    def __init__(self, text: str, language: str, counter: TokenCounter, chunk_tokens: int):
        self.language = language
        self.counter = counter
        self.chunk_tokens = chunk_tokens
        self.signature_tokens: dict[str, int] = {}
        self.text = text
        self.lines = split_lines(text)
        self.starts = [0, *accumulate(map(len, self.lines))]
        (self.per_line,) = line_token_counts(counter, [text], [self.starts])
        self.tree = parser_for(language).parse(source_bytes(text))
        self.symbols = extract_symbols(self.tree, language)
        self.chunks = self._chunk()

    def _chunk(self) -> list[Chunk]:
        return chunk_text(
            self.text,
            self.language,
            self.counter,
            self.chunk_tokens,
            tree=self.tree,
            tokens=LineTokens(self.per_line),
            lines=self.lines,
            signature_tokens=self.signature_tokens,
        )

    def _point(self, offset: int) -> Point:
        row = bisect.bisect_right(self.starts, offset) - 1
        row = min(row, max(len(self.lines) - 1, 0))
        return Point(row, _utf8_len(self.text[self.starts[row] : offset]) if self.lines else 0)

    def _offset(self, point: Point) -> int:
        """Character offset in the current text of a tree-sitter point (row, UTF-8 column)."""
        row = min(point.row, max(len(self.lines) - 1, 0))
        if not self.lines:
            return 0
        line = source_bytes(self.lines[row])[: point.column]
        return self.starts[row] + len(line.decode("utf-8", "surrogatepass"))

    def _error_span(self) -> tuple[int, int] | None:
        """Character span covering every ERROR and MISSING node of the tree, or None."""
        errors = error_nodes(self.tree.root_node)
        if not errors:
            return None
        first = min(node.start_point for node in errors)
        last = max(node.end_point for node in errors)
        return self._offset(first), self._offset(last)

    def update(self, text: str) -> SymbolChange | None:
        """Take the editor's new ``text``; None if it is what the document already holds."""
        old = self.text
        if text == old:
            return None
        shortest = min(len(old), len(text))
        prefix = common_prefix(old, text, shortest)
        suffix = common_suffix(old, text, shortest - prefix)
        old_end = len(old) - suffix
        # The span tree-sitter is told was edited. Its incremental parse would reuse the old
        # tree's error nodes, and its recovery from them can differ from a fresh parse of the
        # same text (found by fuzzing: a file fixed by an edit kept its error); declaring
        # their span edited makes it re-parse them. Typing in valid code pays nothing.
        edit_start, edit_old_end = prefix, old_end
        errors = self._error_span()
        if errors is not None:
            edit_start, edit_old_end = min(prefix, errors[0]), max(old_end, errors[1])
        edit_new_end = edit_old_end + len(text) - len(old)

        # Lines [first, end) of the old text hold the change, widened by a line on each side
        # (a "\r\n" the edit split) and past blank lines: a run of blank lines is one token,
        # so the region must start and end where the whole text's tokens do.
        first = max(0, bisect.bisect_right(self.starts, prefix) - 2)
        while first > 0 and not self.lines[first].strip():
            first -= 1
        end = min(len(self.lines), bisect.bisect_right(self.starts, old_end) + 1)
        while end < len(self.lines) and not self.lines[end].strip():
            end += 1
        region_start, region_end = self.starts[first], self.starts[end]
        region = text[region_start : region_end + len(text) - len(old)]
        region_lines = split_lines(region)
        (region_counts,) = line_token_counts(self.counter, [region])

        start_point, old_end_point = self._point(edit_start), self._point(edit_old_end)
        start_byte = _utf8_len(old[:edit_start])
        old_end_byte = start_byte + _utf8_len(old[edit_start:edit_old_end])
        new_end_byte = start_byte + _utf8_len(text[edit_start:edit_new_end])

        self.text = text
        self.lines[first:end] = region_lines
        self.per_line[first:end] = region_counts
        self.starts = [0, *accumulate(map(len, self.lines))]
        new_end_point = self._point(edit_new_end)

        old_tree = self.tree
        old_tree.edit(
            start_byte, old_end_byte, new_end_byte, start_point, old_end_point, new_end_point
        )
        self.tree = parser_for(self.language).parse(source_bytes(text), old_tree)
        # Rows whose text changed, and those whose syntax did (an unclosed string or
        # bracket can change everything after it).
        changed_first, changed_end = first, first + len(region_lines)
        for span in old_tree.changed_ranges(self.tree):
            changed_first = min(changed_first, span.start_point.row)
            changed_end = max(changed_end, span.end_point.row + 1)
        changed_end = min(changed_end, len(self.lines))
        shift = len(region_lines) - (end - first)
        change = self._resymbol(changed_first, changed_end, shift)
        self.chunks = self._chunk()
        return change

    def _resymbol(self, first: int, end: int, shift: int) -> SymbolChange:
        """Re-read symbols on new rows [first, end); rows after them moved by ``shift``."""
        old_end = end - shift
        defs, refs = self.symbols.defs, self.symbols.refs
        d0 = bisect.bisect_left(defs, first, key=lambda d: d[2])
        d1 = bisect.bisect_left(defs, old_end, key=lambda d: d[2])
        r0 = bisect.bisect_left(refs, first, key=lambda r: r[1])
        r1 = bisect.bisect_left(refs, old_end, key=lambda r: r[1])
        fresh = extract_symbols(self.tree, self.language, (first, end))
        deltas: Counter[str] = Counter(name for name, _line in fresh.refs)
        deltas.subtract(name for name, _line in refs[r0:r1])
        after_defs, after_refs = defs[d1:], refs[r1:]
        if shift:
            after_defs = [(n, k, line + shift) for n, k, line in after_defs]
            after_refs = [(n, line + shift) for n, line in after_refs]
        self.symbols = FileSymbols(
            defs[:d0] + fresh.defs + after_defs, refs[:r0] + fresh.refs + after_refs
        )
        moved = Counter({name: delta for name, delta in deltas.items() if delta})
        return SymbolChange(moved, self.symbols.def_names())
