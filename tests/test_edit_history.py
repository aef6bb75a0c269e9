"""The edit history the server keeps from didChange (lsp_server/edit_history.py): what
next-edit suggestions are made from."""

from __future__ import annotations

import random
from collections.abc import Sequence

from fathom.lsp_server.edit_history import MAX_DOCUMENTS, MAX_EDITS, EditHistory, line_change
from fathom.pipeline.next_edit_prompt import RecentEdit


def _typed(history: EditHistory, uri: str, texts: Sequence[str]) -> None:
    for text in texts:
        history.changed(uri, text)


def _recent(history: EditHistory, uri: str) -> list[RecentEdit]:
    return history.recent(uri, lambda u: u.rsplit("/", 1)[-1])


def test_line_change_names_the_lines_that_differ():
    assert line_change("a\nb\nc\n", "a\nB\nc\n") == (1, ["b"], ["B"])
    assert line_change("a\nc\n", "a\nb\nc\n") == (1, [], ["b"])
    assert line_change("a\nb\n", "a\nb\r\n") is None  # only a line ending
    assert line_change("same", "same") is None


def test_keystrokes_on_one_line_fold_into_one_edit():
    history = EditHistory()
    history.opened("file:///a.py", "x = 1\ndef f():\n    pass\n")
    _typed(history, "file:///a.py", ["x = 1\ndef g():\n    pass\n", "x = 1\ndef go():\n    pass\n"])
    _typed(history, "file:///a.py", ["x = 1\ndef go(n):\n    pass\n"])
    assert _recent(history, "file:///a.py") == [
        RecentEdit("a.py", 1, ("def f():",), ("def go(n):",))
    ]
    # A new line typed under it (Enter, then text) folds in too: one edit of the function.
    _typed(history, "file:///a.py", ["x = 1\ndef go(n):\n\n    pass\n"])
    _typed(history, "file:///a.py", ["x = 1\ndef go(n):\n    n += 1\n    pass\n"])
    (edit,) = _recent(history, "file:///a.py")
    assert edit.before == ("def f():",) and edit.after == ("def go(n):", "    n += 1")


def test_a_change_typed_and_taken_back_leaves_nothing():
    history = EditHistory()
    history.opened("file:///a.py", "x = 1\n")
    _typed(history, "file:///a.py", ["x = 12\n", "x = 1\n"])
    assert _recent(history, "file:///a.py") == []


def test_older_edits_move_with_their_lines_and_the_ring_is_bounded():
    history = EditHistory()
    lines = [f"v{n} = {n}" for n in range(60)]
    history.opened("file:///a.py", "\n".join(lines) + "\n")
    lines[30] = "v30 = 300"
    history.changed("file:///a.py", "\n".join(lines) + "\n")
    lines[2:2] = ["# one", "# two"]  # two lines above the first edit
    history.changed("file:///a.py", "\n".join(lines) + "\n")
    first, second = _recent(history, "file:///a.py")
    assert (first.line, first.after) == (32, ("v30 = 300",))  # moved down two lines
    assert (second.line, second.after) == (2, ("# one", "# two"))
    for n in range(2 * MAX_EDITS):  # far-apart changes: one edit each, the oldest go
        lines[n * 2 + 4] = f"changed {n}"
        history.changed("file:///a.py", "\n".join(lines) + "\n")
    recent = _recent(history, "file:///a.py")
    assert len(recent) == MAX_EDITS
    assert recent[-1].after == (f"changed {2 * MAX_EDITS - 1}",)


def test_documents_are_bounded_closed_ones_forgotten_and_others_shown():
    history = EditHistory()
    for n in range(MAX_DOCUMENTS + 5):
        history.opened(f"file:///d{n}.py", "a\n")
        history.changed(f"file:///d{n}.py", f"a{n}\n")
    # The least recent documents went, their edits with them.
    assert history.recent("file:///d0.py", str, others=0) == []
    assert history.recent("file:///d5.py", str, others=0) != []
    history.closed(f"file:///d{MAX_DOCUMENTS + 4}.py")
    # A document's own edits, with the latest few of the others.
    shown = _recent(history, f"file:///d{MAX_DOCUMENTS + 3}.py")
    assert [e.path for e in shown] == [f"d{MAX_DOCUMENTS + n}.py" for n in range(4)]


def _reference_change(old: str, new: str):
    """line_change the slow, obvious way: every line of both texts compared."""
    from fathom.context.text import split_lines, strip_ending

    a, b = split_lines(old), split_lines(new)
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    before = [strip_ending(x) for x in a[head : len(a) - tail]]
    after = [strip_ending(x) for x in b[head : len(b) - tail]]
    return None if before == after else (head, before, after)


def test_line_change_agrees_with_comparing_every_line():
    # Random texts of short lines with every LSP line ending, edited at random places (a
    # fixed seed): the fast comparison finds the same lines as the whole-text one.
    rng = random.Random(22)
    pieces = ["a", "b", "x = 1", "", " ", "\n", "\r\n", "\r", "\n\n", "é", "😀"]
    for _ in range(3000):
        old = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        start = rng.randint(0, len(old))
        end = rng.randint(start, min(len(old), start + 6))
        new = (
            old[:start] + "".join(rng.choice(pieces) for _ in range(rng.randint(0, 3))) + old[end:]
        )
        assert line_change(old, new) == _reference_change(old, new), (old, new)


def test_line_change_in_a_large_text_reads_only_the_lines_around():
    lines = [f"value_{n} = compute({n})" for n in range(30000)]
    old = "\n".join(lines) + "\n"
    lines[15000] += "  # typed"
    assert line_change(old, "\n".join(lines) + "\n") == (
        15000, ["value_15000 = compute(15000)"], ["value_15000 = compute(15000)  # typed"]
    )  # fmt: skip
