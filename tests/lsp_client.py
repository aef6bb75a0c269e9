"""A real LSP client over stdio (pytest-lsp) that plays an editor applying Fathom's edits."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from lsprotocol import types
from pygls.protocol import default_converter
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


class EditorClient(LanguageClient):
    """Records every workspace/applyEdit and answers as an editor would."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.applied: list[types.ApplyWorkspaceEditParams] = []
        self.accept_edits = True


def _factory() -> EditorClient:
    client = EditorClient(converter_factory=default_converter)
    register_lsp_features(client)

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        client.applied.append(params)
        if client.accept_edits:
            return types.ApplyWorkspaceEditResult(applied=True)
        return types.ApplyWorkspaceEditResult(applied=False, failure_reason="user said no")

    return client


@contextlib.asynccontextmanager
async def editor_session(
    root: Path, *server_args: str, editor: str = "visual-studio-code"
) -> AsyncIterator[EditorClient]:
    config = ClientServerConfig(
        server_command=[sys.executable, "-m", "lsp_server", "serve", *server_args],
        client_factory=_factory,
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
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=version, text=path.read_text()
            )
        )
    )
    return uri


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
