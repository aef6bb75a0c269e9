"""The composition root: builds Fathom's language server and registers every feature.

server.py holds the server's state and imports no feature; each feature module registers its
handlers on a server it names only for typing. This module alone imports them all, so no
feature needs a function-local import to dodge a cycle.
"""

from __future__ import annotations

from fathom.lsp_server.code_actions import register_code_actions
from fathom.lsp_server.config import FathomConfig
from fathom.lsp_server.edit_command import register_edit
from fathom.lsp_server.editor_sync import register_editor_sync
from fathom.lsp_server.engine_host import MakeEngine
from fathom.lsp_server.inline_completion import register_inline_completion
from fathom.lsp_server.lifecycle import register_lifecycle
from fathom.lsp_server.next_edit import register_next_edit
from fathom.lsp_server.review_command import register_review
from fathom.lsp_server.server import FathomServer
from fathom.lsp_server.wire import STATUS_COMMAND


def build_server(make_engine: MakeEngine, config: FathomConfig | None = None) -> FathomServer:
    server = FathomServer(make_engine, config)
    register_lifecycle(server)  # initialize, initialized, shutdown, exit
    register_editor_sync(server)  # settings, folders, documents, watched files, cancels
    _register_status(server)
    register_edit(server)
    register_review(server)
    register_code_actions(server)
    register_next_edit(server)  # fathom/nextEdit, fathom.nextEditAccepted
    register_inline_completion(server)  # textDocument/inlineCompletion, accepted counts
    return server


def _register_status(server: FathomServer) -> None:
    @server.command(STATUS_COMMAND)
    def status(ls: FathomServer, *_args: object) -> dict[str, object]:
        """What Fathom is doing now: engine state, running jobs, recent cancellations."""
        return ls.engine_host.status()
