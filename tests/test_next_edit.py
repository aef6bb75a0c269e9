"""Next-edit suggestions (issue 22): the protocol-free pipeline (pipeline/next_edit.py) with a
scripted engine, and ``fathom/nextEdit`` over a real stdio connection to ``fathom serve`` on a
model server stub (the edit history it reads: tests/test_edit_history.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from fathom.backend.engine import ChatMessage, ChatRequest, GenerationStats
from fathom.edits.plan import DocumentSnapshot, apply_edits
from fathom.pipeline.next_edit import cursor_window, next_edit
from fathom.pipeline.next_edit_prompt import RecentEdit
from tests.lsp_client import editor_session, open_document
from tests.openai_stub import CHAT, StubServer

# -- the pipeline, with a scripted engine ------------------------------------------------------


class ScriptedEngine:
    """Streams the given replies in order, a few characters at a time; notes each request
    and each stream closed before its reply ended (how a request is aborted)."""

    model_name = "scripted"
    max_context = 8192

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.requests: list[ChatRequest] = []
        self.closed_early: list[str] = []

    def count_tokens(self, text: str) -> int:
        return len(text) // 4 + 1

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return sum(self.count_tokens(m.content) for m in messages)

    async def abort(self, request_id: str) -> None:
        pass

    async def stream(
        self, request: ChatRequest, stats: GenerationStats | None = None
    ) -> AsyncGenerator[str, None]:
        self.requests.append(request)
        reply, finished = self.replies.pop(0), False
        try:
            for start in range(0, len(reply), 8):
                await asyncio.sleep(0)
                if stats is not None:
                    stats.completion_tokens += 1
                yield reply[start : start + 8]
            finished = True
        finally:
            if not finished:
                self.closed_early.append(request.request_id)


RENAMED = """\
from shop.models import Item


def inventory_value(items):
    total = 0
    for item in items:
        total = total + item.price * item.quantity
    return total


def summary(items):
    return f"total: {total_value(items)}"
