"""Hostile documents against the real ``fathom serve`` process (issue 18, items 1, 5 and 7):
documents that are not files (``untitled:``, ``http:``, a symlink loop), a 50 MB document,
changes to unopened documents or older versions, a 5 MB model reply and a long reply full of
syntax errors. Each gets a clear refusal, and the next request about a good document works.

The server's model server is a stub that answers with recorded replies (--server-url,
tests/openai_stub.py); the server counts tokens with a tiny generated tokenizer and keeps its
index and journal in a private cache dir.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol import types

from tests.openai_stub import StubServer
from tests.raw_client import EDITOR_CAPABILITIES, RawClient
from tests.tiny_tokenizer import make_tokenizer

GOOD = "def f(x):\n    return x\n"
RENAME = "```diff\n--- a/m.py\n+++ b/m.py\n@@ @@\n-def f(x):\n+def g(x):\n```\n"
# A reply over the size Fathom reads, and a long one (under it) that breaks the syntax on
# every line it adds: its check takes seconds of CPU.
# Its lines differ, so it is refused for its size, not as a repetition loop.
HUGE = "```diff\n--- a/m.py\n+++ b/m.py\n@@ @@\n-def f(x):\n+def g(x):\n" + "".join(
    f"+y{i} = {i}\n" for i in range(300_000)
)
BROKEN = "```diff\n--- a/m.py\n+++ b/m.py\n@@ @@\n def f(x):\n" + "+)\n" * 60_000 + "```\n"
# A long function, selected whole: BROKEN's 60,000 lines stay in proportion to it (a reply
# far larger than its selection is asked again before any syntax check).
LONG = "def f(x):\n" + "    x += 1\n" * 8_000 + "    return x\n"
WHOLE_LONG = {"start": {"line": 0, "character": 0}, "end": {"line": 8_002, "character": 0}}


def _serve(tmp: Path, monkeypatch, stub: StubServer, replies: list[str]) -> tuple[RawClient, Path]:
    root = tmp / "proj"
    root.mkdir()
    (root / "m.py").write_text(GOOD)
    stub.replay(replies)
    monkeypatch.setenv("FATHOM_CACHE_DIR", str(tmp / "cache"))
    client = RawClient(root, *stub.serve_args(make_tokenizer(tmp / "tok")))
    client.initialize(root, EDITOR_CAPABILITIES)
    return client, root


@pytest.fixture
def serve(tmp_path: Path, monkeypatch, stub: StubServer):
    clients: list[RawClient] = []

    def start(*replies: str) -> tuple[RawClient, Path]:
        client, root = _serve(tmp_path, monkeypatch, stub, list(replies))
        clients.append(client)
        return client, root

    yield start
    for client in clients:
        client.proc.kill()
        client.proc.wait()


def _notify(client: RawClient, method: str, params: dict) -> None:
    client.send({"jsonrpc": "2.0", "method": method, "params": params})


def _open(client: RawClient, uri: str, text: str, version: int = 1) -> None:
    _notify(
        client,
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": version, "text": text}},
    )


def _change(client: RawClient, uri: str, version: int, line: int, text: str) -> None:
    at = {"line": line, "character": 0}
    _notify(
        client,
        "textDocument/didChange",
        {
            "textDocument": {"uri": uri, "version": version},
            "contentChanges": [{"range": {"start": at, "end": at}, "text": text}],
        },
    )


LINE_0 = {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}}


def _start(
    client: RawClient, command: str, uri: str, instruction: str = "Rename f to g.", rng=LINE_0
) -> int:
    arguments = [{"uri": uri, "instruction": instruction, "range": rng}]
    return client.start("workspace/executeCommand", {"command": command, "arguments": arguments})


def _command(client: RawClient, command: str, uri: str, timeout: float = 60) -> dict:
    return client.wait(_start(client, command, uri), timeout)


def _popups(client: RawClient) -> list[str]:
    return [
        n["params"]["message"] for n in client.notifications if n["method"] == "window/showMessage"
    ]


def _logs(client: RawClient) -> list[str]:
    return [
        n["params"]["message"] for n in client.notifications if n["method"] == "window/logMessage"
    ]


def test_documents_that_are_not_files_are_refused_and_never_wedge_later_edits(serve, tmp_path):
    client, root = serve(RENAME)
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    odd = ["untitled:Untitled-1", "http://example.com/x.py", (tmp_path / "a" / "x.py").as_uri()]
    for uri in odd:
        _open(client, uri, GOOD)
    for uri in odd:
        for command in ("fathom.edit", "fathom.review"):
            error = _command(client, command, uri)["error"]
            assert error["code"] == -32602 and "not a file Fathom can read" in error["message"]
        actions = client.request(
            "textDocument/codeAction",
            {"textDocument": {"uri": uri}, "context": {"diagnostics": []}, "range": LINE_0},
        )
        assert actions["result"] == []  # nothing offered that could only fail
        _notify(client, "textDocument/didClose", {"textDocument": {"uri": uri}})
    good = (root / "m.py").as_uri()
    _open(client, good, GOOD)
    result = _command(client, "fathom.edit", good)
    assert result.get("result", {}).get("applied") is True, result
    assert client.edits  # the good document's edit reached the editor


def test_a_change_to_an_unopened_document_is_logged_not_shown(serve):
    client, root = serve(RENAME)
    uri = (root / "never-opened.py").as_uri()
    _change(client, uri, 2, 0, "x = 1\n")
    client.alive()
    assert not any("never-opened" in m or "KeyError" in m for m in _popups(client))
    assert any("never-opened.py" in m and "not open" in m for m in _logs(client))


def test_an_older_version_is_refused_and_the_buffer_keeps_the_newest(serve):
    client, root = serve(RENAME)
    uri = (root / "m.py").as_uri()
    _open(client, uri, GOOD, version=5)
    _change(client, uri, 6, 2, "z = 6\n")
    _change(client, uri, 3, 2, "stale = 3\n")  # older than what the server holds
    result = _command(client, "fathom.edit", uri)["result"]
    assert "z = 6" in result["diff"] and "stale" not in result["diff"]
    (edit,) = client.edits
    assert edit["edit"]["documentChanges"][0]["textDocument"]["version"] == 6
    assert any("version 3" in m and "version 6" in m for m in _logs(client))
    assert not _popups(client)


def test_a_change_after_a_form_feed_lands_on_the_editors_line(serve):
    """LSP lines end at \\n, \\r\\n and \\r only; a form feed is inside a line."""
    client, root = serve(RENAME)
    uri = (root / "m.py").as_uri()
    text = "# a\x0cb\n" + GOOD
    (root / "m.py").write_text(text)
    _open(client, uri, text)
    _change(client, uri, 2, 1, "# new line 1\n")  # line 1 is "def f(x):"
    result = _command(client, "fathom.edit", uri)["result"]
    assert " # new line 1\n-def f(x):\n" in result["diff"]  # not inserted before "b"


def test_a_50_mb_document_is_kept_but_never_analysed_and_the_server_answers(serve):
    client, root = serve(RENAME)
    big = (root / "big.py").as_uri()
    text = "def f(x):\n    return x + 1\n\n" * (50_000_000 // 28)
    _open(client, big, text)
    _change(client, big, 2, 0, "# typed\n")  # kept in step
    for command in ("fathom.edit", "fathom.review"):
        error = _command(client, command, big, timeout=300)["error"]
        assert error["code"] == -32602 and "is not analysed" in error["message"]
        assert "MiB" in error["message"]
    client.alive()
    _notify(client, "textDocument/didClose", {"textDocument": {"uri": big}})
    good = (root / "m.py").as_uri()
    _open(client, good, GOOD)
    assert _command(client, "fathom.edit", good)["result"]["applied"] is True


def test_a_5_mb_reply_is_refused_and_status_answers(serve):
    client, root = serve(HUGE)
    uri = (root / "m.py").as_uri()
    _open(client, uri, GOOD)
    pending = _start(client, "fathom.edit", uri, "Rename f to g.")
    client.alive()
    error = client.wait(pending, timeout=300)["error"]
    assert "more than the 1,048,576" in error["message"]
    assert "nothing was applied" in error["message"]
    assert client.edits == []


def test_status_answers_while_a_long_reply_is_checked(serve):
    """The syntax check of a long broken reply runs off the event loop: status is answered
    while the edit's job runs, after the reply was streamed (a preview came) and with no
    engine request streaming, which is while the reply is parsed and checked."""
    client, root = serve(*[BROKEN] * 4)
    uri = (root / "m.py").as_uri()
    (root / "m.py").write_text(LONG)
    _open(client, uri, LONG)
    pending = _start(client, "fathom.edit", uri, "Break it.", WHOLE_LONG)
    answered_while_checking = 0
    while pending not in client.responses:
        streamed = any(n["method"] == "fathom/preview" for n in client.notifications)
        status = client.request(
            "workspace/executeCommand", {"command": "fathom.status", "arguments": []}
        )["result"]
        if streamed and status["jobs"] and not status["engineRequests"]:
            answered_while_checking += 1
    error = client.wait(pending, timeout=600)["error"]
    assert "breaks the syntax" in error["message"]
    assert answered_while_checking > 0


TEXTS = st.text(alphabet="ab\r\n\x0c\u2028𝄞é", max_size=30)


@settings(max_examples=200, deadline=None)
@given(
    TEXTS,
    st.integers(0, 8),
    st.integers(0, 12),
    st.integers(0, 8),
    st.integers(0, 12),
    st.text(alphabet="x\n𝄞", max_size=4),
    st.sampled_from(["utf-16", "utf-8", "utf-32"]),
)
def test_incremental_changes_agree_with_the_position_codec(text, l1, c1, l2, c2, new, encoding):
    from fathom.lsp_server.documents import applied
    from fathom.lsp_server.positions import PositionCodec

    start, end = types.Position(l1, c1), types.Position(l2, c2)
    change = types.TextDocumentContentChangePartial(range=types.Range(start, end), text=new)
    codec = PositionCodec(text, encoding)
    a, b = sorted((codec.offset(start), codec.offset(end)))
    assert applied(text, change, encoding) == text[:a] + new + text[b:]


if os.environ.get("FATHOM_SKIP_BIG_DOCUMENTS"):  # a machine without the memory to spare
    del test_a_50_mb_document_is_kept_but_never_analysed_and_the_server_answers


def test_workspace_folders_that_are_not_files_are_left_out_not_fatal(tmp_path, monkeypatch, stub):
    """A client may name folders on another scheme (a remote, a virtual file system) or one
    looping through symlinks: they have nothing to index, and the file folder still works."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "m.py").write_text(GOOD)
    stub.replay([RENAME])
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    monkeypatch.setenv("FATHOM_CACHE_DIR", str(tmp_path / "cache"))
    client = RawClient(root, *stub.serve_args(make_tokenizer(tmp_path / "tok")))
    try:
        folders = [
            {"uri": u, "name": n}
            for u, n in [
                ("vscode-vfs://github/o/r", "remote"),
                ((tmp_path / "a").as_uri(), "loop"),
                (root.as_uri(), "proj"),
            ]
        ]
        init = client.request(
            "initialize",
            {
                "processId": None,
                "rootUri": root.as_uri(),
                "capabilities": EDITOR_CAPABILITIES,
                "workspaceFolders": folders,
            },
        )
        assert "result" in init, init
        client.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        _notify(
            client,
            "workspace/didChangeWorkspaceFolders",
            {"event": {"added": [], "removed": [folders[0]]}},
        )
        good = (root / "m.py").as_uri()
        _open(client, good, GOOD)
        result = _command(client, "fathom.edit", good)
        assert result.get("result", {}).get("applied") is True, result
        for _ in range(300):  # the file folder is indexed in the background
            status = client.request("workspace/executeCommand", {"command": "fathom.status"})
            if status["result"]["roots"] and not status["result"]["indexing"]:
                break
            client.pump(0.1)
        assert status["result"]["roots"] == [str(root.resolve())]
        assert not any("TypeError" in m for m in _popups(client) + _logs(client))
    finally:
        client.proc.kill()
        client.proc.wait()


def test_an_unreadable_answer_to_apply_edit_ends_the_edit_with_an_error(serve):
    """The editor answers workspace/applyEdit with something that is no
    ApplyWorkspaceEditResult: the edit is answered (an error naming it), never left waiting."""
    client, root = serve(RENAME)
    answer = client.answer

    def garbled(message: dict) -> None:
        if message["method"] != "workspace/applyEdit":
            return answer(message)
        client.edits.append(message["params"])
        client.send({"jsonrpc": "2.0", "id": message["id"], "result": "yes, sure"})

    client.answer = garbled  # type: ignore[method-assign]
    good = (root / "m.py").as_uri()
    _open(client, good, GOOD)
    result = _command(client, "fathom.edit", good, timeout=60)
    assert client.edits  # the edit was sent, and its answer could not be read
    assert "error" in result and "unreadable" in result["error"]["message"], result
    client.alive()
