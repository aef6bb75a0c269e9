"""``fathom``: serve (the language server), edit (headless), demo (the main job, end to end),
serve-model (vLLM's OpenAI-compatible server for a team's GPU box)."""

from __future__ import annotations

import argparse
import sys

from fathom.backend.engine import ModelUnavailableError
from fathom.backend.model_info import SettingsError
from fathom.cli import apply, complete, context_cmd, demo, edit, index, serve, serve_model

# In the order ``fathom --help`` lists them; each module adds its options and its handler.
SUBCOMMANDS = (serve, edit, complete, apply, index, context_cmd, demo, serve_model)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fathom", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for command in SUBCOMMANDS:
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except SettingsError as exc:  # settings the model or the GPUs can't run
        print(f"fathom {args.command}: {exc}", file=sys.stderr)
        return 2
    except ModelUnavailableError as exc:  # GPU settings read the model before the engine does
        print(f"fathom {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
