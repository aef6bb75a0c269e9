"""``fathom.edit``: edit a selection as instructed and send it as a versioned workspace edit."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from fathom.backend.engine import EngineError
from fathom.context import ContextBudgetError, LineRange, UnreadableFileError
from fathom.edits.errors import EditError, StaleEditError
from fathom.edits.feedback import MAX_FEEDBACK_ROUNDS
from fathom.edits.journal import Outcome
from fathom.edits.plan import DocumentSnapshot, EditPlan
from fathom.edits.relocate import relocate
from fathom.lsp_server.documents import command_document, command_range, open_document
from fathom.lsp_server.generation import model_job
from fathom.lsp_server.jobs import RequestCancelled, TooManyJobsError
from fathom.lsp_server.positions import PositionCodec, PositionError
from fathom.lsp_server.wire import EDIT_COMMAND, RequestFailed
from fathom.lsp_server.workspace_edit import to_workspace_edit
from fathom.pipeline.edit_flow import (
    InvalidEditRequest,
    engine_edit_format,
    plan_diff,
    run_edit,
)

if TYPE_CHECKING:
    from fathom.lsp_server.server import FathomServer


def _parse_arguments(args: tuple[Any, ...]) -> tuple[str, types.Range, str]:
    """Accept ``[{uri, range, instruction}]`` (what our code actions send) or three values."""
    if len(args) == 1 and isinstance(args[0], dict):
        payload = args[0]
        uri, rng, instruction = payload.get("uri"), payload.get("range"), payload.get("instruction")
    elif len(args) == 3:
        uri, rng, instruction = args
    else:
        raise JsonRpcInvalidParams(
            f"{EDIT_COMMAND} takes [{{uri, range, instruction}}] or [uri, range, instruction]"
        )
    if not isinstance(uri, str):
        raise JsonRpcInvalidParams(f"{EDIT_COMMAND}: 'uri' must be a string")
    if not isinstance(instruction, str) or not instruction.strip():
        raise JsonRpcInvalidParams(f"{EDIT_COMMAND}: the instruction is empty; say what to change")
    return uri, command_range(rng, EDIT_COMMAND), instruction


def selected_lines(codec: PositionCodec, rng: types.Range) -> LineRange:
    """Whole lines covered by ``rng``; a selection ending at column 0 excludes that line."""
    start = codec.position(codec.offset(rng.start, strict=True))
    end = codec.position(codec.offset(rng.end, strict=True))
    if (end.line, end.character) < (start.line, start.character):
        raise PositionError("the range ends before it starts")
    last = end.line if end.character == 0 and end.line > start.line else end.line + 1
    return LineRange(start.line, min(max(last, start.line + 1), max(codec.line_count, 1)))


def register_edit(server: FathomServer) -> None:
    # pygls reads a command handler's annotations at run time, and FathomServer is a name for
    # typing only here: the handler takes the server from this closure instead of ``ls``.
    @server.command(EDIT_COMMAND)
    async def edit(*args: Any) -> dict[str, Any]:
        return await _edit(server, args)


async def _edit(ls: FathomServer, args: tuple[Any, ...]) -> dict[str, Any]:
    uri, rng, instruction = _parse_arguments(args)
    document, path = command_document(ls.workspace, uri, EDIT_COMMAND)  # open, file, small
    encoding = ls.workspace.position_encoding or types.PositionEncodingKind.Utf16
    snapshot = DocumentSnapshot(path=path, text=document.source, version=document.version)
    try:
        selection = selected_lines(PositionCodec(snapshot.text, encoding), rng)
    except PositionError as exc:
        raise JsonRpcInvalidParams(f"{EDIT_COMMAND}: {exc}") from exc
    root = ls.root_for(path)

    def snapshot_of(p: Path) -> DocumentSnapshot:
        doc = open_document(ls.workspace, ls.uri_of(p))
        if doc is not None:
            return DocumentSnapshot(p, doc.source, doc.version)
        return DocumentSnapshot(p, workspace.read(p), None)

    started_at = time.time()
    replies: list[str] = []  # whole replies, and the one a cancel or failure cut short
    planned: list[EditPlan] = []  # the plan, once there is one: a refusal keeps its diff

    def record(outcome: Outcome, reason: str = "", diff: str = "", repairs=()) -> None:
        if planned:
            diff, repairs = diff or plan_diff(planned[-1], root), repairs or planned[-1].repairs
        ls.journal().record(
            started=started_at,
            root=root,
            target=path,
            instruction=instruction,
            outcome=outcome,
            reason=reason,
            diff=diff,
            replies=replies,
            repairs=repairs,
        )

    title = f"Fathom: editing {path.name}"
    try:
        async with model_job(ls, "edit", uri, title) as generation:
            engine = await ls.engine_host.engine()
            workspace = ls.indexes.context_workspace(root, engine)

            def on_round(number: int, message: str) -> None:
                first_reason = message.split("\n- ", 1)[-1].split("\n", 1)[0]
                generation.report(
                    f"asking the model again ({number}/{MAX_FEEDBACK_ROUNDS}): {first_reason}"
                )

            outcome = await run_edit(
                engine,
                workspace,
                snapshot,
                selection,
                instruction,
                snapshot_of=snapshot_of,
                max_output=ls.config.max_output_tokens,
                budget=ls.config.context_budget,
                on_text=generation.on_text,
                on_request=generation.on_request,
                on_round=on_round,
                on_reply=replies.append,
                on_partial=replies.append,
                on_plan=planned.append,
                edit_format=engine_edit_format(engine, ls.config.edit_format),
                decoding=ls.config.decoding(),
            )
            planned.append(outcome.plan)
            plan = current_plan(ls, outcome.plan)
            workspace_edit = to_workspace_edit(plan, ls.uri_of, encoding, ls.edit_support, root)
    except RequestCancelled as exc:
        # Nothing was sent to the editor; what the model wrote so far is kept.
        record(Outcome.CANCELLED, exc.message)
        raise
    except TooManyJobsError as exc:
        record(Outcome.REFUSED, exc.message)
        raise
    except (InvalidEditRequest, ContextBudgetError, UnreadableFileError) as exc:
        ls.show(f"Fathom: {exc}")
        record(Outcome.REFUSED, str(exc))
        raise JsonRpcInvalidParams(str(exc)) from exc
    except (EditError, EngineError) as exc:
        ls.show(f"Fathom could not edit {path.name}: {exc}")
        failed = Outcome.FAILED if isinstance(exc, EngineError) else Outcome.REFUSED
        record(failed, str(exc))
        raise RequestFailed(str(exc)) from exc
    except Exception as exc:
        record(Outcome.FAILED, _unexpected(exc))
        raise

    # Past this point a cancel changes nothing (the job is committed): the answer and the
    # journal say what the editor did with the edit.
    diff = outcome.unified_diff(root)
    try:
        result = await ls.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(
                edit=workspace_edit,
                label=f"Fathom: {instruction}",  # the editor wraps it
            )
        )
        applied = bool(result.applied)
    except Exception as exc:
        record(Outcome.FAILED, f"sending the edit to the editor: {_unexpected(exc)}", diff)
        raise
    if not applied:
        # The editor said no (the user discarded the preview, or a document moved on): the
        # request did its part, so it is answered, not failed, and the editor, which knows
        # why, tells the user if it needs telling. The planned diff stays in the journal.
        reason = result.failure_reason or "the editor gave no reason"
        where = "" if result.failed_change is None else f" (change {result.failed_change})"
        record(Outcome.REJECTED, reason + where, diff, outcome.plan.repairs)
        return {
            "applied": False,
            "reason": reason + where,
            "diff": diff,
            "journal": str(ls.journal().path),
        }
    record(Outcome.APPLIED, "", diff, outcome.plan.repairs)
    return {
        "applied": True,
        "diff": diff,
        "repairs": list(outcome.plan.repairs),
        "rounds": len(outcome.rounds),
        "relocated": plan is not outcome.plan,
        "promptTokens": outcome.stats.prompt_tokens,
        "completionTokens": outcome.stats.completion_tokens,
        "seconds": round(outcome.stats.total_s, 2),
        "contextSeconds": round(outcome.context_s, 4),  # building the context
        # What the model was shown, so a user can see why it did what it did.
        "context": [
            {"kind": s.kind.value, "path": s.path.as_posix(), "tokens": s.tokens}
            for s in outcome.pack.sections
        ],
        "omitted": list(outcome.pack.omitted),
    }


def _unexpected(exc: Exception) -> str:
    if isinstance(exc, JsonRpcException):  # e.g. the editor answered applyEdit with an error
        return f"{exc.message} ({exc.code})"
    return f"unexpected error: {type(exc).__name__}: {exc}"


def current_plan(ls: FathomServer, plan: EditPlan) -> EditPlan:
    """``plan`` against the documents as they are now: the user may have typed meanwhile.

    Edits move with their lines; StaleEditError if the user changed lines an edit replaces,
    or a file to be renamed or deleted.
    """

    def current(snapshot: DocumentSnapshot) -> DocumentSnapshot | None:
        doc = open_document(ls.workspace, ls.uri_of(snapshot.path))
        if doc is None or doc.version == snapshot.version:
            return None
        return DocumentSnapshot(snapshot.path, doc.source, doc.version)

    for moved in (*(r.source for r in plan.renames), *(d.snapshot for d in plan.deletes)):
        now = current(moved)
        if now is not None and now.text != moved.text:
            raise StaleEditError(
                f"{moved.path.name} changed while the model was writing (version "
                f"{moved.version} -> {now.version}); it was not renamed or deleted, and "
                "nothing was applied. Run the edit again."
            )
    files = []
    for file_edit in plan.files:
        now = current(file_edit.snapshot)
        files.append(file_edit if now is None else relocate(file_edit, now))
    if all(a is b for a, b in zip(files, plan.files, strict=True)):
        return plan
    return dataclasses.replace(plan, files=tuple(files))
