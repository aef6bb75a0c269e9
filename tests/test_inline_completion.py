"""``textDocument/inlineCompletion`` against the real ``fathom serve`` over stdio, its model
server the loopback stub (tests/openai_stub.py) answering ``/v1/completions``, tokens counted
with the real Qwen2.5-Coder tokenizer (its FIM tokens are what turns completion on; a tokenizer
without them turns it off). No model engine starts.

Issue 22: the capability, a post-processed completion from a FIM-shaped prompt with the
repository's related code, cancel-previous and ``$/cancelRequest`` reaching the model server,
a flood of requests, bad input, and accepted completions counted in the local journal.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from fathom.edits.journal import CompletionCounts, EditJournal
from tests.openai_stub import COMPLETIONS, Reply, StubServer, completion_reply
from tests.raw_client import EDITOR_CAPABILITIES, RawClient
from tests.tiny_tokenizer import make_tokenizer

REQUEST_CANCELLED = -32800
INVALID_PARAMS = -32602
CAPABILITIES = {**EDITOR_CAPABILITIES, "textDocument": {"inlineCompletion": {}}}
# report.py with the cursor's line emptied after "return ": line 7, character 11.
LINE, COLUMN = 7, 11


def _report(sample_project: Path) -> str:
    text = (sample_project / "shop" / "report.py").read_text()
    return text.replace("    return total\n", "    return \n")


class Editor(RawClient):
    capabilities: dict

    def open(self, path: Path, text: str | None = None, version: int = 1) -> str:
        uri = path.as_uri()
        self.send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
            "textDocument": {"uri": uri, "languageId": "python", "version": version,
                             "text": path.read_text() if text is None else text}}})  # fmt: skip
        return uri

    def complete(self, uri: str, line: int = LINE, character: int = COLUMN) -> int:
        return self.start("textDocument/inlineCompletion", {
            "textDocument": {"uri": uri}, "position": {"line": line, "character": character},
            "context": {"triggerKind": 2},
        })  # fmt: skip

    def items(self, ident: int) -> list[dict]:
        answer = self.wait(ident)
        assert "result" in answer, answer
        return answer["result"]["items"]

    def cancel(self, ident: int) -> None:
        self.send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": ident}})

    def command(self, name: str, *arguments: object) -> dict:
        return self.request(
            "workspace/executeCommand", {"command": name, "arguments": list(arguments)}
        )

    def logs(self) -> list[str]:
        return [
            n["params"]["message"] for n in self.notifications if n["method"] == "window/logMessage"
        ]

    def ready(self) -> bool:
        """The model is ready and the workspace indexed (related code can be ranked)."""
        statuses = [n["params"] for n in self.notifications if n["method"] == "fathom/status"]
        indexed = any("Fathom: indexed" in m for m in self.logs())
        return indexed and any(s["state"] == "ready" for s in statuses)

    def wait_for(self, what: str, condition, timeout: float = 60) -> None:
        self.pump(timeout, until=condition)
        assert condition(), f"{what} did not happen:\n{self._log()}"

    def engine_requests(self) -> list[str]:
        return self.command("fathom.status")["result"]["engineRequests"]


@pytest.fixture
def serve(sample_project: Path, stub: StubServer, tokenizer_dir: Path):
    """``fathom serve --server-url`` on the stub, ready and indexed; returns the Editor."""
    started: list[Editor] = []

    def start(tokenizer: Path = tokenizer_dir) -> Editor:
        stub.replay([])  # /v1/models answers; each test scripts /v1/completions
        editor = Editor(sample_project, *stub.serve_args(tokenizer))
        started.append(editor)
        editor.capabilities = editor.initialize(sample_project, CAPABILITIES)["result"][
            "capabilities"
        ]
        editor.wait_for("the model ready and the workspace indexed", editor.ready)
        return editor

    yield start
    for editor in started:
        editor.proc.kill()
        editor.proc.wait()


def gated(release: threading.Event, texts: tuple[str, ...] = ("total",)) -> Reply:
    """A completion whose answer waits for ``release``: the test acts while it is pending."""
    answer = completion_reply(list(texts))

    def send(handler) -> None:
        if release.wait(60):
            answer(handler)

    return send


def _stream_closed(gone: threading.Event) -> bool:
    """Fathom closed the reply's stream at the model server (how vLLM learns to abort)."""
    return gone.wait(30)


