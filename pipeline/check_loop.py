"""``fathom edit --check CMD``: the user's own check judges an edit before anything is written.

The edit is laid over a scratch copy of the workspace and ``CMD`` runs there; the user's files
are not touched until the check passes. When it fails, the model is asked for the edit again
with the check's output (Aider's lint/test loop, made safe for CI pipelines: a failing edit
never reaches the tree).

The copy leaves out ``.git`` (history is not what a test or a linter reads, and it can be the
largest folder of all); everything else, ignored build folders included, is copied, so a
check finds the tree as it would run on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from fathom.edits.plan import EditPlan

# How much of the check's output goes back to the model and into --json: the end, where test
# runners and compilers print the failures and their summary.
OUTPUT_TAIL_CHARS = 4000
DEFAULT_CHECK_ROUNDS = 2
DEFAULT_CHECK_TIMEOUT_S = 600.0


@dataclass(frozen=True, slots=True)
class CheckSettings:
    command: str
    rounds: int = DEFAULT_CHECK_ROUNDS  # edits asked again after a failed check
    timeout_s: float = DEFAULT_CHECK_TIMEOUT_S


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One run of the check on one attempt."""

    passed: bool
    exit_code: int | None  # None: stopped at the time limit
    output: str  # its tail, stdout and stderr interleaved as they came
    duration_s: float

    def describe(self, command: str) -> str:
        if self.exit_code is None:
            return f"the check `{command}` did not finish within its time limit"
        return f"the check `{command}` failed (exit {self.exit_code})"

    def as_json(self) -> dict[str, object]:
        return {
            "passed": self.passed,
            "exit_code": self.exit_code,
            "output": self.output,
            "duration_s": round(self.duration_s, 3),
        }


def lay_over(plan: EditPlan, root: Path, scratch: Path) -> None:
    """Write what ``plan`` makes of each file into ``scratch``, a copy of ``root``."""
    for path, text in plan.final_texts().items():
        copy = scratch / path.relative_to(root)
        if text is None:
            copy.unlink(missing_ok=True)
            continue
        copy.parent.mkdir(parents=True, exist_ok=True)
        # Byte for byte as write_plan would write it: no newline translation.
        copy.write_text(text, encoding="utf-8", newline="")


async def run_command(command: str, cwd: Path, timeout_s: float) -> CheckResult:
    """Run ``command`` with a shell in ``cwd``; its whole process group is stopped at the time
    limit or when the caller is cancelled, so no test runner outlives the edit."""
    started = time.monotonic()
    process = await asyncio.create_subprocess_shell(
        command,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout_s)
    except TimeoutError:
        _stop_group(process)
        output = b""
        if process.stdout is not None:
            with contextlib.suppress(Exception):
                output = await asyncio.wait_for(process.stdout.read(), 5)
        await process.wait()
        return CheckResult(False, None, _tail(output), time.monotonic() - started)
    except BaseException:
        _stop_group(process)
        raise
    code = process.returncode
    assert code is not None
    return CheckResult(code == 0, code, _tail(output), time.monotonic() - started)


def _stop_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _tail(output: bytes) -> str:
    text = output.decode("utf-8", errors="replace")
    if len(text) <= OUTPUT_TAIL_CHARS:
        return text
    return "…" + text[-OUTPUT_TAIL_CHARS:]


async def check_plan(plan: EditPlan, root: Path, settings: CheckSettings) -> CheckResult:
    """Copy ``root`` (without ``.git``), lay ``plan`` over the copy and run the check there."""
    with tempfile.TemporaryDirectory(prefix="fathom-check-") as scratch_dir:
        scratch = Path(scratch_dir) / root.name
        await asyncio.to_thread(
            shutil.copytree, root, scratch, symlinks=True, ignore=shutil.ignore_patterns(".git")
        )
        lay_over(plan, root, scratch)
        return await run_command(settings.command, scratch, settings.timeout_s)


def retry_instruction(instruction: str, diff: str, command: str, result: CheckResult) -> str:
    """The instruction for the next attempt: the user's words, what the last attempt changed,
    and what the check said of it."""
    return (
        f"{instruction.strip()}\n\n"
        f"An earlier attempt made this change:\n```diff\n{diff}```\n"
        f"but {result.describe(command)}. Its output ends with:\n```\n{result.output}\n```\n"
        "Write the edit again so that it does what the instruction asks and the check passes."
    )
