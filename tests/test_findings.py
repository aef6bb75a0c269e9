"""Review findings follow the text through didChange events (no server needed)."""

import pytest
from lsprotocol import types
from lsprotocol.types import PositionEncodingKind

from fathom.lsp_server.findings import Finding, FindingStore

URI = "file:///src/app.py"
UTF16 = PositionEncodingKind.Utf16


def rng(l1: int, c1: int, l2: int, c2: int) -> types.Range:
    return types.Range(
        start=types.Position(line=l1, character=c1), end=types.Position(line=l2, character=c2)
    )


def edit(l1: int, c1: int, l2: int, c2: int, text: str) -> types.TextDocumentContentChangePartial:
    return types.TextDocumentContentChangePartial(range=rng(l1, c1, l2, c2), text=text)


def insert(line: int, character: int, text: str) -> types.TextDocumentContentChangePartial:
    return edit(line, character, line, character, text)


def whole(text: str) -> types.TextDocumentContentChangeWholeDocument:
    return types.TextDocumentContentChangeWholeDocument(text=text)


def finding(range_: types.Range, fix: object | None = None) -> Finding:
    return Finding(range_, types.DiagnosticSeverity.Warning, "suspicious call", fix=fix)


def store_with(*findings: Finding) -> FindingStore:
    store = FindingStore()
    store.replace(URI, 3, findings)
    return store


def ranges(store: FindingStore) -> list[types.Range]:
    return [f.range for f in store.get(URI)]


# "bad" is at line 1, columns 4..7.
TEXT = "import os\nx = bad(1)\nprint(x)\n"
BAD = rng(1, 4, 1, 7)


def test_inserted_lines_above_move_the_finding_down_and_keep_its_identity():
    plan = object()
    original = finding(BAD, fix=plan)
    store = store_with(original)

    assert store.apply_changes(URI, TEXT, [insert(0, 0, "# one\n# two\n")], UTF16) is True

    (moved,) = store.get(URI)
    assert moved.range == rng(3, 4, 3, 7)
    assert moved.id == original.id
    assert moved.fix is plan
    assert store.find(URI, original.id) is moved


@pytest.mark.parametrize(
    ("encoding", "width"),
    [
        (PositionEncodingKind.Utf16, 2),
        (PositionEncodingKind.Utf8, 4),
        (PositionEncodingKind.Utf32, 1),
    ],
)
def test_typing_before_the_finding_on_its_line_shifts_it_in_the_position_encoding(encoding, width):
    # "😀" is outside the BMP: 2 UTF-16 units, 4 UTF-8 bytes, 1 code point.
    store = store_with(finding(BAD))

    assert store.apply_changes(URI, TEXT, [insert(1, 0, "😀")], encoding) is True

    assert ranges(store) == [rng(1, 4 + width, 1, 7 + width)]


@pytest.mark.parametrize(
    ("encoding", "width"),
    [
        (PositionEncodingKind.Utf16, 3),
        (PositionEncodingKind.Utf8, 5),
        (PositionEncodingKind.Utf32, 2),
    ],
)
def test_multi_line_insert_before_the_finding_measures_its_last_line(encoding, width):
    # Inserting "call()\n😀z" at column 2 of "x = bad(1)" leaves "😀z= bad(1)" on line 2.
    store = store_with(finding(BAD))

    store.apply_changes(URI, TEXT, [insert(1, 2, "call()\n😀z")], encoding)

    assert ranges(store) == [rng(2, width + 2, 2, width + 5)]


@pytest.mark.parametrize(
    "change",
    [
        insert(1, 10, "  # ok"),  # after it on its line
        insert(1, 7, "_x"),  # exactly at its end
        insert(2, 0, "y = 2\n"),  # on a later line
        edit(2, 0, 3, 0, ""),  # deleting a later line
        edit(1, 7, 1, 8, "["),  # replacing the character right after it
    ],
)
def test_typing_after_the_finding_leaves_it(change):
    store = store_with(finding(BAD))

    assert store.apply_changes(URI, TEXT, [change], UTF16) is False

    assert ranges(store) == [BAD]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (insert(1, 4, "very_"), rng(1, 9, 1, 12)),  # inserting exactly at its start
        (edit(0, 3, 1, 4, ""), rng(0, 3, 0, 6)),  # deleting up to its start, joining lines
        (edit(1, 0, 1, 4, "result = "), rng(1, 9, 1, 12)),  # replacing what precedes it
    ],
)
def test_changes_ending_exactly_at_the_start_move_the_finding(change, expected):
    store = store_with(finding(BAD))

    assert store.apply_changes(URI, TEXT, [change], UTF16) is True

    assert ranges(store) == [expected]


@pytest.mark.parametrize(
    "change",
    [
        insert(1, 5, "X"),  # typing inside
        edit(1, 6, 1, 9, ""),  # deleting across its end
        edit(1, 0, 1, 5, "y = "),  # replacing across its start
    ],
)
def test_editing_the_finding_drops_it(change):
    store = store_with(finding(BAD))

    assert store.apply_changes(URI, TEXT, [change], UTF16) is True

    assert store.get(URI) == ()


