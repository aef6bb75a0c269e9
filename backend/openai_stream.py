"""A streamed reply from an OpenAI-compatible server, asked again only until its first text.

tenacity retries an attempt (:func:`backend.openai_sse.attempt`) that failed in a way
asking again may mend (connection failures, 429, 5xx), with the server's backoff, while
nothing has reached the caller; once the caller holds part of the reply, a broken stream is
an :class:`EngineError` that says how much arrived, never a silent restart (the caller would
get the start twice). Chat and raw-prompt completions share this; they differ only in the
:class:`backend.openai_sse.Endpoint` and the body.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any

from tenacity import AsyncRetrying

from fathom.backend.engine import EngineError, GenerationStats
from fathom.backend.openai_http import Broken, ServerConnection, tries_suffix
from fathom.backend.openai_sse import (
    Aborted,
    Active,
    Begun,
    Endpoint,
    PrefixStripper,
    attempt,
    begin,
    guard,
)


async def stream_reply(
    server: ServerConnection,
    endpoint: Endpoint,
    body: dict[str, Any],
    request_id: str,
    stats: GenerationStats,
    running: dict[str, Active],
    *,
    prefix: str = "",
    on_send: Callable[[], None] = lambda: None,
) -> AsyncGenerator[str, None]:
    """Yield the reply to ``body`` at ``endpoint`` in pieces. While it streams it is in
    ``running`` under ``request_id``: :meth:`Active.abort` there ends it normally, with
    ``finish_reason == "abort"``.

    ``prefix``: a copy of it that starts the reply is dropped (a server without
    ``continue_final_message`` starts the reply afresh). ``on_send``: called for each HTTP
    request, retries included. A body that names its ``request_id`` (vLLM) gets a retry's
    own id there, as the ``X-Request-Id`` header does."""
    active = Active(closed=asyncio.Event())
    running[request_id] = active
    started = time.perf_counter()
    tries = 0

    async def try_once() -> Begun:
        """One request, read up to its first text: all that tenacity may ask again."""
        nonlocal tries
        tries += 1
        stats.completion_tokens = 0
        # A retry gets an id of its own: the server may still hold the first request.
        sent_id = request_id + (f"-retry{tries - 1}" if tries > 1 else "")
        if "request_id" in body:
            body["request_id"] = sent_id
        on_send()
        pieces = attempt(server, endpoint, body, sent_id, stats, active)
        return await begin(pieces, PrefixStripper(prefix))

    async def backoff(delay: float) -> None:
        # An abort during the wait ends it at once (Aborted).
        wait = functools.partial(asyncio.sleep, delay)
        await guard(server, active, wait, delay + 5, "a retry")

    emitted = 0
    try:
        try:
            retrying = AsyncRetrying(sleep=backoff, **server.retry_policy())
            begun: Begun = await retrying(try_once)
        except Broken as exc:
            raise EngineError(f"{exc}{tries_suffix(tries)}") from exc
        # From here on the caller holds text: a failure is an error, never a retry.
        async with contextlib.AsyncExitStack() as stack:
            if begun.rest is not None:
                await stack.enter_async_context(contextlib.aclosing(begun.rest))
            if begun.first:
                stats.first_token_s = time.perf_counter() - started
                emitted += len(begun.first)
                yield begun.first
            if begun.rest is not None:
                try:
                    async for text in begun.rest:
                        emitted += len(text)
                        yield text
                except Broken as exc:
                    raise EngineError(
                        f"The model server at {server.base_url} {exc.verb} after {emitted} "
                        f"characters of the reply: {exc.detail}. The reply is incomplete; "
                        "ask again."
                    ) from exc
    except Aborted:
        stats.finish_reason = "abort"
    finally:
        stats.total_s = time.perf_counter() - started
        running.pop(request_id, None)
        if active.closed is not None:
            active.closed.set()
