"""``textDocument/inlineCompletion`` (LSP 3.18): ghost text in the served model's own
fill-in-the-middle format (backend/fim.py), made by pipeline/completion.py.

**The capability** is advertised at ``initialize`` (``inlineCompletionProvider``), before the
engine has started: pygls computes the capabilities then, and which model is served (so
whether its tokenizer has FIM tokens) is known only once the engine is ready. A model without
them answers every request with an empty list, and the first request says why in the log
(``window/logMessage``), never a guessed format.

**A request per keystroke** never piles up work or memory:

* one completion in flight per document: a newer request for the same document stops the
  older at once (its engine request is aborted: the stream closes, vLLM frees the slot), and
  the older is answered with an empty list;
* at most :data:`MAX_IN_FLIGHT` documents at once: one more stops the oldest;
* ``$/cancelRequest`` cancels the request's task (pygls), which aborts its engine request; it
  is answered RequestCancelled;
* a completion never starts the engine nor waits for it: while the model loads, or after it
  failed, the answer is empty.

**Bad input** never crashes a request: a document not open (or closed while the model wrote),
changed meanwhile (the answer would be stale: the editor has asked again), too large, not
shown to models (context/files.py's prompt rule), outside the workspace: an empty list, the
reason logged; a position past the end of the document: InvalidParams.

**Accepted completions** are counted locally: every item offered is a row of the journal
(edits/journal.py), and its ``command`` is ``fathom.completionAccepted`` with the row's id,
which the editor runs when the user accepts it. Nothing is sent anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from fathom.backend.engine import Engine, EngineError
from fathom.backend.fim import FimFormat
from fathom.context.files import IgnoreRules, prompt_refusal
from fathom.context.languages import LANGUAGE_BY_SUFFIX, language_of
from fathom.lsp_server.completion_context import (
    RedactedCompletions,
    Related,
    RelatedCache,
    cached_counter,
    completion_query,
    model_fim,
    ranked_related,
)
from fathom.lsp_server.documents import fs_path, open_document, too_large
from fathom.lsp_server.positions import PositionCodec, PositionError
from fathom.lsp_server.wire import COMPLETION_ACCEPTED, RequestFailed
from fathom.pipeline.completion import Completion, CompletionEngine, CompletionError, complete

if TYPE_CHECKING:
    from fathom.lsp_server.server import FathomServer

# Documents with a completion in flight at once; more would queue in the engine behind each
# other for suggestions nobody waits for any more.
MAX_IN_FLIGHT = 4
_METHOD = types.TEXT_DOCUMENT_INLINE_COMPLETION
_LANGUAGES = frozenset(LANGUAGE_BY_SUFFIX.values())


def _empty() -> types.InlineCompletionList:
    return types.InlineCompletionList(items=[])


@dataclass(eq=False, slots=True)
class _InFlight:
    uri: str
    task: asyncio.Task[Any]
    stopped: str | None = None  # why a newer request stopped this one

    def stop(self, reason: str) -> None:
        if self.stopped is None and not self.task.done():
            self.stopped = reason
            self.task.cancel(reason)


@dataclass(frozen=True, slots=True)
class _Model:
    """The served engine and what it completes with (``fim`` None: ``reason`` says why)."""

    engine: Engine
    fim: FimFormat | None
    reason: str
    completer: RedactedCompletions | None
    count_tokens: Callable[[str], int]  # the engine's, cached (completion_context.py)


@dataclass(frozen=True, slots=True)
class _Where:
    """The document's place: its path in its root (None for a document that is no file)."""

    path: str | None
    root: Path | None
    language: str | None
    related: Related


