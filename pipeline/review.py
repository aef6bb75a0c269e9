"""One review, end to end and protocol-free: context -> prompt -> engine -> findings, each
with its fix as a checked edit plan where the model gave one.

The model answers in schema-checked JSON (edits/review.py); a finding whose corrected line
builds into a clean plan (located and syntax-checked by the edit engine) keeps the plan. The
language server turns the findings into diagnostics and quick fixes (lsp_server/
review_command.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fathom.backend.engine import Engine, GenerationStats
from fathom.context import LineRange, Workspace
from fathom.edits.diff_parse import parse_diff
from fathom.edits.errors import EditError
from fathom.edits.plan import DocumentSnapshot, EditPlan, build_plan
from fathom.edits.review import ReviewFinding, parse_findings, review_request
from fathom.pipeline.edit_flow import PROMPT_SLACK
from fathom.pipeline.streaming import RedactedChat

# Reply tokens for a review: a dozen findings with one-line fixes fit.
REVIEW_MAX_OUTPUT = 1536
# Tokens kept beside the chat template's (PROMPT_SLACK) for the review's own instructions.
REVIEW_SLACK = 512


@dataclass(frozen=True, slots=True)
class PlannedFinding:
    finding: ReviewFinding
    fix: EditPlan | None  # None: no fix offered, or it did not build (``no_fix_reason``)
    no_fix_reason: str = ""


@dataclass(frozen=True, slots=True)
class ReviewOutcome:
    findings: tuple[PlannedFinding, ...]
    dropped: int  # findings that named no line of the reviewed code
    stats: GenerationStats


def fix_plan(
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


async def run_review(
    engine: Engine,
    workspace: Workspace,
    target: DocumentSnapshot,
    scope: LineRange,
    *,
    max_output: int = REVIEW_MAX_OUTPUT,
    budget: int | None = None,
    on_request: Callable[[str], None] = lambda _r: None,
    on_text: Callable[[str, int], None] = lambda _t, _n: None,
) -> ReviewOutcome:
    """Review the lines ``scope`` of ``target``; raise ReviewFormatError on an unusable reply.

    ``on_request(id)`` names the engine request before it starts; ``on_text(piece, tokens)``
    gets the reply as it streams. Fix plans are checked against ``target`` in the workspace's
    root.
    """
    max_output = min(max_output, REVIEW_MAX_OUTPUT)
    window = engine.max_context - max_output - PROMPT_SLACK - REVIEW_SLACK
    budget = min(budget or window, window)  # a setting cannot overflow the window
    pack = workspace.pack(target.path, scope, "review", budget)
    request = review_request(pack, target.text, max_output)
    on_request(request.request_id)
    # A JSON reply: a secret goes back escaped inside its string.
    chat = RedactedChat(engine, json_reply=True)
    reply = await chat.reply(request, on_text=on_text)
    placed, dropped = parse_findings(reply, target.text, scope)
    findings = []
    for found in placed:
        plan, why_not = fix_plan(found, target, workspace.root)
        findings.append(PlannedFinding(found, plan, why_not))
    return ReviewOutcome(tuple(findings), dropped, chat.stats)
