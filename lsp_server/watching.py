"""Files changed outside the editor (``git checkout``, a formatter) reach the index.

The server asks the client to watch what Fathom indexes, and every ``.gitignore``, with one
``client/registerCapability`` of ``workspace/didChangeWatchedFiles`` — where the client
declares ``dynamicRegistration`` for it (VS Code's client does, and then watches exactly these
globs: its extension needs no ``synchronize.fileEvents``). A client without it sends nothing;
the index then learns of a file when it is opened, changed or saved in the editor.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from fathom.context.languages import LANGUAGE_BY_SUFFIX, language_of
from fathom.lsp_server.documents import fs_path
from fathom.lsp_server.roots import remove_under

if TYPE_CHECKING:
    from fathom.lsp_server.server import FathomServer

REGISTRATION_ID = "fathom-watched-files"


def watchers() -> list[types.FileSystemWatcher]:
    """A glob for the suffixes Fathom indexes (context/languages.py), and ``.gitignore``."""
    suffixes = ",".join(sorted(s.removeprefix(".") for s in LANGUAGE_BY_SUFFIX))
    return [
        types.FileSystemWatcher(glob_pattern=f"**/*.{{{suffixes}}}"),
        types.FileSystemWatcher(glob_pattern="**/.gitignore"),
    ]


def can_register(capabilities: types.ClientCapabilities) -> bool:
    workspace = capabilities.workspace
    watched = workspace.did_change_watched_files if workspace else None
    return bool(watched and watched.dynamic_registration)


async def register_watchers(server: LanguageServer) -> bool:
    """Ask the client to send ``workspace/didChangeWatchedFiles``; True if it agreed."""
    if not can_register(server.client_capabilities):
        return False
    options = types.DidChangeWatchedFilesRegistrationOptions(watchers=watchers())
    registration = types.Registration(
        id=REGISTRATION_ID,
        method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
        register_options=options,
    )
    try:
        await server.client_register_capability_async(types.RegistrationParams([registration]))
    except Exception as exc:  # a client refusing it still gets every other feature
        server.window_log_message(
            types.LogMessageParams(
                types.MessageType.Warning,
                f"Fathom: the editor did not watch files for it ({exc}); files changed outside "
                "the editor reach the index when they are opened or saved in it.",
            )
        )
        return False
    return True


@dataclass(slots=True)
class WatchedChanges:
    """What one ``didChangeWatchedFiles`` asks of the index."""

    files: list[str] = field(default_factory=list)  # URIs to read again (or drop, if gone)
    ignore_rules: set[Path] = field(default_factory=set)  # roots whose .gitignore changed

    @classmethod
    def of(cls, changes: Iterable[types.FileEvent], roots: Iterable[Path]) -> WatchedChanges:
        roots = list(roots)
        result = cls()
        for change in changes:
            path = fs_path(change.uri)
            if path is None:
                continue  # only files on this machine are indexed (and no symlink loop)
            if path.name == ".gitignore":
                inside = [r for r in roots if path.is_relative_to(r)]
                result.ignore_rules.update(inside)
            else:
                result.files.append(change.uri)
        return result


def files_changed(server: FathomServer, changes: Sequence[types.FileEvent]) -> None:
    """Files changed on disk, not in the editor (``git checkout``, a formatter): read again
    now, before the next request; a changed .gitignore re-indexes its root."""
    watched = WatchedChanges.of(changes, server.indexes.repositories)
    for uri in watched.files:
        if uri in server.workspace.text_documents:
            continue  # the editor's text wins
        path = fs_path(uri)
        if path is None:
            continue  # not a file here, or a symlink loop: nothing to index
        root = next((r for r in server.indexes.repositories if path.is_relative_to(r)), None)
        if root is not None and not path.exists() and language_of(path) is None:
            remove_under(server.indexes.repositories[root], path.relative_to(root).as_posix())
        server.document_sync.mark_dirty(uri)
    server.document_sync.flush()
    for root in watched.ignore_rules:
        server.background(reindex(server, root))


async def reindex(server: FathomServer, root: Path) -> None:
    """Walk ``root`` again under its current ignore rules (unchanged files cost nothing); the
    old index serves requests until the new one is ready."""
    if root in server.indexes.repositories:
        await server.indexes.index_root(root, await server.engine_host.engine())
