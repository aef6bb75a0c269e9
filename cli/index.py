"""``fathom index``: index a repository (chunks, symbols) into the cache, with counts."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from fathom.cli.engines import add_engine_options, model_tokenizer
from fathom.cli.logs import quiet_engine_logs


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    index = sub.add_parser("index", help="index a repository (chunks, symbols) into the cache")
    index.add_argument("root", nargs="?", default=".", metavar="ROOT")
    add_engine_options(index)
    index.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from fathom.pipeline.repositories import index_path, open_index

    quiet_engine_logs(args.verbose)
    root = Path(args.root).resolve()
    if not root.is_dir():
        print(f"fathom index: {root} is not a folder", file=sys.stderr)
        return 2
    tokenizer = model_tokenizer(args, "index")
    if tokenizer is None:
        return 1
    index = open_index(root, *tokenizer)
    last = [0.0]

    def progress(done: int, total: int) -> None:
        if time.monotonic() - last[0] > 2 or done == total:
            last[0] = time.monotonic()
            print(f"indexing {done}/{total} files", file=sys.stderr)

    try:
        stats = index.refresh(progress)
    finally:
        index.close()
    rate = stats.indexed / stats.seconds if stats.seconds else 0.0
    print(
        f"{stats.files} files, {stats.chunks} chunks, {stats.symbols} symbols in "
        f"{stats.seconds:.2f} s ({stats.indexed} indexed at {rate:.0f} files/s, "
        f"{stats.cache_hits} from the cache, {stats.removed} removed)\nindex: {index_path(root)}"
    )
    return 0
