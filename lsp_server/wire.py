"""Every name Fathom's server answers to or sends, and its error for a failed request.

``editors/vscode/src/protocol.ts`` declares the same names for the VS Code extension (and the
Node tests that drive the real server through it); the two must agree, in the same order.
tests/test_wire_names.py reads protocol.ts and fails when they drift apart.
"""

from __future__ import annotations

from lsprotocol import types
from pygls.exceptions import JsonRpcException

EDIT_COMMAND = "fathom.edit"
REVIEW_COMMAND = "fathom.review"
STATUS_COMMAND = "fathom.status"
# Client-side: the editor asks for the instruction, then runs ``fathom.edit`` (LSP has no
# input box). The server only names it, in its "Edit with instruction…" code action.
EDIT_WITH_INSTRUCTION = "fathom.editWithInstruction"
STATUS_NOTIFICATION = "fathom/status"
PREVIEW_NOTIFICATION = "fathom/preview"
# A request (lsp_server/next_edit.py), and the command its suggestions carry for the journal.
NEXT_EDIT_REQUEST = "fathom/nextEdit"
NEXT_EDIT_ACCEPTED_COMMAND = "fathom.nextEditAccepted"
# Run by the editor when the user accepts an inline completion (the item's command carries
# the completion's id): counted in the local journal, never sent anywhere.
COMPLETION_ACCEPTED = "fathom.completionAccepted"


class RequestFailed(JsonRpcException):
    """LSP's RequestFailed (-32803): the request was valid but could not be carried out."""

    CODE = types.LSPErrorCodes.RequestFailed
