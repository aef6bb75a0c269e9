"""``fathom/nextEdit``: the edit the user will make next, from their recent edits
(lsp_server/edit_history.py) and the code around the cursor (pipeline/next_edit.py).

Params ``{textDocument: {uri, version}, position}``; the result is shaped like the Copilot
language server's next-edit result: ``{edits: [{text, textDocument: {uri, version}, range,
command}]}``, each edit replacing whole lines of that version. ``command`` is
``fathom.nextEditAccepted``: an editor runs it when the user takes the suggestion, and the
journal records it (what was offered stays in memory until then, a bounded few).

Editors ask as the user types, so the request is cheap to drop: a newer request for the same
document cancels the older one (its engine request is aborted; it is answered
RequestCancelled, saying why), ``$/cancelRequest`` does the same, and at most
:data:`MAX_RUNNING` run at once across documents (the oldest gives way). It is no model job
(no progress, no preview): it never replaces an edit or a review running on the document.
A request for a version the server no longer has, or a document that changed while the model
wrote, is answered ``{edits: []}``; a document not open, not a file, or a position past its
end, a clear InvalidParams error.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cattrs.errors import BaseValidationError
from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.exceptions import JsonRpcInvalidParams

from fathom.backend.engine import EngineError
from fathom.context.text import split_lines
from fathom.edits.journal import Outcome
from fathom.edits.locate import OffsetEdit
from fathom.edits.plan import DocumentSnapshot
from fathom.lsp_server.documents import command_document, fs_path, open_document
from fathom.lsp_server.jobs import RequestCancelled
from fathom.lsp_server.positions import PositionCodec, PositionError
from fathom.lsp_server.wire import NEXT_EDIT_ACCEPTED_COMMAND, NEXT_EDIT_REQUEST, RequestFailed
from fathom.pipeline.next_edit import NextEdit, next_edit

if TYPE_CHECKING:
    from fathom.lsp_server.server import FathomServer

_CONVERTER = get_converter()

# Next-edit requests running at once, across documents; a flood of them never piles up.
MAX_RUNNING = 2
# Suggestions kept for fathom.nextEditAccepted to journal.
MAX_OFFERED = 32
INSTRUCTION = "next-edit suggestion"


@dataclass(frozen=True, slots=True)
class _Offer:
    started: float
    root: Path
    path: Path
    diff: str
    reply: str


class NextEdits:
    """The running next-edit requests (one per document) and the suggestions offered."""

    def __init__(self) -> None:
        self._running: OrderedDict[str, asyncio.Task[Any]] = OrderedDict()
        self._reasons: dict[asyncio.Task[Any], str] = {}
        self.offered: OrderedDict[str, _Offer] = OrderedDict()
        self.counts = {"offered": 0, "accepted": 0}

    def start(self, uri: str, task: asyncio.Task[Any]) -> None:
        """``task`` answers for ``uri`` now: an older one there, and the oldest beyond the
        limit, are cancelled."""
        older = self._running.pop(uri, None)
        if older is not None:
            self._cancel(older, "superseded by a newer next-edit request for the document")
        while len(self._running) >= MAX_RUNNING:
            _uri, oldest = self._running.popitem(last=False)
            self._cancel(oldest, f"more than {MAX_RUNNING} next-edit requests were running")
        self._running[uri] = task

    def _cancel(self, task: asyncio.Task[Any], reason: str) -> None:
        if not task.done():
            self._reasons[task] = reason
            task.cancel(reason)

    def finish(self, uri: str, task: asyncio.Task[Any]) -> str | None:
        """``task`` is over; why it was cancelled by a newer request, if it was."""
        if self._running.get(uri) is task:
            del self._running[uri]
        return self._reasons.pop(task, None)

    def offer(self, offer: _Offer) -> str:
        self.counts["offered"] += 1
        key = f"{int(offer.started * 1000)}-{self.counts['offered']}"
        self.offered[key] = offer
        while len(self.offered) > MAX_OFFERED:
            self.offered.popitem(last=False)
        return key


def _plain(value: Any) -> Any:
    """pygls hands a custom request's params over as named tuples: back to plain data."""
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _parse(params: Any) -> tuple[str, int | None, types.Position]:
    raw = _plain(params)
    try:
        document = raw["textDocument"]
        uri, version = document["uri"], document.get("version")
        position = _CONVERTER.structure(raw["position"], types.Position)
    except (KeyError, TypeError, AttributeError, BaseValidationError) as exc:
        raise JsonRpcInvalidParams(
            f"{NEXT_EDIT_REQUEST} takes {{textDocument: {{uri, version}}, position}}: {exc!r}"
        ) from exc
    if not isinstance(uri, str) or not (version is None or isinstance(version, int)):
        raise JsonRpcInvalidParams(
            f"{NEXT_EDIT_REQUEST}: 'uri' must be a string, 'version' a number"
        )
    return uri, version, position


