"""One streamed completion from an OpenAI-compatible server, chat (``/v1/chat/completions``)
or raw prompt (``/v1/completions``): the HTTP request, its server-sent events (read with
httpx-sse), the text they carry and the usage they report. The two differ only in the URL,
the body and where a choice holds its text (:class:`Endpoint`).

Every wait on the server (connect, headers, each event) has its own deadline, so nothing
waits forever, and :meth:`Active.abort` can end that wait at once; closing the response is
what tells vLLM to abort the request and free its KV-cache slots. Failures are
:class:`backend.openai_http.Broken`; whether to ask again is the engine's call
(:class:`backend.openai_engine.OpenAIEngine.stream`), since only it knows whether text has
reached the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from httpx_sse import EventSource, SSEError

from fathom.backend.engine import GenerationStats
from fathom.backend.openai_http import (
    Broken,
    ServerConnection,
    describe,
    error_text,
    retry_after,
    retryable_status,
)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a streamed completion is asked for, under the API root, and how one choice of
    one event carries its text."""

    path: str
    text: Callable[[dict[str, Any]], str]


def _delta_content(choice: dict[str, Any]) -> str:
    return (choice.get("delta") or {}).get("content") or ""


def _plain_text(choice: dict[str, Any]) -> str:
    return choice.get("text") or ""


CHAT = Endpoint("/chat/completions", _delta_content)
COMPLETIONS = Endpoint("/completions", _plain_text)


class Aborted(Exception):
    """:meth:`Active.abort` stopped the request."""


@dataclass(slots=True, eq=False)
class Active:
    """A request being streamed, as an abort reaches it."""

    aborted: bool = False
    # Set while the stream waits on the server (connect, headers, next event, backoff).
    deadline: asyncio.Timeout | None = None
    response: httpx.Response | None = None
    closed: asyncio.Event | None = None

    async def abort(self) -> None:
        """Stop the request: its HTTP stream closes and the stream ends with ``Aborted``."""
        if self.aborted:
            return
        self.aborted = True
        if self.deadline is not None:
            # The stream waits on the server: end that wait now; the stream then closes the
            # connection, and this returns once it has.
            with contextlib.suppress(RuntimeError):  # that wait is ending already
                self.deadline.reschedule(asyncio.get_running_loop().time())
            if self.closed is not None:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(5):
                        await self.closed.wait()
        elif self.response is not None:
            # The consumer holds a piece and is busy elsewhere: close the connection here.
            with contextlib.suppress(Exception):
                await self.response.aclose()


async def guard(
    server: ServerConnection,
    active: Active,
    make: Callable[[], Awaitable[Any]],
    limit: float,
    waiting: str,
) -> Any:
    """Await ``make()`` for at most ``limit`` seconds; an abort ends the wait at once."""
    if active.aborted:
        raise Aborted
    try:
        async with asyncio.timeout(limit) as deadline:
            active.deadline = deadline
            return await make()
    except TimeoutError:
        if active.aborted:
            raise Aborted from None
        raise Broken(
            f"The model server at {server.base_url} sent nothing for {limit:.0f} s while "
            f"Fathom waited for {waiting}.",
            retryable=False,
            detail=f"nothing arrived for {limit:.0f} s",
            verb="stopped sending",
        ) from None
    finally:
        active.deadline = None