def test_a_completion_is_fim_shaped_post_processed_and_counted(
    serve, sample_project, stub, own_cache_dir
):
    editor = serve()
    assert editor.capabilities["inlineCompletionProvider"] == {}
    # The model goes on past the line; a single-line completion keeps the line.
    stub.on(COMPLETIONS, completion_reply(["total", "\n", "\ndef more():"]))
    uri = editor.open(sample_project / "shop" / "report.py", _report(sample_project))
    [item] = editor.items(editor.complete(uri))
    assert item["insertText"] == "total"
    cursor = {"line": LINE, "character": COLUMN}
    assert item["range"] == {"start": cursor, "end": cursor}

    [seen] = stub.requests(COMPLETIONS)
    prompt = seen.body["prompt"]
    # Qwen2.5-Coder's repository-level FIM: the repository, related files (models.py defines
    # the Item report.py imports), the current file, then prefix, suffix, middle.
    assert prompt.startswith("<|repo_name|>sample\n<|file_sep|>")
    head, _, rest = prompt.partition("<|file_sep|>shop/report.py\n<|fim_prefix|>")
    assert rest, prompt
    assert "<|file_sep|>shop/models.py\n" in head and "class Item" in head
    prefix, _, suffix = rest.partition("<|fim_suffix|>")
    assert prefix.endswith("        total = total + item.price * item.quantity\n    return ")
    assert suffix.startswith("\n\n\ndef describe(item: Item) -> str:")
    assert suffix.endswith("<|fim_middle|>")
    assert "\n" in seen.body["stop"] and "<|endoftext|>" in seen.body["stop"]
    assert seen.body["max_tokens"] == 48  # single line: a short answer
    assert seen.body["stop_token_ids"]

    # The editor runs the item's command when the user accepts it: counted once.
    command = item["command"]
    assert command["command"] == "fathom.completionAccepted"
    assert editor.command(command["command"], *command["arguments"])["result"] == {"recorded": True}
    again = editor.command(command["command"], *command["arguments"])
    assert again["result"] == {"recorded": False}
    bad = editor.command(command["command"], "not an id")
    assert bad["error"]["code"] == INVALID_PARAMS, bad
    journal = EditJournal(own_cache_dir / "journal.sqlite")
    try:
        assert journal.completion_counts() == CompletionCounts(offered=1, accepted=1)
    finally:
        journal.close()


def test_a_newer_request_aborts_the_older_and_a_cancel_request_aborts_its_own(
    serve, sample_project, stub
):
    editor = serve()
    first_gone, cancelled_gone = threading.Event(), threading.Event()
    stub.on(
        COMPLETIONS,
        completion_reply(["to"], hold_s=60, gone=first_gone),
        completion_reply(["total"]),
        completion_reply(["to"], hold_s=60, gone=cancelled_gone),
    )
    uri = editor.open(sample_project / "shop" / "report.py", _report(sample_project))
    older = editor.complete(uri)
    editor.wait_for("the first request at the model", lambda: stub.requests(COMPLETIONS))
    newer = editor.complete(uri)
    assert editor.items(older) == []  # superseded: answered, with nothing
    assert _stream_closed(first_gone)
    assert [i["insertText"] for i in editor.items(newer)] == ["total"]

    pending = editor.complete(uri)
    editor.wait_for("the third request at the model", lambda: len(stub.requests(COMPLETIONS)) == 3)
    editor.cancel(pending)
    answer = editor.wait(pending)
    assert answer["error"]["code"] == REQUEST_CANCELLED, answer
    assert _stream_closed(cancelled_gone)
    assert editor.engine_requests() == []


