"""The Fathom language server: document sync, the edit command, code actions.

Handlers translate LSP into plain calls (lsp_server/edit_flow.py) and back; nothing here
knows how context is built or how the model runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from backend.default_model import cache_root
from backend.engine import Engine, EngineError
from context.files import IgnoreRules, skip_reason
from context.index import IndexStats
from context.repository import Repository
from context.text import UnreadableFileError, read_text_file
from edits.journal import EditJournal
from lsp_server import __version__
from lsp_server.progress import work_done
from lsp_server.repositories import open_index, open_repository
from lsp_server.workspace_edit import ClientEditSupport

EDIT_COMMAND = "fathom.edit"
_CONVERTER = get_converter()

# Code actions offered on a selection; "Edit with instruction…" needs the editor to ask the
# user for text, which the editor clients add (a bare LSP client has no input box).
PRESET_INSTRUCTIONS = {
    "Fathom: Add docstrings": "Add concise docstrings to the selected code.",
    "Fathom: Add type hints": "Add type hints to the selected code.",
    "Fathom: Simplify": "Simplify the selected code without changing what it does.",
}


class RequestFailed(JsonRpcException):
    """LSP's RequestFailed (-32803): the request was valid but could not be carried out."""

    CODE = types.LSPErrorCodes.RequestFailed


class FathomServer(LanguageServer):
    def __init__(self, engine_factory: Callable[[], Engine]) -> None:
        super().__init__("fathom", __version__)
        self._engine_factory = engine_factory
        self._engine: Engine | None = None
        self._engine_task: asyncio.Task[Engine] | None = None
        self.repositories: dict[Path, Repository] = {}
        self._dirty: set[str] = set()  # documents changed since their last indexing
        self._journal: EditJournal | None = None

    def journal(self) -> EditJournal:
        """Every edit's request, replies and outcome (SQLite in the cache dir)."""
        if self._journal is None:
            self._journal = EditJournal(cache_root() / "journal.sqlite")
        return self._journal

    @property
    def edit_support(self) -> ClientEditSupport:
        return ClientEditSupport.of(self.client_capabilities)

    # -- engine ---------------------------------------------------------------------------
    async def engine(self) -> Engine:
        """The started engine; the first caller starts it, the others wait for the same start."""
        task = self._engine_task
        failed = task is not None and task.done() and (task.cancelled() or task.exception())
        if task is None or failed:
            self._engine_task = asyncio.create_task(self._start_engine())
        return await asyncio.shield(self._engine_task)

    async def _start_engine(self) -> Engine:
        engine = self._engine or self._engine_factory()
        self._engine = engine
        async with work_done(self, "Fathom: starting the model") as report:
            report(engine.model_name)
            try:
                await engine.start()
            except EngineError as exc:
                self.show(f"Fathom could not start its model: {exc}", types.MessageType.Error)
                raise
        self.window_log_message(
            types.LogMessageParams(
                types.MessageType.Info, f"Fathom: model ready ({engine.model_name})"
            )
        )
        return engine

    # -- repository index ----------------------------------------------------------------
    async def index_roots(self) -> None:
        """Index every root in the background; requests meanwhile use the imports fallback."""
        engine = await self.engine()
        for root in self.roots():
            if root not in self.repositories:
                await self._index_root(root, engine)

    async def _index_root(self, root: Path, engine: Engine) -> None:
        tokenizer_id = Path(engine.model_name).name
        repository = open_repository(root, engine, tokenizer_id)
        loop = asyncio.get_running_loop()
        async with work_done(self, f"Fathom: indexing {root.name}") as report:

            def progress(done: int, total: int) -> None:
                loop.call_soon_threadsafe(report, f"{done}/{total} files")

            def build() -> IndexStats:
                index = open_index(root, engine, tokenizer_id)  # this thread's own connection
                try:
                    return index.refresh(progress)
                finally:
                    index.close()

            stats = await asyncio.to_thread(build)
            await asyncio.to_thread(repository.load_graph)
        self.repositories[root] = repository
        self.flush_documents()  # what the user typed while the index was being built
        self.window_log_message(
            types.LogMessageParams(
                types.MessageType.Info,
                f"Fathom: indexed {root}: {stats.files} files, {stats.chunks} chunks in "
                f"{stats.seconds:.1f} s ({stats.cache_hits} from the cache)",
            )
        )

    def mark_dirty(self, uri: str) -> None:
        self._dirty.add(uri)

    def flush_documents(self) -> None:
        """Re-chunk the documents edited since the last request: only those files."""
        for uri in sorted(self._dirty):
            document = self.workspace.text_documents.get(uri)
            path = Path(to_fs_path(uri)).resolve()
            text = document.source if document is not None else None
            self._index_document(path, text)
        self._dirty.clear()

    def _index_document(self, path: Path, text: str | None) -> None:
        """Record ``text`` (None: read the disk, or drop a deleted file) in its root's index."""
        root = next((r for r in self.repositories if path.is_relative_to(r)), None)
        if root is None:
            return
        repository, relative = self.repositories[root], path.relative_to(root).as_posix()
        if text is None and not path.exists():
            repository.remove_document(relative)
            return
        size = len(text.encode()) if text is not None else path.stat().st_size
        if skip_reason(path, size, IgnoreRules(root)) is not None:
            return  # ignored, secret-looking, binary or huge: never indexed
        try:
            repository.update_document(relative, text if text is not None else read_text_file(path))
        except UnreadableFileError:
            return

    def persist_document(self, uri: str) -> None:
        """A saved document's analysis goes to the SQLite cache (the disk holds its text now),
        so a restart does not analyse it again."""
        path = Path(to_fs_path(uri)).resolve()
        root = next((r for r in self.repositories if path.is_relative_to(r)), None)
        if root is not None:
            self.repositories[root].save_document(path.relative_to(root).as_posix())

    def open_files(self, root: Path) -> list[str]:
        paths = (Path(to_fs_path(uri)).resolve() for uri in self.workspace.text_documents)
        return sorted(p.relative_to(root).as_posix() for p in paths if p.is_relative_to(root))

    async def close_engine(self) -> None:
        if self._engine is not None:
            await self._engine.close()

    # -- workspace ------------------------------------------------------------------------
    def roots(self) -> list[Path]:
        folders = [Path(to_fs_path(f.uri)) for f in self.workspace.folders.values()]
        if not folders and self.workspace.root_uri:
            folders = [Path(to_fs_path(self.workspace.root_uri))]
        return [f.resolve() for f in folders]

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


