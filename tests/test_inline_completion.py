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
from fathom.lsp_server.completion_context import (
    NEAR_LINES,
    RedactedCompletions,
    RelatedCache,
    completion_query,
    query_lines_apart,
)
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
        self.send(
            {
                "jsonrpc": "2.0",
                "method": "textDocument/didOpen",
                "params": {
                    "textDocument": {
                        "uri": uri,
                        "languageId": "python",
                        "version": version,
                        "text": path.read_text() if text is None else text,
                    }
                },
            }
        )
        return uri

    def complete(self, uri: str, line: int = LINE, character: int = COLUMN) -> int:
        return self.start(
            "textDocument/inlineCompletion",
            {
                "textDocument": {"uri": uri},
                "position": {"line": line, "character": character},
                "context": {"triggerKind": 2},
            },
        )

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
    editor.send(
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didClose",
            "params": {"textDocument": {"uri": uri}},
        }
    )
    editor.alive()  # the close is handled (messages are handled in order)
    closing.set()
    assert editor.items(pending) == []
    assert any("was closed while the model was writing" in m for m in editor.logs())

    # Typed into while the model writes: the answer is for a text that is gone.
    uri = editor.open(report, _report(sample_project))
    pending = editor.complete(uri)
    editor.wait_for("the request at the model", lambda: len(stub.requests(COMPLETIONS)) == 2)
    change = {
        "textDocument": {"uri": uri, "version": 2},
        "contentChanges": [{"text": _report(sample_project) + "# more\n"}],
    }
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


# -- the pieces, in process ------------------------------------------------------------------
SECRET = "ghp_" + "S3cr3tT0k3n" * 4


class Recording:
    """A CompletionEngine that writes ``pieces`` and keeps the prompts it was given."""

    def __init__(self, pieces: list[str]) -> None:
        self.pieces = pieces
        self.prompts: list[str] = []
        self.closed = False

    async def complete_stream(
        self, prompt, max_tokens, stop, request_id, *, stop_token_ids=(), stats=None
    ):
        self.prompts.append(prompt)
        try:
            for piece in self.pieces:
                yield piece
        finally:
            self.closed = True


async def test_secrets_go_to_the_model_as_markers_and_come_back_as_they_stream():
    engine = Recording(["x = «sec", "ret-1»", "\n"])
    completer = RedactedCompletions(engine)
    prompt = f'<|fim_prefix|>token = "{SECRET}"\n<|fim_suffix|><|fim_middle|>'
    pieces = [p async for p in completer.complete_stream(prompt, 48, ["\n"], "r1")]
    assert SECRET not in engine.prompts[0] and "«secret-1»" in engine.prompts[0]
    # A marker cut between two pieces is held back until it is whole.
    assert pieces == ["x = ", SECRET, "\n"]

    plain = Recording(["a", "b"])
    stream = RedactedCompletions(plain).complete_stream("<|fim_prefix|>x = 1", 48, [], "r2")
    assert await anext(stream) == "a"
    await stream.aclose()  # the consumer leaves: the engine's stream is closed, now
    assert plain.closed and plain.prompts == ["<|fim_prefix|>x = 1"]


def test_typing_on_the_cursor_line_ranks_for_the_same_query():
    lines = [f"line_{n} = {n}\n" for n in range(60)]
    text = "".join(lines)
    query = completion_query(text, 40)
    typed = "".join([*lines[:40], "line_40 = some_new_name(\n", *lines[41:]])
    assert completion_query(typed, 40) == query
    assert "line_40" not in query and "line_16" in query and "line_47" in query
    assert "line_15" not in query and "line_48" not in query  # the block above, and this one
    assert completion_query(text, 50) != query  # another block


class Indexed:
    """What RelatedCache reads of a repository: its root (and which object it is)."""

    root = Path("/repo")


def test_another_line_of_the_block_takes_the_last_ranking_until_the_code_moves_on():
    """lsp_server/completion_context.py: ranked again, a query one line down gave other chunks
    for 57 of 468 moves (bench/results/completion_related_stability.md), and the engine
    computed the prompt again; a query a few lines from the last ranked one takes its chunks."""
    lines = [f"line_{n} = {n}\n" for n in range(80)]
    text = "".join(lines)
    repository, ranked = Indexed(), [("other.py", "def helper(): ...\n")]
    cache = RelatedCache()
    cache.put(repository, "a.py", completion_query(text, 40), ranked)
    for line in range(32, 48):  # every line of the block: two lines apart
        assert query_lines_apart(completion_query(text, line), completion_query(text, 40)) <= 2
        assert cache.get(repository, "a.py", completion_query(text, line)) == ranked
    assert cache.get(repository, "a.py", completion_query(text, 48)) is None  # the next block
    assert cache.get(repository, "b.py", completion_query(text, 41)) is None  # another file
    # Lines typed in the block move the query on: past NEAR_LINES it is ranked again.
    typed = [*lines]
    for n in range(33, 40):
        typed[n] = f"renamed_{n} = compute({n})\n"
    moved = completion_query("".join(typed), 41)
    assert query_lines_apart(moved, completion_query(text, 40)) > NEAR_LINES
    assert cache.get(repository, "a.py", moved) is None
    # near_lines=0: every query is ranked for itself (the cache before).
    exact = RelatedCache(near_lines=0)
    exact.put(repository, "a.py", completion_query(text, 40), ranked)
    assert exact.get(repository, "a.py", completion_query(text, 41)) is None
    assert exact.get(repository, "a.py", completion_query(text, 40)) == ranked


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _offer(journal: EditJournal) -> int | None:
    return journal.record_completion(target="a.py", mode="single", chars=5, lines=1, seconds=0.1)


def test_the_journal_counts_completions_within_its_limits(tmp_path, monkeypatch):
    clock = Clock()
    journal = EditJournal(tmp_path / "journal.sqlite", max_days=2, clock=clock)
    first, second = _offer(journal), _offer(journal)
    assert first is not None and second is not None
    assert journal.completion_accepted(second) and not journal.completion_accepted(second)
    assert not journal.completion_accepted(999)  # never offered
    assert journal.completion_counts() == CompletionCounts(offered=2, accepted=1)
    assert journal.completion_counts(since=clock.now + 1) == CompletionCounts(0, 0)

    clock.now += 3 * 86_400  # both older than two days: pruned with the edits
    monkeypatch.setattr("fathom.edits.journal.MAX_COMPLETION_ROWS", 2)
    for _ in range(3):
        _offer(journal)
    journal.set_limits(2, 50)  # prunes now
    assert journal.completion_counts() == CompletionCounts(offered=2, accepted=0)

    journal.set_limits(0, 50)  # off: nothing kept, nothing recorded
    assert _offer(journal) is None
    assert journal.completion_counts() == CompletionCounts(0, 0)
    journal.close()
    reopened = EditJournal(tmp_path / "journal.sqlite", clock=clock)
    assert reopened.completion_counts() == CompletionCounts(0, 0)
    reopened.close()
