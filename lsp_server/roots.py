"""Each workspace root's indexing, which can be stopped, and its Workspace, kept across
requests.

An indexing runs in a worker thread; stopping it (the engine or model changed, the root was
removed) makes the thread stop at its next batch, and whatever it built is thrown away: an
index is never kept with another tokenizer's counts. A new indexing of the same root waits
for a stopped one to end, so two threads never write one index.

The Workspace of a root keeps its caches of token counts from request to request (what the
context benchmark measures); it is made again when the engine changes, follows the root's
repository when that is swapped, and reads the ignore rules afresh for each request.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fathom.backend.engine import Engine
from fathom.context.files import IgnoreRules
from fathom.context.repository import Repository
from fathom.context.workspace import Workspace

Progress = Callable[[int, int], None]


class IndexingStopped(Exception):
    """An indexing was stopped before it finished (nothing it built is used)."""


@dataclass(eq=False, slots=True)
class Indexing:
    task: asyncio.Task[None]
    stop: threading.Event

    def done(self) -> bool:
        return self.task.done()

    def cancel(self) -> None:
        """Stop at the next batch; the task ends once the thread has."""
        self.stop.set()

    async def finished(self) -> None:
        """Wait for the task to end, whatever way it ends."""
        with contextlib.suppress(BaseException):
            await asyncio.shield(self.task)


def stoppable(progress: Progress, stop: threading.Event) -> Progress:
    """``progress`` that raises :class:`IndexingStopped` in the indexing thread once ``stop``
    is set (the indexer calls it between batches)."""

    def checked(done: int, total: int) -> None:
        if stop.is_set():
            raise IndexingStopped
        progress(done, total)

    return checked


async def _unless_stopped(work: Coroutine[Any, Any, None]) -> None:
    with contextlib.suppress(IndexingStopped):
        await work


class Indexings:
    """The running (or last) indexing of each root."""

    def __init__(self) -> None:
        self._by_root: dict[Path, Indexing] = {}

    def running(self) -> list[Path]:
        return [root for root, i in self._by_root.items() if not i.done()]

    async def run(
        self, root: Path, work: Callable[[threading.Event], Coroutine[Any, Any, None]]
    ) -> None:
        """Run ``work(stop)`` for ``root`` unless one runs already (then wait for that one)."""
        current = self._by_root.get(root)
        if current is not None and not current.done():
            if not current.stop.is_set():
                return await asyncio.shield(current.task)
            await current.finished()  # a stopped one ends its batch first
        stop = threading.Event()
        indexing = Indexing(asyncio.create_task(_unless_stopped(work(stop))), stop)
        self._by_root[root] = indexing
        await asyncio.shield(indexing.task)

    def cancel(self, root: Path) -> None:
        """Stop ``root``'s indexing; kept until it ends, so that an indexing of the same root
        started meanwhile (the folder added again) waits for it."""
        indexing = self._by_root.get(root)
        if indexing is not None:
            indexing.cancel()

    def cancel_all(self) -> None:
        for root in self._by_root:
            self.cancel(root)


class Workspaces:
    """One Workspace per root, kept while the engine stays the same."""

    def __init__(self) -> None:
        self._by_root: dict[Path, Workspace] = {}

    def get(
        self,
        root: Path,
        engine: Engine,
        repository: Repository | None,
        open_text: Callable[[Path], str | None],
        open_files: Callable[[], list[str]],
    ) -> Workspace:
        kept = self._by_root.get(root)
        if kept is None or kept.counter is not engine:
            kept = Workspace(root, engine, open_text, repository=repository, open_files=open_files)
            self._by_root[root] = kept
        # The index may have been built, rebuilt or dropped since the last request.
        kept.repository = repository
        # A .gitignore may have changed without the client saying so (not every client
        # watches files): its rules are read again (a few stats) for each request.
        kept.rules = IgnoreRules(kept.root)
        return kept

    def forget(self, root: Path | None = None) -> None:
        """Drop one root's Workspace, or all (None)."""
        if root is None:
            self._by_root.clear()
        else:
            self._by_root.pop(root, None)


def remove_under(repository: Repository, relative: str) -> None:
    """A deleted folder: drop every indexed file below it (a client may report only the
    folder)."""
    prefix = relative.rstrip("/") + "/"
    for path in repository.index.paths():
        if path.startswith(prefix):
            repository.remove_document(path)
