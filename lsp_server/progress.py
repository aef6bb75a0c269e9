"""Work-done progress that degrades to nothing when the client does not support it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable

from lsprotocol import types
from pygls.lsp.server import LanguageServer

Report = Callable[[str], None]


def _supported(server: LanguageServer) -> bool:
    window = server.client_capabilities.window
    return bool(window and window.work_done_progress)


@contextlib.asynccontextmanager
async def work_done(
    server: LanguageServer, title: str, cancellable: bool = False
) -> AsyncIterator[Report]:
    """``async with work_done(ls, "Fathom: …") as report: report("step")``."""
    if not _supported(server):
        yield lambda _message: None
        return
    token = f"fathom-{uuid.uuid4().hex}"
    try:
        await server.work_done_progress.create_async(token)
    except Exception:  # a client may refuse the token; progress is a courtesy, not the job
        yield lambda _message: None
        return
    server.work_done_progress.begin(
        token, types.WorkDoneProgressBegin(title=title, cancellable=cancellable)
    )

    def report(message: str) -> None:
        server.work_done_progress.report(token, types.WorkDoneProgressReport(message=message))

    try:
        yield report
    finally:
        server.work_done_progress.end(token, types.WorkDoneProgressEnd())
