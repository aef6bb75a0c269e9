"""The edit evaluation (issue 21): Fathom's real edit pipeline over a suite of small projects,
judged by hidden tests.

    .venv/bin/python bench/eval/run_eval.py --check-references            # the suite's self-check
    .venv/bin/python bench/eval/run_eval.py --label cpu-0.5b               # every task, CPU default
    .venv/bin/python bench/eval/run_eval.py --tasks py-roman,js-paginate --label try
    .venv/bin/python bench/eval/run_eval.py --server-url http://gpu:8000/v1 --server-model M ...

Each task's project is copied into a fresh git repository and edited by
``fathom edit TARGET --range L1:L2 --instruction ... --apply`` exactly as a user types it
(engine options are passed through); then the hidden tests are copied in and run. Results:
a table, ``bench/results/eval_<label>.json`` and ``.md``. ``--check-references`` instead checks
that every task's tests fail on ``before/`` and pass with ``reference/`` (exit 1 if not).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.eval import report
from bench.eval.check import check_references
from bench.eval.edit_run import run_task
from bench.eval.suite_io import SUITE, TaskFormatError, load_suite

# Engine options of ``fathom edit`` the harness passes through unchanged.
ENGINE_OPTIONS = ("model", "max_model_len", "server_url", "server_model", "server_tokenizer")


def _fathom(explicit: str | None) -> list[str]:
    """How to start Fathom: ``--fathom``, else the ``fathom`` beside this Python, else PATH."""
    if explicit:
        return [explicit]
    beside = Path(sys.executable).parent / "fathom"
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("fathom")
    if found is None:
        raise SystemExit("run_eval: no `fathom` command found (pass --fathom PATH)")
    return [found]


def _engine_args(args: argparse.Namespace) -> list[str]:
    out: list[str] = []
    for name in ENGINE_OPTIONS:
        value = getattr(args, name)
        if value is not None:
            out += [f"--{name.replace('_', '-')}", str(value)]
    return out


def _model_label(args: argparse.Namespace) -> str:
    if args.server_url:
        return f"{args.server_model or 'server default'} at {args.server_url}"
    return args.model or "default (embedded CPU engine, packaged Qwen2.5-Coder-0.5B-Instruct)"


def _shown_path(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (results travel)."""
    try:
        return path.resolve().relative_to(report.REPO).as_posix()
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
    engine = p.add_argument_group("engine options passed to fathom edit")
    engine.add_argument("--model")
    engine.add_argument("--max-model-len", type=int)
    engine.add_argument("--server-url")
    engine.add_argument("--server-model")
    engine.add_argument("--server-tokenizer")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
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
        failed = check_references(tasks, jobs=args.jobs, say=lambda m: print(m, flush=True))
        print(
            f"{len(tasks) - len(failed)} of {len(tasks)} tasks fail before and pass with "
            "their reference"
        )
        if failed:
            print("tasks that do not: " + ", ".join(failed), file=sys.stderr)
            return 1
        return 0

    fathom, engine_args = _fathom(args.fathom), _engine_args(args)
    rows = []
    for n, task in enumerate(tasks, 1):
        print(f"[{n}/{len(tasks)}] {task.id}: {task.target} {task.start}:{task.end}", flush=True)
        row = run_task(task, fathom, engine_args, args.edit_timeout)
        rows.append(row)
        print(
            f"    {row['outcome']}, {'passed' if row['passed'] else 'failed'}, "
            f"{row['edit_s']} s, changed: {', '.join(row['files_changed']) or 'nothing'}"
            + (f" ({row['message']})" if row["message"] else ""),
            flush=True,
        )
    run = {
        "model": _model_label(args),
        "fathom_command": [
            *fathom,
            "edit",
            "TARGET",
            "--range",
            "L1:L2",
            "--instruction",
            "...",
            "--apply",
            *engine_args,
        ],
        "suite": _shown_path(args.suite),
        "edit_timeout_s": args.edit_timeout,
    }
    json_path, md_path = report.write(args.label, run, rows, args.out)
    print("\n".join(report.table(report.groups(rows))))
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
