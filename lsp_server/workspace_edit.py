"""EditPlan -> LSP WorkspaceEdit with versioned TextDocumentEdits."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lsprotocol import types

from edits.plan import EditPlan
from lsp_server.positions import PositionCodec


def to_workspace_edit(
    plan: EditPlan, uri_of: Callable[[Path], str], encoding: str
) -> types.WorkspaceEdit:
    """One TextDocumentEdit per file, carrying the version the plan was computed against."""
    document_changes: list[types.TextDocumentEdit] = []
    for file_edit in plan.files:
        codec = PositionCodec(file_edit.snapshot.text, encoding)
        edits: list[types.TextEdit | types.AnnotatedTextEdit | types.SnippetTextEdit] = [
            types.TextEdit(
                range=types.Range(start=codec.position(e.start), end=codec.position(e.end)),
                new_text=e.new_text,
            )
            for e in file_edit.edits
        ]
        document_changes.append(
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(
                    uri=uri_of(file_edit.snapshot.path), version=file_edit.snapshot.version
                ),
                edits=edits,
            )
        )
    return types.WorkspaceEdit(document_changes=document_changes)