class PrefixStripper:
    """Without vLLM's ``continue_final_message`` the model starts its reply afresh; when it
    writes the prefix the caller prepends anyway, drop that copy."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._held = ""
        self._deciding = bool(prefix)

    def feed(self, piece: str) -> str:
        if not self._deciding:
            return piece
        self._held += piece
        if len(self._held) < len(self._prefix) and self._prefix.startswith(self._held):
            return ""  # still could be the prefix: hold it back
        self._deciding = False
        held, self._held = self._held, ""
        return held.removeprefix(self._prefix)

    def flush(self) -> str:
        self._deciding = False
        held, self._held = self._held, ""
        return held


async def attempt(
    server: ServerConnection,
    endpoint: Endpoint,
    body: dict[str, Any],
    request_id: str,
    stats: GenerationStats,
    active: Active,
) -> AsyncGenerator[str, None]:
    """One HTTP request: yield its text; raise Broken (or Aborted) when it fails."""
    client = server.client()
    http_request = client.build_request(
        "POST",
        f"{server.api}{endpoint.path}",
        content=orjson.dumps(body),
        headers={
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
            "X-Request-Id": request_id,
        },
    )
    try:
        response = await guard(
            server,
            active,
            lambda: client.send(http_request, stream=True),
            server.first_token_timeout,
            "the reply to start",
        )
    except httpx.TransportError as exc:
        raise Broken(
            server.unreachable(describe(exc)), retryable=True, detail=describe(exc)
        ) from exc
    active.response = response
    try:
        if response.status_code >= 400:
            with contextlib.suppress(httpx.TransportError, Broken):
                await guard(server, active, response.aread, server.read_timeout, "the error")
            raise Broken(
                server.http_error(response),
                retryable=retryable_status(response.status_code),
                retry_after=retry_after(response.headers),
            )
        text = _read_events(server, endpoint, response, stats, active)
        async with contextlib.aclosing(text):
            async for piece in text:
                yield piece
    finally:
        active.response = None
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                # Closing the connection is what tells vLLM to abort the request.
                await response.aclose()


async def _read_events(
    server: ServerConnection,
    endpoint: Endpoint,
    response: httpx.Response,
    stats: GenerationStats,
    active: Active,
) -> AsyncGenerator[str, None]:
    got_text = finished = False
    # aiter_sse checks the Content-Type on its first step (SSEError, below).
    events = EventSource(response).aiter_sse()
    async with contextlib.aclosing(events):
        while True:
            limit = server.read_timeout if got_text else server.first_token_timeout
            waiting = "the next piece" if got_text else "the first token"
            try:
                event = await guard(server, active, lambda: anext(events, None), limit, waiting)
            except SSEError as exc:
                raise Broken(
                    f"The model server at {server.base_url} did not answer with an event "
                    f"stream ({exc}).",
                    retryable=False,
                    verb="broke the stream",
                ) from exc
            except httpx.TransportError as exc:
                raise Broken(
                    f"The model server at {server.base_url} broke the connection before the "
                    f"reply began ({describe(exc)}).",
                    retryable=True,
                    detail=describe(exc),
                ) from exc
            if event is None:
                if finished:
                    return  # a server that ends without [DONE]
                raise Broken(
                    f"The model server at {server.base_url} ended the reply before it finished.",
                    retryable=True,
                    detail="the body ended without a finish reason or [DONE]",
                )
            if not event.data:
                continue  # an event without data (only an id, say) carries no text
            if event.data.strip() == "[DONE]":
                return
            for text, reason in _choices(server, endpoint, event.data, stats):
                if reason is not None:
                    stats.finish_reason = reason
                    finished = True
                if text:
                    got_text = True
                    yield text


def _choices(
    server: ServerConnection, endpoint: Endpoint, payload: str, stats: GenerationStats
) -> list[tuple[str, str | None]]:
    """One SSE event: its (text, finish_reason) per choice; usage goes into ``stats``."""
    try:
        event = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise Broken(
            f"The model server at {server.base_url} sent an event that is not JSON: "
            f"{payload[:200]!r}",
            retryable=False,
            detail=f"an event that is not JSON: {payload[:200]!r}",
            verb="broke the stream",
        ) from exc
    if not isinstance(event, dict):
        return []
    if event.get("error"):
        message = server.scrub(error_text(orjson.dumps(event)))
        raise Broken(
            f"The model server at {server.base_url} failed: {message}",
            retryable=False,
            detail=message,
            verb="failed",
        )
    out = []
    for choice in event.get("choices") or ():
        if choice.get("index", 0) != 0:
            continue
        text = endpoint.text(choice)
        if text:
            stats.completion_tokens += 1  # until usage says exactly
        out.append((text, choice.get("finish_reason")))
    usage = event.get("usage")
    if isinstance(usage, dict):
        if usage.get("prompt_tokens") is not None:
            stats.prompt_tokens = int(usage["prompt_tokens"])
        if usage.get("completion_tokens") is not None:
            stats.completion_tokens = int(usage["completion_tokens"])
        details = usage.get("prompt_tokens_details") or {}
        if details.get("cached_tokens") is not None:
            stats.cached_prompt_tokens = int(details["cached_tokens"])
    return out


@dataclass(slots=True)
class Begun:
    """A reply up to its first text: ``rest`` streams what follows (None once it ended)."""

    first: str
    rest: AsyncGenerator[str, None] | None


async def begin(pieces: AsyncGenerator[str, None], strip: PrefixStripper) -> Begun:
    """Read ``pieces`` until the caller would get text (or the reply ends).

    This is the part of a reply that may be asked again: nothing of it has reached the
    caller yet. What follows the first text is never retried. A failure here comes out of
    ``pieces``, which has then ended and closed its response."""
    async for piece in pieces:
        text = strip.feed(piece)
        if text:
            return Begun(text, pieces)  # left open: the caller streams the rest
    return Begun(strip.flush(), None)
