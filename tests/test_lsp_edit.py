"""fathom.edit over a real stdio LSP connection.

The first test runs the real CPU model end to end; the others drive the same server with
recorded model replies from a model server stub (--server-url, tests/openai_stub.py) to prove
each bad input leaves the buffer untouched.
"""

import ast
import asyncio
import json
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from fathom.edits.journal import EditJournal, Outcome
from tests.lsp_client import (
    apply_text_edits,
    command_of,
    edit_arguments,
    editor_session,
    open_document,
    type_into,
)
from tests.openai_stub import StubServer

RENAME_DIFF = """```diff
--- a/shop/report.py
+++ b/shop/report.py
@@ @@
-def total_value(items):
+def inventory_value(items):
```"""


def _execute(client, arguments):
    return client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="fathom.edit", arguments=arguments)
    )


@pytest.mark.model
async def test_real_model_edit_arrives_as_a_versioned_workspace_edit(sample_project: Path):
    report = sample_project / "shop" / "report.py"
    original = report.read_text()
    async with editor_session(sample_project) as client:
        uri = open_document(client, report, version=3)
        result = await _execute(
            client, edit_arguments(uri, 3, 7, "Rename the function total_value to inventory_value.")
        )
        assert result["applied"] is True
        assert len(client.applied) == 1
        edit = client.applied[0].edit
        assert edit.changes is None and edit.document_changes is not None
        (document_edit,) = edit.document_changes
        assert isinstance(document_edit, types.TextDocumentEdit)
        assert document_edit.text_document.uri == uri
        assert document_edit.text_document.version == 3  # the version it was computed for
        new_text = apply_text_edits(original, document_edit.edits)
    assert new_text != original
    ast.parse(new_text)  # the edited file is still Python
    assert "def inventory_value(items):" in new_text
    assert "def total_value" not in new_text
    assert "def describe(item: Item) -> str:" in new_text  # the rest is untouched
    assert "+def inventory_value(items):" in result["diff"]


@pytest.fixture
def replay(stub: StubServer, tokenizer_dir: Path):
    """``fathom serve`` options for a model server that answers with ``replies``."""

    def server_args(*replies: str | dict) -> list[str]:
        stub.replay(replies)
        return stub.serve_args(tokenizer_dir)

    return server_args


async def test_recorded_reply_edit_honours_utf16_positions(sample_project: Path, replay):
    report = sample_project / "shop" / "report.py"
    # A non-BMP character before the edited line on the same line as the range's end.
    report.write_text("# 😀 prices 😀\n" + report.read_text())
    original = report.read_text()
    async with editor_session(sample_project, *replay(RENAME_DIFF)) as client:
        uri = open_document(client, report)
        result = await _execute(client, edit_arguments(uri, 4, 8, "Rename total_value"))
        (document_edit,) = client.applied[0].edit.document_changes
        new_text = apply_text_edits(original, document_edit.edits)
    assert result["applied"] is True
    assert new_text == original.replace("def total_value(", "def inventory_value(")


async def _refused(sample_project: Path, server_args: list[str], arguments, *, open_doc=True):
    report = sample_project / "shop" / "report.py"
    async with editor_session(sample_project, *server_args) as client:
        uri = open_document(client, report) if open_doc else report.as_uri()
        with pytest.raises(JsonRpcException) as refused:
            await _execute(client, arguments(uri))
        assert client.applied == []  # nothing reached the buffer
        return refused.value, client.messages


async def test_unknown_document_is_refused(sample_project, replay):
    error, _ = await _refused(
        sample_project,
        replay(RENAME_DIFF),
        lambda uri: edit_arguments(uri, 3, 7, "Rename"),
        open_doc=False,
    )
    assert "is not open" in error.message


async def test_empty_instruction_is_refused(sample_project, replay):
    error, _ = await _refused(
        sample_project, replay(RENAME_DIFF), lambda uri: edit_arguments(uri, 3, 7, "   ")
    )
    assert "instruction is empty" in error.message


async def test_reply_without_a_diff_is_refused_and_shown(sample_project, replay):
    # An empty reply is asked again; the model stays silent through every round.
    error, messages = await _refused(
        sample_project, replay(*[""] * 4), lambda uri: edit_arguments(uri, 3, 7, "Rename")
    )
    assert error.code == types.LSPErrorCodes.RequestFailed
    assert "no unified diff" in error.message
    assert any("no unified diff" in m.message for m in messages)


