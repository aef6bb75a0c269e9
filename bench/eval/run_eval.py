"""The edit evaluation (issue 21): Fathom's real edit pipeline over a suite of small projects,
judged by hidden tests.

    .venv/bin/python bench/eval/run_eval.py --check-references            # the suite's self-check
    .venv/bin/python bench/eval/run_eval.py --label cpu-0.5b               # every task, CPU default
    .venv/bin/python bench/eval/run_eval.py --tasks py-roman,js-paginate --label try
    .venv/bin/python bench/eval/run_eval.py --serve --model qwen2.5-coder-1.5b --label cpu-1.5b
    .venv/bin/python bench/eval/run_eval.py --server-url http://gpu:8000/v1 --server-model M ...

Each task's project is copied into a fresh git repository and edited by
``fathom edit TARGET --range L1:L2 --instruction ... --apply --json`` exactly as a user types
it (engine options are passed through); then the hidden tests are copied in and run. Results:
a table, ``bench/results/eval_<label>.json`` and ``.md``. ``--serve`` starts one model server
for the run and points every edit at it. ``--check-references`` instead checks that every
task's tests fail on ``before/`` and pass with ``reference/`` (exit 1 if not).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import REPO, fathom_commit
from bench.eval import report
from bench.eval.check import check_references
from bench.eval.edit_run import run_task
from bench.eval.model_server import ServedModel, ServerError, serve
from bench.eval.suite_io import SUITE, Task, TaskFormatError, load_suite

# Engine options of ``fathom edit`` the harness passes through unchanged (with ``--serve``
# the harness's own server replaces them).
ENGINE_OPTIONS = ("model", "max_model_len", "server_url", "server_model", "server_tokenizer")
DEFAULT_MODEL = "default"


def _fathom(explicit: str | None) -> list[str]:
    """How to start Fathom: ``--fathom``, else the ``fathom`` beside this Python, else PATH."""
    if explicit:
        # Edits run in their task's folder: a relative path is the caller's.
        return [str(Path(explicit).resolve()) if Path(explicit).exists() else explicit]
    beside = Path(sys.executable).parent / "fathom"
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("fathom")
    if found is None:
        raise SystemExit("run_eval: no `fathom` command found (pass --fathom PATH)")
    return [found]


def _engine_args(args: argparse.Namespace, served: ServedModel | None) -> list[str]:
    """The options every ``fathom edit`` gets besides the task's own."""
    out = ["--edit-format", args.edit_format] if args.edit_format else []
    for option, value in (
        ("--temperature", args.temperature),
        ("--repetition-penalty", args.repetition_penalty),
        ("--retry-temperature", args.retry_temperature),
    ):
        if value is not None:
            out += [option, str(value)]
    if served is not None:
        return [
            *out,
            "--server-url",
            served.url,
            "--server-model",
            served.name,
            "--server-tokenizer",
            served.root,
        ]
    for name in ENGINE_OPTIONS:
        value = getattr(args, name)
        if value is not None:
            out += [f"--{name.replace('_', '-')}", str(value)]
    return out


def check_args(task: Task, rounds: int) -> list[str]:
    """``fathom edit --check``: the hidden tests copied into Fathom's scratch copy, then run
    (the model sees their output only when they fail, never the tests' files)."""
    tests = shlex.quote(f"{task.tests}/.")
    check = f"mkdir -p tests && cp -R {tests} tests/ && {task.test_command}"
    return [
        "--check",
        check,
        "--check-rounds",
        str(rounds),
        "--check-timeout",
        str(task.test_timeout_s),
    ]


