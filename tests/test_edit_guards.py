"""Degenerate replies never become edits: loops are cut off as they stream, and empty,
looping or out-of-proportion replies are asked again with the reason (issue 21)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fathom.context import LineRange, Workspace
from fathom.context.text import read_text_file
from fathom.edits.feedback import SuspectReplyError
from fathom.edits.formats import EditFormat
from fathom.edits.plan import DocumentSnapshot
from fathom.edits.prompt import diff_prefix
from fathom.pipeline.edit_flow import run_edit

CART = (
    "def total(items):\n    t = 0\n    for item in items:\n        t += item.price\n    return t\n"
)
USE = "from cart import total\n\n\ndef bill(items):\n    return total(items)\n"
OLD = (
    "def total(items):\n-    t = 0\n-    for item in items:\n-        t += item.price\n"
    "-    return t\n"
)
NEW = "+def total(items):\n+    return sum(i.price for i in items)\n```\n"
GOOD = diff_prefix("cart.py") + OLD + NEW
LOOP_BLOCK = "+    if not items:\n+        return 0\n+    t = sum(i.price for i in items)\n"
LOOPING = diff_prefix("cart.py") + OLD + "+def total(items):\n" + LOOP_BLOCK * 57 + "```\n"
DELETING = diff_prefix("cart.py") + OLD + "```\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / "cart.py").write_text(CART)
    (tmp_path / "use.py").write_text(USE)
    return tmp_path


def _snapshot(path: Path) -> DocumentSnapshot:
    return DocumentSnapshot(path, read_text_file(path), None)


async def _edit(
    root: Path, engine, instruction="Use sum().", fmt=EditFormat.WHOLE_BLOCK, target="cart.py"
):
    notes: list[str] = []
    lines = LineRange(0, 5) if target == "cart.py" else LineRange(3, 5)
    outcome = await run_edit(
        engine,
        Workspace(root, engine),
        _snapshot(root / target),
        lines,
        instruction,
        snapshot_of=_snapshot,
        on_round=lambda _n, m: notes.append(m),
        edit_format=fmt,
    )
    return outcome, notes


async def test_a_loop_is_cut_off_while_it_streams_and_asked_again(project, stub, tokenizer_dir):
    paced = {"text": LOOPING, "seconds_per_chunk": 0.02}  # 16 characters every 20 ms
    outcome, notes = await _edit(project, stub.engine(tokenizer_dir, [paced, GOOD]))
    assert "sum(i.price for i in items)" in outcome.plan.files[0].new_text()
    assert len(notes) == 1 and "repetition loop" in notes[0]
    # The looping stream was closed by Fathom long before its end: the engine stopped.
    assert len(stub.closed_early()) == 1
    assert len(outcome.rounds[0].reply) < len(LOOPING) // 3


async def test_a_loop_every_round_is_refused_and_nothing_is_planned(project, stub, tokenizer_dir):
    with pytest.raises(SuspectReplyError, match="repetition loop"):
        await _edit(project, stub.engine(tokenizer_dir, [LOOPING] * 4))
    assert (project / "cart.py").read_text() == CART


async def test_a_deleted_selection_is_asked_again_unless_removal_was_asked(
    project, stub, tokenizer_dir
):
    outcome, notes = await _edit(project, stub.engine(tokenizer_dir, [DELETING, GOOD]))
    assert "deletes 5 line(s)" in notes[0] and "sum(" in outcome.plan.files[0].new_text()
    removal, notes = await _edit(
        project, stub.engine(tokenizer_dir, [DELETING]), instruction="Remove this function."
    )
    assert notes == [] and removal.plan.files[0].new_text() == ""


async def test_an_empty_reply_is_asked_again(project, stub, tokenizer_dir):
    empty = diff_prefix("cart.py") + "```\n"
    outcome, notes = await _edit(project, stub.engine(tokenizer_dir, [empty, GOOD]))
    assert len(notes) == 1 and "sum(" in outcome.plan.files[0].new_text()


async def test_search_replace_blocks_change_the_target_and_the_shown_callee(
    project, stub, tokenizer_dir
):
    blocks = (
        "cart.py\n```python\n<<<<<<< SEARCH\ndef total(items):\n=======\n"
        "def total(items, tax=0.0):\n>>>>>>> REPLACE\n```\n\n"
        "use.py\n```python\n<<<<<<< SEARCH\n    return total(items)\n=======\n"
        "    return total(items, tax=0.2)\n>>>>>>> REPLACE\n```\n"
    )
    engine = stub.engine(tokenizer_dir, [blocks])
    outcome, _ = await _edit(
        project, engine, "Bill a 0.2 tax.", EditFormat.SEARCH_REPLACE, target="use.py"
    )
    texts = {f.snapshot.path.name: f.new_text() for f in outcome.plan.files}
    assert texts["cart.py"].startswith("def total(items, tax=0.0):")
    assert texts["use.py"].endswith("return total(items, tax=0.2)\n")
    sent = stub.requests("/v1/chat/completions")[0].body["messages"]
    assert "SEARCH/REPLACE" in sent[0]["content"]
    assert "t += item.price" in sent[1]["content"]  # the imported callee was shown


async def test_an_unreadable_reply_is_told_the_format_it_was_asked_for_with_the_real_path(
    project, stub, tokenizer_dir
):
    # A small model copies a placeholder path as it stands, and a search/replace edit
    # must not be told to answer with a unified diff.
    prose = "I would make total use sum() here.\n"
    block = (
        "cart.py\n```python\n<<<<<<< SEARCH\n    t = 0\n    for item in items:\n"
        "        t += item.price\n    return t\n=======\n"
        "    return sum(i.price for i in items)\n>>>>>>> REPLACE\n```\n"
    )
    outcome, notes = await _edit(
        project, stub.engine(tokenizer_dir, [prose, block]), fmt=EditFormat.SEARCH_REPLACE
    )
    assert "return sum(i.price for i in items)" in outcome.plan.files[0].new_text()
    assert len(notes) == 1
    assert "could not be read as SEARCH/REPLACE blocks" in notes[0]
    assert "(cart.py)" in notes[0] and "PATH" not in notes[0] and "unified diff" not in notes[0]
    _, notes = await _edit(project, stub.engine(tokenizer_dir, [prose, GOOD]), fmt=EditFormat.UDIFF)
    assert "'--- a/cart.py', '+++ b/cart.py'" in notes[0] and "PATH" not in notes[0]
