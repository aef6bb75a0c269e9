"""Code actions: named refactors on a selection, and quick fixes for review findings.

Every refactor is an instruction to ``fathom.edit`` (context -> engine -> edit engine). "Edit
with instruction…" runs the client-side command ``fathom.editWithInstruction``: the editor
asks the user for the text, then calls ``fathom.edit`` (LSP has no input box of its own).
A finding's quick fix carries its edit, moved to the document's current version, and applies
at once; a fix the model did not spell out (or that no longer fits) runs ``fathom.edit`` on
the finding instead, which shows the change and asks first like every other edit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from lsprotocol.converters import get_converter

from fathom.edits.errors import EditError
from fathom.edits.plan import EditPlan
from fathom.lsp_server.documents import analysable, open_document
from fathom.lsp_server.edit_command import current_plan
from fathom.lsp_server.findings import Finding
from fathom.lsp_server.wire import EDIT_COMMAND, EDIT_WITH_INSTRUCTION, REVIEW_COMMAND
from fathom.lsp_server.workspace_edit import to_workspace_edit

if TYPE_CHECKING:
    from fathom.lsp_server.server import FathomServer

_CONVERTER = get_converter()

# (title, kind, instruction); the kinds let editors file them under Extract / Inline / Rewrite.
REFACTORS = (
    (
        "Fathom: Extract function",
        types.CodeActionKind.RefactorExtract,
        "Extract the selected code into a new well-named function in the same file, and "
        "replace the selection with a call to it.",
    ),
    (
        "Fathom: Inline",
        types.CodeActionKind.RefactorInline,
        "Inline the selected function or variable: replace its uses with its body or value, "
        "and remove the definition.",
    ),
    (
        "Fathom: Rename by intent",
        types.CodeActionKind.RefactorRewrite,
        "Rename the selected symbol to a name that says what it is for, and update every use "
        "of it in every file shown.",
    ),
    (
        "Fathom: Add type hints",
        types.CodeActionKind.RefactorRewrite,
        "Add type hints to the selected code.",
    ),
    (
        "Fathom: Add docstrings",
        types.CodeActionKind.RefactorRewrite,
        "Add concise docstrings to the selected code.",
    ),
    (
        "Fathom: Simplify",
        types.CodeActionKind.RefactorRewrite,
        "Simplify the selected code without changing what it does.",
    ),
)


def _kind(action: types.CodeAction) -> str:
    return str(getattr(action.kind, "value", action.kind) or "")


def _overlaps(a: types.Range, b: types.Range) -> bool:
    return (a.start.line, a.start.character) <= (b.end.line, b.end.character) and (
        b.start.line,
        b.start.character,
    ) <= (a.end.line, a.end.character)


def _edit_action(
    title: str, kind: str, uri: str, rng: types.Range, instruction: str, **extra: Any
) -> types.CodeAction:
    arguments = [{"uri": uri, "range": _CONVERTER.unstructure(rng), "instruction": instruction}]
    return types.CodeAction(
        title=title,
        kind=kind,
        command=types.Command(title=title, command=EDIT_COMMAND, arguments=arguments),
        **extra,
    )


def _command_action(
    title: str, kind: str, command: str, uri: str, rng: types.Range
) -> types.CodeAction:
    arguments = [{"uri": uri, "range": _CONVERTER.unstructure(rng)}]
    return types.CodeAction(
        title=title,
        kind=kind,
        command=types.Command(title=title, command=command, arguments=arguments),
    )


def _refactors(uri: str, rng: types.Range) -> list[types.CodeAction]:
    return [
        *(_edit_action(t, k, uri, rng, i) for t, k, i in REFACTORS),
        _command_action(
            "Fathom: Edit with instruction…",
            types.CodeActionKind.RefactorRewrite,
            EDIT_WITH_INSTRUCTION,
            uri,
            rng,
        ),
        _command_action(
            "Fathom: Review selection", types.CodeActionKind.Source, REVIEW_COMMAND, uri, rng
        ),
    ]


def _block_end(lines: Sequence[str], line: int) -> int:
    """The last line of the block ``line`` opens (its more-indented followers): a finding on
    a ``def`` line is about the function, and the model should see and edit all of it."""
    if line >= len(lines):
        return line

    def indent(text: str) -> int:
        return len(text) - len(text.lstrip())

    base, last = indent(lines[line]), line
    for number in range(line + 1, len(lines)):
        if not lines[number].strip():
            continue
        if indent(lines[number]) <= base:
            break
        last = number
    return last


def _quick_fix(ls: FathomServer, uri: str, finding: Finding) -> types.CodeAction:
    diagnostic = next(d for d in ls.findings.to_diagnostics(uri) if d.code == finding.id)
    short = finding.message if len(finding.message) <= 60 else finding.message[:57] + "…"
    if isinstance(finding.fix, EditPlan):
        try:
            plan = current_plan(ls, finding.fix)
            encoding = ls.workspace.position_encoding or types.PositionEncodingKind.Utf16
            root = ls.root_for(plan.files[0].snapshot.path) if plan.files else None
            # No needsConfirmation annotations: the user picked this fix, and VS Code opens
            # edits that need confirmation in its Refactor Preview with every change
            # unchecked, so Apply there would change nothing. The fix applies at once, one
            # undo. (A fix that deletes a file needs them: refused, the model fix is offered.)
            support = dataclasses.replace(ls.edit_support, change_annotations=False)
            edit = to_workspace_edit(plan, ls.uri_of, encoding, support, root)
            return types.CodeAction(
                title=f"Fathom: Fix — {short}",
                kind=types.CodeActionKind.QuickFix,
                diagnostics=[diagnostic],
                edit=edit,
                is_preferred=True,
            )
        except EditError:
            pass  # the user changed the code the fix replaces: ask the model instead
    document = open_document(ls.workspace, uri)
    last = _block_end(document.lines if document else [], finding.range.end.line)
    whole_lines = types.Range(
        types.Position(finding.range.start.line, 0), types.Position(last + 1, 0)
    )
    return _edit_action(
        f"Fathom: Fix with the model — {short}",
        types.CodeActionKind.QuickFix,
        uri,
        whole_lines,
        f"Fix this problem: {finding.message}",
        diagnostics=[diagnostic],
    )


def register_code_actions(server: FathomServer) -> None:
    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[
                types.CodeActionKind.QuickFix,
                types.CodeActionKind.RefactorExtract,
                types.CodeActionKind.RefactorInline,
                types.CodeActionKind.RefactorRewrite,
                types.CodeActionKind.Source,
            ]
        ),
    )
    def code_actions(ls: FathomServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        uri, rng = params.text_document.uri, params.range
        if not analysable(ls.workspace, uri):
            return []  # not a file, or too large: nothing Fathom could carry out
        wanted = params.context.only
        actions = [
            _quick_fix(ls, uri, finding)
            for finding in ls.findings.get(uri)
            if _overlaps(finding.range, rng)
        ]
        if rng.start != rng.end:  # refactors act on a selection
            actions += _refactors(uri, rng)
        if wanted:
            only = [getattr(k, "value", k) for k in wanted]
            actions = [a for a in actions if any(_kind(a).startswith(k) for k in only)]
        return actions