def test_deleting_the_lines_holding_the_finding_drops_it_and_moves_later_ones_up():
    later = finding(rng(2, 0, 2, 5))
    store = store_with(finding(BAD), later)

    assert store.apply_changes(URI, TEXT, [edit(0, 0, 2, 0, "")], UTF16) is True

    assert [(f.id, f.range) for f in store.get(URI)] == [(later.id, rng(0, 0, 0, 5))]


def test_changes_of_one_event_apply_in_order_each_to_the_text_the_last_one_left():
    store = store_with(finding(BAD))
    changes = [
        insert(0, 0, "# header\n"),  # "x = bad(1)" is now line 2...
        insert(2, 0, "    "),  # ...so this indents that line, moving "bad"...
        edit(0, 0, 1, 0, ""),  # ...and this deletes the header again.
    ]

    assert store.apply_changes(URI, TEXT, changes, UTF16) is True

    assert ranges(store) == [rng(1, 8, 1, 11)]


def test_whole_document_change_after_partial_ones_diffs_against_the_updated_text():
    store = store_with(finding(BAD))
    new_text = "#!/usr/bin/env python\n# added\nimport os\nx = bad(1)\nprint(x)\n"
    changes = [insert(0, 0, "# added\n"), whole(new_text)]

    assert store.apply_changes(URI, TEXT, changes, UTF16) is True

    assert ranges(store) == [rng(3, 4, 3, 7)]


def test_whole_document_change_moves_a_finding_below_inserted_lines():
    store = store_with(finding(BAD))
    new_text = "import os\nimport sys\n\nx = bad(1)\nprint(x, sys.argv)\n"

    assert store.apply_changes(URI, TEXT, [whole(new_text)], UTF16) is True

    assert ranges(store) == [rng(3, 4, 3, 7)]


def test_whole_document_change_drops_a_finding_whose_line_changed():
    kept = finding(rng(0, 0, 0, 9))
    store = store_with(finding(BAD), kept)
    new_text = "import os\nx = good(1)\nprint(x)\n"

    assert store.apply_changes(URI, TEXT, [whole(new_text)], UTF16) is True

    assert store.get(URI) == (kept,)


def test_whole_document_change_drops_a_multi_line_finding_split_by_an_inserted_line():
    store = store_with(finding(rng(0, 0, 1, 10)))
    new_text = "import os\nimport re\nx = bad(1)\nprint(x)\n"

    assert store.apply_changes(URI, TEXT, [whole(new_text)], UTF16) is True

    assert store.get(URI) == ()


def test_whole_document_change_keeps_a_whole_line_finding_when_only_the_next_line_changed():
    # The range ends at column 0 of line 2: it covers line 1 and its line break only.
    store = store_with(finding(rng(1, 0, 2, 0)))
    new_text = "# new\nimport os\nx = bad(1)\nprint(x + 1)\n"

    assert store.apply_changes(URI, TEXT, [whole(new_text)], UTF16) is True

    assert ranges(store) == [rng(2, 0, 3, 0)]


def test_unchanged_whole_document_reports_no_change():
    store = store_with(finding(BAD))

    assert store.apply_changes(URI, TEXT, [whole(TEXT)], UTF16) is False

    assert ranges(store) == [BAD]


def test_apply_changes_without_findings_does_no_work():
    class Untouchable(list):
        def __iter__(self):
            raise AssertionError("changes were read")

    store = FindingStore()
    assert store.apply_changes(URI, TEXT, Untouchable([insert(0, 0, "x")]), UTF16) is False
    store.replace(URI, 4, [])
    assert store.apply_changes(URI, TEXT, Untouchable([insert(0, 0, "x")]), UTF16) is False


def test_replace_replaces_every_finding_and_the_version():
    old = finding(BAD)
    new = finding(rng(2, 0, 2, 5))
    store = store_with(old)
    assert store.version(URI) == 3

    store.replace(URI, 7, [new])

    assert store.get(URI) == (new,)
    assert store.version(URI) == 7
    assert store.find(URI, old.id) is None
    assert store.find(URI, new.id) is new


def test_clear_forgets_the_document():
    store = store_with(finding(BAD))

    store.clear(URI)

    assert store.get(URI) == ()
    assert store.version(URI) is None
    assert store.to_diagnostics(URI) == []


def test_findings_get_distinct_ids():
    assert finding(BAD).id != finding(BAD).id


def test_to_diagnostics_fields():
    with_fix = finding(BAD, fix={"edits": []})
    without_fix = Finding(rng(2, 0, 2, 5), types.DiagnosticSeverity.Information, "note")
    store = store_with(with_fix, without_fix)

    first, second = store.to_diagnostics(URI)

    assert first.range == BAD
    assert first.severity == types.DiagnosticSeverity.Warning
    assert first.message == "suspicious call"
    assert first.source == "fathom"
    assert first.code == with_fix.id
    assert first.data == {"findingId": with_fix.id, "hasFix": True}
    assert second.severity == types.DiagnosticSeverity.Information
    assert second.code == without_fix.id
    assert second.data == {"findingId": without_fix.id, "hasFix": False}
