"""One edit, end to end and protocol-free: context -> prompt -> engine -> diff -> EditPlan.

Both the language server and the headless CLI run edits through :func:`run_edit`.
"""

from __future__ import annotations

import dataclasses
import difflib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fathom.backend.engine import (
    GREEDY,
    ChatMessage,
    ChatRequest,
    Decoding,
    Engine,
    GenerationStats,
)
from fathom.backend.model_info import SettingsError, local_model_info
from fathom.context import ContextPack, LineRange, Workspace
from fathom.edits.degenerate import RepetitionWatch, disproportion, reply_loop
from fathom.edits.diff_parse import ParsedDiff
from fathom.edits.errors import DiffParseError, EditError, NoDiffError, NotShownError
from fathom.edits.feedback import MAX_FEEDBACK_ROUNDS, Round, parse_error_message, run_rounds
from fathom.edits.formats import AUTO, EditFormat, default_format, format_system
from fathom.edits.new_version import refused_reply_as_new_version
from fathom.edits.plan import DocumentSnapshot, EditPlan, PlanBuilder, exists_via_snapshot
from fathom.edits.prompt import OPEN_FENCE, SYSTEM, edit_request, reply_diff
from fathom.edits.search_replace import has_blocks, parse_reply
from fathom.errors import FathomError
from fathom.pipeline.streaming import RedactedChat

# Tokens kept for the reply; a whole rewritten block of a few hundred lines fits.
DEFAULT_MAX_OUTPUT = 2048
# Chat-template and instruction text around the sections.
PROMPT_SLACK = 256


class InvalidEditRequest(FathomError):
    """The request itself is wrong (empty instruction, bad range); no model was asked."""


def engine_edit_format(engine: Engine, setting: str = AUTO) -> EditFormat:
    """The format to ask ``engine``'s model for: the setting, or with ``auto`` the one its
    shape follows best, read from the model folder's config.json when it is on this machine
    (a remote model whose shape is unknown gets whole blocks, which every model can write)."""
    if setting != AUTO:
        return EditFormat(setting)
    try:
        info = local_model_info(engine.model_name)
    except (SettingsError, OSError):
        info = None
    hidden = info.config.get("hidden_size") if info is not None else None
    is_moe = info is not None and info.is_moe
    return default_format(hidden if isinstance(hidden, int) else None, is_moe)


class _LoopSeen(Exception):
    """Raised from inside the stream to cut a looping reply off (never leaves run_edit)."""


@dataclass(frozen=True, slots=True)
class EditOutcome:
    plan: EditPlan
    reply: str  # the first reply; later rounds are in ``rounds``
    pack: ContextPack
    stats: GenerationStats  # summed over every round
    rounds: tuple[Round, ...] = ()
    context_s: float = 0.0  # building the context (the pack), for the edit's timings

    def unified_diff(self, root: Path) -> str:
        """The plan as a unified diff against the snapshots, for people to read."""
        return plan_diff(self.plan, root)


def plan_diff(plan: EditPlan, root: Path) -> str:
    """``plan`` as a unified diff against its snapshots, for people to read."""
    chunks: list[str] = []
    originals = {s.path: s.text for s in plan.snapshots()}
    for path, new in plan.final_texts().items():
        old = originals.get(path)
        rel = path.relative_to(root).as_posix()
        chunks += difflib.unified_diff(
            (old or "").splitlines(keepends=True),
            (new or "").splitlines(keepends=True),
            fromfile=f"a/{rel}" if old is not None else "/dev/null",
            tofile=f"b/{rel}" if new is not None else "/dev/null",
        )
    return "".join(c if c.endswith("\n") else c + "\n" for c in chunks)