async def test_diff_that_does_not_apply_is_refused(sample_project, replay):
    # The model repeats its mistake through every feedback round (1 reply + 3 retries).
    wrong = RENAME_DIFF.replace("-def total_value(items):", "-def total_price(things):")
    error, messages = await _refused(
        sample_project, replay(*[wrong] * 4), lambda uri: edit_arguments(uri, 3, 7, "Rename")
    )
    assert "does not match the file" in error.message
    assert any(m.type == types.MessageType.Error for m in messages)


async def test_a_hunk_that_missed_is_asked_again_and_the_fixed_reply_lands(sample_project, replay):
    wrong = RENAME_DIFF.replace("-def total_value(items):", "-def total_price(things):")
    # The retry continues Fathom's opening fence only (edits/prompt.py OPEN_FENCE).
    fixed = RENAME_DIFF
    report = sample_project / "shop" / "report.py"
    async with editor_session(sample_project, *replay(wrong, fixed)) as client:
        uri = open_document(client, report)
        result = await _execute(client, edit_arguments(uri, 3, 7, "Rename"))
        retries = [
            r.message
            for reports in client.progress_reports.values()
            for r in reports
            if isinstance(r, types.WorkDoneProgressReport)
            and "asking the model again" in (r.message or "")
        ]
        # The engine's own start-up steps reach the editor too (here: a model server's).
        connecting = [
            r.message
            for reports in client.progress_reports.values()
            for r in reports
            if isinstance(r, types.WorkDoneProgressReport)
            and (r.message or "").startswith("Connecting to the model server at http")
        ]
    assert connecting
    assert result["applied"] is True and result["rounds"] == 2
    assert retries and "Hunk 1 of shop/report.py does not match the file" in retries[0]
    assert "+def inventory_value(items):" in result["diff"]


async def test_malformed_range_is_refused(sample_project, replay):
    def arguments(uri):
        args = edit_arguments(uri, 3, 7, "Rename")
        args[0]["range"] = {"start": {"line": "three"}}
        return args

    error, _ = await _refused(sample_project, replay(RENAME_DIFF), arguments)
    assert "not an LSP Range" in error.message


async def _edit_while_the_user_types(sample_project: Path, replay, line: int, text: str):
    """Start an edit with a slowly streamed reply; the user types ``text`` meanwhile."""
    report = sample_project / "shop" / "report.py"
    slow = {"text": RENAME_DIFF, "seconds_per_chunk": 0.5}
    async with editor_session(sample_project, *replay(slow)) as client:
        uri = open_document(client, report, version=1)
        pending = asyncio.ensure_future(_execute(client, edit_arguments(uri, 3, 7, "Rename")))
        await asyncio.sleep(1.0)  # the request is in and the (slow) reply is streaming
        type_into(client, uri, line, text)
        try:
            result = await pending
        except JsonRpcException as exc:
            return exc, client
        return result, client


async def test_typing_elsewhere_while_the_model_writes_moves_the_edit_along(sample_project, replay):
    result, client = await _edit_while_the_user_types(sample_project, replay, 0, "# hi\n")
    assert result["applied"] is True and result["relocated"] is True
    (document_edit,) = client.applied[0].edit.document_changes
    assert document_edit.text_document.version == 2  # the version the user typed into
    _, text = next(iter(client.documents.values()))
    assert text.startswith("# hi\nfrom shop.models import Item\n")
    assert "def inventory_value(items):" in text and "def total_value" not in text


async def test_typing_inside_the_edited_lines_refuses_the_edit(sample_project, replay):
    # "def total_value(items):" becomes "async def total_value(items):"
    error, client = await _edit_while_the_user_types(sample_project, replay, 3, "async ")
    assert isinstance(error, JsonRpcException)
    assert "changed while the model was writing" in error.message
    assert "your changes are safe" in error.message
    assert client.applied == []


