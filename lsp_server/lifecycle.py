"""The server's life: ``initialize`` and ``initialized`` read the editor's settings and start
the model and the indexing; ``shutdown`` and ``exit`` are answered at once, and nothing of the
engine outlives the server.

An editor waits only so long for the answer to ``shutdown`` (VS Code's client: 2 s, then it
gives up and kills the server 2 s after ``exit``), but closing the embedded vLLM engine
gracefully takes about 5 s on a CPU: it waits for its core process to stop. So ``shutdown``
cancels the running jobs (their engine requests abort) and answers, and ``exit`` kills the
engine's processes and ends the server at once: a slow interpreter exit (vLLM's finalizers)
would end in the editor's kill, reported to the user as an error. The journal and the index
are SQLite: a write cut short is rolled back, never half kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from typing import TYPE_CHECKING

import psutil
from lsprotocol import types

from fathom.lsp_server.settings_sync import apply_settings, pull_settings
from fathom.lsp_server.watching import register_watchers

if TYPE_CHECKING:
    from fathom.lsp_server.server import FathomServer

KILL_WAIT_S = 1.0  # for the engine's processes to go; VS Code kills the server at 2 s


def engine_processes() -> list[psutil.Process]:
    """The server's child processes (vLLM's engine core and workers), less multiprocessing's
    resource tracker: it outlives the server on purpose, to free shared memory left behind."""
    found = []
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "resource_tracker" not in " ".join(child.cmdline()):
                found.append(child)
    return found


def kill_engine_processes() -> None:
    processes = engine_processes()
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(processes, timeout=KILL_WAIT_S)


def register_lifecycle(server: FathomServer) -> None:
    shut_down = False

    @server.feature(types.INITIALIZE)
    def initialize(ls: FathomServer, params: types.InitializeParams) -> None:
        apply_settings(ls, params.initialization_options, "initializationOptions")

    @server.feature(types.INITIALIZED)
    async def initialized(ls: FathomServer, _params: types.InitializedParams) -> None:
        pulled = await pull_settings(ls)
        if pulled is not None:
            apply_settings(ls, pulled, "workspace/configuration")
        # Load the model and index the roots now: the first edit should not wait for them.
        ls.background(ls.indexes.index_roots())
        ls.background(register_watchers(ls))  # files changed outside the editor

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: FathomServer, _params: None) -> None:
        nonlocal shut_down
        shut_down = True
        ls.jobs.cancel_all("the server is shutting down")
        await asyncio.sleep(0)  # the cancelled jobs abort their engine requests and answer

    @server.feature(types.EXIT)
    def exit_(ls: FathomServer, _params: None) -> None:
        kill_engine_processes()
        sys.stderr.flush()
        os._exit(0 if shut_down else 1)  # LSP: 1 when exit came without shutdown
