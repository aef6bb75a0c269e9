"""``fathom serve``: the language server, on stdio (an editor starts it) or on TCP."""

from __future__ import annotations

import argparse
import sys

from fathom.cli.engines import (
    add_engine_options,
    add_server_options,
    config_from_args,
    engine_factory,
)
from fathom.cli.logs import quiet_engine_logs


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="run the language server (stdio unless --tcp)")
    serve.add_argument("--stdio", action="store_true", help="accepted for clients that pass it")
    serve.add_argument("--tcp", metavar="[HOST:]PORT", help="listen on TCP instead of stdio")
    add_engine_options(serve)
    add_server_options(serve)
    serve.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from fathom.lsp_server.app import build_server
    from fathom.lsp_server.streams import lsp_channel

    quiet_engine_logs(args.verbose)
    # The command line sets the defaults; the editor's settings may choose another engine.
    server = build_server(engine_factory(args), config_from_args(args))
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        server.start_tcp(host or "127.0.0.1", int(port))
        return 0
    # stdout is the LSP channel and stderr the editor's error log: the engine's own output
    # goes to a log file unless --verbose (lsp_server/streams.py).
    server.start_io(sys.stdin.buffer, lsp_channel(args.verbose))
    return 0