def register_next_edit(server: FathomServer) -> NextEdits:
    state = NextEdits()

    @server.feature(NEXT_EDIT_REQUEST)
    async def next_edit_request(ls: FathomServer, params: Any) -> dict[str, Any]:
        return await _next_edit(ls, state, params)

    # A command's annotations are read at run time: the server comes from this closure.
    @server.command(NEXT_EDIT_ACCEPTED_COMMAND)
    def accepted(*args: Any) -> dict[str, Any]:
        return _accepted(server, state, args)

    return state


async def _next_edit(ls: FathomServer, state: NextEdits, params: Any) -> dict[str, Any]:
    started = time.time()
    uri, version, position = _parse(params)
    document, path = command_document(ls.workspace, uri, NEXT_EDIT_REQUEST)
    if version is not None and document.version != version:
        return {"edits": []}  # the editor asked about a version the server does not have
    encoding = ls.workspace.position_encoding or types.PositionEncodingKind.Utf16
    snapshot = DocumentSnapshot(path, document.source, document.version)
    try:
        codec = PositionCodec(snapshot.text, encoding)
        cursor = codec.position(codec.offset(position, strict=True))
    except PositionError as exc:
        raise JsonRpcInvalidParams(f"{NEXT_EDIT_REQUEST}: {exc}") from exc
    root = ls.root_for(path)

    def name(other: str) -> str | None:
        other_path = fs_path(other)
        if other_path is None or not other_path.is_relative_to(root):
            return None
        return other_path.relative_to(root).as_posix()

    def current() -> DocumentSnapshot | None:
        now = open_document(ls.workspace, uri)
        return None if now is None else DocumentSnapshot(path, now.source, now.version)

    recent = ls.document_sync.history.recent(uri, name)
    task = asyncio.current_task()
    assert task is not None  # pygls runs an async handler as a task
    state.start(uri, task)
    try:
        engine = await ls.engine_host.engine()
        suggestion = await next_edit(engine, snapshot, root, cursor.line, recent, current=current)
    except asyncio.CancelledError:
        reason = state.finish(uri, task)
        if reason is None:
            raise  # $/cancelRequest, or the server going down: pygls answers it
        task.uncancel()  # handled: answered below, saying why
        raise RequestCancelled(f"The next edit was cancelled: {reason}.") from None
    except EngineError as exc:
        raise RequestFailed(f"{NEXT_EDIT_REQUEST}: {exc}") from exc
    finally:
        state.finish(uri, task)  # again is harmless
    now = current()
    if now is None or now.version != snapshot.version or not suggestion.edits:
        return {"edits": []}  # closed, or typed into while the model wrote: it is stale
    return {"edits": _lsp_edits(ls, state, suggestion, uri, encoding, root, started)}


def _lsp_edits(
    ls: FathomServer,
    state: NextEdits,
    suggestion: NextEdit,
    uri: str,
    encoding: str,
    root: Path,
    started: float,
) -> list[dict[str, Any]]:
    snapshot = suggestion.snapshot
    codec = PositionCodec(snapshot.text, encoding)
    out = []
    for edit in suggestion.edits:
        key = state.offer(
            _Offer(started, root, snapshot.path, _hunk(snapshot.text, edit), suggestion.reply)
        )
        rng = types.Range(codec.position(edit.start), codec.position(edit.end))
        out.append(
            {
                "text": edit.new_text,
                "textDocument": {"uri": uri, "version": snapshot.version},
                "range": _CONVERTER.unstructure(rng),
                "command": {
                    "title": "Accept the next edit",
                    "command": NEXT_EDIT_ACCEPTED_COMMAND,
                    "arguments": [{"uri": uri, "version": snapshot.version, "id": key}],
                },
            }
        )
    return out


def _hunk(text: str, edit: OffsetEdit) -> str:
    """The edit as a diff hunk, for the journal."""
    first = len(split_lines(text[: edit.start]))
    old, new = split_lines(text[edit.start : edit.end]), split_lines(edit.new_text)
    body = [f"-{line.rstrip()}" for line in old] + [f"+{line.rstrip()}" for line in new]
    return "\n".join([f"@@ -{first + 1},{len(old)} +{first + 1},{len(new)} @@", *body]) + "\n"


def _accepted(ls: FathomServer, state: NextEdits, args: tuple[Any, ...]) -> dict[str, Any]:
    """The user took a suggestion: journal it (once) with what was offered."""
    payload = _plain(args[0]) if len(args) == 1 else None
    key = payload.get("id") if isinstance(payload, dict) else None
    offer = state.offered.pop(key, None) if isinstance(key, str) else None
    if offer is not None:
        state.counts["accepted"] += 1
        ls.journal().record(
            started=offer.started,
            root=offer.root,
            target=offer.path,
            instruction=INSTRUCTION,
            outcome=Outcome.APPLIED,
            diff=offer.diff,
            replies=[offer.reply],
        )
    return {"recorded": offer is not None, **state.counts}
