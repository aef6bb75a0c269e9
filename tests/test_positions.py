"""Offsets <-> LSP positions in UTF-16 (default), UTF-8 and UTF-32."""

import pytest
from lsprotocol.types import Position, PositionEncodingKind

from fathom.lsp_server.positions import PositionCodec, PositionError

# "😀" is outside the BMP: 1 code point, 2 UTF-16 units, 4 UTF-8 bytes.
TEXT = "a😀b = 1\r\nx = 'é😀'\nlast"


@pytest.mark.parametrize(
    ("encoding", "column_of_b"),
    [
        (PositionEncodingKind.Utf16, 3),
        (PositionEncodingKind.Utf8, 5),
        (PositionEncodingKind.Utf32, 2),
    ],
)
def test_column_after_non_bmp_character_counts_in_the_negotiated_encoding(encoding, column_of_b):
    codec = PositionCodec(TEXT, encoding)
    offset_of_b = TEXT.index("b")
    assert codec.position(offset_of_b) == Position(line=0, character=column_of_b)
    assert codec.offset(Position(line=0, character=column_of_b)) == offset_of_b


def test_round_trip_every_offset_in_utf16():
    codec = PositionCodec(TEXT)
    for offset in range(len(TEXT) + 1):
        if TEXT[offset - 1 : offset + 1] == "\r\n":
            continue  # between \r and \n is not a position LSP can name
        assert codec.offset(codec.position(offset)) == offset


def test_crlf_is_one_line_break():
    codec = PositionCodec(TEXT)
    assert codec.position(TEXT.index("x")) == Position(line=1, character=0)
    assert codec.line_count == 3


def test_position_after_final_newline_is_the_empty_last_line():
    codec = PositionCodec("one\ntwo\n")
    assert codec.position(8) == Position(line=2, character=0)


def test_strict_offset_refuses_lines_past_the_end():
    codec = PositionCodec("one\n")
    with pytest.raises(PositionError):
        codec.offset(Position(line=5, character=0), strict=True)
    assert codec.offset(Position(line=5, character=0)) == 4


def test_form_feed_is_not_a_line_break():
    # str.splitlines() would split here and shift every later line.
    codec = PositionCodec("a\x0cb\nc")
    assert codec.position(4) == Position(line=1, character=0)
