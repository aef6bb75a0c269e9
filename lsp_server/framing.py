"""The JSON-RPC message loop over a byte stream, hardened against bad frames, for stdio and
TCP alike.

pygls's own loop drops a frame whose Content-Length it cannot read, and the bytes of that
frame then prefix the next header line, so every later message is lost: one bad frame and
the server is deaf. This loop finds the next ``Content-Length:`` header wherever it starts
in a line (resynchronising after garbage), refuses lengths over its cap, and answers a body
that is not JSON-RPC with a Parse error (-32700) or Invalid request (-32600) instead of
silence. ``serve_stdio`` and ``serve_tcp`` replace pygls's ``start_io``/``start_tcp`` loops
and use only pygls's public protocol API (``set_writer``, ``structure_message``,
``handle_message``); tests/test_fuzz_protocol.py checks that API is still there.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, BinaryIO

from cattrs.errors import BaseValidationError
from pygls.exceptions import JsonRpcException
from pygls.io_ import StdoutWriter

if TYPE_CHECKING:
    from pygls.io_ import AsyncReader
    from pygls.protocol import JsonRPCProtocol
    from pygls.server import JsonRPCServer

# Larger than any document an editor sends (MAX_FILE_BYTES is 1 MiB; a whole-file change
# of a big file stays well under this) and small enough that a lying header cannot make the
# server allocate gigabytes.
MAX_MESSAGE_BYTES = 64 << 20

# A line longer than this (garbage, or the body of a refused message) is read in pieces.
MAX_LINE_BYTES = 1 << 20
_HELD_BACK = 256  # the end of each piece, kept so a header cut across pieces is read whole
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
        if line.strip() or not line.endswith(b"\n"):
            continue  # another header (Content-Type), garbage between frames, or a piece
        if content_length is None:
            continue  # a blank line with no length before it: nothing to read
        length, content_length = content_length, None
        if length > MAX_MESSAGE_BYTES:
            # Not read: what follows is treated as garbage until the next header.
            _error(
                protocol, -32600, f"Message of {length} bytes refused (limit {MAX_MESSAGE_BYTES})."
            )
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
        except (JsonRpcException, BaseValidationError, ValueError, TypeError, KeyError) as exc:
            # Params of the wrong shape for a known method: pygls cannot even build the
            # message, so it would never answer. A request gets Invalid params.
            first = str(exc).splitlines()[0][:300]
            if "id" in raw and "method" in raw:
                _error(protocol, -32602, f"Invalid params for {raw['method']}: {first}", raw["id"])
                continue
            if "id" not in raw:
                continue
            # The client's answer to one of our requests (applyEdit...) that cannot be read:
            # the request waiting for it gets an error instead of waiting forever.
            unreadable = {"code": -32603, "message": f"The editor's answer is unreadable: {first}"}
            message = protocol.structure_message(
                {"jsonrpc": "2.0", "id": raw["id"], "error": unreadable}
            )
        try:
            protocol.handle_message(message)
        except Exception as exc:
            logger.exception("Unable to handle message")
            if error_handler:
                error_handler(exc, Exception)


class Lines:
    """``readline``/``readexactly`` over ``read_some(n)``, which returns what has arrived (up
    to n bytes; b"" at the end). A line longer than MAX_LINE_BYTES comes back in pieces, so no
    line costs more memory than that; a short read means the stream ended."""

    def __init__(self, read_some: Callable[[int], Awaitable[bytes]]) -> None:
        self._read_some = read_some
        self._buffer = bytearray()
        self._ended = False

    async def _more(self) -> bool:
        if not self._ended:
            try:
                chunk = await self._read_some(1 << 16)
            except ConnectionError:
                chunk = b""
            self._ended = not chunk
            self._buffer += chunk
        return not self._ended

    def _take(self, n: int) -> bytes:
        out = bytes(self._buffer[:n])
        del self._buffer[:n]
        return out

    async def readline(self) -> bytes:
        searched = 0
        while (end := self._buffer.find(b"\n", searched)) < 0:
            if len(self._buffer) > MAX_LINE_BYTES:
                return self._take(len(self._buffer) - _HELD_BACK)
            searched = len(self._buffer)
            if not await self._more():
                return self._take(len(self._buffer))
        return self._take(end + 1)

    async def readexactly(self, n: int) -> bytes:
        while len(self._buffer) < n and await self._more():
            pass
        return self._take(n)


def serve_stdio(server: JsonRPCServer, stdin: BinaryIO, stdout: BinaryIO) -> None:
    """pygls's ``start_io``, with this module's framing."""
    # read1: what has arrived, without waiting for more (a message need not end a line).
    read1 = getattr(stdin, "read1", stdin.read)
    pool = server.thread_pool

    def read_some(n: int) -> Awaitable[bytes]:
        return asyncio.get_running_loop().run_in_executor(pool, read1, n)

    server.protocol.set_writer(StdoutWriter(stdout))
    try:
        asyncio.run(
            run_async(
                threading.Event(),
                Lines(read_some),
                server.protocol,
                error_handler=server.report_server_error,
            )
        )
    except BrokenPipeError:
        pass  # the editor went away: nothing to answer
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()


def serve_tcp(server: JsonRPCServer, host: str, port: int) -> None:
    """pygls's ``start_tcp``, with this module's framing: one client; when it disconnects
    the server stops, as with stdio. A second connection while one is open is closed at
    once (it would take over the first one's replies)."""

    async def main() -> None:
        done = asyncio.Event()
        busy = False

        async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal busy
            if busy:
                writer.close()
                return
            busy = True
            server.protocol.set_writer(writer)  # write() is sync
            try:
                await run_async(
                    threading.Event(),
                    Lines(reader.read),
                    server.protocol,
                    error_handler=server.report_server_error,
                )
            finally:
                done.set()

        listener = await asyncio.start_server(connection, host, port)
        async with listener:
            logger.info("Serving on %s:%s", host, port)
            await done.wait()

    try:
        asyncio.run(main())
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.shutdown()
