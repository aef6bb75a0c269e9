"""``fathom``: serve (the language server), edit (headless), demo (the main job, end to end)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any

from backend.settings import DEFAULT_MODEL, VllmSettings


def _engine_settings(args: argparse.Namespace) -> VllmSettings:
    return VllmSettings(model=args.model, max_model_len=args.max_model_len)


def _add_engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        default=os.environ.get("FATHOM_MODEL", DEFAULT_MODEL),
        help="'default' (the packaged Qwen2.5-Coder-0.5B-Instruct), a local HF model folder, "
        "or an HF id already in the local HF cache (env FATHOM_MODEL)",
    )
    parser.add_argument("--max-model-len", type=int, default=32768, help="context window")
    parser.add_argument("--verbose", action="store_true", help="show the engine's own logs")


def _quiet_engine_logs(verbose: bool) -> None:
    if not verbose:
        # vLLM's CPU build warns about missing Triton, tcmalloc and more on every start;
        # none of it is actionable for a Fathom user.
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
        os.environ.setdefault("PYTHONWARNINGS", "ignore::FutureWarning")
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not verbose:  # some vLLM modules log before VLLM_LOGGING_LEVEL takes effect
        logging.getLogger("vllm").setLevel(logging.ERROR)


def _serve(args: argparse.Namespace) -> int:
    from backend.vllm_engine import VllmEngine, resolve_model
    from lsp_server.server import build_server

    _quiet_engine_logs(args.verbose)
    settings = _engine_settings(args)
    if args.replay:
        from backend.replay_engine import ReplayEngine

        tokenizer = resolve_model(args.model, lambda _m: None)
        server = build_server(lambda: ReplayEngine.from_file(Path(args.replay), tokenizer))
    else:
        server = build_server(lambda: VllmEngine(settings))
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        server.start_tcp(host or "127.0.0.1", int(port))
        return 0
    # stdout is the LSP channel. Keep a private handle on it and point file descriptor 1 at
    # stderr, so nothing else (vLLM's logs, its worker processes, a stray print) can write
    # bytes into the protocol stream.
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    server.start_io(sys.stdin.buffer, channel)
    return 0


def _parse_range(text: str) -> tuple[int, int]:
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


def _edit(args: argparse.Namespace) -> int:
    from lsp_server.headless import edit_file

    _quiet_engine_logs(args.verbose)
    return asyncio.run(
        edit_file(
            Path(args.path),
            args.range,
            args.instruction,
            apply=args.apply,
            settings=_engine_settings(args),
            root=Path(args.root) if args.root else None,
        )
    )


def _demo(args: argparse.Namespace) -> int:
    from lsp_server.demo import run_demo

    _quiet_engine_logs(args.verbose)
    return asyncio.run(run_demo(_engine_settings(args)))


def _model_tokenizer(args: argparse.Namespace, command: str) -> tuple[Any, str] | None:
    """The model's token counter and its id (no engine needed), or None after saying why."""
    from backend.engine import ModelUnavailableError
    from backend.tokenizer import HFTokenCounter
    from backend.vllm_engine import resolve_model

    try:
        model_path = resolve_model(args.model, lambda m: print(m, file=sys.stderr))
    except ModelUnavailableError as exc:
        print(f"fathom {command}: {exc}", file=sys.stderr)
        return None
    return HFTokenCounter.from_model(model_path), Path(model_path).name


def _index(args: argparse.Namespace) -> int:
    import time

    from lsp_server.repositories import index_path, open_index

    _quiet_engine_logs(args.verbose)
    root = Path(args.root).resolve()
    if not root.is_dir():
        print(f"fathom index: {root} is not a folder", file=sys.stderr)
        return 2
    tokenizer = _model_tokenizer(args, "index")
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


def _context(args: argparse.Namespace) -> int:
    from context import ContextBudgetError, LineRange, UnreadableFileError, Workspace
    from lsp_server.headless import find_root
    from lsp_server.repositories import open_repository

    _quiet_engine_logs(args.verbose)
    where, _, line = args.location.rpartition(":")
    if not where or not line.isdigit() or int(line) < 1:
        print(f"fathom context: give PATH:LINE (1-based), not {args.location!r}", file=sys.stderr)
        return 2
    path = Path(where).resolve()
    root = Path(args.root).resolve() if args.root else find_root(path)
    tokenizer = _model_tokenizer(args, "context")
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
        budget = args.budget or args.max_model_len - 2048
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fathom", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the language server (stdio unless --tcp)")
    serve.add_argument("--stdio", action="store_true", help="accepted for clients that pass it")
    serve.add_argument("--tcp", metavar="[HOST:]PORT", help="listen on TCP instead of stdio")
    serve.add_argument(
        "--replay",
        metavar="FILE",
        help="answer with recorded replies (a JSON list of strings) instead of a model; "
        "for tests of the edit plumbing",
    )
    _add_engine_options(serve)
    serve.set_defaults(run=_serve)

    edit = sub.add_parser("edit", help="edit lines of a file headlessly; prints the diff")
    edit.add_argument("path")
    edit.add_argument("--range", type=_parse_range, required=True, metavar="L1:L2")
    edit.add_argument("--instruction", required=True)
    edit.add_argument("--apply", action="store_true", help="write the edit to the file")
    edit.add_argument("--root", help="workspace root (default: the git root or the file's folder)")
    _add_engine_options(edit)
    edit.set_defaults(run=_edit)

    index = sub.add_parser("index", help="index a repository (chunks, symbols) into the cache")
    index.add_argument("root", nargs="?", default=".", metavar="ROOT")
    _add_engine_options(index)
    index.set_defaults(run=_index)

    context = sub.add_parser("context", help="show what the model would be shown for a line")
    context.add_argument("location", metavar="PATH:LINE")
    context.add_argument("instruction")
    context.add_argument("--root", help="workspace root (default: the git root or the folder)")
    context.add_argument("--budget", type=int, help="tokens (default: context window - 2048)")
    _add_engine_options(context)
    context.set_defaults(run=_context)

    demo = sub.add_parser("demo", help="one real edit of a sample project, end to end")
    _add_engine_options(demo)
    demo.set_defaults(run=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
