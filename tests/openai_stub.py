"""A tiny real OpenAI-compatible HTTP server on loopback, for what a healthy vLLM never does
(503, 429, 500, stalls, cut streams), to capture exactly what Fathom sends a model server,
and to answer ``fathom serve --server-url`` with recorded model replies (``StubServer.replay``),
paced when a test needs time to act mid-reply, noting each stream the client closed early
(how Fathom aborts a request). A test double: it lives with the tests, never in the product.

``python -m tests.openai_stub REPLIES.json`` runs one on its own (for bench/soak.py) and prints
its URL."""

from __future__ import annotations

import json
import select
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

Reply = Callable[[BaseHTTPRequestHandler], None]


def json_reply(status: int, body: object, headers: dict[str, str] | None = None) -> Reply:
    def send(handler: BaseHTTPRequestHandler) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    return send


def _chunk(delta: dict, finish: str | None = None) -> bytes:
    event = {
        "id": "c",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(event).encode() + b"\n\n"


def sse_reply(
    texts: list[str],
    *,
    finish: bool = True,
    done: bool = True,
    stall_s: float = 0.0,
    usage: dict | None = None,
) -> Reply:
    """A streamed chat completion; ``finish=False`` cuts the body after ``texts``."""

    def send(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream; charset=utf-8")
        handler.end_headers()  # HTTP/1.0: the body ends when the connection closes
        out = handler.wfile
        out.write(b": keep-alive comment\n\n" + _chunk({"role": "assistant", "content": ""}))
        for text in texts:
            out.write(_chunk({"content": text}))
            out.flush()
        time.sleep(stall_s)
        if finish:
            out.write(_chunk({}, "stop"))
            tokens = {"prompt_tokens": 7, "completion_tokens": len(texts), "total_tokens": 0}
            out.write(b"data: " + json.dumps({"choices": [], "usage": usage or tokens}).encode())
            out.write(b"\n\n")
            if done:
                out.write(b"data: [DONE]\n\n")

    return send


COMPLETIONS = "/v1/completions"


def _text_chunk(text: str, finish: str | None = None) -> bytes:
    event = {
        "id": "cmpl",
        "object": "text_completion",
        "choices": [{"index": 0, "text": text, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(event).encode() + b"\n\n"


def completion_reply(
    texts: list[str],
    *,
    finish: str = "stop",
    cut: bool = False,
    hold_s: float = 0.0,
    gone: threading.Event | None = None,
) -> Reply:
    """A streamed ``/v1/completions`` reply (text in ``choices[0].text``) ending with
    ``finish``; ``cut=True`` ends the body after ``texts``. ``hold_s``: after ``texts`` the
    stream stays open that long, and ``gone`` is set once the client has closed it."""

    def send(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream; charset=utf-8")
        handler.end_headers()
        out = handler.wfile
        try:
            for text in texts:
                out.write(_text_chunk(text))
                out.flush()
            until = time.monotonic() + hold_s
            while time.monotonic() < until:
                # A write fails once the client has closed the connection.
                out.write(b": waiting\n\n")
                out.flush()
                time.sleep(0.01)
        except (BrokenPipeError, ConnectionResetError):
            if gone is not None:
                gone.set()
            return
        if not cut:
            out.write(_text_chunk("", finish))
            tokens = {"prompt_tokens": 9, "completion_tokens": len(texts), "total_tokens": 0}
            out.write(b"data: " + json.dumps({"choices": [], "usage": tokens}).encode())
            out.write(b"\n\ndata: [DONE]\n\n")

    return send


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: dict
    # The client closed the stream before the reply ended: how the OpenAI engine aborts.
    closed_early: bool = False


CHAT = "/v1/chat/completions"
# What a recorded reply is cut into, as a model streams a few tokens at a time.
CHUNK_CHARS = 16
# The window a replaying stub reports: room for the sample projects' context.
REPLAY_WINDOW = 32768


@dataclass(frozen=True, slots=True)
class RecordedReply:
    """A reply a real model is known to give (or to get wrong). ``seconds_per_chunk`` paces
    it, leaving the editor time to act (type, cancel) while it streams."""

    text: str
    seconds_per_chunk: float = 0.0


def recorded(replies: Iterable[RecordedReply | str | dict]) -> list[RecordedReply]:
    """Replies as tests write them and reply files hold them: strings, or
    ``{"text": ..., "seconds_per_chunk": ...}`` objects."""
    out = []
    for reply in replies:
        if isinstance(reply, RecordedReply):
            out.append(reply)
        elif isinstance(reply, str):
            out.append(RecordedReply(reply))
        else:
            out.append(RecordedReply(**reply))
    return out


def load_replies(path: Path) -> list[RecordedReply]:
    """A reply file: a JSON list, in order, of strings or reply objects."""
    return recorded(json.loads(path.read_text()))


def _client_gone(handler: BaseHTTPRequestHandler, seconds: float) -> bool:
    """Wait ``seconds``; True as soon as the client closes its end of the connection."""
    connection = handler.connection
    readable, _, _ = select.select([connection], [], [], seconds)
    if not readable:
        return False
    try:
        return connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def recorded_reply(reply: RecordedReply) -> Reply:
    """Stream ``reply`` as vLLM would: a reply continues the assistant message Fathom opened
    (``continue_final_message``), so that opening is not sent again."""

    def send(handler: BaseHTTPRequestHandler) -> None:
        seen: Seen = handler.seen  # type: ignore[attr-defined]
        messages = seen.body.get("messages") or []
        opened = ""
        if seen.body.get("continue_final_message") and messages[-1]["role"] == "assistant":
            opened = messages[-1]["content"]
        text = reply.text.removeprefix(opened)
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream; charset=utf-8")
        handler.end_headers()
        out = handler.wfile
        pieces = [text[i : i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)]
        try:
            out.write(_chunk({"role": "assistant", "content": ""}))
            for piece in pieces:
                if reply.seconds_per_chunk and _client_gone(handler, reply.seconds_per_chunk):
                    seen.closed_early = True
                    return
                out.write(_chunk({"content": piece}))
            out.write(_chunk({}, "stop"))
            tokens = {"prompt_tokens": 7, "completion_tokens": len(pieces), "total_tokens": 0}
            out.write(b"data: " + json.dumps({"choices": [], "usage": tokens}).encode())
            out.write(b"\n\ndata: [DONE]\n\n")
        except (BrokenPipeError, ConnectionResetError):
            seen.closed_early = True

    return send


# What a replaying stub answers once its recorded replies are spent: a client error, which
# the engine does not retry.
NO_REPLY_LEFT = json_reply(400, {"error": {"message": "the stub has no recorded reply left"}})


@dataclass
class StubServer:
    """Answers each path from a script (the last reply repeats); records every request."""

    script: dict[str, list[Reply]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    url: str = ""

    def on(self, path: str, *replies: Reply) -> None:
        self.script[path] = list(replies)

    def requests(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    def replay(
        self,
        replies: Iterable[RecordedReply | str | dict | Reply],
        max_model_len: int = REPLAY_WINDOW,
    ) -> None:
        """Answer as a model server that gives ``replies``, in order, each once (then
        ``NO_REPLY_LEFT``), with a ``max_model_len`` window. A reply is recorded, or a
        ``Reply`` for a model that answers what it reads in the request."""
        models = {"data": [{"id": "stub-model", "max_model_len": max_model_len}]}
        self.on("/v1/models", json_reply(200, models))
        answers = [r if callable(r) else recorded_reply(*recorded([r])) for r in replies]
        self.on(CHAT, *answers, NO_REPLY_LEFT)

    def closed_early(self) -> list[Seen]:
        """The chat requests whose stream the client closed before the reply ended."""
        return [s for s in self.requests(CHAT) if s.closed_early]

    def serve_args(self, tokenizer: Path) -> list[str]:
        """``fathom serve`` options that make this stub the model server, tokens counted
        locally with ``tokenizer`` (a model or tokenizer folder)."""
        return ["--server-url", self.url, "--server-tokenizer", str(tokenizer)]

    def engine(self, tokenizer: Path, replies: Iterable[RecordedReply | str | dict | Reply] = ()):
        """The engine ``fathom serve --server-url`` runs, on this stub, for in-process tests;
        the stub answers it with ``replies`` (see ``replay``)."""
        from fathom.backend.openai_engine import OpenAIEngine

        self.replay(replies)
        return OpenAIEngine(self.url, tokenizer=str(tokenizer))


def serve_stub(max_model_len: int = 2048) -> Iterator[StubServer]:
    """A running stub (a generator for fixtures): ``/v1/models`` answers, the rest is
    scripted with ``on``."""
    state = StubServer()
    models = {"data": [{"id": "stub-model", "max_model_len": max_model_len}]}
    state.on("/v1/models", json_reply(200, models))
    taking = threading.Lock()  # requests arrive on threads of their own

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else {}
            self.seen = Seen(self.command, self.path, dict(self.headers), body)
            with taking:
                state.seen.append(self.seen)
                replies = state.script.get(self.path)
                reply = replies and (replies.pop(0) if len(replies) > 1 else replies[0])
            if not reply:
                json_reply(404, {"error": {"message": f"no {self.path}"}})(self)
                return
            reply(self)

        do_GET = do_POST = _answer

        def log_message(self, *_args) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        block_on_close = False

        def handle_error(self, *_args) -> None:
            pass  # a client that hung up mid-reply

    server = Server(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def main(argv: list[str]) -> int:
    """Serve the recorded replies of the file ``argv[0]`` until stopped; print the URL."""
    stubs = serve_stub()
    stub = next(stubs)
    stub.replay(load_replies(Path(argv[0])))
    print(stub.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        next(stubs, None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
