"""``fathom complete PATH:LINE:COL``: the inline completion at a place in a file, printed, as
the language server would offer it (for scripts and benchmarks).

The same pieces as the server's ``textDocument/inlineCompletion``: the served model's FIM
format read from its tokenizer, related chunks of the indexed repository, secrets masked,
pipeline/completion.py's prompt and cut."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from fathom.cli.engines import add_engine_options, add_server_options, headless_engine
from fathom.cli.logs import quiet_engine_logs

if TYPE_CHECKING:
    from fathom.backend.engine import Engine

EXIT_NONE = 1  # no completion: the reason is on stderr
EXIT_BAD_REQUEST = 2  # no model asked
EXIT_ENGINE_FAILED = 3


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    complete = sub.add_parser(
        "complete",
        help="print the inline completion at PATH:LINE:COL",
        epilog="Exit status: 0 a completion printed, 1 none (why on stderr), 2 a bad request "
        "(no model asked), 3 the engine failed.",
    )
    complete.add_argument(
        "location",
        metavar="PATH:LINE:COL",
        help="the cursor: 1-based line and column (characters; past the line's end is its end)",
    )
    complete.add_argument("--root", help="workspace root (default: the git root or the folder)")
    complete.add_argument(
        "--no-context",
        action="store_true",
        help="show the model no related code of the repository (the file's text only)",
    )
    complete.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (text, mode, reason, related files, tokens, times)",
    )
    add_engine_options(complete)
    add_server_options(complete)
    complete.set_defaults(run=run)


def parse_location(text: str) -> tuple[str, int, int] | None:
    """(path, line, column), 1-based, or None when ``text`` is not PATH:LINE:COL."""
    rest, _, column = text.rpartition(":")
    where, _, line = rest.rpartition(":")
    if not where or not line.isdigit() or not column.isdigit():
        return None
    if int(line) < 1 or int(column) < 1:
        return None
    return where, int(line), int(column)


@dataclass(frozen=True, slots=True)
class Request:
    path: Path
    root: Path
    text: str
    line: int  # 0-based, as pipeline/completion.py counts
    character: int
    context: bool


def _request(args: argparse.Namespace) -> Request | None:
    """The request the command line makes, or None after saying why (no model asked)."""
    from fathom.context.files import IgnoreRules, prompt_refusal
    from fathom.context.languages import language_of
    from fathom.context.text import UnreadableFileError, read_text_file
    from fathom.pipeline.completion import CompletionError, completion_site
    from fathom.pipeline.headless import find_root, resolved

    parsed = parse_location(args.location)
    if parsed is None:
        say(f"give PATH:LINE:COL (1-based line and column), not {args.location!r}")
        return None
    path = resolved(parsed[0], "complete")
    root = resolved(args.root, "complete") if args.root else path and find_root(path)
    if path is None or root is None:
        return None
    try:
        text = read_text_file(path)
        refusal = prompt_refusal(path, root, IgnoreRules(root), text)
        if refusal is not None:
            say(f"{path.name} is not sent to the model: {refusal}")
            return None
        # The place is checked before any model is asked (a line past the end, say).
        completion_site(text, parsed[1] - 1, parsed[2] - 1, language_of(path))
    except (UnreadableFileError, CompletionError) as exc:
        say(str(exc))
        return None
    return Request(path, root, text, parsed[1] - 1, parsed[2] - 1, not args.no_context)


def say(message: str) -> None:
    print(f"fathom complete: {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    quiet_engine_logs(args.verbose)
    request = _request(args)
    if request is None:
        return EXIT_BAD_REQUEST
    return asyncio.run(complete_at(request, headless_engine(args), as_json=args.json))


async def complete_at(request: Request, engine: Engine, *, as_json: bool = False) -> int:
    """Start ``engine``, complete at ``request``'s place, print it; the engine is closed on
    every way out."""
    from fathom.backend.engine import EngineError
    from fathom.backend.tokenizer import engine_fingerprint
    from fathom.context.files import IgnoreRules
    from fathom.context.languages import language_of
    from fathom.lsp_server.completion_context import (
        RedactedCompletions,
        completion_query,
        model_fim,
        ranked_related,
    )
    from fathom.pipeline.completion import CompletionEngine, complete
    from fathom.pipeline.headless import ticking
    from fathom.pipeline.repositories import index_repository

    relative = request.path.relative_to(request.root).as_posix()
    try:
        started = time.monotonic()
        async with ticking("Starting the engine…"):
            await engine.start()
        engine_start_s = time.monotonic() - started
        found = model_fim(engine)
        if found.format is None or not isinstance(engine, CompletionEngine):
            say(f"{engine.model_name} cannot fill in the middle: {found.reason}")
            return EXIT_NONE
        related: list[tuple[str, str]] = []
        if request.context:
            fingerprint = await asyncio.to_thread(engine_fingerprint, engine)
            repository, _stats, notes = await asyncio.to_thread(
                index_repository, request.root, engine, fingerprint
            )
            for note in notes:
                say(note)
            try:
                query = completion_query(request.text, request.line)
                rules = IgnoreRules(request.root)
                related = ranked_related(repository, rules, relative, query)
            finally:
                repository.index.close()
        result = await complete(
            RedactedCompletions(engine),
            found.format,
            request.text,
            request.line,
            request.character,
            language=language_of(request.path),
            count_tokens=engine.count_tokens,
            path=relative,
            related=related,
            repo_name=request.root.name,
        )
    except EngineError as exc:
        say(f"the engine failed: {exc}")
        return EXIT_ENGINE_FAILED
    finally:
        await engine.close()
    if as_json:
        stats = result.stats
        print(orjson.dumps({
            "text": result.text, "mode": result.mode, "reason": result.reason or None,
            "line": result.line + 1, "column": result.character + 1,
            "related": sorted({path for path, _text in related}),
            "prompt_tokens": stats.prompt_tokens, "completion_tokens": stats.completion_tokens,
            "first_token_s": stats.first_token_s, "generation_s": round(stats.total_s, 4),
            "engine_start_s": round(engine_start_s, 3),
        }).decode())  # fmt: skip
    elif result.text:
        print(result.text)
    if not result.text:
        say(f"no completion: {result.reason or 'the model suggested nothing'}")
        return EXIT_NONE
    return 0