async def test_edit_for_a_version_the_editor_no_longer_has_is_rejected_and_recorded(
    sample_project, replay, tmp_path
):
    report = sample_project / "shop" / "report.py"
    async with editor_session(sample_project, *replay(RENAME_DIFF)) as client:
        uri = open_document(client, report, version=1)
        # The user typed, and the notification is still on its way to the server.
        version, text = client.documents[uri]
        client.documents[uri] = (version + 1, "# typed\n" + text)
        result = await _execute(client, edit_arguments(uri, 3, 7, "Rename"))
        assert result["applied"] is False and "is at version 2, not 1" in result["reason"]
        assert client.documents[uri][1] == "# typed\n" + text  # the buffer is untouched
    # Nothing the model wrote is lost: the journal holds the reply and the planned diff.
    journal = EditJournal(Path(result["journal"]))
    (entry,) = [e for e in journal.recent(50) if e.target == str(report.resolve())]
    journal.close()
    assert entry.outcome is Outcome.REJECTED
    assert "is at version 2, not 1" in entry.reason
    assert "+def inventory_value(items):" in entry.diff
    assert "+def inventory_value(items):" in entry.replies[0]


# Recorded replies continue Fathom's own opening of the answer (edits/prompt.py diff_prefix).
MULTI_FILE_REPLY = """```diff
--- a/shop/report.py
+++ b/shop/report.py
@@ @@
-def total_value(items):
+def inventory_value(items):
@@ -1,2 +1,3 @@
 from shop.models import Item
+from shop.tax import with_tax

@@ -7,2 +8,2 @@
         total = total + item.price * item.quantity
-    return total
+    return with_tax(total)
--- a/shop/models.py
+++ b/shop/models.py
@@ @@
 class Item:
     name: str
-    price: float
+    price: float  # before tax
--- /dev/null
+++ b/shop/tax.py
@@ -0,0 +1,5 @@
+RATE = 0.2
+
+
+def with_tax(amount: float) -> float:
+    return amount * (1 + RATE)
diff --git a/shop/helpers.py b/shop/formatting.py
similarity index 100%
rename from shop/helpers.py
rename to shop/formatting.py
diff --git a/shop/legacy.py b/shop/legacy.py
deleted file mode 100644
```
"""


async def test_multi_file_edit_arrives_as_one_versioned_annotated_workspace_edit(
    sample_project: Path, replay
):
    shop = sample_project / "shop"
    (shop / "helpers.py").write_text("def money(x):\n    return f'{x:.2f}'\n")
    (shop / "legacy.py").write_text("OLD = True\n")
    report_before = (shop / "report.py").read_text()
    async with editor_session(sample_project, *replay(MULTI_FILE_REPLY)) as client:
        # Indexed, the small project's files are all in the context: the model may only
        # change, rename or delete files it was shown.
        await _wait_for_index(client)
        report_uri = open_document(client, shop / "report.py", version=3)
        models_uri = open_document(client, shop / "models.py", version=8)
        result = await _execute(client, edit_arguments(report_uri, 3, 7, "Add tax"))
        assert result["applied"] is True
        (params,) = client.applied
        edit = params.edit
        assert edit.changes is None
        kinds = [type(c).__name__ for c in edit.document_changes]
        assert kinds == [
            "TextDocumentEdit",
            "TextDocumentEdit",
            "RenameFile",
            "CreateFile",
            "TextDocumentEdit",
            "DeleteFile",
        ]
        report_edit, models_edit = edit.document_changes[:2]
        assert (report_edit.text_document.uri, report_edit.text_document.version) == (
            report_uri,
            3,
        )
        assert (models_edit.text_document.uri, models_edit.text_document.version) == (
            models_uri,
            8,
        )
        # Every change carries an annotation that asks for confirmation, one per hunk.
        annotations = edit.change_annotations
        assert len(report_edit.edits) == 3
        keys = [e.annotation_id for d in edit.document_changes[:2] for e in d.edits]
        keys += [c.annotation_id for c in edit.document_changes[2:4]]
        keys += [edit.document_changes[5].annotation_id]
        assert len(set(keys)) == 7 and set(keys) == set(annotations)
        assert all(a.needs_confirmation for a in annotations.values())
        labels = sorted(a.label for a in annotations.values())
        assert "Fathom: shop/report.py line 4" in labels
        assert "Fathom: create shop/tax.py" in labels
        assert "Fathom: rename shop/helpers.py" in labels
        assert "Fathom: delete shop/legacy.py" in labels
        report_text = client.documents[report_uri][1]
        models_text = client.documents[models_uri][1]
    assert report_text == (
        report_before.replace(
            "from shop.models import Item\n",
            "from shop.models import Item\nfrom shop.tax import with_tax\n",
        )
        .replace("def total_value(", "def inventory_value(")
        .replace("    return total\n", "    return with_tax(total)\n")
    )
    assert "    price: float  # before tax\n" in models_text
    assert (shop / "tax.py").read_text().startswith("RATE = 0.2\n")
    assert (shop / "formatting.py").read_text() == "def money(x):\n    return f'{x:.2f}'\n"
    assert not (shop / "helpers.py").exists() and not (shop / "legacy.py").exists()
    assert "+++ b/shop/tax.py" in result["diff"]


