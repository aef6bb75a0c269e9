"""What the editor tells the server without asking for an answer: changed settings, workspace
folders, documents opened, typed into, saved and closed, files changed on disk, and a
progress's cancel button. Each handler only hands the news to the server's state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from fathom.lsp_server.documents import fs_path
from fathom.lsp_server.settings_sync import settings_changed
from fathom.lsp_server.watching import files_changed

if TYPE_CHECKING:
    from fathom.lsp_server.server import FathomServer


def register_editor_sync(server: FathomServer) -> None:
    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def configuration_changed(
        ls: FathomServer, params: types.DidChangeConfigurationParams
    ) -> None:
        await settings_changed(ls, params.settings)

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    async def folders_changed(
        ls: FathomServer, params: types.DidChangeWorkspaceFoldersParams
    ) -> None:
        # pygls has updated ls.workspace.folders already; one index per root.
        for folder in params.event.removed:
            path = fs_path(folder.uri)
            if path is not None:
                ls.indexes.forget_root(path)
        ls.background(ls.indexes.index_roots())

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: FathomServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.document_sync.mark_dirty(params.text_document.uri)
        ls.document_sync.history.opened(params.text_document.uri, params.text_document.text)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: FathomServer, params: types.DidChangeTextDocumentParams) -> None:
        # Typing is cheap: the file is re-chunked once, when a request needs it.
        ls.document_sync.mark_dirty(params.text_document.uri)
        ls.document_sync.move_findings(params)
        ls.document_sync.record_change(params.text_document.uri)  # for next-edit suggestions

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: FathomServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.document_sync.mark_dirty(params.text_document.uri)
        ls.document_sync.flush()
        ls.document_sync.persist(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: FathomServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.document_sync.close(params.text_document.uri)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def watched_files(ls: FathomServer, params: types.DidChangeWatchedFilesParams) -> None:
        files_changed(ls, params.changes)  # lsp_server/watching.py

    @server.feature(types.WINDOW_WORK_DONE_PROGRESS_CANCEL)
    def progress_cancelled(ls: FathomServer, params: types.WorkDoneProgressCancelParams) -> None:
        ls.jobs.cancel_progress(params.token)
