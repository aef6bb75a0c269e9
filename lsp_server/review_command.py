"""``fathom.review``: findings on a file or selection, published as diagnostics with fixes.

The model answers in schema-checked JSON (edits/review.py). Each finding becomes a
diagnostic with source ``fathom``; a finding whose corrected line builds into a clean edit
plan (located and syntax-checked by the edit engine) keeps the plan, and its quick fix
carries that edit. A re-review replaces the document's findings; typing moves them.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.exceptions import JsonRpcInvalidParams

from fathom.backend.engine import EngineError, GenerationStats
from fathom.context import ContextBudgetError, LineRange, UnreadableFileError
from fathom.edits.diff_parse import parse_diff
from fathom.edits.errors import EditError
from fathom.edits.plan import DocumentSnapshot, EditPlan, build_plan
from fathom.edits.review import ReviewFinding, ReviewFormatError, parse_findings, review_request
from fathom.edits.secrets import Redactor
from fathom.lsp_server.config import SEVERITY_NAMES
from fathom.lsp_server.documents import command_document, open_document
from fathom.lsp_server.edit_command import selected_lines
from fathom.lsp_server.findings import Finding
from fathom.lsp_server.generation import model_job
from fathom.lsp_server.jobs import RequestCancelled
from fathom.lsp_server.positions import PositionCodec, PositionError
from fathom.lsp_server.wire import REVIEW_COMMAND, RequestFailed
from fathom.pipeline.edit_flow import PROMPT_SLACK

if TYPE_CHECKING:
    from fathom.lsp_server.server import FathomServer

_CONVERTER = get_converter()
# Reply tokens for a review: a dozen findings with one-line fixes fit.
REVIEW_MAX_OUTPUT = 1536


def _parse_arguments(args: tuple[Any, ...]) -> tuple[str, types.Range | None]:
    """``[{uri, range?}]`` or ``[uri]`` / ``[uri, range]``; no range reviews the whole file."""
    if len(args) == 1 and isinstance(args[0], dict):
        uri, rng = args[0].get("uri"), args[0].get("range")
    elif 1 <= len(args) <= 2:
        uri, rng = args[0], args[1] if len(args) == 2 else None
    else:
        raise JsonRpcInvalidParams(f"{REVIEW_COMMAND} takes [{{uri, range?}}] or [uri, range?]")
    if not isinstance(uri, str):
        raise JsonRpcInvalidParams(f"{REVIEW_COMMAND}: 'uri' must be a string")
    if rng is None:
        return uri, None
    try:
        return uri, _CONVERTER.structure(rng, types.Range)
    except Exception as exc:
        raise JsonRpcInvalidParams(f"{REVIEW_COMMAND}: 'range' is not an LSP Range: {exc}") from exc


def _fix_plan(
    finding: ReviewFinding, snapshot: DocumentSnapshot, root: Path
) -> tuple[EditPlan | None, str]:
    """The finding's fix as a checked plan, or None and why not."""
    rel = snapshot.path.relative_to(root).as_posix()
    diff = finding.fix_diff(rel, snapshot.text)
    if diff is None:
        return None, "no fix offered"
    try:
        plan = build_plan(parse_diff(diff, default_path=rel), root, lambda _p: snapshot)
    except EditError as exc:
        return None, str(exc)
    return plan, ""


def _to_finding(
    found: ReviewFinding, codec: PositionCodec, snapshot: DocumentSnapshot, root: Path
) -> tuple[Finding, str]:
    line_start = codec.offset(types.Position(found.line, 0))
    rng = types.Range(
        codec.position(line_start + found.start), codec.position(line_start + found.end)
    )
    plan, why_not = _fix_plan(found, snapshot, root)
    finding = Finding(
        range=rng, severity=SEVERITY_NAMES[found.severity], message=found.message, fix=plan
    )
    return finding, why_not