async def test_editor_refusing_the_edit_is_an_answer_not_an_error(sample_project, replay):
    """The user discarding the preview is no failure: the answer says so, with the planned
    diff, and no message pops up (the editor knows; issue 19)."""
    report = sample_project / "shop" / "report.py"
    async with editor_session(sample_project, *replay(RENAME_DIFF)) as client:
        client.accept_edits = False
        uri = open_document(client, report)
        result = await _execute(client, edit_arguments(uri, 3, 7, "Rename"))
        assert result["applied"] is False and result["reason"] == "user said no"
        assert "+def inventory_value(items):" in result["diff"]
        assert [m.message for m in client.messages if m.type <= types.MessageType.Warning] == []


async def test_code_action_on_a_selection_triggers_fathom_edit(sample_project, replay):
    report = sample_project / "shop" / "report.py"
    async with editor_session(sample_project, *replay(RENAME_DIFF)) as client:
        uri = open_document(client, report)
        empty = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=types.Range(types.Position(3, 0), types.Position(3, 0)),
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        assert not empty
        actions = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=types.Range(types.Position(3, 0), types.Position(8, 0)),
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        commands = [command_of(a) for a in actions]
        assert [a.title for a in actions] == [c.title for c in commands]
        titles = [c.title for c in commands]
        for named in ("Extract function", "Inline", "Rename by intent", "Add type hints"):
            assert f"Fathom: {named}" in titles
        assert {c.command for c in commands} == {
            "fathom.edit",
            "fathom.editWithInstruction",
            "fathom.review",
        }
        command = commands[0]
        assert command.command == "fathom.edit"
        result = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=command.command, arguments=command.arguments)
        )
        assert result["applied"] is True
        assert len(client.applied) == 1


REVIEW_WITH_FIXES = json.dumps(
    {
        "findings": [
            {  # a fix that builds: offered ready, applied at once
                "code": "        total = total + item.price * item.quantity",
                "problem": "use += for the running total",
                "severity": "hint",
                "fixed_code": "        total += item.price * item.quantity",
            },
            {  # one Python refuses (the body stays indented under a one-line def)
                "code": "def total_value(items):",
                "problem": "the loop could be a sum",
                "severity": "hint",
                "fixed_code": "def total_value(items): return sum(i.price for i in items)",
            },
        ]
    }
)


async def test_a_ready_fix_applies_at_once_and_one_python_refuses_asks_the_model(
    sample_project, replay
):
    report = sample_project / "shop" / "report.py"
    original = report.read_text()
    async with editor_session(sample_project, *replay(REVIEW_WITH_FIXES)) as client:
        uri = open_document(client, report)
        review = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="fathom.review", arguments=[{"uri": uri}])
        )
        assert len(review["findings"]) == 2, review

        async def fix_for(line: int) -> types.CodeAction | types.Command:
            (diagnostic,) = [d for d in client.diagnostics[uri] if d.range.start.line == line]
            actions = await client.text_document_code_action_async(
                types.CodeActionParams(
                    text_document=types.TextDocumentIdentifier(uri=uri),
                    range=diagnostic.range,
                    context=types.CodeActionContext(diagnostics=[diagnostic]),
                )
            )
            (fix,) = [a for a in actions if a.title.startswith("Fathom: Fix")]
            return fix

        ready = await fix_for(6)
        assert isinstance(ready, types.CodeAction)
        assert ready.title.startswith("Fathom: Fix — ") and ready.command is None
        assert ready.edit is not None and ready.edit.change_annotations is None
        (document_edit,) = ready.edit.document_changes or ()
        assert isinstance(document_edit, types.TextDocumentEdit)
        # Plain text edits: VS Code would put annotated ones needing confirmation into its
        # Refactor Preview unchecked, where Apply changes nothing.
        assert all(type(e) is types.TextEdit for e in document_edit.edits)
        fixed = apply_text_edits(original, document_edit.edits)
        assert "        total += item.price * item.quantity\n" in fixed
        ast.parse(fixed)

        refused = await fix_for(3)
        assert refused.title.startswith("Fathom: Fix with the model")
        assert getattr(refused, "edit", None) is None  # no edit: the model is asked again
        assert command_of(refused).command == "fathom.edit"


