"""Work-done progress that degrades to nothing when the client does not support it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

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
