"""Work-done progress that degrades to nothing when the client does not support it."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable

from lsprotocol import types
from pygls.lsp.server import LanguageServer


def _supported(server: LanguageServer) -> bool:
    window = server.client_capabilities.window
    return bool(window and window.work_done_progress)


class Report:
    """``report("step")`` sends a progress report; ``token`` is None without progress."""

    def __init__(self, server: LanguageServer, token: str | None) -> None:
        self._server = server
        self.token = token

    def __call__(self, message: str, percentage: int | None = None) -> None:
        if self.token is not None:
            self._server.work_done_progress.report(
                self.token, types.WorkDoneProgressReport(message=message, percentage=percentage)
            )


@contextlib.asynccontextmanager
async def work_done(
    server: LanguageServer, title: str, cancellable: bool = False
) -> AsyncIterator[Report]:
    """``async with work_done(ls, "Fathom: …") as report: report("step")``."""
    if not _supported(server):
        yield Report(server, None)
        return
    token = f"fathom-{uuid.uuid4().hex}"
    try:
        await server.work_done_progress.create_async(token)
    except Exception:  # a client may refuse the token; progress is a courtesy, not the job
        yield Report(server, None)
        return
    server.work_done_progress.begin(
        token, types.WorkDoneProgressBegin(title=title, cancellable=cancellable)
    )
    try:
        yield Report(server, token)
    finally:
        server.work_done_progress.end(token, types.WorkDoneProgressEnd())
        server.work_done_progress.tokens.pop(token, None)


@contextlib.asynccontextmanager
async def ticking(
    report: Callable[[str], None], first: str, every: float
) -> AsyncIterator[Callable[[str], None]]:
    """Reports ``first``, then each step told to the function it yields (callable from any
    thread: an engine starts in worker threads), and every ``every`` seconds the latest step
    with the seconds so far: a start of minutes (a first start on a GPU compiles kernels) must
    not look stuck. Steps told after the block are dropped: the progress has ended."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    latest = first
    live = True

    def show(message: str) -> None:
        nonlocal latest
        if live:
            latest = message
            report(message)

    def tell(message: str) -> None:
        if live:
            loop.call_soon_threadsafe(show, message)

    async def tick() -> None:
        while True:
            await asyncio.sleep(every)
            report(f"{latest} ({round(loop.time() - started)} s)")

    show(first)
    ticker = asyncio.create_task(tick())
    try:
        yield tell
    finally:
        live = False
        ticker.cancel()
