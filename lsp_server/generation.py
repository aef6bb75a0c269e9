"""One model job as the editor sees it: cancellable progress, a streaming preview, status.

While the model writes, the progress shows tokens so far and elapsed seconds, and a
``fathom/preview`` notification carries the reply so far (the partial diff, or the review's
JSON), at most four times a second; editors may show it, others ignore it. Nothing is
applied until the job has finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from fathom.lsp_server.jobs import Job, RequestCancelled
from fathom.lsp_server.progress import Report, work_done
from fathom.lsp_server.wire import PREVIEW_NOTIFICATION

if TYPE_CHECKING:
    from fathom.lsp_server.server import FathomServer

PREVIEW_INTERVAL_S = 0.25


class Generation:
    """Throttled progress reports and previews for the engine requests of one job."""

    def __init__(self, ls: FathomServer, job: Job, report: Report) -> None:
        self._ls, self.job, self.report = ls, job, report
        self._started = time.monotonic()
        self._last = 0.0
        self._text: list[str] = []
        self._tokens = 0

    def on_request(self, request_id: str) -> None:
        """A new engine request (a retry round starts a new reply)."""
        self.job.request_ids.append(request_id)
        self._text = []

    def on_text(self, piece: str, tokens: int) -> None:
        self._text.append(piece)
        self._tokens = tokens
        if time.monotonic() - self._last >= PREVIEW_INTERVAL_S:
            self.flush(done=False)

    def flush(self, done: bool) -> None:
        self._last = time.monotonic()
        elapsed = self._last - self._started
        self.report(f"{self._tokens} tokens, {elapsed:.1f} s")
        params: dict[str, Any] = {
            "uri": self.job.uri,
            "kind": self.job.kind,
            "requestId": self.job.request_ids[-1] if self.job.request_ids else None,
            "text": "".join(self._text),
            "tokens": self._tokens,
            "elapsed": round(elapsed, 2),
            "done": done,
        }
        self._ls.protocol.notify(PREVIEW_NOTIFICATION, params)


@contextlib.asynccontextmanager
async def model_job(ls: FathomServer, kind: str, uri: str, title: str) -> AsyncIterator[Generation]:
    """Run the body as ``kind`` on ``uri``: superseding, cancellable, with progress + status.

    A cancel (``$/cancelRequest``, the progress's cancel button, a newer job on the document,
    the engine changing) ends the body with :class:`RequestCancelled` saying why: pygls
    answers a handler that ends with CancelledError never."""
    job: Job | None = None
    try:
        with ls.jobs.run(kind, uri, ls.protocol.msg_id) as job:
            async with work_done(ls, title, cancellable=True) as report:
                job.progress_token = report.token
                generation = Generation(ls, job, report)
                ls.engine_host.publish_status()
                try:
                    yield generation
                    generation.flush(done=True)
                finally:
                    ls.engine_host.publish_status(exclude=job)
    except asyncio.CancelledError:
        if job is None or job.cancel_reason is None:
            raise  # not a cancel of this job's: let it through
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()  # handled: the handler goes on to answer
        raise RequestCancelled(
            f"The {kind} was {_cancelled(job.cancel_reason)}; nothing was changed."
        ) from None


def _cancelled(reason: str) -> str:
    return reason if reason.startswith("cancelled") else f"cancelled: {reason}"
