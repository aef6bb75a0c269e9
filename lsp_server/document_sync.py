"""Open documents in step with the index and the findings: a document typed into is marked
and re-chunked once, when a request needs it; a saved one's analysis goes to the cache; the
findings on a document follow the text the user types (lsp_server/findings.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types

from fathom.lsp_server.documents import fs_path, index_document, open_document
from fathom.lsp_server.edit_history import EditHistory

if TYPE_CHECKING:
    from fathom.lsp_server.server import FathomServer


class DocumentSync:
    def __init__(self, ls: FathomServer) -> None:
        self._ls = ls
        self._dirty: set[str] = set()  # documents changed since their last indexing
        self.history = EditHistory()  # each document's recent changes, for next edits

    def mark_dirty(self, uri: str) -> None:
        if fs_path(uri) is not None:  # untitled:, http:, a symlink loop: never indexed
            self._dirty.add(uri)

    def flush(self) -> None:
        """Re-chunk the documents edited since the last request: only those files. One that
        fails is logged and dropped from the set, so it never fails a later request."""
        ls = self._ls
        dirty, self._dirty = sorted(self._dirty), set()
        for uri in dirty:
            path = fs_path(uri)
            document = open_document(ls.workspace, uri)
            text = document.source if document else None  # None: read the disk, or drop it
            try:
                if path is not None:
                    index_document(ls.indexes.repositories, path, text)
            except Exception as exc:  # one document's failure must not reach another request
                ls.window_log_message(
                    types.LogMessageParams(
                        types.MessageType.Warning, f"Fathom did not index {uri}: {exc!r}"
                    )
                )

    def persist(self, uri: str) -> None:
        """A saved document's analysis goes to the SQLite cache (the disk holds its text now),
        so a restart does not analyse it again."""
        repositories = self._ls.indexes.repositories
        path = fs_path(uri)
        root = next((r for r in repositories if path and path.is_relative_to(r)), None)
        if path is not None and root is not None:
            repositories[root].save_document(path.relative_to(root).as_posix())

    def open_text(self, path: Path) -> str | None:
        """The editor's text of ``path`` when it is open (it wins over the disk)."""
        document = open_document(self._ls.workspace, self._ls.uri_of(path))
        return document.source if document is not None else None

    def open_files(self, root: Path) -> list[str]:
        paths = (fs_path(uri) for uri in self._ls.workspace.text_documents)
        return sorted(p.relative_to(root).as_posix() for p in paths if p and p.is_relative_to(root))

    def publish_findings(self, uri: str) -> None:
        """The document's findings at or above the configured severity, as diagnostics."""
        ls = self._ls
        shown = [
            d
            for d in ls.findings.to_diagnostics(uri)
            if d.severity is None or d.severity <= ls.config.min_severity
        ]
        document = open_document(ls.workspace, uri)  # the findings moved to its text
        version = document.version if document is not None else ls.findings.version(uri)
        ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=shown, version=version)
        )

    def move_findings(self, params: types.DidChangeTextDocumentParams) -> None:
        """Findings follow the text the user types; those whose code changed are dropped."""
        ls = self._ls
        uri = params.text_document.uri
        old = ls.finding_texts.get(uri)
        if old is None or not ls.findings.get(uri):
            return
        encoding = ls.workspace.position_encoding or types.PositionEncodingKind.Utf16
        changed = ls.findings.apply_changes(uri, old, params.content_changes, encoding)
        document = open_document(ls.workspace, uri)
        if document is not None:
            ls.finding_texts[uri] = document.source
        if changed:
            self.publish_findings(uri)

    def record_change(self, uri: str) -> None:
        """The document changed (its text is the new one already): remember what changed."""
        document = open_document(self._ls.workspace, uri)
        if document is not None:
            self.history.changed(uri, document.source)

    def close(self, uri: str) -> None:
        """The document is closed: the disk's text counts again, and its findings, which were
        about the buffer, go."""
        ls = self._ls
        self.mark_dirty(uri)
        self.flush()
        self.history.closed(uri)
        ls.findings.clear(uri)
        ls.finding_texts.pop(uri, None)
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri, []))
