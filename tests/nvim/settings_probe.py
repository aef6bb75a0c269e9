"""A stand-in language server for tests/test_neovim_settings.py: answers initialize, asks the
editor for the "fathom" section (workspace/configuration) once initialized, and writes the
initializationOptions and the editor's answer, as JSON, to the file named in argv[1]."""

from __future__ import annotations

import json
import sys
from typing import Any


def read() -> dict[str, Any] | None:
    length = 0
    while True:
        line = sys.stdin.buffer.readline()
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return json.loads(sys.stdin.buffer.read(length))


def send(message: dict[str, Any]) -> None:
    body = json.dumps({"jsonrpc": "2.0", **message}).encode()
    sys.stdout.buffer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    sys.stdout.buffer.flush()


def main(out: str) -> None:
    seen: dict[str, Any] = {}
    while (message := read()) is not None:
        method = message.get("method")
        if method == "initialize":
            seen["initializationOptions"] = message["params"].get("initializationOptions")
            send({"id": message["id"], "result": {"capabilities": {}}})
        elif method == "initialized":
            send(
                {
                    "id": "probe",
                    "method": "workspace/configuration",
                    "params": {"items": [{"section": "fathom"}]},
                }
            )
        elif message.get("id") == "probe":
            seen["configuration"] = message.get("result")
            with open(out, "w") as f:
                json.dump(seen, f)
        elif method == "shutdown":
            send({"id": message["id"], "result": None})
        elif method == "exit":
            return


if __name__ == "__main__":
    main(sys.argv[1])
