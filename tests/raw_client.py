"""A JSON-RPC client that speaks raw bytes to a ``fathom serve`` process: for tests that
need to send what no client library would (bad frames), or to vanish mid-request."""

from __future__ import annotations

import itertools
import json
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

# What an editor that applies workspace edits and shows progress says it can do.
EDITOR_CAPABILITIES = {
    "workspace": {"applyEdit": True, "workspaceEdit": {"documentChanges": True}},
    "window": {"workDoneProgress": True},
}


class RawClient:
    """Bytes in, messages out: no client library smoothing anything over."""

    def __init__(self, root: Path, *args: str) -> None:
        fathom = Path(sys.executable).with_name("fathom")
        self.proc = subprocess.Popen(
            [str(fathom), "serve", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=root,
        )
        self.out = self.proc.stdout
        self._listen()

    def _listen(self) -> None:
        self.messages: queue.Queue[dict | None] = queue.Queue()
        self.ids = itertools.count(1000)
        self.stderr: list[bytes] = []
        self.notifications: list[dict] = []
        self.edits: list[dict] = []  # workspace/applyEdit params, applied
        self.responses: dict[int, dict] = {}
        self.unanswerable: list[dict] = []  # errors with a null id: frames that were unreadable
        self.closed = False
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line)

    def _read(self) -> None:
        out = self.out
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

    def start(self, method: str, params: object) -> int:
        """Send a request; its answer is collected by :meth:`wait`."""
        ident = next(self.ids)
        self.send({"jsonrpc": "2.0", "id": ident, "method": method, "params": params})
        return ident

    def wait(self, ident: int, timeout: float = 20) -> dict:
        """The response to request ``ident`` (result or error); fails if none comes."""
        deadline = time.monotonic() + timeout
        while ident not in self.responses and time.monotonic() < deadline:
            if not self._take(0.2):
                pytest.fail("the server closed its output:\n" + self._log())
        if ident not in self.responses:
            pytest.fail(f"no answer to request {ident} in {timeout} s:\n" + self._log())
        return self.responses.pop(ident)

    def request(self, method: str, params: object, timeout: float = 20) -> dict:
        return self.wait(self.start(method, params), timeout)

    def initialize(self, root: Path, capabilities: dict) -> dict:
        """The LSP handshake for ``root``: ``initialize`` (answered) then ``initialized``."""
        init = self.request(
            "initialize",
            {"processId": None, "rootUri": root.as_uri(), "capabilities": capabilities},
        )
        assert "result" in init, init
        self.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        return init

    def _take(self, seconds: float) -> bool:
        """Handle one message if one comes within ``seconds``; False once the output closed."""
        try:
            message = self.messages.get(timeout=seconds)
        except queue.Empty:
            return True
        if message is None:
            self.closed = True
            return False
        if "method" in message and "id" in message:  # a request from the server
            self.answer(message)
        elif "method" in message:
            self.notifications.append(message)
        elif message.get("id") is None:
            self.unanswerable.append(message)
        elif "id" in message:
            self.responses[message["id"]] = message
        return True

    def answer(self, message: dict) -> None:
        """The editor's side of the server's requests: edits applied, progress accepted."""
        result = None
        if message["method"] == "workspace/applyEdit":
            self.edits.append(message["params"])
            result = {"applied": True}
        elif message["method"] == "workspace/configuration":
            result = [None for _ in message["params"]["items"]]
        self.send({"jsonrpc": "2.0", "id": message["id"], "result": result})

    def pump(self, seconds: float, until=lambda: False) -> None:
        """Handle what the server sends for ``seconds``, or until ``until()``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not until():
            if not self._take(0.1):
                return

    def alive(self) -> None:
        answer = self.request(
            "workspace/executeCommand", {"command": "fathom.status", "arguments": []}
        )
        assert "result" in answer, answer
        assert self.proc.poll() is None

    def _log(self) -> str:
        return b"".join(self.stderr[-40:]).decode(errors="replace")


class TcpRawClient(RawClient):
    """The same client over ``fathom serve --tcp 127.0.0.1:PORT`` (loopback only)."""

    def __init__(self, root: Path, *args: str, env: dict[str, str] | None = None) -> None:
        with socket.socket() as probe:  # a free port (the server binds it a moment later)
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        fathom = Path(sys.executable).with_name("fathom")
        self.proc = subprocess.Popen(
            [str(fathom), "serve", "--tcp", f"127.0.0.1:{port}", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=root,
            env=env,
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port))
                break
            except ConnectionRefusedError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.proc.kill()
                    log = self.proc.communicate()[1].decode(errors="replace")
                    pytest.fail(f"fathom serve --tcp never listened:\n{log}")
                time.sleep(0.1)
        self.out = self.sock.makefile("rb")
        self._listen()

    def raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.sock.close()
        self.proc.kill()
        self.proc.wait()
