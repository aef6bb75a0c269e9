"""Offsets in Python strings <-> LSP positions, in the negotiated position encoding.

LSP counts a position's character in UTF-16 code units unless client and server agreed on
UTF-8 or UTF-32. Python indexes code points (= UTF-32). A character outside the BMP (an
emoji, many CJK extensions) is one code point but two UTF-16 units and four UTF-8 bytes, so
using either count for the other puts edits in the wrong place.
"""

from __future__ import annotations

from lsprotocol.types import Position, PositionEncodingKind

from fathom.context.text import line_starts, strip_ending
from fathom.errors import FathomError


class PositionError(FathomError):
    """A position that is not in the document."""


def _units(text: str, encoding: str) -> int:
    if encoding == PositionEncodingKind.Utf8:
        return len(text.encode("utf-8", "surrogatepass"))
    if encoding == PositionEncodingKind.Utf32:
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _column_to_index(line: str, character: int, encoding: str) -> int:
    """Code-point index in ``line`` of a column given in ``encoding`` units."""
    if encoding == PositionEncodingKind.Utf32:
        return min(character, len(line))
    count = 0
    for index, char in enumerate(line):
        if count >= character:
            return index
        count += _units(char, encoding)
    return len(line)


class PositionCodec:
    """Converts positions for one document text; build a new one when the text changes."""

    def __init__(self, text: str, encoding: str = PositionEncodingKind.Utf16) -> None:
        self.text = text
        self.encoding = encoding
        self._starts = line_starts(text)

    @property
    def line_count(self) -> int:
        return len(self._starts) - 1 if self.text else 0

    def _line(self, line: int) -> str:
        return strip_ending(self.text[self._starts[line] : self._starts[line + 1]])

    def offset(self, position: Position, strict: bool = False) -> int:
        """Offset of ``position``; past-the-end lines and columns clamp unless ``strict``."""
        if position.line < 0 or position.character < 0:
            raise PositionError(f"negative position {position.line}:{position.character}")
        if position.line >= len(self._starts) - 1:
            if strict and position.line > self.line_count:
                raise PositionError(
                    f"line {position.line} is past the end ({self.line_count} lines)"
                )
            return len(self.text)
        line = self._line(position.line)
        return self._starts[position.line] + _column_to_index(
            line, position.character, self.encoding
        )

    def position(self, offset: int) -> Position:
        if not 0 <= offset <= len(self.text):
            raise PositionError(f"offset {offset} outside 0..{len(self.text)}")
        # Binary search over line starts.
        lo, hi = 0, len(self._starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        line = min(lo, max(len(self._starts) - 2, 0))
        if offset == len(self.text) and self.text and self.text[-1] in "\r\n":
            line = len(self._starts) - 1  # the empty line after a final newline
            return Position(line=line, character=0)
        column = _units(self.text[self._starts[line] : offset], self.encoding)
        return Position(line=line, character=column)
