"""One edit, end to end and protocol-free: context -> prompt -> engine -> diff -> EditPlan.

Both the language server and the headless CLI run edits through :func:`run_edit`.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from backend.engine import Engine, GenerationStats
from context import ContextPack, LineRange, Workspace
from edits.diff_parse import parse_diff
from edits.errors import EditError, NoDiffError
from edits.plan import DocumentSnapshot, EditPlan, build_plan
from edits.prompt import SYSTEM, edit_request, reply_diff

# Tokens kept for the reply; a whole rewritten block of a few hundred lines fits.
DEFAULT_MAX_OUTPUT = 2048
# Chat-template and instruction text around the sections.
PROMPT_SLACK = 256


class InvalidEditRequest(ValueError):
    """The request itself is wrong (empty instruction, bad range); no model was asked."""


@dataclass(frozen=True, slots=True)
class EditOutcome:
    plan: EditPlan
    reply: str
    pack: ContextPack
    stats: GenerationStats

    def unified_diff(self, root: Path) -> str:
        """The plan as a unified diff against the snapshots, for people to read."""
        chunks = []
        for file_edit in self.plan.files:
            rel = file_edit.snapshot.path.relative_to(root).as_posix()
            chunks += difflib.unified_diff(
                file_edit.snapshot.text.splitlines(keepends=True),
                file_edit.new_text().splitlines(keepends=True),
                fromfile=f"a/{rel}",
                tofile=f"b/{rel}",
            )
        return "".join(c if c.endswith("\n") else c + "\n" for c in chunks)


async def run_edit(
    engine: Engine,
    workspace: Workspace,
    target: DocumentSnapshot,
    selection: LineRange,
    instruction: str,
    *,
    snapshot_of: Callable[[Path], DocumentSnapshot],
    request_id: str | None = None,
    max_output: int = DEFAULT_MAX_OUTPUT,
    budget: int | None = None,
    on_text: Callable[[str], None] = lambda _t: None,
) -> EditOutcome:
    """Ask the model to edit ``selection`` of ``target``; raise an EditError if unusable."""
    if not instruction.strip():
        raise InvalidEditRequest("The instruction is empty: say what the edit should do.")
    if not target.path.resolve().is_relative_to(workspace.root):
        raise InvalidEditRequest(f"{target.path} is outside the workspace {workspace.root}.")
    if budget is None:
        budget = engine.max_context - max_output - engine.count_tokens(SYSTEM) - PROMPT_SLACK
    pack = workspace.pack(target.path, selection, instruction, budget)
    request = edit_request(pack, instruction, max_output)
    if request_id is not None:
        request = dataclasses.replace(request, request_id=request_id)
    stats = GenerationStats()
    pieces = [request.assistant_prefix]
    async for piece in engine.stream(request, stats):
        pieces.append(piece)
        on_text(piece)
    reply = "".join(pieces)
    if not reply.removeprefix(request.assistant_prefix).strip():
        raise NoDiffError(
            "The model's reply holds no unified diff: it stopped before writing a line."
        )
    rel = workspace.relative(target.path).as_posix()
    parsed = parse_diff(reply_diff(reply), default_path=rel)

    def snapshot(path: Path) -> DocumentSnapshot:
        return target if path == target.path.resolve() else snapshot_of(path)

    plan = build_plan(parsed, workspace.root, snapshot)
    if all(f.new_text() == f.snapshot.text for f in plan.files):
        raise EditError("The model's diff leaves the code as it was.")
    return EditOutcome(plan=plan, reply=reply, pack=pack, stats=stats)
