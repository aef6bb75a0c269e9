"""``fathom apply``: a model reply on stdin (any model's, any tool's) applied to the tree.

The reply is read with Fathom's tolerant machinery (pipeline/apply_reply.py): a unified diff
or search/replace blocks, located by content and re-parsed; the whole of it is written, or
nothing is and the exit status says why.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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
    apply.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    where = resolved(args.root or ".", "apply")
    if where is None or not where.is_dir():
        print(f"fathom apply: {args.root or '.'} is not a folder", file=sys.stderr)
        return EXIT_BAD_REQUEST
    root = where if args.root else find_root(where / "-")
    reply = sys.stdin.read()
    if not reply.strip():
        print("fathom apply: no reply on stdin", file=sys.stderr)
        return EXIT_BAD_REQUEST
    try:
        done = apply_reply(reply, Path(root), dry_run=args.dry_run, allow_delete=args.allow_delete)
    except (EditError, UnreadableFileError) as exc:
        print(f"fathom apply: not applied, nothing written: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    print(done.diff, end="")
    for path in done.written:
        print(f"applied to {path}", file=sys.stderr)
    return 0
