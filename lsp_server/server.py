"""The Fathom language server: its state, and what every feature asks of it.

No feature's handler is here, and this module imports none (lsp_server/app.py builds the
server and registers them). The state has parts with one job each: the engine
(engine_host.py), each root's index (root_indexes.py), the open documents and their
findings (document_sync.py); settings are merged by settings_sync.py. Handlers translate LSP
into plain calls (pipeline/) and back; nothing here knows how context is built or how the
model runs.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path

from fathom.backend.default_model import cache_root
from fathom.edits.journal import EditJournal
from fathom.lsp_server import __version__, framing
from fathom.lsp_server.config import FathomConfig
from fathom.lsp_server.document_sync import DocumentSync
from fathom.lsp_server.documents import DocumentProtocol, fs_path
from fathom.lsp_server.engine_host import EngineHost, MakeEngine
from fathom.lsp_server.findings import FindingStore
from fathom.lsp_server.jobs import Jobs
from fathom.lsp_server.root_indexes import RootIndexes
from fathom.lsp_server.wire import RequestFailed
from fathom.lsp_server.workspace_edit import ClientEditSupport


class FathomServer(LanguageServer):
    def __init__(self, make_engine: MakeEngine, config: FathomConfig | None = None) -> None:
        super().__init__("fathom", __version__, protocol_cls=DocumentProtocol)
        self.config = config or FathomConfig()
        self.jobs = Jobs()
        protocol = self.protocol
        assert isinstance(protocol, DocumentProtocol)  # what __init__ asked pygls for
        protocol.jobs = self.jobs
        self.findings = FindingStore()
        # The text each document with findings had when they were last placed: didChange
        # arrives after pygls applied it, and moving findings needs the text before.
        self.finding_texts: dict[str, str] = {}
        self.engine_host = EngineHost(self, make_engine)
        self.indexes = RootIndexes(self)
        self.document_sync = DocumentSync(self)
        self._journal: EditJournal | None = None
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

    def journal_limits_changed(self) -> None:
        """The journal's limits in the config changed: an open journal prunes to them now."""
        limits = (self.config.journal_max_days, self.config.journal_max_megabytes)
        if self._journal is not None:
            self._journal.set_limits(*limits)
        elif 0 in limits:
            self.journal()  # turned off: what the file holds goes now, not at the next edit

    @property
    def edit_support(self) -> ClientEditSupport:
        return ClientEditSupport.of(self.client_capabilities)

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
