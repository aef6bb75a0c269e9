"""Malformed and hostile JSON-RPC against the real ``fathom serve`` process over stdio: bad
Content-Length headers, bodies that are not JSON or not JSON-RPC, unknown methods, params of
the wrong type, positions out of range, lone surrogates. Every request gets an answer (a
result or a typed error) and the server keeps serving.

The engine replays no recorded replies, so an edit that gets through every check ends in a
clear engine error rather than minutes of CPU. FATHOM_FUZZ_EXAMPLES raises the examples.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("FATHOM_FUZZ_EXAMPLES", "80"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=os.environ.get("CI") == "true",
)


class RawClient:
    """Bytes in, messages out: no client library smoothing anything over."""

    def __init__(self, root: Path, replies: Path) -> None:
        fathom = Path(sys.executable).with_name("fathom")
        self.proc = subprocess.Popen(
            [str(fathom), "serve", "--replay", str(replies)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=root,
        )  # fmt: skip
        self.messages: queue.Queue[dict | None] = queue.Queue()
        self.ids = itertools.count(1000)
        self.stderr: list[bytes] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line)

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    self.messages.put(None)
                    return
                if not line.strip():
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            self.messages.put(json.loads(out.read(length)))

    def raw(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message: dict) -> None:
        body = json.dumps(message).encode()
        self.raw(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    def request(self, method: str, params: object, timeout: float = 20) -> dict:
        """The response to a new request (result or error); fails if none comes."""
        ident = next(self.ids)
        self.send({"jsonrpc": "2.0", "id": ident, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                message = self.messages.get(timeout=0.2)
            except queue.Empty:
                continue
            if message is None:
                pytest.fail("the server closed its output:\n" + self._log())
            if message.get("id") == ident and ("result" in message or "error" in message):
                return message
            if "method" in message and "id" in message:  # a request from the server
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
        pytest.fail(f"no answer to {method} in {timeout} s:\n" + self._log())

    def alive(self) -> None:
        answer = self.request("workspace/executeCommand",
                              {"command": "fathom.status", "arguments": []})  # fmt: skip
        assert "result" in answer, answer
        assert self.proc.poll() is None

    def _log(self) -> str:
        return b"".join(self.stderr[-40:]).decode(errors="replace")


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> RawClient:
    root = tmp_path_factory.mktemp("proto")
    (root / "m.py").write_text("def f(x):\n    return x\n")
    replies = root / "replies.json"
    replies.write_text("[]")
    c = RawClient(root, replies)
    init = c.request("initialize", {"processId": None, "rootUri": root.as_uri(),
                                    "capabilities": {}})  # fmt: skip
    assert "result" in init
    c.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    c.send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
        "uri": (root / "m.py").as_uri(), "languageId": "python", "version": 1,
        "text": "def f(x):\n    return x\n"}}})  # fmt: skip
    c.uri = (root / "m.py").as_uri()
    yield c
    c.proc.kill()
    c.proc.wait()


def _frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


BAD_FRAMES = {
    "body not JSON": _frame(b"{abc}"),
    "length not a number": b"Content-Length: abc\r\n\r\n{}",
    "no length at all": b"Content-Type: application/json\r\n\r\n{}",
    "length shorter than the body": b'Content-Length: 3\r\n\r\n{"jsonrpc": "2.0"}',
    "JSON but not an object": _frame(b"[]"),
    "not JSON-RPC 2.0": _frame(b'{"jsonrpc": 1}'),
    "lone surrogate": _frame(b'{"jsonrpc":"2.0","method":"$/x","params":{"a":"\\ud800"}}'),
    "invalid UTF-8": _frame(b"\xff\xfe\xfd\xfc"),
    "over the size limit": b"Content-Length: 999999999999\r\n\r\n" + b"x" * 64,
    "garbage between frames": b"\x00\x01 hello \r\n\r\n",
}


@pytest.mark.parametrize("frame", BAD_FRAMES.values(), ids=BAD_FRAMES.keys())
def test_a_bad_frame_is_answered_and_the_next_one_read(client: RawClient, frame: bytes):
    client.raw(frame)
    client.alive()


def test_unknown_methods_and_wrong_params_get_typed_errors(client: RawClient):
    answer = client.request("fathom/noSuchThing", {})
    assert answer["error"]["code"] == -32601
    for method, params in [
        ("textDocument/codeAction", {"textDocument": 3}),
        ("workspace/executeCommand", {"command": "fathom.edit", "arguments": [{"uri": 5}]}),
        ("workspace/executeCommand", {"command": "fathom.edit", "arguments": "x"}),
        ("workspace/executeCommand", {"command": "fathom.review", "arguments": [None]}),
    ]:
        answer = client.request(method, params)
        assert "error" in answer and answer["error"]["message"], (method, answer)
    client.alive()


POSITION = st.fixed_dictionaries({
    "line": st.integers(-5, 10**6), "character": st.integers(-5, 10**6)})  # fmt: skip


@FUZZ
@given(POSITION, POSITION)
def test_out_of_range_positions_get_answers(client: RawClient, start, end):
    rng = {"start": start, "end": end}
    answer = client.request("textDocument/codeAction", {
        "textDocument": {"uri": client.uri}, "range": rng,
        "context": {"diagnostics": []}})  # fmt: skip
    assert "result" in answer or "error" in answer
    answer = client.request("workspace/executeCommand", {"command": "fathom.edit", "arguments": [
        {"uri": client.uri, "range": rng, "instruction": "Rename f to g."}]})  # fmt: skip
    # Either refused (position, engine) with a message, or nothing: never a hang or a crash.
    assert "error" in answer and answer["error"]["message"]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)  # fmt: skip
METHODS = st.sampled_from([
    "textDocument/codeAction", "workspace/executeCommand", "textDocument/didChange",
    "textDocument/didOpen", "workspace/didChangeConfiguration", "$/cancelRequest",
    "workspace/didChangeWorkspaceFolders", "textDocument/hover", "shutdownX",
])  # fmt: skip


@FUZZ
@given(METHODS, JSON)
def test_random_params_for_real_methods_never_stop_the_server(client: RawClient, method, params):
    answer = client.request(method, params)
    assert "result" in answer or "error" in answer
    client.alive()


@FUZZ
@given(st.text(max_size=200))
def test_any_document_text_is_taken_and_positions_still_answered(client: RawClient, text):
    uri = client.uri.replace("m.py", "fuzz.py")
    client.send(
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didOpen",
            "params": {
                "textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}
            },
        }
    )
    client.send(
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didChange",
            "params": {
                "textDocument": {"uri": uri, "version": 2},
                "contentChanges": [
                    {
                        "range": {
                            "start": {"line": 0, "character": 1},
                            "end": {"line": 0, "character": 2},
                        },
                        "text": "\U0001d11e",
                    }
                ],
            },
        }
    )
    answer = client.request(
        "textDocument/codeAction",
        {
            "textDocument": {"uri": uri},
            "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 1}},
            "context": {"diagnostics": []},
        },
    )
    assert "result" in answer or "error" in answer
    client.send({"jsonrpc": "2.0", "method": "textDocument/didClose", "params": {
        "textDocument": {"uri": uri}}})  # fmt: skip
