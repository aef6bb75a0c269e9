"""A tiny real OpenAI-compatible HTTP server on loopback, for what a healthy vLLM never does
(503, 429, 500, stalls, cut streams) and to capture exactly what Fathom sends a model server.
A test double: it lives with the tests, never in the product."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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
    event = {"id": "c", "object": "chat.completion.chunk", "choices": [
        {"index": 0, "delta": delta, "finish_reason": finish}
    ]}  # fmt: skip
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
    event = {"id": "cmpl", "object": "text_completion", "choices": [
        {"index": 0, "text": text, "finish_reason": finish}
    ]}  # fmt: skip
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


def serve_stub(max_model_len: int = 2048) -> Iterator[StubServer]:
    """A running stub (a generator for fixtures): ``/v1/models`` answers, the rest is
    scripted with ``on``."""
    state = StubServer()
    models = {"data": [{"id": "stub-model", "max_model_len": max_model_len}]}
    state.on("/v1/models", json_reply(200, models))

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else {}
            state.seen.append(Seen(self.command, self.path, dict(self.headers), body))
            replies = state.script.get(self.path)
            if not replies:
                json_reply(404, {"error": {"message": f"no {self.path}"}})(self)
                return
            (replies.pop(0) if len(replies) > 1 else replies[0])(self)

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


