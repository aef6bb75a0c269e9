"""The server's engine: started once, on demand, by the first request that needs it; replaced
when the engine settings change; closed at shutdown. Its state, with the jobs and indexings
under way, is the server's status (``fathom/status``, for the editor's status bar)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from lsprotocol import types

from fathom.backend.engine import Engine, EngineError
from fathom.lsp_server.config import FathomConfig
from fathom.lsp_server.progress import ticking, work_done
from fathom.lsp_server.wire import STATUS_NOTIFICATION

if TYPE_CHECKING:
    from fathom.lsp_server.server import FathomServer

# Builds an (unstarted) engine for the settings; it tells the callback its start-up steps.
MakeEngine = Callable[[FathomConfig, Callable[[str], None]], Engine]
# How often a start under way reports the time so far.
START_TICK_S = 5.0


class EngineHost:
    def __init__(self, ls: FathomServer, make_engine: MakeEngine) -> None:
        self._ls = ls
        self._make_engine = make_engine
        self._tell: Callable[[str], None] | None = None
        self._engine: Engine | None = None
        self._task: asyncio.Task[Engine] | None = None
        self._error: str | None = None

    async def engine(self) -> Engine:
        """The started engine; the first caller starts it, the others wait for the same start."""
        task = self._task
        failed = task is not None and task.done() and (task.cancelled() or task.exception())
        if task is None or failed:
            task = self._task = asyncio.create_task(self._start())
            task.add_done_callback(self._started)
        return await asyncio.shield(task)

    def _started(self, task: asyncio.Task[Engine]) -> None:
        # "ready" once the task is done: from inside it, status() still says "loading".
        if task is self._task and not task.cancelled() and task.exception() is None:
            self.publish_status()

    async def _start(self) -> Engine:
        ls = self._ls
        async with (
            work_done(ls, "Fathom: starting the model") as report,
            ticking(report, ls.config.model or "the model", START_TICK_S) as tell,
        ):
            self._tell = tell
            try:
                return await self._build_and_start()
            finally:
                self._tell = None

    async def _build_and_start(self) -> Engine:
        ls = self._ls
        engine = self._engine
        while engine is None:
            # Building an engine may assemble the default model first (minutes on a fresh
            # cache): off the event loop, so the server keeps answering meanwhile. Settings
            # that changed during the build win.
            config = ls.config
            engine = await asyncio.to_thread(self._make_engine, config, self.engine_said)
            if config.engine_key() != ls.config.engine_key():
                await engine.close()
                engine = None
        self._engine = engine
        self._error = None
        self.publish_status("loading", f"starting {engine.model_name}")
        try:
            await engine.start()
        except EngineError as exc:
            self._error = str(exc)
            self.publish_status("error", str(exc))
            ls.show(f"Fathom could not start its model: {exc}", types.MessageType.Error)
            raise
        ls.window_log_message(
            types.LogMessageParams(
                types.MessageType.Info, f"Fathom: model ready ({engine.model_name})"
            )
        )
        return engine

    def engine_said(self, message: str) -> None:
        """A step the engine reports (from any thread): shown while a start is under way.
        Engines keep this one callback for life, so a retried start shows its steps too."""
        tell = self._tell
        if tell is not None:
            tell(message)

    async def replace(self) -> None:
        """The engine settings changed: stop what runs, close the old engine, start anew."""
        ls = self._ls
        ls.jobs.cancel_all("the engine settings changed")
        # Token counts in the index belong to the old model's tokenizer: an indexing under
        # way stops (nothing it built is kept), and every root is indexed again.
        ls.indexes.stop_all()
        old, self._engine, self._task = self._engine, None, None
        if old is not None:
            await old.close()
        ls.indexes.forget_all()
        await ls.indexes.index_roots()

    async def close(self) -> None:
        self._ls.jobs.cancel_all("the server is shutting down")
        if self._engine is not None:
            await self._engine.close()

    def status(self, exclude: object = None) -> dict[str, object]:
        """What Fathom is doing now: engine state, running jobs (less ``exclude``), recent
        cancellations, roots indexed and being indexed, the settings in force."""
        ls = self._ls
        busy = [j for j in ls.jobs.running() if j is not exclude]
        task = self._task
        if self._error is not None:
            state = "error"
        elif task is None or not task.done():
            state = "loading" if task is not None else "idle"
        else:
            state = "busy" if busy else "ready"
        running: list[str] = getattr(self._engine, "running_requests", lambda: [])()
        return {
            "state": state,
            "model": self._engine.model_name if self._engine else ls.config.model,
            "engine": ls.config.engine,
            "jobs": [{"kind": j.kind, "uri": j.uri} for j in busy],
            "engineRequests": sorted(running),
            "cancelled": [
                {
                    "kind": c.kind,
                    "uri": c.uri,
                    "requestIds": list(c.request_ids),
                    "reason": c.reason,
                    "secondsToStop": c.seconds_to_stop,
                }
                for c in ls.jobs.cancelled
            ],
            "roots": [str(r) for r in ls.indexes.repositories],
            "indexing": [str(r) for r in ls.indexes.running()],
            "error": self._error,
            "config": ls.config.as_settings(),
        }

    def publish_status(
        self, state: str | None = None, message: str = "", exclude: object = None
    ) -> None:
        """``fathom/status``: loading / ready / busy / error, for the editor's status bar."""
        status = self.status(exclude)
        if state is not None:
            status["state"] = state
        status["message"] = message
        self._ls.protocol.notify(STATUS_NOTIFICATION, status)
