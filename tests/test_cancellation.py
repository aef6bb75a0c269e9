"""Cancellation and the journal, against the real ``fathom serve`` over stdio whose model
server (``--server-url``, tests/openai_stub.py) streams recorded replies slowly: every request
is answered exactly once, an answer never says "cancelled" for an edit the editor received, a
cancelled edit's stream is closed at the model server, and the journal keeps what the model
wrote and what was planned, and agrees with the answers.

Issue 18, items 2-4. The random-cancel run sends ``$/cancelRequest`` at random moments of 40
edits (a fixed seed), the editor taking a random while to answer ``workspace/applyEdit``.
"""

from __future__ import annotations

import queue
import random
import time
from collections import Counter
from pathlib import Path

import pytest

from fathom.edits.journal import EditJournal, JournalEntry, Outcome
from fathom.edits.prompt import diff_prefix
from tests.openai_stub import CHAT, StubServer
from tests.raw_client import EDITOR_CAPABILITIES, RawClient
from tests.tiny_tokenizer import make_tokenizer

REQUEST_CANCELLED = -32800
RENAME = "def total_value(items):\n+def inventory_value(items):\n"
REPLY = diff_prefix("shop/report.py") + RENAME + "```\n"
# Longer, so a cancel lands mid-reply: a comment line per line of the function.
LONG_REPLY = (
    diff_prefix("shop/report.py")
    + RENAME
    + "".join(f"+    # step {n}: keep a running total of the prices\n" for n in range(8))
    + "```\n"
)


