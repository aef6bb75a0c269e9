"""The index of each workspace root: built when the engine is ready (its tokenizer counts the
chunks), rebuilt when the engine changes, dropped when the root leaves the workspace; and the
Workspace a request packs its context from. Requests made before a root's index is ready use
the imports fallback (context/)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types

from fathom.backend.engine import Engine
from fathom.backend.tokenizer import engine_fingerprint
from fathom.context.repository import Repository
from fathom.context.workspace import Workspace
from fathom.lsp_server.progress import work_done
from fathom.lsp_server.roots import Indexings, Workspaces, stoppable
from fathom.pipeline.repositories import index_repository

if TYPE_CHECKING:
    from fathom.lsp_server.server import FathomServer


class RootIndexes:
    def __init__(self, ls: FathomServer) -> None:
        self._ls = ls
        self.repositories: dict[Path, Repository] = {}
        self._indexing = Indexings()
        self.workspaces = Workspaces()  # one per root: their caches outlive a request

    def running(self) -> list[Path]:
        """The roots being indexed now."""
        return self._indexing.running()

    async def index_roots(self) -> None:
        """Index every root not indexed yet; requests meanwhile use the imports fallback."""
        engine = await self._ls.engine_host.engine()
        for root in self._ls.roots():
            if root not in self.repositories:
                await self.index_root(root, engine)

    async def index_root(self, root: Path, engine: Engine) -> None:
        """Index ``root`` (or wait for its indexing under way); lsp_server/roots.py."""
        await self._indexing.run(root, lambda stop: self._index_root(root, engine, stop))

    def forget_root(self, root: Path) -> None:
        self._indexing.cancel(root)
        self.workspaces.forget(root)
        repository = self.repositories.pop(root, None)
        if repository is not None:
            repository.index.close()

    def stop_all(self) -> None:
        """Stop every indexing under way; nothing it built is kept."""
        self._indexing.cancel_all()

    def forget_all(self) -> None:
        """Drop every root's index and Workspace: they belong to an engine that is gone."""
        self.repositories.clear()
        self.workspaces.forget()

    def context_workspace(self, root: Path, engine: Engine) -> Workspace:
        """What context/ packs from for a request in ``root``: open buffers, then the disk."""
        ls = self._ls
        ls.document_sync.flush()
        return self.workspaces.get(
            root,
            engine,
            self.repositories.get(root),
            ls.document_sync.open_text,
            lambda: ls.document_sync.open_files(root),
        )

    async def _index_root(self, root: Path, engine: Engine, stop: threading.Event) -> None:
        ls = self._ls
        loop = asyncio.get_running_loop()
        async with work_done(ls, f"Fathom: indexing {root.name}") as report:

            def progress(done: int, total: int) -> None:
                percent = 100 * done // total if total else 100
                loop.call_soon_threadsafe(report, f"{done}/{total} files", percent)

            # The index belongs to the tokenizer's content, not the model's name; the worker
            # thread indexes through its own connection and stops at ``stop`` (roots.py).
            fingerprint = await asyncio.to_thread(engine_fingerprint, engine)
            repository, stats, notes = await asyncio.to_thread(
                index_repository, root, engine, fingerprint, stoppable(progress, stop)
            )
            for note in notes:
                ls.show(note, types.MessageType.Warning)
        if stop.is_set():  # stopped after its last batch: built with what is no more
            return repository.index.close()
        self.repositories[root] = repository
        for uri in ls.workspace.text_documents:  # the editor's text wins over the disk's
            ls.document_sync.mark_dirty(uri)
        ls.document_sync.flush()  # what the user typed while the index was being built
        ls.window_log_message(
            types.LogMessageParams(
                types.MessageType.Info,
                f"Fathom: indexed {root}: {stats.files} files, {stats.chunks} chunks in "
                f"{stats.seconds:.1f} s ({stats.cache_hits} from the cache)",
            )
        )
        if stats.over_limit:
            ls.show(
                f"Fathom indexed the first {stats.files} source files of {root.name} and left "
                f"out {stats.over_limit} more (its limit); open a smaller folder as the "
                "workspace for full context.",
                types.MessageType.Warning,
            )
