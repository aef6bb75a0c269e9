"""``fathom edit``: one edit of a file's lines without an editor; prints the diff."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from fathom.backend.engine import GREEDY, Decoding
from fathom.cli.engines import add_engine_options, add_server_options, headless_engine
from fathom.cli.logs import quiet_engine_logs
from fathom.edits.formats import AUTO, FORMAT_NAMES
from fathom.pipeline.check_loop import (
    DEFAULT_CHECK_ROUNDS,
    DEFAULT_CHECK_TIMEOUT_S,
    CheckSettings,
)


def parse_range(text: str) -> tuple[int, int]:
    try:
        first, _, last = text.partition(":")
        start, end = int(first), int(last or first)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--range takes L1:L2 (1-based lines), not {text!r}"
        ) from None
    if start < 1 or end < start:
        raise argparse.ArgumentTypeError(f"--range {text}: lines are 1-based and L1 <= L2")
    return start, end


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    edit = sub.add_parser(
        "edit",
        help="edit lines of a file headlessly; prints the diff",
        epilog="Exit status: 0 an edit (applied with --apply), 1 refused or the check still "
        "failing (nothing written), "
        "2 a bad request (no model asked), 3 the engine failed.",
    )
    edit.add_argument("path")
    edit.add_argument("--range", type=parse_range, required=True, metavar="L1:L2")
    edit.add_argument("--instruction", required=True)
    edit.add_argument("--apply", action="store_true", help="write the edit to the file")
    edit.add_argument(
        "--allow-delete",
        action="store_true",
        help="let --apply delete files the edit deletes (without it, such an edit is refused)",
    )
    edit.add_argument("--root", help="workspace root (default: the git root or the file's folder)")
    edit.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (diff, files, rounds, tokens, times, error), not the diff",
    )
    edit.add_argument(
        "--edit-format",
        choices=FORMAT_NAMES,
        default=AUTO,
        help="the edit format asked of the model (default: auto, which follows the model: "
        "whole-block for small models, search-replace for large and MoE ones)",
    )
    checking = edit.add_argument_group(
        "checking the edit",
        "Run your own check (tests, a linter) on a scratch copy of the workspace (without "
        ".git) with the edit laid over it; while it fails, the model is asked again with its "
        "output. Nothing is written unless the check passes.",
    )
    checking.add_argument("--check", metavar="CMD", help="a shell command; exit 0 means pass")
    checking.add_argument(
        "--check-rounds",
        type=int,
        default=DEFAULT_CHECK_ROUNDS,
        metavar="N",
        help=f"edits asked again after a failed check (default {DEFAULT_CHECK_ROUNDS})",
    )
    checking.add_argument(
        "--check-timeout",
        type=float,
        default=DEFAULT_CHECK_TIMEOUT_S,
        metavar="S",
        help=f"seconds a check may run (default {DEFAULT_CHECK_TIMEOUT_S:.0f}); past it, it fails",
    )
    decoding = edit.add_argument_group(
        "decoding",
        "How the model picks its tokens. Greedy and unpenalised by default: an edit should be "
        "reproducible (bench/results/eval_decoding.md measures a penalty on the edit suite).",
    )
    decoding.add_argument(
        "--temperature",
        type=float,
        default=GREEDY.temperature,
        metavar="T",
        help="0 picks the likeliest token (default); up to 2, more at random",
    )
    decoding.add_argument(
        "--retry-temperature",
        type=float,
        default=GREEDY.retry_temperature,
        metavar="T",
        help="the temperature of a reply asked again (it changed nothing, did not land), "
        "seeded by its round so a rerun reproduces it (default: as --temperature)",
    )
    decoding.add_argument(
        "--repetition-penalty",
        type=float,
        default=GREEDY.repetition_penalty,
        metavar="P",
        help="above 1, tokens already in the prompt or the reply are made less likely "
        "(default 1: none)",
    )
    add_engine_options(edit)
    add_server_options(edit)
    edit.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from fathom.pipeline.headless import edit_file, resolved

    quiet_engine_logs(args.verbose)
    if resolved(args.path, "edit") is None or (args.root and resolved(args.root, "edit") is None):
        return 2
    if args.check is not None and (args.check_rounds < 0 or args.check_timeout <= 0):
        print(
            "fathom edit: --check-rounds takes 0 or more, --check-timeout more than 0",
            file=sys.stderr,
        )
        return 2
    decoding = Decoding(args.temperature, args.repetition_penalty, args.retry_temperature)
    if (problem := decoding.problem()) is not None:
        print(f"fathom edit: {problem}", file=sys.stderr)
        return 2
    return asyncio.run(
        edit_file(
            Path(args.path),
            args.range,
            args.instruction,
            apply=args.apply,
            allow_delete=args.allow_delete,
            engine=headless_engine(args),
            root=Path(args.root) if args.root else None,
            as_json=args.json,
            edit_format=args.edit_format,
            check=(
                CheckSettings(args.check, args.check_rounds, args.check_timeout)
                if args.check is not None
                else None
            ),
            decoding=decoding,
        )
    )
