"""``fathom apply``: a model reply on stdin (any model's, any tool's) applied to the tree.

The reply is read with Fathom's tolerant machinery (pipeline/apply_reply.py): a unified diff
or search/replace blocks, located by content and re-parsed; the whole of it is written, or
nothing is and the exit status says why.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fathom.cli.edit import parse_range
from fathom.context import LineRange
from fathom.context.text import UnreadableFileError
from fathom.edits.errors import EditError
from fathom.pipeline.apply_reply import apply_reply
from fathom.pipeline.headless import EXIT_BAD_REQUEST, EXIT_REFUSED, find_root, resolved


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    apply = sub.add_parser(
        "apply",
        help="apply a model reply read on stdin to the working tree (or refuse, writing nothing)",
        epilog="Exit status: 0 applied (or would apply, with --dry-run), 1 refused (nothing "
        "written), 2 no reply on stdin or a bad root.",
    )
    apply.add_argument(
        "--root", help="the tree the reply's paths are relative to (default: the git root of .)"
    )
    apply.add_argument(
        "--dry-run", action="store_true", help="print the resulting diff and write nothing"
    )
    apply.add_argument(
        "--allow-delete", action="store_true", help="let the reply delete files it deletes"
    )
    apply.add_argument(
        "--file",
        help="the file that blocks or hunks naming no file change (the file the model was "
        "asked to edit), and the one a path shortened to its end names",
    )
    apply.add_argument(
        "--range",
        type=parse_range,
        metavar="L1:L2",
        help="with --file: the lines the model was asked to change; a hunk or search/replace "
        "block that quotes them already rewritten (no line marked as changed, but new), or a "
        "search/replace block without '=======', is read as their new version, as fathom "
        "edit does",
    )
    apply.set_defaults(run=run)


def _file_in(root: Path, name: str) -> str | None:
    """``name`` (as the shell gave it) relative to ``root``, or None: not a file under it."""
    path = Path(name).resolve()
    if not path.is_file() or not path.is_relative_to(root.resolve()):
        return None
    return path.relative_to(root.resolve()).as_posix()


def run(args: argparse.Namespace) -> int:
    where = resolved(args.root or ".", "apply")
    if where is None or not where.is_dir():
        print(f"fathom apply: {args.root or '.'} is not a folder", file=sys.stderr)
        return EXIT_BAD_REQUEST
    root = where if args.root else find_root(where / "-")
    default_path = _file_in(root, args.file) if args.file else None
    if args.range is not None and default_path is None:
        print("fathom apply: --range needs --file (the file of those lines)", file=sys.stderr)
        return EXIT_BAD_REQUEST
    if args.file and default_path is None:
        print(f"fathom apply: --file {args.file} is not a file under {root}", file=sys.stderr)
        return EXIT_BAD_REQUEST
    selection = None if args.range is None else LineRange(args.range[0] - 1, args.range[1])
    reply = sys.stdin.read()
    if not reply.strip():
        print("fathom apply: no reply on stdin", file=sys.stderr)
        return EXIT_BAD_REQUEST
    try:
        done = apply_reply(
            reply,
            Path(root),
            dry_run=args.dry_run,
            allow_delete=args.allow_delete,
            default_path=default_path,
            selection=selection,
        )
    except (EditError, UnreadableFileError) as exc:
        print(f"fathom apply: not applied, nothing written: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    print(done.diff, end="")
    for path in done.written:
        print(f"applied to {path}", file=sys.stderr)
    return 0