def _check_shown(plan: EditPlan, pack: ContextPack, root: Path) -> None:
    """Refuse changes to files the model was not shown: it cannot know their text, so such
    a change comes from a guess or from instructions planted in what it read (a prompt
    injection: "also delete settings.py"). New files stay allowed."""
    shown = {(root / s.path).resolve() for s in pack.sections}
    touched = [f.snapshot.path for f in plan.files if f.new_text() != f.snapshot.text]
    touched += [r.source.path for r in plan.renames] + [d.snapshot.path for d in plan.deletes]
    unseen = sorted({p.resolve() for p in touched} - shown)
    if unseen:
        names = ", ".join(p.relative_to(root).as_posix() for p in unseen)
        raise NotShownError(
            f"The model's diff changes {names}, which it was not shown; nothing was applied. "
            "Open or select code of that file to include it in the edit."
        )


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
    on_text: Callable[[str, int], None] = lambda _t, _n: None,
    on_request: Callable[[str], None] = lambda _r: None,
    on_round: Callable[[int, str], None] = lambda _n, _m: None,
    on_reply: Callable[[str], None] = lambda _r: None,
    on_partial: Callable[[str], None] = lambda _r: None,
    on_plan: Callable[[EditPlan], None] = lambda _p: None,
    max_rounds: int = MAX_FEEDBACK_ROUNDS,
    edit_format: EditFormat = EditFormat.WHOLE_BLOCK,
    decoding: Decoding = GREEDY,
) -> EditOutcome:
    """Ask the model to edit ``selection`` of ``target``; raise an EditError if unusable.

    Hunks that do not land (or break the syntax) go back to the model, at most ``max_rounds``
    times; ``on_round(n, message)`` says so before each retry. ``on_request(id)`` names each
    engine request before it starts; ``on_text(piece, tokens)`` gets the reply as it streams
    with the output tokens of every round so far; ``on_reply`` each whole reply, and
    ``on_partial`` what a reply cut short (cancelled, engine failure) held. ``on_plan`` gets
    the plan before the last checks, so a refusal can still show what was planned.

    A reply that loops is cut off as soon as the loop shows (its engine request aborted);
    a reply that is empty, loops, changes nothing or is out of proportion to the selection
    and the instruction is asked again with the reason, within ``max_rounds``.
    """
    if not instruction.strip():
        raise InvalidEditRequest("The instruction is empty: say what the edit should do.")
    if not target.path.resolve().is_relative_to(workspace.root):
        raise InvalidEditRequest(f"{target.path} is outside the workspace {workspace.root}.")
    system = format_system(edit_format, SYSTEM)
    window = engine.max_context - max_output - engine.count_tokens(system) - PROMPT_SLACK
    budget = window if budget is None else min(budget, window)  # a setting cannot overflow it
    packing = time.perf_counter()
    pack = workspace.pack(target.path, selection, instruction, budget)
    context_s = time.perf_counter() - packing
    request = dataclasses.replace(
        edit_request(pack, instruction, max_output, edit_format),
        temperature=decoding.temperature,
        repetition_penalty=decoding.repetition_penalty,
    )
    if request_id is not None:
        request = dataclasses.replace(request, request_id=request_id)
    # One conversation over every round: secrets go to the engine as markers, and back.
    chat = RedactedChat(engine)

    async def generate(req: ChatRequest) -> str:
        """The reply; one that falls into a repetition loop is cut off there (closing the
        stream aborts the engine request) and returned as far as it went."""
        on_request(req.request_id)
        watch = RepetitionWatch()
        held: list[str] = []

        def text(piece: str, tokens: int) -> None:
            on_text(piece, tokens)
            if watch.feed(piece) is not None:
                raise _LoopSeen

        try:
            reply = await chat.reply(req, on_text=text, on_partial=held.append)
        except _LoopSeen:
            reply = held[-1]
        except BaseException:
            if held:
                on_partial(held[-1])
            raise
        on_reply(reply)
        return reply

    reply = await generate(request)
    rel = workspace.relative(target.path).as_posix()
    selected_lines = selection.end - selection.start

    def judge(parsed: ParsedDiff, text: str) -> str | None:
        hunks = [h for f in parsed.files for h in f.hunks]
        added = sum(1 for h in hunks for line in h.lines if line.kind == "+")
        removed = sum(1 for h in hunks for line in h.lines if line.kind == "-")
        return disproportion(instruction, selected_lines, removed, added, reply_loop(text))

    messages = list(request.messages)
    last_reply = reply
    rounds_asked = 0

    async def ask_again(message: str) -> str:
        nonlocal last_reply, rounds_asked
        rounds_asked += 1
        on_round(rounds_asked, message)
        messages.extend([ChatMessage("assistant", last_reply), ChatMessage("user", message)])
        temperature, seed = decoding.for_retry(rounds_asked)
        retry = dataclasses.replace(
            request,
            temperature=temperature,
            seed=seed,
            messages=tuple(messages),
            assistant_prefix=OPEN_FENCE if edit_format is EditFormat.WHOLE_BLOCK else "",
            request_id=f"{request.request_id}-retry{rounds_asked}",
        )
        last_reply = await generate(retry)
        return last_reply

    def snapshot(path: Path) -> DocumentSnapshot:
        return target if path == target.path.resolve() else snapshot_of(path)

    def parse(text: str) -> ParsedDiff:
        try:
            return parse_reply(reply_diff(text), default_path=rel)
        except (NoDiffError, DiffParseError) as exc:
            if edit_format is EditFormat.SEARCH_REPLACE and not has_blocks(text):
                # Not the diff parser's complaint: the model was asked for blocks.
                raise NoDiffError("The reply holds no SEARCH/REPLACE block.") from exc
            repaired = refused_reply_as_new_version(
                exc,
                reply_diff(text),
                rel,
                target.text,
                selection,
                unchanged_hunk=edit_format is not EditFormat.SEARCH_REPLACE,
            )
            if repaired is None:
                raise
            return repaired

    shown = [rel, *(section.path.as_posix() for section in pack.sections)]
    builder = PlanBuilder(workspace.root, snapshot, exists_via_snapshot(snapshot), shown=shown)

    def parse_message(error: Exception) -> str:
        return parse_error_message(error, edit_format, rel)

    plan, rounds = await run_rounds(
        builder, reply, parse, ask_again, max_rounds, judge, parse_message
    )
    on_plan(plan)
    moves_files = plan.creates or plan.renames or plan.deletes
    if not moves_files and all(f.new_text() == f.snapshot.text for f in plan.files):
        raise EditError("The model's diff leaves the code as it was.")
    _check_shown(plan, pack, workspace.root)
    return EditOutcome(
        plan=plan,
        reply=reply,
        pack=pack,
        stats=chat.stats,
        rounds=tuple(rounds),
        context_s=context_s,
    )
