"""Open documents as the server keeps them: which are files, which may be analysed, and
keeping their text in step with the editor's.

Editors open documents that are not files (``untitled:``, ``http:``, notebook cells) and files
whose path cannot be resolved (a symlink loop). Such a document is kept for sync, never
indexed, and a command on it is refused with the reason; one odd document never affects a
request about another. A document over ``MAX_DOCUMENT_BYTES`` is kept in step too, but never
analysed, indexed or edited, so its size cannot multiply into the index, the position codecs
or the model's prompt.

``textDocument/didChange`` is applied here rather than by pygls: a change to a document that
is not open, or one for an older version, is refused and logged (``window/logMessage``, no
popup) instead of raising a KeyError or moving the version backwards; and positions count
lines as LSP does (``\\n``, ``\\r\\n``, ``\\r``), where pygls's ``str.splitlines`` also breaks
at form feeds and U+2028 and would put a change on the wrong line.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from cattrs.errors import BaseValidationError
from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.exceptions import JsonRpcInvalidParams
from pygls.protocol.language_server import lsp_method
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument, Workspace

from fathom.context.files import MAX_FILE_BYTES, IgnoreRules, skip_reason
from fathom.context.repository import Repository
from fathom.context.text import UnreadableFileError, read_text_file
from fathom.lsp_server.jobs import FathomProtocol
from fathom.lsp_server.positions import PositionCodec

# The most an open document may hold to be analysed, indexed or edited: the limit of a file
# shown to the model. Larger ones are only kept in step with the editor.
MAX_DOCUMENT_BYTES = MAX_FILE_BYTES


def fs_path(uri: str) -> Path | None:
    """The resolved path of a ``file:`` document; None for any other scheme, or a path that
    cannot be resolved (a symlink loop, a NUL byte)."""
    raw = to_fs_path(uri)
    if not raw:
        return None
    try:
        return Path(raw).resolve()
    except (OSError, RuntimeError, ValueError):  # RuntimeError: a symlink loop
        return None


def open_document(workspace: Workspace, uri: str) -> TextDocument | None:
    """The open document ``uri`` (pygls keys them by the unquoted URI: ``a%20b`` is ``a b``)."""
    return workspace.text_documents.get(unquote(uri))


def utf8_size(text: str, cap: int = MAX_DOCUMENT_BYTES) -> int:
    """``text``'s size in UTF-8 bytes, exact up to ``cap``; above it, some size over ``cap``
    (a huge text is never encoded just to be measured)."""
    if len(text) > cap:
        return len(text)  # at least one byte per character
    return len(text.encode("utf-8", "surrogatepass"))


def too_large(text: str) -> str | None:
    """Why ``text`` is never analysed, or None when it may be."""
    size = utf8_size(text)
    if size <= MAX_DOCUMENT_BYTES:
        return None
    return (
        f"it holds over {size // (1 << 20) or 1} MiB, more than the "
        f"{MAX_DOCUMENT_BYTES // (1 << 20)} MiB Fathom analyses or edits"
    )


_CONVERTER = get_converter()


def command_range(raw: object, command: str) -> types.Range:
    """A command's ``range`` argument as an LSP Range, or Invalid params saying so."""
    try:
        return _CONVERTER.structure(raw, types.Range)
    except BaseValidationError as exc:  # what lsprotocol's converter raises on any bad shape
        raise JsonRpcInvalidParams(f"{command}: 'range' is not an LSP Range: {exc}") from exc


def command_document(workspace: Workspace, uri: str, command: str) -> tuple[TextDocument, Path]:
    """The open document and its file a command (edit, review) may act on, or a clear
    InvalidParams error: not open, not a file, or too large."""
    document = open_document(workspace, uri)
    if document is None:
        raise JsonRpcInvalidParams(
            f"{command}: {uri} is not open; Fathom acts on documents the editor has opened."
        )
    path = fs_path(uri)
    if path is None:
        raise JsonRpcInvalidParams(
            f"{command}: {uri} is not a file Fathom can read (an unsaved or remote document, "
            "or a path that loops through symlinks); save it as a file in the workspace first."
        )
    reason = too_large(document.source)
    if reason is not None:
        raise JsonRpcInvalidParams(f"{command}: {path.name} is not analysed: {reason}.")
    return document, path