class Editor(RawClient):
    """An editor that counts every answer it gets and answers ``workspace/applyEdit`` after
    ``apply_delay`` seconds (a user looking at the preview), or with ``apply_error``."""

    def __init__(self, root: Path, *args: str) -> None:
        super().__init__(root, *args)
        self.answers: Counter[int] = Counter()
        self.received: list[str] = []  # labels of the applyEdits received
        self.apply_delay = 0.0
        self.apply_error: dict | None = None
        self._deferred: list[tuple[float, dict]] = []

    def _take(self, seconds: float) -> bool:
        self._answer_due()
        try:
            message = self.messages.get(timeout=min(seconds, 0.01))
        except queue.Empty:
            return True
        if message is None:
            self.closed = True
            return False
        if "method" in message and "id" in message:
            self.answer(message)
        elif "method" in message:
            self.notifications.append(message)
        elif "id" in message:
            self.answers[message["id"]] += 1
            self.responses[message["id"]] = message
        return True

    def answer(self, message: dict) -> None:
        if message["method"] != "workspace/applyEdit":
            super().answer(message)
            return
        self.received.append(message["params"]["label"])
        self._deferred.append((time.monotonic() + self.apply_delay, message))
        self._answer_due()

    def _answer_due(self) -> None:
        now = time.monotonic()
        for due, message in [d for d in self._deferred if d[0] <= now]:
            self._deferred.remove((due, message))
            reply: dict = {"jsonrpc": "2.0", "id": message["id"]}
            if self.apply_error is not None:
                reply["error"] = self.apply_error
            else:
                reply["result"] = {"applied": True}
            self.send(reply)

    def open(self, path: Path, version: int = 1) -> str:
        uri = path.as_uri()
        self.send(
            {
                "jsonrpc": "2.0",
                "method": "textDocument/didOpen",
                "params": {
                    "textDocument": {
                        "uri": uri,
                        "languageId": "python",
                        "version": version,
                        "text": path.read_text(),
                    }
                },
            }
        )
        return uri

    def edit(self, uri: str, instruction: str) -> int:
        return self.start(
            "workspace/executeCommand",
            {
                "command": "fathom.edit",
                "arguments": [
                    {
                        "uri": uri,
                        "instruction": instruction,
                        "range": {
                            "start": {"line": 3, "character": 0},
                            "end": {"line": 8, "character": 0},
                        },
                    }
                ],
            },
        )

    def cancel(self, ident: int) -> None:
        self.send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": ident}})

    def previews(self) -> list[dict]:
        return [n["params"] for n in self.notifications if n["method"] == "fathom/preview"]

    def wait_for(self, what, condition, timeout: float = 20) -> None:
        self.pump(timeout, until=condition)
        assert condition(), f"{what} did not happen:\n{self._log()}"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch) -> Path:
    """The servers' own cache: the journal read below is this test's alone."""
    monkeypatch.setenv("FATHOM_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def serve(tmp_path: Path, sample_project: Path, cache: Path, stub: StubServer):
    """``fathom serve --server-url`` on the stub, which answers with ``replies``; counts with
    a tiny generated tokenizer; returns the Editor."""
    tokenizer_dir = make_tokenizer(tmp_path / "tokenizer")
    started: list[Editor] = []

    def start(*replies: dict, capabilities: dict = EDITOR_CAPABILITIES) -> Editor:
        stub.replay(replies)
        editor = Editor(sample_project, *stub.serve_args(tokenizer_dir))
        started.append(editor)
        editor.initialize(sample_project, capabilities)
        return editor

    yield start
    for editor in started:
        editor.proc.kill()
        editor.proc.wait()


def _journal(cache: Path) -> dict[str, JournalEntry]:
    """The journal's entries by instruction."""
    journal = EditJournal(cache / "journal.sqlite")
    try:
        return {e.instruction: e for e in journal.recent(200)}
    finally:
        journal.close()


def _stream_closed(editor: Editor, stub: StubServer) -> None:
    """The cancel reached the model server: Fathom closed the reply's stream (vLLM then
    aborts the request) before the reply ended."""
    editor.wait_for("the stream closed at the model server", lambda: stub.closed_early())
    assert len(stub.closed_early()) == 1


def _slow(text: str, seconds_per_chunk: float) -> dict:
    return {"text": text, "seconds_per_chunk": seconds_per_chunk}


def test_a_superseded_edit_is_answered_cancelled_and_saying_why(serve, sample_project, cache, stub):
    editor = serve(_slow(LONG_REPLY, 0.2), _slow(REPLY, 0.0))
    uri = editor.open(sample_project / "shop" / "report.py")
    older = editor.edit(uri, "Rename, first try")
    editor.wait_for("the first reply streaming", lambda: editor.previews())
    newer = editor.edit(uri, "Rename, second try")
    answer = editor.wait(older, 15)
    assert answer["error"]["code"] == REQUEST_CANCELLED, answer
    assert "superseded by a newer edit" in answer["error"]["message"]
    assert editor.wait(newer)["result"]["applied"] is True
    assert editor.received == ["Fathom: Rename, second try"]
    assert _journal(cache)["Rename, first try"].outcome is Outcome.CANCELLED
    _stream_closed(editor, stub)
    first, second = stub.requests(CHAT)
    assert first.closed_early and not second.closed_early  # only the superseded one stopped


def test_cancel_from_the_progress_is_answered(serve, sample_project, cache, stub):
    editor = serve(_slow(LONG_REPLY, 0.2))
    uri = editor.open(sample_project / "shop" / "report.py")
    pending = editor.edit(uri, "Rename")
    begun = lambda: [  # noqa: E731
        n["params"]["token"]
        for n in editor.notifications
        if n["method"] == "$/progress"
        and n["params"]["value"].get("kind") == "begin"
        and n["params"]["value"].get("title") == "Fathom: editing report.py"
    ]
    editor.wait_for("the edit's progress", lambda: begun() and editor.previews())
    editor.send(
        {
            "jsonrpc": "2.0",
            "method": "window/workDoneProgress/cancel",
            "params": {"token": begun()[0]},
        }
    )
    answer = editor.wait(pending, 15)
    assert answer["error"]["code"] == REQUEST_CANCELLED, answer
    assert "cancelled from its progress" in answer["error"]["message"]
    assert editor.received == []
    assert _journal(cache)["Rename"].outcome is Outcome.CANCELLED
    _stream_closed(editor, stub)


def test_a_cancelled_edit_keeps_the_partial_reply_in_the_journal(
    serve, sample_project, cache, stub
):
    editor = serve(_slow(LONG_REPLY, 0.2))
    uri = editor.open(sample_project / "shop" / "report.py")
    pending = editor.edit(uri, "Rename")
    editor.wait_for("two previews", lambda: len(editor.previews()) >= 2)
    editor.cancel(pending)
    answer = editor.wait(pending)
    assert answer["error"]["code"] == REQUEST_CANCELLED, answer
    entry = _journal(cache)["Rename"]
    assert entry.outcome is Outcome.CANCELLED
    (partial,) = entry.replies
    # What the model wrote before the cancel, from Fathom's opening of the answer on.
    assert partial.startswith(diff_prefix("shop/report.py") + "def total_value(items):")
    assert len(partial) < len(LONG_REPLY) and LONG_REPLY.startswith(partial)
    _stream_closed(editor, stub)


def test_a_stale_refusal_journals_the_planned_diff(serve, sample_project, cache):
    report = sample_project / "shop" / "report.py"
    editor = serve(_slow(REPLY, 0.3))
    uri = editor.open(report)
    pending = editor.edit(uri, "Rename")
    editor.wait_for("the reply streaming", lambda: editor.previews())
    # The user changes a line the edit replaces while the model writes.
    typed = report.read_text().replace("def total_value(", "async def total_value(")
    change = {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": typed}]}
    editor.send({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": change})
    answer = editor.wait(pending)
    assert "changed while the model was writing" in answer["error"]["message"], answer
    entry = _journal(cache)["Rename"]
    assert entry.outcome is Outcome.REFUSED
    assert "-def total_value(items):\n+def inventory_value(items):\n" in entry.diff
    assert entry.replies == [REPLY]


def test_a_refusal_for_the_client_journals_the_planned_diff(serve, sample_project, cache):
    # A new file needs documentChanges, which this editor (like Neovim) does not announce.
    creates = REPLY.removesuffix("```\n") + "--- /dev/null\n+++ b/shop/tax.py\n@@ -0,0 +1 @@\n"
    editor = serve(
        _slow(creates + "+RATE = 0.2\n```\n", 0.0), capabilities={"workspace": {"applyEdit": True}}
    )
    answer = editor.wait(editor.edit(editor.open(sample_project / "shop" / "report.py"), "Tax"))
    assert "documentChanges" in answer["error"]["message"], answer
    assert editor.received == []
    entry = _journal(cache)["Tax"]
    assert entry.outcome is Outcome.REFUSED
    assert "+++ b/shop/tax.py" in entry.diff and "+def inventory_value(items):" in entry.diff


def test_an_editor_failing_applyedit_is_journaled_as_failed(serve, sample_project, cache):
    editor = serve(_slow(REPLY, 0.0))
    editor.apply_error = {"code": -32603, "message": "the editor crashed applying it"}
    uri = editor.open(sample_project / "shop" / "report.py")
    answer = editor.wait(editor.edit(uri, "Rename"))
    assert "the editor crashed applying it" in answer["error"]["message"], answer
    entry = _journal(cache)["Rename"]
    assert entry.outcome is Outcome.FAILED
    assert "the editor crashed applying it" in entry.reason
    assert "+def inventory_value(items):" in entry.diff


def test_random_cancels_agree_with_what_the_editor_received_and_the_journal(
    serve, sample_project, cache
):
    rng = random.Random(18)
    edits = 40
    editor = serve(*[_slow(REPLY, 0.03)] * edits)
    uri = editor.open(sample_project / "shop" / "report.py")
    outcomes: dict[str, str] = {}
    moments: Counter[str] = Counter()
    for n in range(edits):
        instruction = f"Rename, attempt {n}"
        label = f"Fathom: {instruction}"
        editor.apply_delay = rng.uniform(0, 0.15)
        pending = editor.edit(uri, instruction)
        answered = lambda ident=pending: ident in editor.answers  # noqa: E731
        cancel_at = time.monotonic() + rng.uniform(0, 0.4)
        editor.pump(30, until=lambda at=cancel_at, done=answered: time.monotonic() >= at or done())
        if not answered():
            moments["after applyEdit" if label in editor.received else "before applyEdit"] += 1
            editor.cancel(pending)
        else:
            moments["after the answer"] += 1
        editor.wait_for(f"an answer to {instruction}", answered, 30)
        editor.pump(0.05)  # a second answer would arrive now
        assert editor.answers[pending] == 1, f"{instruction}: {editor.answers[pending]} answers"
        answer = editor.responses.pop(pending)
        sent = editor.received.count(label)
        if "error" in answer:
            assert answer["error"]["code"] == REQUEST_CANCELLED, answer
            assert sent == 0, f"{instruction}: answered cancelled, but the edit was sent"
            outcomes[instruction] = Outcome.CANCELLED
        else:
            assert answer["result"]["applied"] is True and sent == 1, (instruction, answer)
            outcomes[instruction] = Outcome.APPLIED
    journal = _journal(cache)
    assert {i: journal[i].outcome for i in outcomes} == outcomes
    # The seed puts cancels in every phase, the window after applyEdit included.
    assert min(moments[m] for m in ("before applyEdit", "after applyEdit")) >= 1, moments
    editor.alive()