async def test_missing_model_is_reported_and_the_server_stays_up(sample_project, tmp_path):
    report = sample_project / "shop" / "report.py"
    async with editor_session(sample_project, "--model", str(tmp_path / "no-model")) as client:
        uri = open_document(client, report)
        for _ in range(2):  # a second request gets the same clear answer, not a dead server
            with pytest.raises(JsonRpcException, match="does not exist"):
                await _execute(client, edit_arguments(uri, 3, 7, "Rename"))
        assert client.applied == []
        assert any("could not start its model" in m.message for m in client.messages)


async def test_unreachable_model_server_is_reported_and_nothing_applied(sample_project):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    report = sample_project / "shop" / "report.py"
    async with editor_session(sample_project, "--server-url", url) as client:
        uri = open_document(client, report)
        with pytest.raises(JsonRpcException, match="not reachable"):
            await _execute(client, edit_arguments(uri, 3, 7, "Rename"))
        assert client.applied == []
        assert any(url in m.message for m in client.messages)


async def _wait_for_index(client, timeout: float = 60.0) -> None:
    for _ in range(int(timeout * 10)):
        if any("Fathom: indexed" in m.message for m in client.log_messages):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the workspace was not indexed in time")


async def test_indexed_workspace_gives_ranked_context_and_reports_progress(sample_project, replay):
    report = sample_project / "shop" / "report.py"
    rename_back = (
        RENAME_DIFF.replace("-def total_value", "-def TMP")
        .replace("+def inventory_value", "+def total_value")
        .replace("-def TMP", "-def inventory_value")
    )
    async with editor_session(sample_project, *replay(RENAME_DIFF, rename_back)) as client:
        await _wait_for_index(client)
        titles = [
            r.title
            for reports in client.progress_reports.values()
            for r in reports
            if isinstance(r, types.WorkDoneProgressBegin)
        ]
        assert "Fathom: indexing sample" in titles
        assert any(
            isinstance(r, types.WorkDoneProgressReport) and r.message == "3/3 files"
            for reports in client.progress_reports.values()
            for r in reports
        )
        uri = open_document(client, report)
        result = await _execute(client, edit_arguments(uri, 3, 7, "Rename"))
        kinds = [(c["kind"], c["path"]) for c in result["context"]]
        assert kinds[0] == ("repository map", ".")
        assert ("ranked chunk", "shop/models.py") in kinds
        assert kinds[-2:] == [("target file", "shop/report.py"), ("selection", "shop/report.py")]

        # An unsaved edit in another open document is re-indexed before the next request.
        models = sample_project / "shop" / "models.py"
        models_uri = open_document(client, models)
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=models_uri, version=2),
                content_changes=[
                    types.TextDocumentContentChangeWholeDocument(
                        text=models.read_text()
                        + "\n\ndef restock(item: Item) -> Item:\n    return item\n"
                    )
                ],
            )
        )
        again = await _execute(client, edit_arguments(uri, 3, 7, "Rename"))
        assert _chunk_tokens(again, "shop/models.py") > _chunk_tokens(result, "shop/models.py")


def _chunk_tokens(result: dict, path: str) -> int:
    return sum(
        c["tokens"] for c in result["context"] if (c["kind"], c["path"]) == ("ranked chunk", path)
    )
