"""What the editor tells the server without asking for an answer: changed settings, workspace
folders, documents opened, typed into, saved and closed, files changed on disk, and a
progress's cancel button. Each handler only hands the news to the server's state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from fathom.lsp_server.documents import fs_path
from fathom.lsp_server.watching import files_changed

if TYPE_CHECKING:
    from fathom.lsp_server.server import FathomServer


def register_editor_sync(server: FathomServer) -> None:
    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def configuration_changed(
        ls: FathomServer, params: types.DidChangeConfigurationParams
    ) -> None:
        await ls.settings_changed(params.settings)

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    async def folders_changed(
        ls: FathomServer, params: types.DidChangeWorkspaceFoldersParams
    ) -> None:
        # pygls has updated ls.workspace.folders already; one index per root.
        for folder in params.event.removed:
            path = fs_path(folder.uri)
            if path is not None:
                ls.forget_root(path)
        ls.background(ls.index_roots())

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: FathomServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.mark_dirty(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: FathomServer, params: types.DidChangeTextDocumentParams) -> None:
        # Typing is cheap: the file is re-chunked once, when a request needs it.
        ls.mark_dirty(params.text_document.uri)
        ls.move_findings(params)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: FathomServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.mark_dirty(params.text_document.uri)
        ls.flush_documents()
        ls.persist_document(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: FathomServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.mark_dirty(params.text_document.uri)  # closed: the disk's text counts again
        ls.flush_documents()
        uri = params.text_document.uri
        ls.findings.clear(uri)  # the findings were about the buffer, which is gone
        ls.finding_texts.pop(uri, None)
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri, []))

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def watched_files(ls: FathomServer, params: types.DidChangeWatchedFilesParams) -> None:
        files_changed(ls, params.changes)  # lsp_server/watching.py

    @server.feature(types.WINDOW_WORK_DONE_PROGRESS_CANCEL)
    def progress_cancelled(ls: FathomServer, params: types.WorkDoneProgressCancelParams) -> None:
        ls.jobs.cancel_progress(params.token)
