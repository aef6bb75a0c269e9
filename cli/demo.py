"""``fathom demo``: one real edit of the shipped sample project, in a temporary copy."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path

from fathom.backend.engine import Engine
from fathom.cli.engines import add_engine_options, add_server_options, headless_engine
from fathom.cli.logs import quiet_engine_logs

SAMPLE = Path(__file__).parent / "demo_project"
TARGET = "shop/report.py"
LINES = (4, 8)  # total_value()
INSTRUCTION = "Use sum() with a generator expression instead of the loop."


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser("demo", help="one real edit of a sample project, end to end")
    add_engine_options(demo)
    add_server_options(demo)
    demo.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    quiet_engine_logs(args.verbose)
    return asyncio.run(run_demo(headless_engine(args)))


def _parses(text: str) -> bool:
    from fathom.context.languages import parser_for

    return not parser_for("python").parse(text.encode()).root_node.has_error


async def run_demo(engine: Engine) -> int:
    # Imported here, not above: every `fathom` command builds the parser from this module.
    from fathom.backend.engine import EngineError
    from fathom.edits.disk import write_plan
    from fathom.edits.errors import EditError
    from fathom.pipeline.headless import headless_edit, say

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fathom-demo-") as scratch:
        project = Path(scratch) / "sample"
        shutil.copytree(SAMPLE, project)
        say(f"Sample project copied to {project}")
        say(f"Asking for: {INSTRUCTION!r} on {TARGET} lines {LINES[0]}-{LINES[1]}")
        try:
            result = await headless_edit(project / TARGET, LINES, INSTRUCTION, engine, project)
        except (EditError, EngineError) as exc:
            say(f"fathom demo: the edit failed: {exc}")
            return 1
        outcome = result.outcome
        print(outcome.unified_diff(project), end="", flush=True)
        for path in write_plan(outcome.plan):
            new_text = path.read_text()
            state = "parses" if _parses(new_text) else "DOES NOT PARSE"
            say(f"Applied to {path.relative_to(project)} ({state})")
        stats = outcome.stats
        first = stats.first_token_s or 0.0
        decode = (stats.completion_tokens - 1) / max(stats.total_s - first, 1e-9)
        say(
            f"engine start {result.engine_start_s:.1f} s · prompt {stats.prompt_tokens} tokens, "
            f"first token after {first:.1f} s · reply {stats.completion_tokens} tokens in "
            f"{stats.total_s:.1f} s ({decode:.1f} tok/s decoding) · "
            f"demo wall time {time.monotonic() - started:.1f} s"
        )
        if outcome.plan.repairs:
            say("repairs to the model's diff: " + "; ".join(outcome.plan.repairs))
    return 0
