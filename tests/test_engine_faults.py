"""Faults around a real generation, with the real server and the real CPU model: the
embedded engine's process killed mid-generation (a clear error, nothing applied, the server
answers, the next edit restarts the engine and works), then the editor vanishing
mid-generation (the server exits and leaves no engine process behind)."""

from __future__ import annotations

import signal
from pathlib import Path

import psutil
import pytest

from tests.raw_client import EDITOR_CAPABILITIES, RawClient

pytestmark = pytest.mark.model


def _engine_processes(server: psutil.Process) -> list[psutil.Process]:
    found = []
    for child in server.children(recursive=True):
        try:
            if "EngineCor" in child.name() or "EngineCore" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def _edit(client: RawClient, uri: str, last_line: int, instruction: str) -> int:
    return client.start(
        "workspace/executeCommand",
        {
            "command": "fathom.edit",
            "arguments": [
                {
                    "uri": uri,
                    "instruction": instruction,
                    "range": {
                        "start": {"line": 0, "character": 0},
                        "end": {"line": last_line, "character": 0},
                    },
                }
            ],
        },
    )


def _previews(client: RawClient) -> int:
    return sum(1 for n in client.notifications if n["method"] == "fathom/preview")


def test_engine_death_and_editor_disconnect(sample_project: Path):
    report = sample_project / "shop" / "report.py"
    text = report.read_text()
    client = RawClient(sample_project)
    server = psutil.Process(client.proc.pid)
    try:
        client.initialize(sample_project, EDITOR_CAPABILITIES)
        uri = report.as_uri()
        client.send(
            {
                "jsonrpc": "2.0",
                "method": "textDocument/didOpen",
                "params": {
                    "textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}
                },
            }
        )

        # -- the engine process dies while the model writes -----------------------------
        long = "Rewrite this file with a long explanatory comment above every line."
        pending = _edit(client, uri, len(text.splitlines()), long)
        client.pump(300, until=lambda: _previews(client) >= 2)
        assert _previews(client) >= 2, "the generation never started"
        engines = _engine_processes(server)
        assert engines, [c.name() for c in server.children(recursive=True)]
        for engine in engines:
            engine.send_signal(signal.SIGKILL)
        answer = client.wait(pending, 120)
        assert "error" in answer, answer
        message = answer["error"]["message"]
        assert "engine" in message.lower(), message
        assert client.edits == []  # nothing was applied
        client.alive()  # the server still answers

        # -- the next edit restarts the engine and works -----------------------------------
        at = text.splitlines().index(
            next(ln for ln in text.splitlines() if ln.startswith("def describe("))
        )
        rename = client.start(
            "workspace/executeCommand",
            {
                "command": "fathom.edit",
                "arguments": [
                    {
                        "uri": uri,
                        "instruction": "Rename the function describe to describe_item.",
                        "range": {
                            "start": {"line": at, "character": 0},
                            "end": {"line": at + 2, "character": 0},
                        },
                    }
                ],
            },
        )
        answer = client.wait(rename, 400)
        assert answer.get("result", {}).get("applied") is True, answer
        assert len(client.edits) == 1

        # -- the editor vanishes mid-generation ----------------------------------------------
        seen = _previews(client)
        _edit(client, uri, len(text.splitlines()), long)
        client.pump(300, until=lambda: _previews(client) >= seen + 2)
        assert _previews(client) >= seen + 2
        engines = _engine_processes(server)
        assert engines
        client.proc.stdin.close()  # the editor's end of the pipe is gone
        # The server exits by itself (TimeoutExpired, a failure, if it stays).
        client.proc.wait(timeout=120)
        _gone, alive = psutil.wait_procs(engines, timeout=30)
        assert alive == [], f"engine processes left behind: {alive}"
    finally:
        if client.proc.poll() is None:
            client.proc.kill()
        for child in psutil.Process().children(recursive=True):
            if "EngineCor" in child.name():
                child.kill()