def build_server(engine_factory: Callable[[], Engine]) -> FathomServer:
    server = FathomServer(engine_factory)
    from lsp_server.edit_command import register_edit

    @server.feature(types.INITIALIZED)
    async def initialized(ls: FathomServer, _params: types.InitializedParams) -> None:
        # Load the model and index the roots now: the first edit should not wait for them.
        task = asyncio.create_task(ls.index_roots())
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: FathomServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.mark_dirty(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: FathomServer, params: types.DidChangeTextDocumentParams) -> None:
        # Typing is cheap: the file is re-chunked once, when a request needs it.
        ls.mark_dirty(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: FathomServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.mark_dirty(params.text_document.uri)
        ls.flush_documents()
        ls.persist_document(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: FathomServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.mark_dirty(params.text_document.uri)  # closed: the disk's text counts again
        ls.flush_documents()

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def watched_files(ls: FathomServer, params: types.DidChangeWatchedFilesParams) -> None:
        for change in params.changes:
            if change.uri not in ls.workspace.text_documents:  # the editor's text wins
                ls.mark_dirty(change.uri)
        ls.flush_documents()

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: FathomServer, _params: None) -> None:
        await ls.close_engine()

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.RefactorRewrite]),
    )
    def code_actions(ls: FathomServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        rng = params.range
        if rng.start == rng.end:
            return []  # Fathom acts on a selection
        return [
            types.CodeAction(
                title=title,
                kind=types.CodeActionKind.RefactorRewrite,
                command=types.Command(
                    title=title,
                    command=EDIT_COMMAND,
                    arguments=[
                        {
                            "uri": params.text_document.uri,
                            "range": _CONVERTER.unstructure(rng),
                            "instruction": instruction,
                        }
                    ],
                ),
            )
            for title, instruction in PRESET_INSTRUCTIONS.items()
        ]

    register_edit(server)
    return server
