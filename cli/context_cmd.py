"""``fathom context``: what the model would be shown for a line, section by section.
(Named ``context_cmd`` so that it reads apart from the ``fathom.context`` package.)"""

from __future__ import annotations

import argparse
import sys

from fathom.cli.engines import CPU_MAX_MODEL_LEN, add_engine_options, model_tokenizer
from fathom.cli.logs import quiet_engine_logs


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    context = sub.add_parser("context", help="show what the model would be shown for a line")
    context.add_argument("location", metavar="PATH:LINE")
    context.add_argument("instruction")
    context.add_argument("--root", help="workspace root (default: the git root or the folder)")
    context.add_argument("--budget", type=int, help="tokens (default: context window - 2048)")
    add_engine_options(context)
    context.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from fathom.context import ContextBudgetError, LineRange, UnreadableFileError, Workspace
    from fathom.pipeline.headless import find_root, resolved
    from fathom.pipeline.repositories import open_repository

    quiet_engine_logs(args.verbose)
    where, _, line = args.location.rpartition(":")
    if not where or not line.isdigit() or int(line) < 1:
        print(f"fathom context: give PATH:LINE (1-based), not {args.location!r}", file=sys.stderr)
        return 2
    path = resolved(where, "context")
    root = resolved(args.root, "context") if args.root else path and find_root(path)
    if path is None or root is None:
        return 2
    tokenizer = model_tokenizer(args, "context")
    if tokenizer is None:
        return 1
    counter = tokenizer[0]
    repository = open_repository(root, *tokenizer)
    try:
        stats = repository.refresh()
        hits = f"{stats.cache_hits} from the cache"
        print(f"index: {stats.files} files ({hits}) in {stats.seconds:.2f} s")
        workspace = Workspace(root, counter, repository=repository)
        row = int(line) - 1
        budget = args.budget or (args.max_model_len or CPU_MAX_MODEL_LEN) - 2048
        try:
            pack = workspace.pack(path, LineRange(row, row + 1), args.instruction, budget)
        except (ContextBudgetError, UnreadableFileError, ValueError) as exc:
            print(f"fathom context: {exc}", file=sys.stderr)
            return 2
    finally:
        repository.index.close()
    print(f"budget {pack.budget} tokens, used {pack.tokens}")
    for section in pack.sections:
        shown = f" lines {section.lines.start + 1}-{section.lines.end}" if section.lines else ""
        print(f"{section.tokens:>7}  {section.kind.value:<15} {section.path.as_posix()}{shown}")
    for left_out in pack.omitted:
        print(f"left out: {left_out}")
    return 0
