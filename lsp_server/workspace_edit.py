"""EditPlan -> one LSP WorkspaceEdit: versioned TextDocumentEdits, file operations, annotations.

Order matters in ``documentChanges``: a renamed file is edited under its old name first (the
version the plan was made against), then moved; created files are created, then filled;
deletions come last.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lsprotocol import types

from fathom.context.text import split_lines, strip_ending
from fathom.edits.errors import UnsupportedByClientError
from fathom.edits.locate import LocatedHunk
from fathom.edits.plan import EditPlan
from fathom.lsp_server.positions import PositionCodec

DocumentChange = types.TextDocumentEdit | types.CreateFile | types.RenameFile | types.DeleteFile


@dataclass(frozen=True, slots=True)
class ClientEditSupport:
    """What the client said it can apply (``workspace.workspaceEdit`` capabilities)."""

    document_changes: bool = False
    resource_operations: frozenset[str] = frozenset()
    change_annotations: bool = False

    @classmethod
    def of(cls, capabilities: types.ClientCapabilities | None) -> ClientEditSupport:
        workspace = capabilities.workspace if capabilities else None
        edit = workspace.workspace_edit if workspace else None
        if edit is None:
            return cls()
        return cls(
            document_changes=bool(edit.document_changes),
            resource_operations=frozenset(op.value for op in edit.resource_operations or ()),
            change_annotations=edit.change_annotation_support is not None,
        )


def _hunk_label(located: LocatedHunk, rel: str) -> tuple[str, str]:
    """A short label (shown in the preview) and a description for one hunk."""
    hunk = located.hunk
    first = located.first_line + 1
    last = first + max(len(hunk.old_lines), 1) - 1
    changed = next((ln.text.strip() for ln in hunk.lines if ln.kind != " " and ln.text.strip()), "")
    how = "" if located.strategy.value == "exact" else f", located {located.strategy.value}"
    where = f"line {first}" if first == last else f"lines {first}-{last}"
    label = f"Fathom: {rel} {where}"
    return label, f"Hunk {hunk.index}{how}: {changed[:80]}"


def _text_edit(
    rng: types.Range, text: str, annotation: str | None
) -> types.TextEdit | types.AnnotatedTextEdit:
    if annotation is None:
        return types.TextEdit(range=rng, new_text=text)
    return types.AnnotatedTextEdit(range=rng, new_text=text, annotation_id=annotation)


def to_workspace_edit(
    plan: EditPlan,
    uri_of: Callable[[Path], str],
    encoding: str,
    support: ClientEditSupport | None = None,
    root: Path | None = None,
) -> types.WorkspaceEdit:
    """One WorkspaceEdit for the whole plan; UnsupportedByClientError if the client can't."""
    support = support or ClientEditSupport(document_changes=True)
    if not support.document_changes:
        return _unversioned_edit(plan, uri_of, encoding)
    needed = {
        "create": bool(plan.creates),
        "rename": bool(plan.renames),
        "delete": bool(plan.deletes),
    }
    missing = [
        op for op, wanted in needed.items() if wanted and op not in support.resource_operations
    ]
    if missing:
        raise UnsupportedByClientError(
            f"The edit needs to {', '.join(missing)} files, which this editor cannot do through "
            "LSP (workspaceEdit.resourceOperations); nothing was applied."
        )
    if plan.deletes and not support.change_annotations:
        # A deletion goes only to an editor that asks first (needsConfirmation): the model's
        # "+++ /dev/null" loses every line of the file, not just the selection.
        names = ", ".join(d.snapshot.path.name for d in plan.deletes)
        raise UnsupportedByClientError(
            f"The edit deletes {names}, and this editor cannot ask before deleting "
            "(workspaceEdit.changeAnnotationSupport); nothing was applied."
        )
    annotations: dict[str, types.ChangeAnnotation] = {}

    def annotate(key: str, label: str, description: str) -> str | None:
        if not support.change_annotations:
            return None
        annotations[key] = types.ChangeAnnotation(
            label=label, needs_confirmation=True, description=description
        )
        return key

    def relative(path: Path) -> str:
        return (
            path.relative_to(root).as_posix() if root and path.is_relative_to(root) else path.name
        )

    changes: list[DocumentChange] = []
    for n, file_edit in enumerate(plan.files):
        codec = PositionCodec(file_edit.snapshot.text, encoding)
        rel = relative(file_edit.snapshot.path)
        edits: list[types.TextEdit | types.AnnotatedTextEdit | types.SnippetTextEdit] = []
        for located in file_edit.located:
            rng = types.Range(codec.position(located.edit.start), codec.position(located.edit.end))
            key = annotate(f"fathom-{n}-{located.hunk.index}", *_hunk_label(located, rel))
            edits.append(_text_edit(rng, located.edit.new_text, key))
        changes.append(
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(
                    uri=uri_of(file_edit.snapshot.path), version=file_edit.snapshot.version
                ),
                edits=edits,
            )
        )
    for rename in plan.renames:
        old, new = relative(rename.source.path), relative(rename.target)
        changes.append(
            types.RenameFile(
                old_uri=uri_of(rename.source.path),
                new_uri=uri_of(rename.target),
                options=types.RenameFileOptions(overwrite=False, ignore_if_exists=False),
                annotation_id=annotate(
                    f"fathom-rename-{old}", f"Fathom: rename {old}", f"{old} -> {new}"
                ),
            )
        )
    for create in plan.creates:
        rel = relative(create.path)
        key = annotate(
            f"fathom-create-{rel}",
            f"Fathom: create {rel}",
            f"{len(split_lines(create.text))} lines",
        )
        changes.append(
            types.CreateFile(
                uri=uri_of(create.path),
                options=types.CreateFileOptions(overwrite=False, ignore_if_exists=False),
                annotation_id=key,
            )
        )
        fill = types.Range(types.Position(0, 0), types.Position(0, 0))
        changes.append(
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(
                    uri=uri_of(create.path), version=None
                ),
                edits=[_text_edit(fill, create.text, key)],
            )
        )
    for delete in plan.deletes:
        rel = relative(delete.snapshot.path)
        lines = split_lines(delete.snapshot.text)
        first = strip_ending(lines[0])[:60] if lines else ""
        key = annotate(
            f"fathom-delete-{rel}",
            f"Fathom: delete {rel}",
            f"the whole file, {len(lines)} lines: {first}",
        )
        changes.append(
            types.DeleteFile(
                uri=uri_of(delete.snapshot.path),
                options=types.DeleteFileOptions(recursive=False, ignore_if_not_exists=False),
                annotation_id=key,
            )
        )
    return types.WorkspaceEdit(document_changes=changes, change_annotations=annotations or None)


def _unversioned_edit(
    plan: EditPlan, uri_of: Callable[[Path], str], encoding: str
) -> types.WorkspaceEdit:
    """``WorkspaceEdit.changes`` for clients without ``documentChanges`` (Neovim says only
    ``resourceOperations``). The edit carries no version, so the caller must send it for the
    documents' current versions (the server relocates the plan just before sending); file
    operations need ``documentChanges`` and are refused."""
    if plan.creates or plan.renames or plan.deletes:
        raise UnsupportedByClientError(
            "The edit creates, renames or deletes files, which needs versioned edits "
            "(workspaceEdit.documentChanges) this editor does not announce; nothing was applied."
        )
    changes: dict[str, Sequence[types.TextEdit]] = {}
    for file_edit in plan.files:
        codec = PositionCodec(file_edit.snapshot.text, encoding)
        changes[uri_of(file_edit.snapshot.path)] = [
            types.TextEdit(
                range=types.Range(
                    codec.position(located.edit.start), codec.position(located.edit.end)
                ),
                new_text=located.edit.new_text,
            )
            for located in file_edit.located
        ]
    return types.WorkspaceEdit(changes=changes)
