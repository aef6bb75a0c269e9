"""The suite on disk: tasks read from ``task.toml``, checked for shape, copied into scratch
workspaces; and commands run there with a time limit.

A task folder holds ``task.toml``, ``before/`` (the project as the user has it), ``reference/``
(only the files the reference solution changes, whole) and ``tests/`` (hidden tests, copied in
only to check, so the model never sees them).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

SUITE = Path(__file__).resolve().parent / "suite"
LANGUAGES = ("python", "javascript", "rust", "java")
DEFAULT_TEST_TIMEOUT_S = 180


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    folder: Path
    language: str
    target: str  # relative to before/
    start: int  # 1-based, inclusive
    end: int
    instruction: str
    test_command: str
    multi_file: bool
    changes: tuple[str, ...]  # the files the reference solution changes
    licence: str
    test_timeout_s: int

    @property
    def before(self) -> Path:
        return self.folder / "before"

    @property
    def reference(self) -> Path:
        return self.folder / "reference"

    @property
    def tests(self) -> Path:
        return self.folder / "tests"


class TaskFormatError(ValueError):
    """A ``task.toml`` that cannot be read as a task."""


def load_task(folder: Path) -> Task:
    try:
        raw = tomllib.loads((folder / "task.toml").read_text(encoding="utf-8"))
        first, _, last = str(raw["selection"]).partition("-")
        return Task(
            id=str(raw["id"]),
            folder=folder,
            language=str(raw["language"]),
            target=str(raw["target"]),
            start=int(first),
            end=int(last or first),
            instruction=str(raw["instruction"]),
            test_command=str(raw["test_command"]),
            multi_file=bool(raw["multi_file"]),
            changes=tuple(str(p) for p in raw["changes"]),
            licence=str(raw["licence"]),
            test_timeout_s=int(raw.get("test_timeout_s", DEFAULT_TEST_TIMEOUT_S)),
        )
    except (OSError, tomllib.TOMLDecodeError, KeyError, ValueError, TypeError) as exc:
        raise TaskFormatError(f"{folder.name}: unreadable task.toml: {exc!r}") from exc


def load_suite(suite: Path, ids: list[str] | None = None) -> list[Task]:
    """The tasks of ``suite`` in name order, or only ``ids`` (an unknown id is an error)."""
    folders = {p.name: p for p in sorted(suite.iterdir()) if (p / "task.toml").is_file()}
    if ids:
        unknown = [i for i in ids if i not in folders]
        if unknown:
            raise TaskFormatError(f"no such task in {suite}: {', '.join(unknown)}")
        return [load_task(folders[i]) for i in ids]
    return [load_task(folder) for folder in folders.values()]


def files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def shape_problems(task: Task) -> list[str]:
    """What is wrong with the task's files and fields, before anything runs."""
    problems: list[str] = []
    if task.id != task.folder.name:
        problems.append(f"id {task.id!r} is not its folder's name")
    if task.language not in LANGUAGES:
        problems.append(f"language {task.language!r} is not one of {', '.join(LANGUAGES)}")
    target = task.before / task.target
    if not target.is_file():
        problems.append(f"target {task.target} is not a file in before/")
    else:
        lines = len(target.read_text(encoding="utf-8").splitlines())
        if not 1 <= task.start <= task.end <= lines:
            problems.append(f"selection {task.start}-{task.end} is outside 1-{lines}")
    reference = files_under(task.reference) if task.reference.is_dir() else []
    if sorted(task.changes) != reference:
        problems.append(f"changes {sorted(task.changes)} are not reference/'s files {reference}")
    if task.target not in task.changes:
        problems.append("the reference does not change the target")
    if task.multi_file != (len(task.changes) > 1):
        problems.append(f"multi_file is {task.multi_file} but the reference changes {reference}")
    for name in reference:
        old = task.before / name
        if old.is_file() and old.read_bytes() == (task.reference / name).read_bytes():
            problems.append(f"reference/{name} is the same as before/{name}")
    if not task.tests.is_dir() or not files_under(task.tests):
        problems.append("no hidden tests in tests/")
    return problems


def copy_into(source: Path, dest: Path) -> None:
    """Copy the tree ``source`` over ``dest`` (files in both take ``source``'s content)."""
    shutil.copytree(source, dest, dirs_exist_ok=True)


def add_tests(task: Task, workspace: Path) -> None:
    copy_into(task.tests, workspace / "tests")


def cache_env(cache_dir: Path) -> dict[str, str]:
    """The caches a run's edits and its model server write: Fathom's and vLLM's, both in the
    run's own folder, so a run never reads or writes the user's."""
    return {"FATHOM_CACHE_DIR": str(cache_dir), "VLLM_CACHE_ROOT": str(cache_dir / "vllm")}


def tool_env() -> dict[str, str]:
    """The environment test commands run in: this Python's ``bin`` first (``python`` is the
    harness's own, with pytest), then cargo's, with colours and bytecode files off. The hidden
    tests need pytest alone: the plugins installed beside it (asyncio, LSP, hypothesis) are
    not loaded, which takes a Python task's test run from seconds to half of one."""
    paths = [str(Path(sys.executable).parent), str(Path.home() / ".cargo" / "bin")]
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([*paths, env.get("PATH", "")])
    env.update(
        PYTHONDONTWRITEBYTECODE="1",
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
        NO_COLOR="1",
        CARGO_TERM_COLOR="never",
    )
    return env


@dataclass(frozen=True, slots=True)
class CommandResult:
    exit_code: int | None  # None: killed at the time limit
    stdout: str
    stderr: str
    seconds: float

    @property
    def timed_out(self) -> bool:
        return self.exit_code is None

    def tail(self, chars: int = 1500) -> str:
        return (self.stdout + self.stderr)[-chars:]


def run_command(
    command: str | list[str], cwd: Path, timeout_s: float, env: dict[str, str] | None = None
) -> CommandResult:
    """Run ``command`` (a shell line, or argv) in ``cwd``; at ``timeout_s``, or when the
    harness is interrupted, its whole process group is killed (a test runner or an engine
    leaves children that would outlive it)."""
    started = time.monotonic()
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        shell=isinstance(command, str),
        env=env or tool_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout_s)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        code = None
    except BaseException:
        # Ctrl-C reaches only the harness (the command has its own session): end the
        # command with it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    return CommandResult(code, out, err, time.monotonic() - started)
