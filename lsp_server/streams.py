"""The standard streams of ``fathom serve``: stdout carries LSP, stderr the server's errors.

An editor shows what the server writes to stderr as errors (VS Code: ``[error]`` lines in the
Fathom output). The embedded engine writes a lot there that is no error: vLLM's worker
processes and native code print notices (Triton, NUMA) and loading bars straight to file
descriptors 1 and 2. So, unless ``--verbose``, those descriptors point at a log file in the
cache dir, which child processes inherit, while Python's ``sys.stderr`` and the server's
logging keep a private handle on the real stderr: real errors (a traceback, a warning the
server logs) still reach the editor.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import BinaryIO

from pygls.exceptions import JsonRpcException, JsonRpcInternalError

from fathom.backend.default_model import cache_root

ENGINE_LOG_MAX_BYTES = 10 * 2**20  # started afresh beyond this


# pygls warns of a ``$/cancelRequest`` for a request already answered; editors send one
# whenever the user types on while a suggestion is on its way back (LSP: it is to be ignored).
LATE_CANCEL = "Cancel notification for unknown message id"


class AnsweredErrors(logging.Filter):
    """A request answered with a typed error that says why (cancelled, invalid params, failed)
    is the protocol at work, not a server error; pygls logs each with a traceback. So is a
    cancel that comes after the answer. Internal errors (an exception Fathom did not expect)
    still are."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith(LATE_CANCEL):
            return False
        exc = record.exc_info[1] if record.exc_info else None
        args = record.args if isinstance(record.args, tuple) else ()
        return not any(
            isinstance(e, JsonRpcException) and not isinstance(e, JsonRpcInternalError)
            for e in (exc, *args)
        )


def engine_log() -> Path:
    return cache_root() / "logs" / "engine.log"


def lsp_channel(verbose: bool) -> BinaryIO:
    """A private handle on stdout for the LSP stream; descriptors 1 and 2 point elsewhere, so
    nothing else (vLLM's logs, its worker processes, a stray print) can write into it."""
    channel = os.fdopen(os.dup(1), "wb")
    if verbose:
        os.dup2(2, 1)  # everything to stderr, as before
    else:
        errors = os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace")
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(errors)
        sys.stderr = errors
        for name in ("pygls.protocol.json_rpc", "pygls.server"):
            logging.getLogger(name).addFilter(AnsweredErrors())
        log = engine_log()
        log.parent.mkdir(parents=True, exist_ok=True)
        big = log.exists() and log.stat().st_size > ENGINE_LOG_MAX_BYTES
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if big else os.O_APPEND), 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    sys.stdout = sys.stderr
    return channel