def register_review(server: FathomServer) -> None:
    # pygls reads a command handler's annotations at run time, and FathomServer is a name for
    # typing only here: the handler takes the server from this closure instead of ``ls``.
    @server.command(REVIEW_COMMAND)
    async def review(*args: Any) -> dict[str, Any]:
        return await _review(server, args)


async def _review(ls: FathomServer, args: tuple[Any, ...]) -> dict[str, Any]:
    uri, rng = _parse_arguments(args)
    document, path = command_document(ls.workspace, uri, REVIEW_COMMAND)  # open, file, small
    encoding = ls.workspace.position_encoding or types.PositionEncodingKind.Utf16
    snapshot = DocumentSnapshot(path=path, text=document.source, version=document.version)
    codec = PositionCodec(snapshot.text, encoding)
    try:
        scope = (
            LineRange(0, max(codec.line_count, 1)) if rng is None else selected_lines(codec, rng)
        )
    except PositionError as exc:
        raise JsonRpcInvalidParams(f"{REVIEW_COMMAND}: {exc}") from exc
    root = ls.root_for(path)
    stats = GenerationStats()
    try:
        async with model_job(ls, "review", uri, f"Fathom: reviewing {path.name}") as gen:
            engine = await ls.engine_host.engine()
            workspace = ls.indexes.context_workspace(root, engine)
            max_output = min(ls.config.max_output_tokens, REVIEW_MAX_OUTPUT)
            window = engine.max_context - max_output - PROMPT_SLACK - 512
            budget = min(ls.config.context_budget or window, window)
            pack = workspace.pack(path, scope, "review", budget)
            request = review_request(pack, snapshot.text, max_output)
            gen.on_request(request.request_id)
            pieces: list[str] = []
            # Closed on every way out (an error in on_text included), so the engine
            # request stops now rather than when the garbage collector finds the stream.
            # Secret-looking values go to the engine as markers; the reply gets them back.
            redactor = Redactor()
            sent = redactor.request(request)
            async with contextlib.aclosing(engine.stream(sent, stats)) as stream:
                async for piece in stream:
                    pieces.append(piece)
                    gen.on_text(piece, stats.completion_tokens)
            reply = redactor.restore_json("".join(pieces))
            placed, dropped = parse_findings(reply, snapshot.text, scope)
    except RequestCancelled:
        raise  # answered with why; the previous findings stay as they were
    except (ContextBudgetError, UnreadableFileError) as exc:
        ls.show(f"Fathom: {exc}")
        raise JsonRpcInvalidParams(str(exc)) from exc
    except (EngineError, ReviewFormatError) as exc:
        ls.show(f"Fathom could not review {path.name}: {exc}")
        raise RequestFailed(str(exc)) from exc

    findings, no_fix = [], []
    for found in placed:
        finding, why_not = _to_finding(found, codec, snapshot, root)
        findings.append(finding)
        no_fix.append(why_not)
    ls.findings.replace(uri, snapshot.version, findings)
    ls.finding_texts[uri] = snapshot.text
    # The user may have typed during the review: the findings follow to the current text.
    current = open_document(ls.workspace, uri)
    if current is not None and current.version != snapshot.version:
        change = types.TextDocumentContentChangeWholeDocument(text=current.source)
        ls.findings.apply_changes(uri, snapshot.text, [change], encoding)
        ls.finding_texts[uri] = current.source
    ls.document_sync.publish_findings(uri)
    return {
        "findings": [
            {
                "id": f.id,
                "line": f.range.start.line,
                "severity": found.severity,
                "message": f.message,
                "fix": f.fix is not None,
                "noFixReason": why_not or None,
            }
            for f, found, why_not in zip(findings, placed, no_fix, strict=True)
        ],
        "dropped": dropped,  # findings that named no line of the reviewed code
        "promptTokens": stats.prompt_tokens,
        "completionTokens": stats.completion_tokens,
        "seconds": round(stats.total_s, 2),
    }
