#!/usr/bin/env python3
"""An older Fathom's ``fathom edit``, spoken to as the harness speaks to today's.

Issue 21 asks for today's prompt to be measured first: the commit before its work (74ccefe)
had no ``--json``, no ``--edit-format`` and one exit status (1) for refusals and engine
failures alike. This stand-in runs that checkout's own command line unchanged, then prints
the JSON object the harness reads (applied, and Fathom's last ``fathom:`` message)::

    git worktree add /tmp/fathom-base 74ccefe
    FATHOM_BASELINE=/tmp/fathom-base .venv/bin/python bench/eval/run_eval.py --serve \\
        --fathom bench/eval/baseline_fathom.py --label cpu-0.5b-baseline

It runs with the repository's .venv Python (the checkout's dependencies are a subset of
today's) and checks
that ``fathom`` is imported from the checkout, not from the installed tree. Rounds and tokens
are not reported (that Fathom did not count them): the tables show a dash.
That Fathom exits 1 for an engine failure too, so one would count as a refusal here: the
harness's own model server (``--serve``) answering, none is expected.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# What the checkout's `fathom edit` does not know; the harness passes them to today's.
DROPPED_FLAGS = {"--json": 0, "--edit-format": 1}


def main(argv: list[str]) -> int:
    tree = Path(os.environ.get("FATHOM_BASELINE", "")).resolve()
    if not (tree / "fathom" / "__init__.py").is_file():
        print("baseline_fathom: set FATHOM_BASELINE to an older Fathom checkout", file=sys.stderr)
        return 2
    args, as_json, i = [], False, 0
    while i < len(argv):
        flag = argv[i]
        if flag in DROPPED_FLAGS:
            as_json |= flag == "--json"
            i += 1 + DROPPED_FLAGS[flag]
            continue
        args.append(flag)
        i += 1
    start = (
        "import sys; from pathlib import Path; tree = sys.argv.pop(1); "
        "sys.path.insert(0, tree); import fathom; "
        "assert Path(fathom.__file__).resolve().is_relative_to(tree), fathom.__file__; "
        "from fathom.cli.main import main; sys.exit(main(sys.argv[1:]))"
    )
    # The repository's own environment (this script may be started by any `python3`).
    venv = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "python"
    python = str(venv) if venv.exists() else sys.executable
    done = subprocess.run(
        [python, "-c", start, str(tree), *args],
        capture_output=True,
        text=True,
    )
    sys.stderr.write(done.stderr)
    if not as_json:
        sys.stdout.write(done.stdout)
    else:
        said = [line for line in done.stderr.splitlines() if line.startswith("fathom: ")]
        error = said[-1].removeprefix("fathom: ") if done.returncode else None
        print(json.dumps({"applied": done.returncode == 0, "error": error}))
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
