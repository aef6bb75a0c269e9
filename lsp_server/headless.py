"""The edit flow without an editor: ``fathom edit`` and ``fathom demo`` share it."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from backend.engine import EngineError
from backend.settings import VllmSettings
from context import ContextBudgetError, LineRange, UnreadableFileError, Workspace
from context.text import read_text_file
from edits.disk import write_plan
from edits.errors import EditError
from edits.plan import DocumentSnapshot
from lsp_server.edit_flow import EditOutcome, InvalidEditRequest, run_edit


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


async def headless_edit(
    path: Path,
    lines: tuple[int, int],
    instruction: str,
    settings: VllmSettings,
    root: Path | None = None,
) -> HeadlessResult:
    """Start the engine, run one edit of 1-based inclusive ``lines`` and return the outcome."""
    from backend.vllm_engine import VllmEngine

    path = path.resolve()
    root = (root or find_root(path)).resolve()
    snapshot = DocumentSnapshot(path=path, text=read_text_file(path), version=None)
    engine = VllmEngine(settings, progress=say)
    try:
        started = time.monotonic()
        async with ticking("Starting the engine…"):
            await engine.start()
        engine_start_s = time.monotonic() - started
        workspace = Workspace(root, engine)

        def snapshot_of(p: Path) -> DocumentSnapshot:
            return DocumentSnapshot(p, read_text_file(p), None)

        async with ticking("The model is writing the edit…"):
            outcome = await run_edit(
                engine,
                workspace,
                snapshot,
                LineRange(lines[0] - 1, lines[1]),
                instruction,
                snapshot_of=snapshot_of,
            )
        return HeadlessResult(outcome, root, engine_start_s)
    finally:
        await engine.close()


async def edit_file(
    path: Path,
    lines: tuple[int, int],
    instruction: str,
    *,
    apply: bool,
    settings: VllmSettings,
    root: Path | None = None,
    allow_delete: bool = False,
) -> int:
    try:
        result = await headless_edit(path, lines, instruction, settings, root)
    except (InvalidEditRequest, ContextBudgetError, UnreadableFileError) as exc:
        say(f"fathom: {exc}")
        return 2
    except (EditError, EngineError) as exc:
        say(f"fathom: no edit: {exc}")
        return 1
    print(result.outcome.unified_diff(result.root), end="")
    if apply:
        try:
            for written in write_plan(result.outcome.plan, allow_delete=allow_delete):
                say(f"applied to {written}")
        except (EditError, UnreadableFileError) as exc:
            say(f"fathom: not applied: {exc}")
            return 1
    return 0