"""
CALLER = '    return f"total: {total_value(items)}"'
FIXED = '    return f"total: {inventory_value(items)}"'
RENAME = RecentEdit(
    "shop/report.py", 3, ("def total_value(items):",), ("def inventory_value(items):",)
)


@pytest.fixture
def report(tmp_path: Path) -> DocumentSnapshot:
    path = tmp_path / "shop" / "report.py"
    path.parent.mkdir()
    path.write_text(RENAMED)
    return DocumentSnapshot(path, RENAMED, 7)


def _rewrite(text: str) -> str:
    """What the model writes: the window (here the whole file) with the caller renamed."""
    return text.replace(CALLER, FIXED).rstrip("\n") + "\n```"


async def _suggest(engine: ScriptedEngine, snapshot: DocumentSnapshot, **kwargs):
    root = snapshot.path.parents[1]
    return await next_edit(engine, snapshot, root, 3, [RENAME], **kwargs)


async def test_a_rename_is_proposed_on_the_next_use_versioned_and_located(report):
    engine = ScriptedEngine(_rewrite(RENAMED))
    suggestion = await _suggest(engine, report)
    assert suggestion.reason == ""
    (edit,) = suggestion.edits
    assert suggestion.snapshot.version == 7
    assert RENAMED[edit.start : edit.end] == CALLER + "\n"  # the caller's line, nothing more
    assert edit.new_text == FIXED + "\n"
    assert apply_edits(RENAMED, suggestion.edits) == RENAMED.replace(CALLER, FIXED)
    (request,) = engine.requests
    prompt = request.messages[-1].content
    assert "-def total_value(items):\n+def inventory_value(items):" in prompt
    assert "`total_value` became `inventory_value`" in prompt
    assert CALLER in prompt and "the cursor is on line 4" in prompt
    assert request.temperature == 0.0 and request.assistant_prefix == "```python\n"


async def test_typing_elsewhere_meanwhile_moves_the_edit_to_the_current_version(report):
    typed = "# a comment typed meanwhile\n" + RENAMED
    now = DocumentSnapshot(report.path, typed, 8)
    suggestion = await _suggest(ScriptedEngine(_rewrite(RENAMED)), report, current=lambda: now)
    assert len(suggestion.edits) == 1
    assert suggestion.snapshot.version == 8
    assert apply_edits(typed, suggestion.edits) == typed.replace(CALLER, FIXED)


async def test_a_reply_that_no_longer_applies_gives_nothing(report):
    # The user typed on the very line the suggestion would replace while the model wrote.
    typed = RENAMED.replace(CALLER, '    return f"sum: {total_value(items)}"')
    now = DocumentSnapshot(report.path, typed, 8)
    suggestion = await _suggest(ScriptedEngine(_rewrite(RENAMED)), report, current=lambda: now)
    assert suggestion.edits == ()
    assert "changed while the model was writing" in suggestion.reason
    closed = await _suggest(ScriptedEngine(_rewrite(RENAMED)), report, current=lambda: None)
    assert closed.edits == () and "closed" in closed.reason


async def test_a_looping_reply_is_cut_off_and_gives_nothing(report):
    looping = RENAMED + "    total = total + 1\n" * 200
    engine = ScriptedEngine(looping)
    suggestion = await _suggest(engine, report)
    assert suggestion.edits == () and "loop" in suggestion.reason
    assert engine.closed_early == [engine.requests[0].request_id]  # cut off as it streamed


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (RENAMED + "```", "leaves the window as it is"),  # a no-op
        (RENAMED.replace("inventory_value", "total_value") + "```", "changes nothing"),  # undo
        (RENAMED.replace("\n\n\ndef", "\n\ndef", 1) + "```", "changes nothing"),  # a blank line
        ("".join(RENAMED.splitlines(keepends=True)[:6]), "stopped before"),  # cut short
        ("Sure! Here is the code.\n```", "rewrote"),  # prose, no code
    ],
)
async def test_replies_that_are_no_next_edit_give_nothing(report, reply, why):
    suggestion = await _suggest(ScriptedEngine(reply), report)
    assert suggestion.edits == ()
    assert why in suggestion.reason


async def test_a_rewrite_that_runs_past_the_window_keeps_only_the_edit(tmp_path):
    lines = [f"value_{n} = compute({n})" for n in range(60)]
    lines[25] = "result = total_value(items)"
    text = "\n".join(lines) + "\n"
    path = tmp_path / "data.py"
    path.write_text(text)
    snapshot = DocumentSnapshot(path, text, 3)
    window = cursor_window(text, 22)
    assert (window.start, window.stop) == (12, 43)
    # The model rewrote the window, then wrote on with the five lines after it.
    rewritten = lines[12:43] + lines[43:48]
    rewritten[25 - 12] = "result = inventory_value(items)"
    engine = ScriptedEngine("\n".join(rewritten) + "\n```")
    suggestion = await next_edit(engine, snapshot, tmp_path, 22, [RENAME])
    assert len(suggestion.edits) == 1
    assert apply_edits(text, suggestion.edits) == text.replace(
        "result = total_value(items)", "result = inventory_value(items)"
    )


async def test_a_search_replace_reply_is_read_too(report):
    reply = f"<<<<<<< SEARCH\n{CALLER}\n=======\n{FIXED}\n>>>>>>> REPLACE\n```"
    suggestion = await _suggest(ScriptedEngine(reply), report)
    assert apply_edits(RENAMED, suggestion.edits) == RENAMED.replace(CALLER, FIXED)


async def test_a_reply_that_breaks_the_syntax_gives_nothing(report):
    broken = _rewrite(RENAMED).replace(FIXED, '    return f"total: {inventory_value(items)"(')
    suggestion = await _suggest(ScriptedEngine(broken), report)
    assert suggestion.edits == () and "syntax" in suggestion.reason


# -- fathom/nextEdit over stdio ------------------------------------------------------------------

CALLER_SOURCE = '\n\ndef summary(items):\n    return f"total: {total_value(items)}"\n'


def _plain(value):
    """pygls hands a custom request's result over as named tuples: back to plain data."""
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _request(client, uri: str, version: int, line: int, character: int = 0, msg_id=None):
    params = {
        "textDocument": {"uri": uri, "version": version},
        "position": {"line": line, "character": character},
    }
    return client.protocol.send_request_async("fathom/nextEdit", params, msg_id=msg_id)


def _rename(client, uri: str) -> None:
    """The user renames the function on line 3: one didChange, version 2."""
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(types.Position(3, 4), types.Position(3, 15)),
                    text="inventory_value",
                )
            ],
        )
    )


async def _until(condition, what: str) -> None:
    for _ in range(400):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} did not happen")


