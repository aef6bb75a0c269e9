"""The feedback loop: hunks that did not land go back to the model with the exact reason.

Each round tells the model which hunks failed, why, and what the file holds around the place
they were meant for; hunks that landed are kept and not asked again. After
``MAX_FEEDBACK_ROUNDS`` the edit is refused with the last reasons.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fathom.edits.diff_parse import ParsedDiff
from fathom.edits.errors import DiffParseError, EditError, NoDiffError
from fathom.edits.formats import EditFormat
from fathom.edits.hunk_failures import HunkFailure
from fathom.edits.plan import EditPlan, PlanBuilder

MAX_FEEDBACK_ROUNDS = 3
# The longest reply read (characters): far more than any output budget lets a model write,
# so only a runaway or hostile server reaches it.
MAX_REPLY_CHARS = 1 << 20


class ReplyTooLargeError(EditError):
    """The reply is longer than Fathom reads; nothing of it was applied."""


@dataclass(frozen=True, slots=True)
class Round:
    """One model reply and what became of it."""

    reply: str
    failures: tuple[HunkFailure, ...]
    parse_error: str | None = None


def feedback_message(failures: list[HunkFailure], kept: int) -> str:
    """What the model is told about the hunks that did not land."""
    parts = [
        "Your diff did not apply completely. "
        + (
            f"{kept} hunk(s) applied and are kept: do not send them again. "
            if kept
            else "Nothing was applied. "
        )
        + "Fix these and reply with a unified diff of only the corrected hunks:"
    ]
    for failure in failures:
        parts.append(f"\n- {failure.reason}")
        if failure.around:
            parts.append(
                f"  The file now reads (line numbers are not part of it):\n```\n{failure.around}```"
            )
    return "\n".join(parts)


class SuspectReplyError(EditError):
    """A reply that parsed but must not be applied (a loop, a deleted selection, far too
    much); asked again while rounds remain, then refused with the reason."""


def suspect_message(reason: str) -> str:
    return (
        f"Your reply was not applied: {reason}. Reply again with an edit that does exactly "
        "what the instruction asks, once."
    )


def parse_error_message(
    error: Exception, fmt: EditFormat = EditFormat.WHOLE_BLOCK, path: str = "PATH"
) -> str:
    """What to tell a model whose reply could not be read, in the format it was asked for and
    with the real path (a small model copies a placeholder such as PATH as it stands)."""
    if fmt is EditFormat.SEARCH_REPLACE:
        return (
            f"Your reply could not be read as SEARCH/REPLACE blocks: {error} Reply with the "
            f"file's path ({path}) on a line, then a fenced block: '<<<<<<< SEARCH', the lines "
            "to change copied exactly, '=======', the new lines, '>>>>>>> REPLACE'."
        )
    return (
        f"Your reply could not be read as a unified diff: {error} Reply with a unified diff: "
        f"'--- a/{path}', '+++ b/{path}', '@@ @@', then the lines with '-', '+' or ' '."
    )


async def run_rounds(
    builder: PlanBuilder,
    first_reply: str,
    parse: Callable[[str], ParsedDiff],
    ask_again: Callable[[str], Awaitable[str]],
    max_rounds: int = MAX_FEEDBACK_ROUNDS,
    judge: Callable[[ParsedDiff, str], str | None] = lambda _p, _r: None,
    parse_message: Callable[[Exception], str] = parse_error_message,
) -> tuple[EditPlan, list[Round]]:
    """Feed failures back until every hunk lands or the rounds run out; then build the plan.

    ``ask_again(message)`` sends ``message`` to the model as the next user turn and returns
    its reply. ``judge(parsed, reply)`` names what makes a readable reply suspect (a loop, a
    reply out of proportion); such a reply is asked again like an unreadable one, and
    ``parse_message(error)`` is what an unreadable one is told. Raises the
    plan's EditError (or the last parse error or suspicion) if the rounds run out.
    """
    rounds: list[Round] = []
    reply = first_reply
    last_parse_error: Exception | None = None
    for round_number in range(max_rounds + 1):
        if any(reply == earlier.reply for earlier in rounds):
            # The model wrote a reply it wrote before: it would fail as that one did, and a
            # greedy model asked again would write it once more. The rounds left are saved.
            break
        if len(reply) > MAX_REPLY_CHARS:
            raise ReplyTooLargeError(
                f"The model's reply holds {len(reply):,} characters, more than the "
                f"{MAX_REPLY_CHARS:,} Fathom reads; nothing was applied."
            )
        try:
            # Parsing, locating and the syntax check of a long reply take seconds of CPU:
            # off the event loop, so the server keeps answering (fathom.status, typing).
            parsed = await asyncio.to_thread(parse, reply)
        except (NoDiffError, DiffParseError) as exc:
            # A garbled retry keeps what landed before; a garbled first reply has nothing.
            last_parse_error = exc
            rounds.append(Round(reply, tuple(builder.failures), str(exc)))
            message = parse_message(exc)
        else:
            if (reason := judge(parsed, reply)) is not None:
                last_parse_error = SuspectReplyError(f"Not applied: {reason}.")
                rounds.append(Round(reply, tuple(builder.failures), reason))
                if round_number == max_rounds:
                    break
                reply = await ask_again(suspect_message(reason))
                continue
            last_parse_error = None
            failures = await asyncio.to_thread(builder.add, parsed)
            rounds.append(Round(reply, tuple(failures)))
            if not failures:
                return builder.plan(), rounds
            message = feedback_message(failures, builder.kept_hunks)
        if round_number == max_rounds:
            break
        reply = await ask_again(message)
    if last_parse_error is not None and not builder.has_content:
        raise last_parse_error
    return builder.plan(), rounds