def user_models() -> Path:
    """Where the user's Fathom keeps its converted models (backend/default_model.py)."""
    explicit = os.environ.get("FATHOM_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser() / "models"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "fathom" / "models"


@contextmanager
def eval_cache(explicit: Path | None) -> Iterator[tuple[Path, str]]:
    """(the ``FATHOM_CACHE_DIR`` every edit runs with, how to describe it). Default: a fresh
    folder for the run whose ``models`` links to the user's, so the packaged model converted
    once is reused while the index, journal and logs start empty and the user's stay
    untouched. The folder goes when the run ends; the user's models stay."""
    if explicit is not None:
        explicit.mkdir(parents=True, exist_ok=True)
        yield explicit.resolve(), str(explicit)
        return
    with tempfile.TemporaryDirectory(prefix="fathom-eval-cache-") as scratch:
        cache, models = Path(scratch), user_models()
        if models.is_dir():
            (cache / "models").symlink_to(models.resolve(), target_is_directory=True)
            yield cache, f"a temporary folder, models from {models}"
        else:
            yield cache, "a temporary folder (models converted there)"


def _model_label(args: argparse.Namespace, served: ServedModel | None) -> str:
    if served is not None:
        return f"{args.model or DEFAULT_MODEL} ({served.name}), served once by vLLM's OpenAI server"
    if args.server_url:
        return f"{args.server_model or 'server default'} at {args.server_url}"
    if args.model in (None, DEFAULT_MODEL):
        return "default (embedded CPU engine, packaged Qwen2.5-Coder-0.5B-Instruct)"
    return f"{args.model} (embedded engine)"


def _shown_path(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (results travel)."""
    try:
        return path.resolve().relative_to(REPO).as_posix()
    except ValueError:
        return str(path)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--suite", type=Path, default=SUITE, help="the suite folder")
    p.add_argument("--tasks", help="comma-separated task ids (default: all)")
    p.add_argument("--check-references", action="store_true", help="self-check the suite only")
    p.add_argument("--jobs", type=int, default=1, help="tasks checked at once (self-check only)")
    p.add_argument("--label", default="run", help="results go to eval_<label>.json/.md")
    p.add_argument("--out", type=Path, default=report.RESULTS, help="folder for the results")
    p.add_argument("--edit-timeout", type=float, default=900, help="seconds per fathom edit")
    p.add_argument("--fathom", help="the fathom command (default: the one beside this Python)")
    p.add_argument(
        "--cache-dir",
        type=Path,
        help="FATHOM_CACHE_DIR for every edit (default: a temporary folder whose models/ "
        "links to your cache's, so the converted model is reused and your index is not)",
    )
    serving = p.add_argument_group("one model server for the whole run")
    serving.add_argument(
        "--serve",
        action="store_true",
        help="start one OpenAI-compatible server (fathom serve-model's settings) for --model "
        "on a free loopback port and point every edit at it",
    )
    serving.add_argument(
        "--serve-timeout", type=float, default=1200, help="seconds for the server to answer"
    )
    serving.add_argument(
        "--server-log", type=Path, help="the server's log (default: in the temp folder)"
    )
    p.add_argument(
        "--check-loop",
        action="store_true",
        help="pass fathom edit --check with the task's hidden tests as the check (run on "
        "its scratch copy): a failing edit is asked again with the test output, at most "
        "--check-rounds times, like the second try of Aider's benchmark",
    )
    p.add_argument("--check-rounds", type=int, default=2, help="with --check-loop (default 2)")
    p.add_argument(
        "--edit-format",
        metavar="FORMAT",
        help="passed to fathom edit: the edit format asked of the model (see its --help)",
    )
    p.add_argument("--temperature", type=float, help="passed to fathom edit (default: greedy)")
    p.add_argument("--repetition-penalty", type=float, help="passed to fathom edit (default: none)")
    p.add_argument(
        "--retry-temperature", type=float, help="passed to fathom edit (default: its own)"
    )
    engine = p.add_argument_group("engine options passed to fathom edit")
    engine.add_argument(
        "--model", help="the model run or, with --serve, served (default, qwen2.5-coder-1.5b, ...)"
    )
    engine.add_argument("--max-model-len", type=int)
    engine.add_argument("--server-url")
    engine.add_argument("--server-model")
    engine.add_argument("--server-tokenizer")
    return p.parse_args(argv)


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # As Ctrl-C does: the ``finally`` blocks stop the model server and the edit running.
    raise KeyboardInterrupt


def check_suite(tasks: list[Task], jobs: int) -> int:
    """``--check-references``: 0 when every task fails before and passes with its reference."""
    failed = check_references(tasks, jobs=jobs, say=lambda m: print(m, flush=True))
    passing = len(tasks) - len(failed)
    print(f"{passing} of {len(tasks)} tasks fail before and pass with their reference")
    if failed:
        print("tasks that do not: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve and (args.server_url or args.server_model or args.server_tokenizer):
        print("run_eval: --serve starts its own server: leave out --server-*", file=sys.stderr)
        return 2
    ids = [i.strip() for i in args.tasks.split(",") if i.strip()] if args.tasks else None
    try:
        tasks = load_suite(args.suite.resolve(), ids)
    except TaskFormatError as exc:
        print(f"run_eval: {exc}", file=sys.stderr)
        return 2
    if not tasks:
        print(f"run_eval: no tasks in {args.suite}", file=sys.stderr)
        return 2
    if args.check_references:
        return check_suite(tasks, args.jobs)

    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    fathom = _fathom(args.fathom)
    # Each edit runs the working tree's Fathom: the commit it held when the run began.
    commit, dirty = fathom_commit()
    with ExitStack() as stack:
        cache, cache_shown = stack.enter_context(eval_cache(args.cache_dir))
        served: ServedModel | None = None
        if args.serve:
            log = (
                args.server_log
                or Path(tempfile.gettempdir()) / f"fathom-eval-{args.label}-server.log"
            )
            try:
                served = stack.enter_context(
                    serve(
                        fathom,
                        args.model or DEFAULT_MODEL,
                        cache,
                        log,
                        max_model_len=args.max_model_len,
                        start_timeout_s=args.serve_timeout,
                        say=lambda m: print(m, flush=True),
                    )
                )
            except ServerError as exc:
                print(f"run_eval: {exc}", file=sys.stderr)
                return 3
            print(f"the model server answered after {served.start_s} s", flush=True)
        engine_args = _engine_args(args, served)
        run = {
            "model": _model_label(args, served),
            "fathom_command": [
                *fathom,
                "edit",
                "TARGET",
                "--range",
                "L1:L2",
                "--instruction",
                "...",
                "--apply",
                "--json",
                *engine_args,
            ],
            "suite": _shown_path(args.suite),
            "edit_timeout_s": args.edit_timeout,
            "edit_format": args.edit_format or "fathom edit's default",
            "decoding": {
                "temperature": 0.0 if args.temperature is None else args.temperature,
                "repetition_penalty": (
                    1.0 if args.repetition_penalty is None else args.repetition_penalty
                ),
                # None: fathom edit's default, whatever it is at the recorded commit.
                "retry_temperature": args.retry_temperature,
            },
            "check_loop": (
                f"the hidden tests, at most {args.check_rounds} more attempt(s)"
                if args.check_loop
                else None
            ),
            "cache_dir": cache_shown,
            "server": None
            if served is None
            else {"command": served.command, "start_s": served.start_s, "log": str(served.log)},
        }
        rows: list[dict] = []
        for n, task in enumerate(tasks, 1):
            print(
                f"[{n}/{len(tasks)}] {task.id}: {task.target} {task.start}:{task.end}", flush=True
            )
            row = run_task(
                task,
                fathom,
                engine_args + (check_args(task, args.check_rounds) if args.check_loop else []),
                args.edit_timeout,
                cache,
            )
            rows.append(row)
            # Written after every task: an interrupted run keeps what it measured.
            progress = {"tasks_planned": len(tasks), "complete": n == len(tasks)}
            report.write(args.label, run | progress, rows, args.out, commit, dirty)
            print(
                f"    {row['outcome']}, {'passed' if row['passed'] else 'failed'}, "
                f"{row['edit_s']} s, changed: {', '.join(row['files_changed']) or 'nothing'}"
                + (f" ({row['message']})" if row["message"] else ""),
                flush=True,
            )
    json_path, md_path = report.write(
        args.label,
        run | {"tasks_planned": len(tasks), "complete": True},
        rows,
        args.out,
        commit,
        dirty,
    )
    print("\n".join(report.table(report.groups(rows))))
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        # The ``finally`` blocks have run: the model server and the edit running are stopped.
        print(
            "run_eval: interrupted; the tasks done so far are in its results (complete: false)",
            file=sys.stderr,
        )
        sys.exit(130)