def analysable(workspace: Workspace, uri: str) -> bool:
    """Whether Fathom offers anything (code actions) for ``uri``."""
    document = open_document(workspace, uri)
    return document is not None and fs_path(uri) is not None and too_large(document.source) is None


def index_document(repositories: dict[Path, Repository], path: Path, text: str | None) -> None:
    """Record ``text`` (None: read the disk, or drop a deleted file) in its root's index."""
    root = next((r for r in repositories if path.is_relative_to(r)), None)
    if root is None:
        return
    repository, relative = repositories[root], path.relative_to(root).as_posix()
    if text is None and not path.exists():
        repository.remove_document(relative)
        return
    size = utf8_size(text) if text is not None else path.stat().st_size
    if skip_reason(path, size, IgnoreRules(root)) is not None:
        return  # ignored, secret-looking, binary or huge: never indexed
    try:
        repository.update_document(relative, text if text is not None else read_text_file(path))
    except UnreadableFileError:
        return


# -- didChange --------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _lines(count: int) -> re.Pattern[str]:
    """Matches the first ``count`` LSP lines (with their endings), scanned in C."""
    # Atomic: a line once matched is never re-split (a "\r\n" read as two breaks).
    return re.compile(rf"(?>[^\r\n]*(?:\r\n|\r|\n)){{{count}}}")


_REST_OF_LINE = re.compile(r"[^\r\n]*")


def offset_of(text: str, position: types.Position, encoding: str) -> int:
    """The offset in ``text`` of an LSP position; past the end clamps, as editors expect.
    Costs a scan up to the position, and no list of every line."""
    line, character = max(position.line, 0), max(position.character, 0)
    start = 0
    if line:
        found = _lines(line).match(text)
        if found is None:
            return len(text)
        start = found.end()
    rest = _REST_OF_LINE.match(text, start)
    end = rest.end() if rest else start
    codec = PositionCodec(text[start:end], encoding)
    return start + codec.offset(types.Position(0, character))


def applied(text: str, change: types.TextDocumentContentChangeEvent, encoding: str) -> str:
    """``text`` after one content change (incremental or the whole document)."""
    if not isinstance(change, types.TextDocumentContentChangePartial):
        return change.text
    start = offset_of(text, change.range.start, encoding)
    end = offset_of(text, change.range.end, encoding)
    start, end = min(start, end), max(start, end)
    return text[:start] + change.text + text[end:]


def change_refusal(workspace: Workspace, params: types.DidChangeTextDocumentParams) -> str | None:
    """Why a didChange cannot be applied to the server's copy, or None when it can."""
    uri, version = params.text_document.uri, params.text_document.version
    document = open_document(workspace, uri)
    if document is None:
        return f"a change to {uri}, which is not open (no textDocument/didOpen), was ignored"
    if document.version is not None and version is not None and version <= document.version:
        return (
            f"a change to {uri} for version {version} was ignored: the document is at version "
            f"{document.version} already, and versions only go forward"
        )
    return None


class DocumentProtocol(FathomProtocol):
    """Fathom's protocol with its own document sync (see the module's docstring)."""

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(
        self, params: types.DidChangeTextDocumentParams
    ) -> Generator[Any, Any, None]:
        workspace = self.workspace
        refusal = change_refusal(workspace, params)
        if refusal is not None:
            message = types.LogMessageParams(types.MessageType.Warning, f"Fathom: {refusal}.")
            self.notify(types.WINDOW_LOG_MESSAGE, message)
            return
        document = open_document(workspace, params.text_document.uri)
        assert document is not None
        encoding = workspace.position_encoding or types.PositionEncodingKind.Utf16
        text = document.source
        for change in params.content_changes:
            text = applied(text, change, encoding)
        document.apply_change(types.TextDocumentContentChangeWholeDocument(text=text))
        document.version = params.text_document.version
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None
