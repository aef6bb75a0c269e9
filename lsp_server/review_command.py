"""``fathom.review``: findings on a file or selection, published as diagnostics with fixes.

The review itself is protocol-free (pipeline/review.py); here the command's arguments become
lines to review, and its findings become diagnostics with source ``fathom`` whose quick fix
carries the finding's checked edit, where it has one. A re-review replaces the document's
findings; typing moves them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from fathom.backend.engine import EngineError
from fathom.context import ContextBudgetError, LineRange, UnreadableFileError
from fathom.edits.plan import DocumentSnapshot
from fathom.edits.review import ReviewFormatError
from fathom.lsp_server.config import SEVERITY_NAMES
from fathom.lsp_server.documents import command_document, command_range, open_document
from fathom.lsp_server.edit_command import selected_lines
from fathom.lsp_server.findings import Finding
from fathom.lsp_server.generation import model_job
from fathom.lsp_server.jobs import RequestCancelled
from fathom.lsp_server.positions import PositionCodec, PositionError
from fathom.lsp_server.wire import REVIEW_COMMAND, RequestFailed
from fathom.pipeline.review import PlannedFinding, run_review

if TYPE_CHECKING:
    from fathom.lsp_server.server import FathomServer


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
    return uri, command_range(rng, REVIEW_COMMAND)


def _to_finding(planned: PlannedFinding, codec: PositionCodec) -> Finding:
    found = planned.finding
    line_start = codec.offset(types.Position(found.line, 0))
    rng = types.Range(
        codec.position(line_start + found.start), codec.position(line_start + found.end)
    )
    return Finding(
        range=rng, severity=SEVERITY_NAMES[found.severity], message=found.message, fix=planned.fix
    )


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
    try:
        async with model_job(ls, "review", uri, f"Fathom: reviewing {path.name}") as gen:
            engine = await ls.engine_host.engine()
            outcome = await run_review(
                engine,
                ls.indexes.context_workspace(root, engine),
                snapshot,
                scope,
                max_output=ls.config.max_output_tokens,
                budget=ls.config.context_budget,
                on_request=gen.on_request,
                on_text=gen.on_text,
            )
    except RequestCancelled:
        raise  # answered with why; the previous findings stay as they were
    except (ContextBudgetError, UnreadableFileError) as exc:
        ls.show(f"Fathom: {exc}")
        raise JsonRpcInvalidParams(str(exc)) from exc
    except (EngineError, ReviewFormatError) as exc:
        ls.show(f"Fathom could not review {path.name}: {exc}")
        raise RequestFailed(str(exc)) from exc

    findings = [_to_finding(planned, codec) for planned in outcome.findings]
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
                "severity": planned.finding.severity,
                "message": f.message,
                "fix": f.fix is not None,
                "noFixReason": planned.no_fix_reason or None,
            }
            for f, planned in zip(findings, outcome.findings, strict=True)
        ],
        "dropped": outcome.dropped,  # findings that named no line of the reviewed code
        "promptTokens": outcome.stats.prompt_tokens,
        "completionTokens": outcome.stats.completion_tokens,
        "seconds": round(outcome.stats.total_s, 2),
    }
