"""Running model jobs: cancellation from every direction, and one job per document.

A job is the asyncio task of a command (edit, review). It ends early when
- the client sends ``$/cancelRequest`` for the command's request. pygls runs
  ``workspace/executeCommand`` handlers as a separate task its cancel does not reach, so
  :class:`FathomProtocol` forwards the cancel to the job's task;
- the user presses cancel on its progress (``window/workDoneProgress/cancel``);
- a newer job for the same document starts (it supersedes the older one).
Cancelling the task raises CancelledError inside ``Engine.stream``, which aborts the engine
request (vLLM ``abort``) before the task ends; the buffer is never touched, because edits are
sent only after the generation finished.

Every request is answered once: a cancelled job's handler answers RequestCancelled (-32800)
saying why (lsp_server/generation.py). A job's ``$/cancelRequest`` is not handed to pygls,
which would answer "cancelled" at once whatever the handler still does: once the model part
is over the job is *committed* (its edit is on its way to the editor) and a cancel no longer
changes it, so the answer and the journal say what the editor did with the edit.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.protocol import LanguageServerProtocol


@dataclass(slots=True)
class Job:
    kind: str  # "edit", "review"
    uri: str
    task: asyncio.Task[Any]
    msg_id: Any = None
    progress_token: str | None = None
    request_ids: list[str] = field(default_factory=list)  # engine requests, newest last
    cancel_reason: str | None = None
    cancelled_at: float | None = None
    committed: bool = False  # the model part is over and the result decided: too late to cancel

    def cancel(self, reason: str) -> None:
        if self.task.done() or self.cancel_reason is not None or self.committed:
            return
        self.cancel_reason = reason
        self.cancelled_at = time.monotonic()
        self.task.cancel(reason)


@dataclass(frozen=True, slots=True)
class Cancelled:
    """A job that ended by cancellation, for ``fathom.status`` and the logs."""

    kind: str
    uri: str
    request_ids: tuple[str, ...]
    reason: str
    seconds_to_stop: float  # cancel -> the task (and its engine request) finished


class RequestCancelled(JsonRpcException):
    """LSP's RequestCancelled (-32800), with why: the answer of every cancelled job."""

    CODE = types.LSPErrorCodes.RequestCancelled


class TooManyJobsError(JsonRpcException):
    """LSP's RequestFailed: as many model jobs as allowed are running already."""

    CODE = types.LSPErrorCodes.RequestFailed


# Edits and reviews at once (one per document; a newer one on the same document replaces the
# older). More would queue in the engine behind each other and hold KV cache for nothing.
MAX_CONCURRENT_JOBS = 4


class Jobs:
    def __init__(self, limit: int = MAX_CONCURRENT_JOBS) -> None:
        self._running: dict[asyncio.Task[Any], Job] = {}
        self.cancelled: deque[Cancelled] = deque(maxlen=20)
        self.limit = limit
        # Request id -> its job, until the request's handler ends (answering it).
        self._requests: dict[Any, Job] = {}
        # Ids cancelled before any job had them: a job that starts with one stops at once.
        self._cancelled_early: deque[Any] = deque(maxlen=64)

    @contextlib.contextmanager
    def run(self, kind: str, uri: str, msg_id: Any) -> Iterator[Job]:
        """Register the current task as ``kind`` on ``uri``; an older job there is cancelled."""
        task = asyncio.current_task()
        assert task is not None
        if msg_id is not None and msg_id in self._cancelled_early:
            # pygls has answered "cancelled" already; the job must not start (nor supersede).
            raise RequestCancelled(
                f"The {kind} was cancelled by the editor ($/cancelRequest) before it started."
            )
        others = []
        for older in list(self._running.values()):
            if older.uri == uri:
                older.cancel(f"superseded by a newer {kind} of the same document")
            else:
                others.append(older)
        if len(others) >= self.limit:
            busy = ", ".join(f"{j.kind} of {j.uri.rsplit('/', 1)[-1]}" for j in others)
            raise TooManyJobsError(
                f"Fathom is already running {len(others)} model jobs ({busy}), its limit; "
                "wait for one to finish or cancel one."
            )
        job = Job(kind, uri, task, msg_id)
        self._running[task] = job
        if msg_id is not None:
            self._requests[msg_id] = job
            task.add_done_callback(lambda _task: self._requests.pop(msg_id, None))
        try:
            yield job
        except asyncio.CancelledError:
            if job.cancelled_at is not None:
                self.cancelled.append(
                    Cancelled(
                        kind,
                        uri,
                        tuple(job.request_ids),
                        job.cancel_reason or "cancelled",
                        round(time.monotonic() - job.cancelled_at, 4),
                    )
                )
            raise
        finally:
            job.committed = True  # what follows (sending the edit) is not cancelled any more
            del self._running[task]

    def running(self) -> list[Job]:
        return list(self._running.values())

    def _cancel_first(self, matches: Callable[[Job], bool], reason: str) -> bool:
        job = next((j for j in self.running() if matches(j)), None)
        if job is not None:
            job.cancel(reason)
        return job is not None

    def cancel_request(self, msg_id: Any) -> bool:
        """True when ``msg_id`` is a job's request: its handler answers it, cancelled or (the
        cancel came after the job committed) with what became of it."""
        job = self._requests.get(msg_id)
        if job is None:
            self._cancelled_early.append(msg_id)
            return False
        job.cancel("cancelled by the editor ($/cancelRequest)")
        return True

    def cancel_progress(self, token: Any) -> bool:
        return self._cancel_first(
            lambda job: job.progress_token is not None and job.progress_token == token,
            "cancelled from its progress notification",
        )

    def cancel_all(self, reason: str) -> None:
        for job in self.running():
            job.cancel(reason)


class FathomProtocol(LanguageServerProtocol):
    """pygls's protocol, with ``$/cancelRequest`` reaching command tasks too."""

    jobs: Jobs | None = None

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        if self.jobs is not None and self.jobs.cancel_request(msg_id):
            return  # the job's handler answers: pygls's instant "cancelled" could be untrue
        super()._handle_cancel_notification(msg_id)