@pytest.fixture
def served(sample_project: Path, stub: StubServer, tokenizer_dir: Path):
    """The sample project's report.py with a caller of total_value; ``fathom serve``'s
    options for the stub answering ``replies``."""
    report = sample_project / "shop" / "report.py"
    report.write_text(report.read_text() + CALLER_SOURCE)

    def server_args(*replies: str | dict) -> list[str]:
        stub.replay(replies)
        return stub.serve_args(tokenizer_dir)

    return report, server_args


def _model_rewrite(report: Path) -> str:
    """The window (the whole file) rewritten with the caller renamed, as the model writes it
    after the fence Fathom opened."""
    renamed = report.read_text().replace("def total_value(", "def inventory_value(")
    return "```python\n" + _rewrite(renamed)


async def test_next_edit_over_lsp_is_versioned_and_located(served, stub):
    report, server_args = served
    async with editor_session(report.parents[1], *server_args(_model_rewrite(report))) as client:
        uri = open_document(client, report)
        _rename(client, uri)
        result = _plain(await _request(client, uri, 2, 3, 8))
        stale = _plain(await _request(client, uri, 1, 3))  # a version the editor left
    (edit,) = result["edits"]
    assert edit["textDocument"] == {"uri": uri, "version": 2}
    assert edit["range"] == {
        "start": {"line": 15, "character": 0},
        "end": {"line": 16, "character": 0},
    }
    assert edit["text"] == FIXED + "\n"
    assert edit["command"]["command"] == "fathom.nextEditAccepted"
    assert stale == {"edits": []}
    (seen,) = stub.requests(CHAT)  # the stale requests never reached the model
    prompt = seen.body["messages"][1]["content"]
    assert "-def total_value(items):\n+def inventory_value(items):" in prompt  # from didChange


async def test_a_second_request_cancels_the_first(served, stub):
    report, server_args = served
    slow = {"text": _model_rewrite(report), "seconds_per_chunk": 0.3}
    args = server_args(slow, _model_rewrite(report))
    async with editor_session(report.parents[1], *args) as client:
        uri = open_document(client, report)
        _rename(client, uri)
        first = asyncio.ensure_future(_request(client, uri, 2, 3))
        await _until(lambda: stub.requests(CHAT), "the first request reaching the model")
        second = _plain(await _request(client, uri, 2, 4))
        with pytest.raises(JsonRpcException) as cancelled:
            await first
        await _until(lambda: stub.closed_early(), "the first stream closing")
    assert cancelled.value.code == types.LSPErrorCodes.RequestCancelled
    assert "superseded by a newer next-edit request" in cancelled.value.message
    assert [e["text"] for e in second["edits"]] == [FIXED + "\n"]
    first_seen, second_seen = stub.requests(CHAT)
    assert first_seen.closed_early and not second_seen.closed_early


async def test_bad_requests_get_clear_errors_and_the_server_stays_up(served, stub):
    report, server_args = served
    slow = {"text": _model_rewrite(report), "seconds_per_chunk": 0.3}
    async with editor_session(report.parents[1], *server_args(slow)) as client:
        uri = open_document(client, report)
        with pytest.raises(JsonRpcException) as past_the_end:
            await _request(client, uri, 1, 500)
        with pytest.raises(JsonRpcException) as not_open:
            await _request(client, uri.replace("report", "models"), 1, 0)
        with pytest.raises(JsonRpcException) as malformed:
            await client.protocol.send_request_async("fathom/nextEdit", {"position": 3})
        # $/cancelRequest aborts the engine request too.
        pending = asyncio.ensure_future(_request(client, uri, 1, 3, msg_id="next-1"))
        await _until(lambda: stub.requests(CHAT), "the request reaching the model")
        client.protocol.notify("$/cancelRequest", types.CancelParams(id="next-1"))
        with pytest.raises(JsonRpcException) as cancelled:
            await pending
        await _until(lambda: stub.closed_early(), "the stream closing")
        status = _plain(
            await client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="fathom.status")
            )
        )
    assert past_the_end.value.code == types.ErrorCodes.InvalidParams
    assert "past the end" in past_the_end.value.message
    assert not_open.value.code == types.ErrorCodes.InvalidParams
    assert "is not open" in not_open.value.message
    assert malformed.value.code == types.ErrorCodes.InvalidParams
    assert cancelled.value.code == types.LSPErrorCodes.RequestCancelled
    assert status["state"] in ("ready", "busy")
