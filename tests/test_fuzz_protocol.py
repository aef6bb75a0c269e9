"""Malformed and hostile JSON-RPC against the real ``fathom serve`` process over stdio (and
the bad frames over ``--tcp`` on loopback too): bad Content-Length headers, bodies that are
not JSON or not JSON-RPC, unknown methods, params of the wrong type, positions out of range,
lone surrogates. Every request gets an answer (a result or a typed error) and the server
keeps serving.

The model server (a stub, tests/openai_stub.py) has no recorded reply to give, so an edit that
gets through every check ends in a clear engine error rather than minutes of CPU.
FATHOM_FUZZ_EXAMPLES raises the examples.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.openai_stub import StubServer, serve_stub
from tests.raw_client import RawClient, TcpRawClient
from tests.tiny_tokenizer import make_tokenizer

EXAMPLES = int(os.environ.get("FATHOM_FUZZ_EXAMPLES", "80"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=os.environ.get("CI") == "true",
)


def _project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("proto")
    (root / "m.py").write_text("def f(x):\n    return x\n")
    return root


@pytest.fixture(scope="module")
def model_server(tmp_path_factory) -> Iterator[list[str]]:
    """``fathom serve`` options for a model server that has no reply to give."""
    stubs = serve_stub()
    stub: StubServer = next(stubs)
    stub.replay([])
    yield stub.serve_args(make_tokenizer(tmp_path_factory.mktemp("tokenizer")))
    next(stubs, None)


@pytest.fixture(scope="module")
def client(tmp_path_factory, model_server: list[str]) -> RawClient:
    root = _project(tmp_path_factory)
    c = RawClient(root, *model_server)
    c.initialize(root, {})
    c.send(
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didOpen",
            "params": {
                "textDocument": {
                    "uri": (root / "m.py").as_uri(),
                    "languageId": "python",
                    "version": 1,
                    "text": "def f(x):\n    return x\n",
                }
            },
        }
    )
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


@pytest.fixture(scope="module")
def tcp_client(tmp_path_factory, model_server: list[str]) -> Iterator[TcpRawClient]:
    root = _project(tmp_path_factory)
    env = {**os.environ, "FATHOM_CACHE_DIR": str(tmp_path_factory.mktemp("tcp-cache"))}
    c = TcpRawClient(root, *model_server, env=env)
    c.initialize(root, {})
    yield c
    c.close()


def _over_the_limit() -> bytes:
    """A 100 MB message with an honest header: over the 64 MiB limit all the same."""
    text = b"x" * (100 * 1000 * 1000)
    return _frame(b'{"jsonrpc":"2.0","method":"$/x","params":{"a":"' + text + b'"}}')


# Each bad frame and the error (null id) it must get, over stdio and over TCP alike.
ANSWERED_FRAMES = {
    "length not a number": (lambda: b"Content-Length: abc\r\n\r\n{}", -32700),
    "length shorter than the body": (
        lambda: b'Content-Length: 3\r\n\r\n{"jsonrpc": "2.0"}',
        -32700,
    ),
    "a huge length": (lambda: b"Content-Length: 999999999999\r\n\r\n" + b"x" * 64, -32600),
    "a 100 MB frame": (_over_the_limit, -32600),
    "body not JSON": (lambda: _frame(b"{abc}"), -32700),
}


@pytest.mark.parametrize("transport", ["stdio", "tcp"])
@pytest.mark.parametrize("name", ANSWERED_FRAMES)
def test_each_transport_answers_a_bad_frame_with_its_error_and_reads_the_next(
    request: pytest.FixtureRequest, transport: str, name: str
):
    c: RawClient = request.getfixturevalue("client" if transport == "stdio" else "tcp_client")
    make, code = ANSWERED_FRAMES[name]
    c.pump(0.2)
    c.unanswerable.clear()
    popups = len([n for n in c.notifications if n["method"] == "window/showMessage"])
    c.raw(make())
    c.alive()  # the next frame is read and answered
    assert [e["error"]["code"] for e in c.unanswerable] == [code], c.unanswerable
    assert len([n for n in c.notifications if n["method"] == "window/showMessage"]) == popups


def test_the_pygls_api_the_framing_uses_is_still_there():
    """lsp_server/framing.py replaces pygls's read loops and relies on these; a pygls that
    changes them fails here (and pyproject.toml pins the tested minor version)."""
    from pygls.io_ import StdoutWriter
    from pygls.protocol import JsonRPCProtocol
    from pygls.server import JsonRPCServer

    assert version("pygls").startswith("2.1.")

    def params(function) -> list[str]:
        return list(inspect.signature(function).parameters)

    assert params(JsonRPCProtocol.set_writer) == ["self", "writer", "include_headers"]
    assert params(JsonRPCProtocol.structure_message) == ["self", "data"]
    assert params(JsonRPCProtocol.handle_message) == ["self", "message"]
    assert params(JsonRPCServer.report_server_error) == ["self", "error", "source"]
    assert params(JsonRPCServer.shutdown) == ["self"]
    assert isinstance(inspect.getattr_static(JsonRPCServer, "thread_pool"), property)
    assert params(StdoutWriter) == ["stdout"]
    # What FathomServer overrides, so that stdio and TCP both go through the framing.
    assert params(JsonRPCServer.start_io) == ["self", "stdin", "stdout"]
    assert params(JsonRPCServer.start_tcp) == ["self", "host", "port"]


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


POSITION = st.fixed_dictionaries(
    {"line": st.integers(-5, 10**6), "character": st.integers(-5, 10**6)}
)


@FUZZ
@given(POSITION, POSITION)
def test_out_of_range_positions_get_answers(client: RawClient, start, end):
    rng = {"start": start, "end": end}
    answer = client.request(
        "textDocument/codeAction",
        {"textDocument": {"uri": client.uri}, "range": rng, "context": {"diagnostics": []}},
    )
    assert "result" in answer or "error" in answer
    answer = client.request(
        "workspace/executeCommand",
        {
            "command": "fathom.edit",
            "arguments": [{"uri": client.uri, "range": rng, "instruction": "Rename f to g."}],
        },
    )
    # Either refused (position, engine) with a message, or nothing: never a hang or a crash.
    assert "error" in answer and answer["error"]["message"]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
METHODS = st.sampled_from(
    [
        "textDocument/codeAction",
        "workspace/executeCommand",
        "textDocument/didChange",
        "textDocument/didOpen",
        "workspace/didChangeConfiguration",
        "$/cancelRequest",
        "workspace/didChangeWorkspaceFolders",
        "textDocument/hover",
        "shutdownX",
    ]
)


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
    client.send(
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didClose",
            "params": {"textDocument": {"uri": uri}},
        }
    )
