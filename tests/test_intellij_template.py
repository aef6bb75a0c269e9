"""The LSP4IJ template in editors/intellij/fathom: its files parse, its command starts the
real server, its settings pass Fathom's settings parser, and it maps every file suffix
Fathom indexes. (No JetBrains IDE runs here; editors/intellij/README.md says so.)

The server starts its default model in the background as any editor's does, so the stdio
test is marked ``model``."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import orjson
import pytest
from lsprotocol import types
from pytest_lsp import ClientServerConfig, client_capabilities

from fathom.context.languages import LANGUAGE_BY_SUFFIX
from fathom.lsp_server.config import FathomConfig, merge

TEMPLATE = Path(__file__).resolve().parents[1] / "editors" / "intellij" / "fathom"


def _json(name: str):
    return orjson.loads((TEMPLATE / name).read_bytes())


def test_template_names_the_server_and_maps_every_indexed_suffix():
    template = _json("template.json")
    assert template["id"] == "fathom" and template["name"] == "Fathom"
    mapped = {
        pattern.removeprefix("*"): mapping["languageId"]
        for mapping in template["fileTypeMappings"]
        for pattern in mapping["fileType"]["patterns"]
    }
    assert mapped == LANGUAGE_BY_SUFFIX


@pytest.mark.model
async def test_the_template_command_serves_lsp_over_stdio(sample_project: Path):
    """What LSP4IJ does with the template: start its command line over stdio, initialize with
    its initialization options, ask for code actions on a selection, shut down."""
    program, *args = shlex.split(_json("template.json")["programArgs"]["default"])
    assert (program, args) == ("fathom", ["serve"])
    fathom = Path(sys.executable).with_name(program)  # on PATH once the venv is active
    config = ClientServerConfig(server_command=[str(fathom), *args])
    client = await config.start()
    try:
        result = await client.initialize_session(
            types.InitializeParams(
                capabilities=client_capabilities("visual-studio-code"),
                root_uri=sample_project.as_uri(),
                initialization_options=_json("initializationOptions.json"),
            )
        )
        assert result.capabilities.code_action_provider
        report = sample_project / "shop" / "report.py"
        uri = report.as_uri()
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                types.TextDocumentItem(uri, "python", 1, report.read_text())
            )
        )
        actions = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri),
                range=types.Range(types.Position(3, 0), types.Position(8, 0)),
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        titles = [a.title for a in actions or []]
        assert any("Extract function" in t for t in titles), titles
        assert any("Edit with instruction" in t for t in titles), titles
    finally:
        await client.shutdown_session()
        await client.stop()


def test_template_settings_are_accepted_without_warnings():
    for name in ("settings.json", "initializationOptions.json"):
        raw = _json(name)
        config, problems = merge(FathomConfig(), raw, name)
        assert problems == [], problems
        given = raw.get("fathom", raw)  # settings.json holds the section under "fathom"
        assert given and {k: config.as_settings()[k] for k in given} == given