class InlineCompletions:
    """The server's inline completions: requests in flight, the served model's format, and
    the ranked chunks of recent requests."""

    def __init__(self, ls: FathomServer) -> None:
        self._ls = ls
        self._in_flight: dict[str, _InFlight] = {}  # uri -> its request, oldest first
        self._model: _Model | None = None
        self._related = RelatedCache()
        self._last_said = ""

    def in_flight(self) -> list[str]:
        """Documents with a completion running now."""
        return list(self._in_flight)

    @contextlib.contextmanager
    def _slot(self, uri: str, task: asyncio.Task[Any]) -> Iterator[_InFlight]:
        older = self._in_flight.pop(uri, None)
        if older is not None:
            older.stop("a newer request for the same document")
        while len(self._in_flight) >= MAX_IN_FLIGHT:
            oldest = self._in_flight.pop(next(iter(self._in_flight)))
            oldest.stop(f"completions for more than {MAX_IN_FLIGHT} documents at once")
        mine = self._in_flight[uri] = _InFlight(uri, task)
        try:
            yield mine
        finally:
            if self._in_flight.get(uri) is mine:
                del self._in_flight[uri]

    async def answer(self, params: types.InlineCompletionParams) -> types.InlineCompletionList:
        task = asyncio.current_task()
        assert task is not None  # pygls runs each request as a task
        with self._slot(params.text_document.uri, task) as mine:
            try:
                return await self._complete(params)
            except asyncio.CancelledError:
                if mine.stopped is None:
                    raise  # $/cancelRequest or shutdown: pygls answers RequestCancelled
                task.uncancel()  # stopped by a newer request: answered, with nothing
                return _empty()

    def _say(self, reason: str, kind: types.MessageType = types.MessageType.Info) -> None:
        """Log why a request got nothing, once until the reason changes (a request comes
        with every keystroke)."""
        if reason and reason != self._last_said:
            self._last_said = reason
            self._ls.window_log_message(
                types.LogMessageParams(kind, f"Fathom: no inline completion: {reason}.")
            )

    def _empty(self, reason: str, kind: types.MessageType = types.MessageType.Info) -> Any:
        self._say(reason, kind)
        return _empty()

    async def _served_model(self) -> _Model | str:
        """The ready engine and its FIM format, or why there is none now (never waiting for
        the engine to start)."""
        host = self._ls.engine_host
        status = host.status()
        if status["state"] == "error":
            return f"the model failed to start ({status['error']})"
        if status["state"] not in ("ready", "busy"):
            return "the model is still loading"
        engine = await host.engine()
        if self._model is None or self._model.engine is not engine:
            found = model_fim(engine)
            completer = None
            if found.format is not None and isinstance(engine, CompletionEngine):
                completer = RedactedCompletions(engine)
            count = cached_counter(engine.count_tokens)
            self._model = _Model(engine, found.format, found.reason, completer, count)
        return self._model

    def _where(self, uri: str, text: str, line: int) -> _Where | str:
        """Where the document is and the related chunks for ``line``, or why the document is
        not completed."""
        ls = self._ls
        path = fs_path(uri)
        if path is None:  # untitled: no repository, the editor's language if Fathom knows it
            document = open_document(ls.workspace, uri)
            language = document.language_id if document is not None else None
            return _Where(None, None, language if language in _LANGUAGES else None, [])
        try:
            root = ls.root_for(path)
        except RequestFailed as exc:
            return str(exc.message)
        rules = IgnoreRules(root)
        refusal = prompt_refusal(path, root, rules, text)
        if refusal is not None:
            return f"Fathom does not send {path.name} to the model: {refusal}"
        relative = path.relative_to(root).as_posix()
        return _Where(
            relative,
            root,
            language_of(path),
            self._related_chunks(root, relative, text, line, rules),
        )

    def _related_chunks(
        self, root: Path, relative: str, text: str, line: int, rules: IgnoreRules
    ) -> Related:
        """Ranked chunks of other files from the root's index (none until it is built)."""
        ls = self._ls
        repository = ls.indexes.repositories.get(root)
        if repository is None:
            return []

        def rank(query: str) -> Related:
            ls.document_sync.flush()  # what was typed in other files since the last ranking
            open_files = ls.document_sync.open_files(root)
            return ranked_related(repository, rules, relative, query, open_files)

        query = completion_query(text, line)
        try:
            return self._related.get_or_rank(repository, relative, query, rank)
        except Exception as exc:  # the context is a help: a completion goes on without it
            self._say(f"ranking the related code failed ({exc!r})", types.MessageType.Warning)
            return []

    async def _complete(self, params: types.InlineCompletionParams) -> Any:
        ls = self._ls
        uri = params.text_document.uri
        document = open_document(ls.workspace, uri)
        if document is None:
            return self._empty(f"{uri} is not open")
        text, version = document.source, document.version
        reason = too_large(text)
        if reason is not None:
            return self._empty(f"{uri.rsplit('/', 1)[-1]} is not completed: {reason}")
        encoding = ls.workspace.position_encoding or types.PositionEncodingKind.Utf16
        codec = PositionCodec(text, encoding)
        try:
            offset = codec.offset(params.position, strict=True)
        except PositionError as exc:
            raise JsonRpcInvalidParams(f"{_METHOD}: {exc}") from exc
        model = await self._served_model()
        if isinstance(model, str):
            return self._empty(model)
        if model.fim is None or model.completer is None:
            off = f"{model.engine.model_name} cannot fill in the middle: {model.reason}"
            return self._empty(off, types.MessageType.Warning)
        cursor = PositionCodec(text, types.PositionEncodingKind.Utf32).position(offset)
        where = self._where(uri, text, cursor.line)
        if isinstance(where, str):
            return self._empty(where)
        started = time.monotonic()
        try:
            result = await complete(
                model.completer,
                model.fim,
                text,
                cursor.line,
                cursor.character,
                language=where.language,
                count_tokens=model.count_tokens,
                path=where.path,
                related=where.related,
                repo_name=where.root.name if where.root is not None else None,
                request_id=f"fathom-complete-{uuid.uuid4().hex[:16]}",
            )
        except CompletionError as exc:
            raise JsonRpcInvalidParams(f"{_METHOD}: {exc}") from exc
        except EngineError as exc:
            return self._empty(f"the model failed: {exc}", types.MessageType.Warning)
        now = open_document(ls.workspace, uri)
        if now is None:
            return self._empty(f"{uri} was closed while the model was writing")
        if now.version != version or not result.text:
            return _empty()  # stale: the editor asks again for the text it has now
        position = codec.position(offset)
        item = types.InlineCompletionItem(
            insert_text=result.text,
            range=types.Range(position, position),
            command=self._offered(where.path or uri, result, time.monotonic() - started),
        )
        return types.InlineCompletionList(items=[item])

    def _offered(self, target: str, result: Completion, seconds: float) -> types.Command | None:
        """The completion's row in the journal, and the command that marks it accepted
        (none when the journal is off)."""
        entry = self._ls.journal().record_completion(
            target=target,
            mode=result.mode,
            chars=len(result.text),
            lines=result.text.count("\n") + 1,
            seconds=seconds,
        )
        if entry is None:
            return None
        return types.Command(
            title="Fathom: completion accepted", command=COMPLETION_ACCEPTED, arguments=[entry]
        )


def _accepted_id(args: tuple[Any, ...]) -> int:
    """``[id]`` or ``[{id}]``, as the item's command carries it."""
    entry = args[0] if len(args) == 1 else None
    if isinstance(entry, dict):
        entry = entry.get("id")
    if not isinstance(entry, int) or isinstance(entry, bool):
        raise JsonRpcInvalidParams(
            f"{COMPLETION_ACCEPTED} takes [id]: the id the completion's command carries"
        )
    return entry


def register_inline_completion(server: FathomServer) -> InlineCompletions:
    completions = InlineCompletions(server)

    @server.feature(_METHOD, types.InlineCompletionOptions())
    async def inline_completion(
        ls: FathomServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList:
        return await completions.answer(params)

    # pygls reads a command handler's annotations at run time, and FathomServer is a name for
    # typing only here: the handler takes the server from this closure instead of ``ls``.
    @server.command(COMPLETION_ACCEPTED)
    def accepted(*args: Any) -> dict[str, bool]:
        """The editor accepted a completion: counted in the journal, once."""
        return {"recorded": server.journal().completion_accepted(_accepted_id(args))}

    return completions
