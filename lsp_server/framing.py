"""The JSON-RPC message loop over a byte stream, hardened against bad frames.

pygls's own loop drops a frame whose Content-Length it cannot read, and the bytes of that
frame then prefix the next header line, so every later message is lost: one bad frame and
the server is deaf. This loop finds the next ``Content-Length:`` header wherever it starts
in a line (resynchronising after garbage), refuses lengths over its cap, and answers a body
that is not JSON-RPC with a Parse error (-32700) or Invalid request (-32600) instead of
silence.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pygls.io_ import AsyncReader
    from pygls.protocol import JsonRPCProtocol

# Larger than any document an editor sends (MAX_FILE_BYTES is 1 MiB; a whole-file change
# of a big file stays well under this) and small enough that a lying header cannot make the
# server allocate gigabytes.
MAX_MESSAGE_BYTES = 64 << 20

_HEADER = re.compile(rb"Content-Length:[ \t]*(\d+)[ \t]*\r?\n?$", re.IGNORECASE)
logger = logging.getLogger(__name__)


def _error(protocol: JsonRPCProtocol, code: int, message: str, ident: Any = None) -> None:
    """A JSON-RPC error response; a null id where the request could not be read."""
    payload = {"jsonrpc": "2.0", "id": ident, "error": {"code": code, "message": message}}
    body = json.dumps(payload).encode()
    writer = protocol.writer
    if writer is not None:
        writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))


def _valid_shape(message: Any) -> bool:
    return (
        isinstance(message, dict)
        and message.get("jsonrpc") == "2.0"
        and ("method" in message or "id" in message)
    )


async def run_async(
    stop_event: threading.Event,
    reader: AsyncReader,
    protocol: JsonRPCProtocol,
    logger: logging.Logger = logger,
    error_handler: Any = None,
) -> None:
    content_length: int | None = None
    while not stop_event.is_set():
        line = await reader.readline()
        if not line:
            break
        at = line.rfind(b"Content-Length:") if b"Content-Length" in line else -1
        if at < 0 and b"content-length" in line.lower():
            at = line.lower().rfind(b"content-length:")
        if at >= 0:
            match = _HEADER.match(line[at:])
            # A header after garbage on the same line: the garbage was a broken frame's body.
            content_length = int(match.group(1)) if match else None
            if match is None:
                _error(protocol, -32700, f"Unreadable header {line[at : at + 60]!r}")
            continue
        if line.strip():
            continue  # another header (Content-Type), or garbage between frames
        if content_length is None:
            continue  # a blank line with no length before it: nothing to read
        length, content_length = content_length, None
        if length > MAX_MESSAGE_BYTES:
            # Not read: what follows is treated as garbage until the next header.
            _error(protocol, -32600, f"Message of {length} bytes refused (limit "
                   f"{MAX_MESSAGE_BYTES}).")  # fmt: skip
            continue
        body = await reader.readexactly(length)
        if len(body) < length:
            break
        try:
            raw = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            _error(protocol, -32700, f"Parse error: {exc}")
            continue
        if not _valid_shape(raw):
            _error(protocol, -32600, "Invalid request: not a JSON-RPC 2.0 message object")
            continue
        try:
            message = json.loads(body, object_hook=protocol.structure_message)
        except Exception as exc:
            # Params of the wrong shape for a known method: pygls cannot even build the
            # message, so it would never answer. A request gets Invalid params.
            if "id" in raw and "method" in raw:
                first = str(exc).splitlines()[0][:300]
                _error(protocol, -32602, f"Invalid params for {raw['method']}: {first}", raw["id"])
            continue
        try:
            protocol.handle_message(message)
        except Exception as exc:
            logger.exception("Unable to handle message")
            if error_handler:
                error_handler(exc, Exception)