def test_a_flood_of_requests_keeps_one_in_flight_per_document(serve, sample_project, stub):
    # Six documents; requests for all of them wait at the model until released.
    for n in range(6):
        (sample_project / "shop" / f"copy{n}.py").write_text(_report(sample_project))
    editor = serve()
    release = threading.Event()
    stub.on(COMPLETIONS, gated(release))
    uri = editor.open(sample_project / "shop" / "report.py", _report(sample_project))
    flood = [editor.complete(uri) for _ in range(20)]  # one per keystroke
    for ident in flood[:-1]:
        assert editor.items(ident) == []  # each stopped by the next
    assert len(editor.engine_requests()) <= 1  # nothing piled up at the engine
    release.set()
    assert [i["insertText"] for i in editor.items(flood[-1])] == ["total"]

    release.clear()
    uris = [editor.open(sample_project / "shop" / f"copy{n}.py") for n in range(6)]
    pending = [editor.complete(u) for u in uris]
    # At most four documents at once: the two oldest stop for the newer ones.
    assert editor.items(pending[0]) == [] and editor.items(pending[1]) == []
    assert len(editor.engine_requests()) <= 4
    release.set()
    for ident in pending[2:]:
        assert [i["insertText"] for i in editor.items(ident)] == ["total"]
    assert editor.engine_requests() == []


def test_bad_input_is_answered_empty_or_refused_and_the_server_goes_on(serve, sample_project, stub):
    editor = serve()
    report = sample_project / "shop" / "report.py"
    closing, typing = threading.Event(), threading.Event()
    stub.on(COMPLETIONS, gated(closing), gated(typing), completion_reply(["total"]))
    # Not open: nothing, and the log says why.
    assert editor.items(editor.complete((sample_project / "shop" / "models.py").as_uri())) == []
    assert any("models.py is not open" in m for m in editor.logs())
    uri = editor.open(report, _report(sample_project))
    past_end = editor.wait(editor.complete(uri, line=400, character=0))
    assert past_end["error"]["code"] == INVALID_PARAMS, past_end
    assert "past the end" in past_end["error"]["message"]

    # Closed while the model writes: the late answer is dropped.
    pending = editor.complete(uri)
    editor.wait_for("the request at the model", lambda: len(stub.requests(COMPLETIONS)) == 1)
    editor.send({"jsonrpc": "2.0", "method": "textDocument/didClose",
                 "params": {"textDocument": {"uri": uri}}})  # fmt: skip
    editor.alive()  # the close is handled (messages are handled in order)
    closing.set()
    assert editor.items(pending) == []
    assert any("was closed while the model was writing" in m for m in editor.logs())

    # Typed into while the model writes: the answer is for a text that is gone.
    uri = editor.open(report, _report(sample_project))
    pending = editor.complete(uri)
    editor.wait_for("the request at the model", lambda: len(stub.requests(COMPLETIONS)) == 2)
    change = {"textDocument": {"uri": uri, "version": 2},
              "contentChanges": [{"text": _report(sample_project) + "# more\n"}]}  # fmt: skip
    editor.send({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": change})
    editor.alive()
    typing.set()
    assert editor.items(pending) == []

    # Nothing is stuck: the next request is completed.
    assert [i["insertText"] for i in editor.items(editor.complete(uri))] == ["total"]
    assert editor.engine_requests() == []
    editor.alive()


def test_a_model_without_fim_tokens_completes_nothing_and_says_why(
    serve, sample_project, stub, tmp_path
):
    editor = serve(make_tokenizer(tmp_path / "no-fim-tokenizer"))
    uri = editor.open(sample_project / "shop" / "report.py", _report(sample_project))
    assert editor.items(editor.complete(uri)) == []
    assert any(
        "stub-model cannot fill in the middle: the model's tokenizer has no fill-in-the-middle" in m
        for m in editor.logs()
    ), editor.logs()
    assert stub.requests(COMPLETIONS) == []  # no format guessed, nothing asked
