"""The LSP4IJ template in editors/intellij/fathom: its files parse, its command starts the
real server, its settings pass Fathom's settings parser, and it maps every file suffix
Fathom indexes. (No JetBrains IDE runs here; editors/intellij/README.md says so.)"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import orjson

from context.languages import LANGUAGE_BY_SUFFIX
from lsp_server.config import FathomConfig, merge

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


def test_template_command_starts_the_server():
    program, *args = shlex.split(_json("template.json")["programArgs"]["default"])
    assert (program, args) == ("fathom", ["serve"])
    fathom = Path(sys.executable).with_name(program)
    done = subprocess.run(
        [str(fathom), *args, "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "serve" in done.stdout


def test_template_settings_are_accepted_without_warnings():
    for name in ("settings.json", "initializationOptions.json"):
        raw = _json(name)
        config, problems = merge(FathomConfig(), raw, name)
        assert problems == [], problems
        given = raw.get("fathom", raw)  # settings.json holds the section under "fathom"
        assert given and {k: config.as_settings()[k] for k in given} == given
