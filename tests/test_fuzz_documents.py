"""Random document edit sequences as an editor sends them (incremental changes in UTF-16,
UTF-8 or UTF-32 positions, surrogate pairs, CRLF, broken syntax): the server's copy of the
text stays equal to the editor's, and the live index equals an analysis from scratch.

FATHOM_FUZZ_EXAMPLES raises the number of examples for a longer run.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import types
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import PositionCodec as Pygls

from fathom.context.chunking import chunk_text
from fathom.context.languages import parser_for, source_bytes
from fathom.context.live import LiveDocument
from fathom.context.symbols import extract_symbols
from fathom.context.tokens import LineTokens, line_token_counts
from fathom.lsp_server.positions import PositionCodec, PositionError

EXAMPLES = int(os.environ.get("FATHOM_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
    derandomize=os.environ.get("CI") == "true",
)
SNIPPETS = st.sampled_from(
    [
        "x",
        "def f(a):\n",
        "    return a\n",
        "\r\n",
        "\n",
        "𝄞",
        "é",
        "漢字",
        '"',
        "'''",
        "(",
        ")",
        "class C:\n    pass\n",
        "\t",
        "# 🙂 comment\n",
        "",
        "import os\n",
    ]
)
START = 'import os\n\n\ndef total(items):\n    """Sum 𝄞 prices."""\n    return sum(items)\r\n'
ENCODINGS = [
    types.PositionEncodingKind.Utf16,
    types.PositionEncodingKind.Utf8,
    types.PositionEncodingKind.Utf32,
]


@st.composite
def edits(draw):
    """(encoding, [(start offset, end offset, new text)]) in Python string offsets that never
    split a character."""
    encoding = draw(st.sampled_from(ENCODINGS))
    steps, length = [], len(START)
    for _ in range(draw(st.integers(1, 12))):
        a = draw(st.integers(0, length))
        b = draw(st.integers(a, min(length, a + 20)))
        new = "".join(draw(st.lists(SNIPPETS, max_size=3)))
        steps.append((a, b, new))
        length += len(new) - (b - a)
    return encoding, steps


def _fresh_equal(live: LiveDocument, text: str, counter) -> None:
    tree = parser_for("python").parse(source_bytes(text))  # what indexing from scratch reads
    assert "".join(live.lines) == live.text == text
    (fresh,) = line_token_counts(counter, [text])
    assert live.per_line == fresh
    assert live.symbols == extract_symbols(tree, "python")
    assert live.chunks == chunk_text(
        text, "python", counter, 80, tree=tree, tokens=LineTokens(fresh)
    )


@FUZZ
@given(edits())
def test_incremental_changes_keep_server_text_and_live_index_equal(counter, case):
    encoding, steps = case
    text = START
    # The server's copy, as pygls keeps it from incremental didChange.
    document = TextDocument("file:///t.py", START, version=0, position_codec=Pygls(encoding))
    live = LiveDocument(START, "python", counter, 80)
    for version, (a, b, new) in enumerate(steps, start=1):
        a, b = min(a, len(text)), min(b, len(text))
        codec = PositionCodec(text, encoding)
        change = types.TextDocumentContentChangePartial(
            range=types.Range(codec.position(a), codec.position(b)), text=new
        )
        document.apply_change(change)
        text = text[:a] + new + text[b:]  # what the editor now holds
        assert document.source == text, (encoding, a, b, new)
        assert document.version is None or document.version >= 0
        live.update(document.source)
        _fresh_equal(live, text, counter)
        del version


@FUZZ
@given(
    st.text(alphabet=st.sampled_from("ab\n\r𝄞é漢"), max_size=40),
    st.integers(0, 60),
    st.integers(0, 60),
    st.sampled_from(ENCODINGS),
)
def test_positions_map_to_character_boundaries_or_are_refused(text, line, character, encoding):
    """Any position a client sends maps to an offset on a character boundary of that line:
    exactly there when it is one, the line's end past it (as LSP says), the next boundary
    inside a character (never half a surrogate pair); a line past the end is refused when
    strict."""
    codec = PositionCodec(text, encoding)
    position = types.Position(line=line, character=character)
    try:
        offset = codec.offset(position, strict=True)
    except PositionError:
        assert line > codec.line_count
        return
    assert 0 <= offset <= len(text)
    back = codec.position(offset)
    if line >= codec.line_count:
        assert offset == len(text)
        return
    content = codec._line(line)
    width = {"utf-8": 1, "utf-16": 2, "utf-32": 4}[str(getattr(encoding, "value", encoding))]
    boundaries = [
        len(content[:i].encode(f"utf-{8 * width}-le" if width > 1 else "utf-8", "surrogatepass"))
        // width
        for i in range(len(content) + 1)
    ]
    expected = next((b for b in boundaries if b >= character), boundaries[-1])
    assert (back.line, back.character) == (line, expected)
    lenient = codec.offset(position)  # never raises
    assert lenient == offset
