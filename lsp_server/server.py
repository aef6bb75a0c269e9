"""The Fathom language server: document sync, configuration, workspaces, status.

The server's state and what every feature asks of it; no feature's handler is here, and this
module imports none (lsp_server/app.py builds the server and registers them). Handlers
translate LSP into plain calls (pipeline/) and back; nothing here knows how context is built
or how the model runs.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path

from fathom.backend.default_model import cache_root
from fathom.backend.engine import Engine, EngineError
from fathom.backend.tokenizer import engine_fingerprint
from fathom.context.repository import Repository
from fathom.context.workspace import Workspace
from fathom.edits.journal import EditJournal
from fathom.lsp_server import __version__, framing
from fathom.lsp_server.config import FathomConfig, merge
from fathom.lsp_server.documents import DocumentProtocol, fs_path, index_document, open_document
from fathom.lsp_server.findings import FindingStore
from fathom.lsp_server.jobs import Jobs
from fathom.lsp_server.progress import work_done
from fathom.lsp_server.roots import Indexings, Workspaces, stoppable
from fathom.lsp_server.wire import STATUS_NOTIFICATION, RequestFailed
from fathom.lsp_server.workspace_edit import ClientEditSupport
from fathom.pipeline.repositories import index_repository


class FathomServer(LanguageServer):
    def __init__(
        self, make_engine: Callable[[FathomConfig], Engine], config: FathomConfig | None = None
    ) -> None:
        super().__init__("fathom", __version__, protocol_cls=DocumentProtocol)
        self._make_engine = make_engine
        self.config = config or FathomConfig()
        self._engine: Engine | None = None
        self._engine_task: asyncio.Task[Engine] | None = None
        self._engine_error: str | None = None
        self.repositories: dict[Path, Repository] = {}
        self._indexing = Indexings()
        self.workspaces = Workspaces()  # one per root: their caches outlive a request
        self._dirty: set[str] = set()  # documents changed since their last indexing
        self._journal: EditJournal | None = None
        self.jobs = Jobs()
        protocol = self.protocol
        assert isinstance(protocol, DocumentProtocol)  # what __init__ asked pygls for
        protocol.jobs = self.jobs
        self.findings = FindingStore()
        # The text each document with findings had when they were last placed: didChange
        # arrives after pygls applied it, and moving findings needs the text before.
        self.finding_texts: dict[str, str] = {}
        self._background: set[asyncio.Task[object]] = set()

    def start_io(self, stdin: Any = None, stdout: Any = None) -> None:
        """Stdio through Fathom's framing (lsp_server/framing.py): a bad frame gets an error
        response and the next frame is read, instead of a server gone deaf."""
        framing.serve_stdio(self, stdin or sys.stdin.buffer, stdout or sys.stdout.buffer)

    def start_tcp(self, host: str, port: int) -> None:
        """TCP through the same framing as stdio."""
        framing.serve_tcp(self, host, port)

    def journal(self) -> EditJournal:
        """Every edit's request, replies and outcome (SQLite in the cache dir)."""
        if self._journal is None:
            self._journal = EditJournal(
                cache_root() / "journal.sqlite",
                max_days=self.config.journal_max_days,
                max_megabytes=self.config.journal_max_megabytes,
            )
        for note in self._journal.cache.notes:  # corrupt or unwritable: said once
            self.show(note, types.MessageType.Warning)
        self._journal.cache.notes.clear()
        return self._journal

    @property
    def edit_support(self) -> ClientEditSupport:
        return ClientEditSupport.of(self.client_capabilities)

    # -- engine ---------------------------------------------------------------------------
    async def engine(self) -> Engine:
        """The started engine; the first caller starts it, the others wait for the same start."""
        task = self._engine_task
        failed = task is not None and task.done() and (task.cancelled() or task.exception())
        if task is None or failed:
            task = self._engine_task = asyncio.create_task(self._start_engine())
            task.add_done_callback(self._engine_started)
        return await asyncio.shield(task)

    def _engine_started(self, task: asyncio.Task[Engine]) -> None:
        # "ready" once the task is done: from inside it, status() still says "loading".
        if task is self._engine_task and not task.cancelled() and task.exception() is None:
            self.publish_status()

    async def _start_engine(self) -> Engine:
        engine = self._engine
        while engine is None:
            # Building an engine may assemble the default model first (minutes on a fresh
            # cache): off the event loop, so the server keeps answering meanwhile. Settings
            # that changed during the build win.
            config = self.config
            engine = await asyncio.to_thread(self._make_engine, config)
            if config.engine_key() != self.config.engine_key():
                await engine.close()
                engine = None
        self._engine = engine
        self._engine_error = None
        self.publish_status("loading", f"starting {engine.model_name}")
        async with work_done(self, "Fathom: starting the model") as report:
            report(engine.model_name)
            try:
                await engine.start()
            except EngineError as exc:
                self._engine_error = str(exc)
                self.publish_status("error", str(exc))
                self.show(f"Fathom could not start its model: {exc}", types.MessageType.Error)
                raise
        self.window_log_message(
            types.LogMessageParams(
                types.MessageType.Info, f"Fathom: model ready ({engine.model_name})"
            )
        )
        return engine

    async def _replace_engine(self) -> None:
        """The engine settings changed: stop what runs, close the old engine, start anew."""
        self.jobs.cancel_all("the engine settings changed")
        # Token counts in the index belong to the old model's tokenizer: an indexing under
        # way stops (nothing it built is kept), and every root is indexed again.
        self._indexing.cancel_all()
        old, self._engine, self._engine_task = self._engine, None, None
        if old is not None:
            await old.close()
        self.repositories.clear()
        self.workspaces.forget()
        await self.index_roots()

    # -- configuration ----------------------------------------------------------------------
    def apply_settings(self, raw: object, source: str) -> bool:
        """Merge settings from the editor; True when the engine must be replaced."""
        config, problems = merge(self.config, raw, source)
        for problem in problems:
            self.show(f"Fathom: {problem}", types.MessageType.Warning)
        engine_changed = config.engine_key() != self.config.engine_key()
        severity_changed = config.review_severity != self.config.review_severity
        limits = (config.journal_max_days, config.journal_max_megabytes)
        limits_changed = limits != (self.config.journal_max_days, self.config.journal_max_megabytes)
        self.config = config
        if limits_changed and self._journal is not None:
            self._journal.set_limits(*limits)
        elif limits_changed and 0 in limits:
            self.journal()  # turned off: what the file holds goes now, not at the next edit
        if severity_changed:
            for uri in self.findings.uris():
                self.publish_findings(uri)
        return engine_changed

    async def pull_settings(self) -> object | None:
        """``workspace/configuration`` for section ``fathom``, when the client has it."""
        workspace = self.client_capabilities.workspace
        if not (workspace and workspace.configuration):
            return None
        try:
            (settings,) = await self.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section="fathom")])
            )
        except Exception as exc:  # a client failing this request must not stop the server
            self.show(f"Fathom could not read its settings: {exc}", types.MessageType.Warning)
            return None
        return settings

    async def settings_changed(self, raw: object | None) -> None:
        if raw is None or (isinstance(raw, dict) and not raw):
            raw = await self.pull_settings()  # VS Code sends nothing and expects a pull
        if self.apply_settings(raw, "settings"):
            await self._replace_engine()

    # -- status -----------------------------------------------------------------------------
    def status(self, exclude: object = None) -> dict[str, object]:
        busy = [j for j in self.jobs.running() if j is not exclude]
        task = self._engine_task
        if self._engine_error is not None:
            state = "error"
        elif task is None or not task.done():
            state = "loading" if task is not None else "idle"
        else:
            state = "busy" if busy else "ready"
        running: list[str] = getattr(self._engine, "running_requests", lambda: [])()
        return {
            "state": state,
            "model": self._engine.model_name if self._engine else self.config.model,
            "engine": self.config.engine,
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
                for c in self.jobs.cancelled
            ],
            "roots": [str(r) for r in self.repositories],
            "indexing": [str(r) for r in self._indexing.running()],
            "error": self._engine_error,
            "config": self.config.as_settings(),
        }

    def publish_status(
        self, state: str | None = None, message: str = "", exclude: object = None
    ) -> None:
        """``fathom/status``: loading / ready / busy / error, for the editor's status bar."""
        status = self.status(exclude)
        if state is not None:
            status["state"] = state
        status["message"] = message
        self.protocol.notify(STATUS_NOTIFICATION, status)

    # -- repository index ----------------------------------------------------------------
    async def index_roots(self) -> None:
        """Index every root not indexed yet; requests meanwhile use the imports fallback."""
        engine = await self.engine()
        for root in self.roots():
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

    async def _index_root(self, root: Path, engine: Engine, stop: threading.Event) -> None:
        loop = asyncio.get_running_loop()
        async with work_done(self, f"Fathom: indexing {root.name}") as report:

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
                self.show(note, types.MessageType.Warning)
        if stop.is_set():  # stopped after its last batch: built with what is no more
            return repository.index.close()
        self.repositories[root] = repository
        for uri in self.workspace.text_documents:  # the editor's text wins over the disk's
            self.mark_dirty(uri)
        self.flush_documents()  # what the user typed while the index was being built
        self.window_log_message(
            types.LogMessageParams(
                types.MessageType.Info,
                f"Fathom: indexed {root}: {stats.files} files, {stats.chunks} chunks in "
                f"{stats.seconds:.1f} s ({stats.cache_hits} from the cache)",
            )
        )
        if stats.over_limit:
            self.show(
                f"Fathom indexed the first {stats.files} source files of {root.name} and left "
                f"out {stats.over_limit} more (its limit); open a smaller folder as the "
                "workspace for full context.",
                types.MessageType.Warning,
            )

    def mark_dirty(self, uri: str) -> None:
        if fs_path(uri) is not None:  # untitled:, http:, a symlink loop: never indexed
            self._dirty.add(uri)

    def flush_documents(self) -> None:
        """Re-chunk the documents edited since the last request: only those files. One that
        fails is logged and dropped from the set, so it never fails a later request."""
        dirty, self._dirty = sorted(self._dirty), set()
        for uri in dirty:
            path = fs_path(uri)
            document = open_document(self.workspace, uri)
            try:
                if path is not None:
                    self._index_document(path, document.source if document else None)
            except Exception as exc:  # one document's failure must not reach another request
                self.window_log_message(types.LogMessageParams(
                    types.MessageType.Warning, f"Fathom did not index {uri}: {exc!r}"))  # fmt: skip

    def _index_document(self, path: Path, text: str | None) -> None:
        """Record ``text`` (None: read the disk, or drop a deleted file) in its root's index."""
        index_document(self.repositories, path, text)

    def persist_document(self, uri: str) -> None:
        """A saved document's analysis goes to the SQLite cache (the disk holds its text now),
        so a restart does not analyse it again."""
        path = fs_path(uri)
        root = next((r for r in self.repositories if path and path.is_relative_to(r)), None)
        if path is not None and root is not None:
            self.repositories[root].save_document(path.relative_to(root).as_posix())

    def open_text(self, path: Path) -> str | None:
        """The editor's text of ``path`` when it is open (it wins over the disk)."""
        document = open_document(self.workspace, self.uri_of(path))
        return document.source if document is not None else None

    def context_workspace(self, root: Path, engine: Engine) -> Workspace:
        """What context/ packs from for a request in ``root``: open buffers, then the disk."""
        self.flush_documents()
        return self.workspaces.get(
            root, engine, self.repositories.get(root), self.open_text,
            lambda: self.open_files(root),
        )  # fmt: skip

    def open_files(self, root: Path) -> list[str]:
        paths = (fs_path(uri) for uri in self.workspace.text_documents)
        return sorted(p.relative_to(root).as_posix() for p in paths if p and p.is_relative_to(root))

    async def close_engine(self) -> None:
        self.jobs.cancel_all("the server is shutting down")
        if self._engine is not None:
            await self._engine.close()

    # -- findings -----------------------------------------------------------------------------
    def publish_findings(self, uri: str) -> None:
        """The document's findings at or above the configured severity, as diagnostics."""
        shown = [
            d
            for d in self.findings.to_diagnostics(uri)
            if d.severity is None or d.severity <= self.config.min_severity
        ]
        document = open_document(self.workspace, uri)  # the findings moved to its text
        version = document.version if document is not None else self.findings.version(uri)
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=shown, version=version)
        )

    def move_findings(self, params: types.DidChangeTextDocumentParams) -> None:
        """Findings follow the text the user types; those whose code changed are dropped."""
        uri = params.text_document.uri
        old = self.finding_texts.get(uri)
        if old is None or not self.findings.get(uri):
            return
        encoding = self.workspace.position_encoding or types.PositionEncodingKind.Utf16
        changed = self.findings.apply_changes(uri, old, params.content_changes, encoding)
        document = open_document(self.workspace, uri)
        if document is not None:
            self.finding_texts[uri] = document.source
        if changed:
            self.publish_findings(uri)

    # -- workspace ------------------------------------------------------------------------
    def roots(self) -> list[Path]:
        # Folders that are not files on this machine (another scheme, a symlink loop) have
        # nothing to index.
        uris = [f.uri for f in self.workspace.folders.values()]
        if not uris and self.workspace.root_uri:
            uris = [self.workspace.root_uri]
        return [path for path in map(fs_path, uris) if path is not None]

    def root_for(self, path: Path) -> Path:
        """The workspace root holding ``path``; a lone file (no roots) is its own folder."""
        roots = self.roots()
        if not roots:
            return path.resolve().parent
        inside = [r for r in roots if path.resolve().is_relative_to(r)]
        if not inside:
            raise RequestFailed(
                f"{path} is outside the workspace folders; Fathom edits only inside them."
            )
        return max(inside, key=lambda r: len(r.parts))  # the innermost root wins

    @staticmethod
    def uri_of(path: Path) -> str:
        return from_fs_path(str(path)) or path.as_uri()

    def show(self, message: str, kind: types.MessageType = types.MessageType.Error) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def background(self, work: Coroutine[Any, Any, object]) -> None:
        """Run ``work`` off the request path; a failure is already shown, not raised again."""
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
