"""The edit flow without an editor: ``fathom edit`` and ``fathom demo`` share it."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

from fathom.backend.engine import GREEDY, Decoding, Engine, EngineError
from fathom.backend.tokenizer import engine_fingerprint
from fathom.context import ContextBudgetError, LineRange, UnreadableFileError, Workspace
from fathom.context.text import read_text_file
from fathom.edits.disk import write_plan
from fathom.edits.errors import EditError
from fathom.edits.formats import AUTO
from fathom.edits.plan import DocumentSnapshot
from fathom.pipeline.check_loop import CheckResult, CheckSettings, check_plan, retry_instruction
from fathom.pipeline.edit_flow import EditOutcome, InvalidEditRequest, engine_edit_format, run_edit
from fathom.pipeline.repositories import index_repository


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextlib.asynccontextmanager
async def ticking(label: str) -> AsyncIterator[None]:
    """A progress line with elapsed seconds while a slow step runs."""
    started = time.monotonic()
    tty = sys.stderr.isatty()

    async def tick() -> None:
        while True:
            await asyncio.sleep(1 if tty else 10)
            elapsed = time.monotonic() - started
            if tty:
                print(f"\r{label} {elapsed:.0f} s", end="", file=sys.stderr, flush=True)
            else:
                say(f"{label} {elapsed:.0f} s")

    task = asyncio.create_task(tick())
    try:
        yield
    finally:
        task.cancel()
        if tty:
            print(f"\r{label} done in {time.monotonic() - started:.1f} s", file=sys.stderr)
        else:
            say(f"{label} done in {time.monotonic() - started:.1f} s")


def resolved(where: str, command: str) -> Path | None:
    """``where`` made absolute, or None after saying why not (a symlink loop: ELOOP)."""
    try:
        return Path(where).resolve()
    except (RuntimeError, OSError) as exc:  # pathlib raises RuntimeError for a loop
        print(f"fathom {command}: cannot follow {where}: {exc}", file=sys.stderr)
        return None


def find_root(path: Path) -> Path:
    for parent in [path.parent, *path.parents]:
        if (parent / ".git").exists():
            return parent
    return path.parent


@dataclass(frozen=True, slots=True)
class HeadlessResult:
    outcome: EditOutcome
    root: Path
    engine_start_s: float
    checks: tuple[CheckResult, ...] = ()  # one per attempt when --check ran, the last decides
    attempts: int = 1  # edits asked for: the first and those asked again after a failed check

    @property
    def check_failed(self) -> bool:
        return bool(self.checks) and not self.checks[-1].passed


async def headless_edit(
    path: Path,
    lines: tuple[int, int],
    instruction: str,
    engine: Engine,
    root: Path | None = None,
    edit_format: str = AUTO,
    check: CheckSettings | None = None,
    on_reply: Callable[[str], None] = lambda _r: None,
    decoding: Decoding = GREEDY,
) -> HeadlessResult:
    """Start ``engine``, index the workspace as the server does, run one edit of 1-based
    inclusive ``lines`` and return the outcome; the engine is closed on every way out.

    With ``check``, each edit is checked on a scratch copy and asked again with the check's
    output while it fails, at most ``check.rounds`` times (see check_loop)."""
    path = path.resolve()
    root = (root or find_root(path)).resolve()
    try:
        # A file that cannot be edited (missing, binary, unreadable) is said before the engine
        # starts, which takes half a minute or more on a CPU.
        read_text_file(path)
        started = time.monotonic()
        async with ticking("Starting the engine…"):
            await engine.start()
        engine_start_s = time.monotonic() - started
        # The server's context: the repository index (cached, so a second run re-reads only
        # changed files), ranked chunks and the map, under the same rules of what is shown.
        async with ticking(f"Indexing {root.name}…"):
            fingerprint = await asyncio.to_thread(engine_fingerprint, engine)
            repository, _stats, notes = await asyncio.to_thread(
                index_repository, root, engine, fingerprint
            )
        for note in notes:
            say(f"fathom: {note}")
        try:
            workspace = Workspace(root, engine, repository=repository)
            snapshot = DocumentSnapshot(path=path, text=workspace.read(path), version=None)

            def snapshot_of(p: Path) -> DocumentSnapshot:
                return DocumentSnapshot(p, read_text_file(p), None)

            async def attempt(words: str) -> EditOutcome:
                async with ticking("The model is writing the edit…"):
                    return await run_edit(
                        engine,
                        workspace,
                        snapshot,
                        LineRange(lines[0] - 1, lines[1]),
                        words,
                        snapshot_of=snapshot_of,
                        edit_format=engine_edit_format(engine, edit_format),
                        on_reply=on_reply,
                        decoding=decoding,
                    )

            outcome = await attempt(instruction)
            if check is None:
                return HeadlessResult(outcome, root, engine_start_s)
            return await _checked(outcome, attempt, instruction, root, engine_start_s, check)
        finally:
            repository.index.close()
    finally:
        await engine.close()


async def _checked(
    outcome: EditOutcome,
    attempt: Callable[[str], Awaitable[EditOutcome]],
    instruction: str,
    root: Path,
    engine_start_s: float,
    check: CheckSettings,
) -> HeadlessResult:
    """Check ``outcome``; while the check fails and rounds remain, ask for the edit again with
    what the check printed. An attempt the model botches (refused) leaves the last checked
    one standing, and its round is spent."""
    checks: list[CheckResult] = []
    attempts = 1
    while True:
        async with ticking(f"Checking the edit with `{check.command}`…"):
            result = await check_plan(outcome.plan, root, check)
        checks.append(result)
        say(f"fathom: {result.describe(check.command)}" if not result.passed else "check passed")
        while not result.passed and attempts <= check.rounds:
            attempts += 1
            say(f"fathom: asking for the edit again ({attempts - 1} of {check.rounds})")
            diff = outcome.unified_diff(root)
            try:
                outcome = await attempt(retry_instruction(instruction, diff, check.command, result))
                break
            except EditError as exc:
                say(f"fathom: that attempt was refused: {exc}")
        else:  # passed, or no round left: the last checked attempt is the answer
            return HeadlessResult(outcome, root, engine_start_s, tuple(checks), attempts)


# Exit statuses of ``fathom edit`` (and ``fathom apply``): scripts tell a refusal from an engine
# that could not answer, and from a request that was wrong before any model was asked.
EXIT_REFUSED = 1
EXIT_BAD_REQUEST = 2
EXIT_ENGINE_FAILED = 3


def edit_summary(
    result: HeadlessResult | None, error: str | None, written: list[Path], replies: list[str]
) -> str:
    """What ``fathom edit --json`` prints: the figures a script or the eval harness reads,
    and every reply the model wrote, in order (refused ones too: what a refusal refused)."""
    if result is None:
        return orjson.dumps({"applied": False, "error": error, "replies": replies}).decode()
    outcome = result.outcome
    return orjson.dumps(
        {
            "applied": bool(written),
            "error": error,
            "diff": outcome.unified_diff(result.root),
            "files": [p.relative_to(result.root).as_posix() for p in outcome.plan.final_texts()],
            "written": [str(p) for p in written],
            # What Fathom mended in the replies to apply them (a shortened path, a lost marker).
            "repairs": list(outcome.plan.repairs),
            "rounds": max(1, len(outcome.rounds)),  # one Round per reply, the first included
            "prompt_tokens": outcome.stats.prompt_tokens,
            "completion_tokens": outcome.stats.completion_tokens,
            "generation_s": round(outcome.stats.total_s, 3),
            "context_s": round(outcome.context_s, 3),
            "engine_start_s": round(result.engine_start_s, 3),
            "attempts": result.attempts,
            "checks": [c.as_json() for c in result.checks],
            "replies": replies,
        }
    ).decode()


async def edit_file(
    path: Path,
    lines: tuple[int, int],
    instruction: str,
    *,
    apply: bool,
    engine: Engine,
    root: Path | None = None,
    allow_delete: bool = False,
    as_json: bool = False,
    edit_format: str = AUTO,
    check: CheckSettings | None = None,
    decoding: Decoding = GREEDY,
) -> int:
    replies: list[str] = []  # each whole, with the opening Fathom wrote for the model

    def done(
        status: int,
        result: HeadlessResult | None,
        error: str | None,
        written: list[Path] | None = None,
    ) -> int:
        if as_json:
            print(edit_summary(result, error, written or [], replies))
        return status

    try:
        result = await headless_edit(
            path, lines, instruction, engine, root, edit_format, check, replies.append, decoding
        )
    except (InvalidEditRequest, ContextBudgetError, UnreadableFileError) as exc:
        say(f"fathom: {exc}")
        return done(EXIT_BAD_REQUEST, None, str(exc))
    except EngineError as exc:
        say(f"fathom: the engine failed: {exc}")
        return done(EXIT_ENGINE_FAILED, None, str(exc))
    except EditError as exc:
        say(f"fathom: no edit: {exc}")
        return done(EXIT_REFUSED, None, str(exc))
    if not as_json:
        print(result.outcome.unified_diff(result.root), end="")
    if result.check_failed:
        assert check is not None
        reason = (
            f"{result.checks[-1].describe(check.command)} after {result.attempts} attempt(s); "
            "nothing was written"
        )
        say(f"fathom: {reason}. Its output ends with:\n{result.checks[-1].output}")
        return done(EXIT_REFUSED, result, reason)
    written: list[Path] = []
    if apply:
        try:
            for path_written in write_plan(result.outcome.plan, allow_delete=allow_delete):
                say(f"applied to {path_written}")
                written.append(path_written)
        except (EditError, UnreadableFileError) as exc:
            say(f"fathom: not applied: {exc}")
            return done(EXIT_REFUSED, result, f"not applied: {exc}")
    return done(0, result, None, written)
