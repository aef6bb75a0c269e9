"""A real LSP client over stdio (pytest-lsp) that plays an editor applying Fathom's edits."""

from __future__ import annotations

import ast
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.protocol import default_converter
from pygls.uris import to_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import register_lsp_features


def utf16_offset(text: str, position: types.Position) -> int:
    """Independent of the server's code: walk lines, count UTF-16 units."""
    lines = text.split("\n")
    offset = sum(len(line) + 1 for line in lines[: position.line])
    units = 0
    line = lines[position.line] if position.line < len(lines) else ""
    for index, char in enumerate(line):
        if units >= position.character:
            return offset + index
        units += 2 if ord(char) > 0xFFFF else 1
    return offset + len(line)


def apply_text_edits(text: str, edits: list[types.TextEdit]) -> str:
    spans = sorted(
        (
            (utf16_offset(text, e.range.start), utf16_offset(text, e.range.end), e.new_text)
            for e in edits
        ),
        reverse=True,
    )
    for start, end, new in spans:
        text = text[:start] + new + text[end:]
    return text


class EditRejected(Exception):
    def __init__(self, index: int, reason: str) -> None:
        super().__init__(reason)
        self.index = index


class EditorClient(LanguageClient):
    """Records every workspace/applyEdit and carries it out as an editor would.

    Open documents live in ``documents`` (uri -> (version, text)); an edit for an open
    document at another version is rejected, as VS Code does. Closed files and file
    operations go to disk. ``accept_edits = False`` plays a user pressing "Cancel".
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.applied: list[types.ApplyWorkspaceEditParams] = []
        self.accept_edits = True
        self.documents: dict[str, tuple[int, str]] = {}
        self.statuses: list[dict] = []  # fathom/status notifications
        self.previews: list[dict] = []  # fathom/preview notifications
        self.registrations: list[types.Registration] = []  # client/registerCapability

    def carry_out(self, edit: types.WorkspaceEdit) -> None:
        """Apply ``documentChanges`` (or ``changes``) in order; all or nothing (checked first)."""
        buffers = dict(self.documents)
        disk: dict[Path, str | None] = {}  # planned disk state

        def read(uri: str) -> str:
            if uri in buffers:
                return buffers[uri][1]
            path = Path(to_fs_path(uri))
            if path in disk:
                text = disk[path]
                if text is None:
                    raise FileNotFoundError(path)
                return text
            return path.read_text()

        # ``changes`` (clients without documentChanges): unversioned, per-uri text edits.
        plain = [
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=None),
                edits=list(edits),
            )
            for uri, edits in (edit.changes or {}).items()
        ]
        for index, change in enumerate([*(edit.document_changes or ()), *plain]):
            if isinstance(change, types.TextDocumentEdit):
                uri, version = change.text_document.uri, change.text_document.version
                if uri in buffers and version is not None and buffers[uri][0] != version:
                    raise EditRejected(
                        index, f"{uri} is at version {buffers[uri][0]}, not {version}"
                    )
                new = apply_text_edits(read(uri), list(change.edits))
                if uri in buffers:
                    buffers[uri] = (buffers[uri][0] + 1, new)
                else:
                    disk[Path(to_fs_path(uri))] = new
            elif isinstance(change, types.CreateFile):
                path = Path(to_fs_path(change.uri))
                if path.exists() or disk.get(path) is not None:
                    raise EditRejected(index, f"{path} exists")
                disk[path] = ""
            elif isinstance(change, types.RenameFile):
                old, new_path = Path(to_fs_path(change.old_uri)), Path(to_fs_path(change.new_uri))
                if new_path.exists() or disk.get(new_path) is not None:
                    raise EditRejected(index, f"{new_path} exists")
                disk[new_path] = read(change.old_uri)
                disk[old] = None
                if change.old_uri in buffers:
                    buffers[change.new_uri] = buffers.pop(change.old_uri)
            elif isinstance(change, types.DeleteFile):
                path = Path(to_fs_path(change.uri))
                read(change.uri)  # must exist
                disk[path] = None
                buffers.pop(change.uri, None)
        for path, text in disk.items():
            if text is None:
                path.unlink()
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
        changed = {
            uri: state
            for uri, state in buffers.items()
            if uri in self.documents and self.documents[uri] != state
        }
        self.documents = buffers
        # As an editor does: the applied edit is a change of the buffer the server must hear of.
        for uri, (version, text) in changed.items():
            self.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                    content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
                )
            )


def command_of(item) -> types.Command:
    """The command of a code action. lsprotocol's client-side hook reads any code action that
    has a "command" key as a Command, stringifying the nested command object (the kind is
    lost); undo that."""
    if isinstance(item, types.CodeAction):
        return item.command
    return get_converter().structure(ast.literal_eval(item.command), types.Command)


def _plain(value):
    """pygls hands custom notifications over as its own objects; tests want plain data."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "__dict__"):
        return {k: _plain(v) for k, v in vars(value).items()}
    return value


def _factory() -> EditorClient:
    client = EditorClient(converter_factory=default_converter)
    register_lsp_features(client)

    @client.feature("fathom/status")
    def status(params) -> None:
        client.statuses.append(_plain(params))

    @client.feature("fathom/preview")
    def preview(params) -> None:
        client.previews.append(_plain(params))

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register(params: types.RegistrationParams) -> None:
        client.registrations.extend(params.registrations)

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        client.applied.append(params)
        if not client.accept_edits:
            return types.ApplyWorkspaceEditResult(applied=False, failure_reason="user said no")
        try:
            client.carry_out(params.edit)
        except EditRejected as exc:
            return types.ApplyWorkspaceEditResult(
                applied=False, failure_reason=str(exc), failed_change=exc.index
            )
        return types.ApplyWorkspaceEditResult(applied=True)

    return client


@contextlib.asynccontextmanager
async def editor_session(
    root: Path,
    *server_args: str,
    editor: str = "visual-studio-code",
    env: dict[str, str] | None = None,
) -> AsyncIterator[EditorClient]:
    """``env``: variables to set for the server process on top of this one's."""
    config = ClientServerConfig(
        server_command=[sys.executable, "-m", "fathom.cli", "serve", *server_args],
        client_factory=_factory,
        server_env=None if env is None else {**os.environ, **env},
    )
    client = await config.start()
    assert isinstance(client, EditorClient)
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities(editor),
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
        )
    )
    try:
        yield client
    finally:
        await client.shutdown_session()
        await client.stop()


def open_document(client: LanguageClient, path: Path, version: int = 1) -> str:
    uri = path.as_uri()
    text = path.read_text()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=version, text=text
            )
        )
    )
    if isinstance(client, EditorClient):
        client.documents[uri] = (version, text)
    return uri


def type_into(client: EditorClient, uri: str, line: int, text: str) -> None:
    """The user types ``text`` at the start of ``line``: the buffer and the server learn it."""
    version, current = client.documents[uri]
    start = sum(len(ln) + 1 for ln in current.split("\n")[:line])
    client.documents[uri] = (version + 1, current[:start] + text + current[start:])
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version + 1),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(types.Position(line, 0), types.Position(line, 0)), text=text
                )
            ],
        )
    )


def edit_arguments(uri: str, start_line: int, end_line: int, instruction: str) -> list[dict]:
    """Arguments of fathom.edit for whole lines start_line..end_line (0-based, inclusive)."""
    return [
        {
            "uri": uri,
            "range": {
                "start": {"line": start_line, "character": 0},
                "end": {"line": end_line + 1, "character": 0},
            },
            "instruction": instruction,
        }
    ]
