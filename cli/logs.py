"""How much of the engine's own logging a command shows: ``--verbose`` or quiet."""

from __future__ import annotations

import logging
import os
import sys


def quiet_engine_logs(verbose: bool) -> None:
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
