"""The VS Code extension: type-checks, lints, drives the real server through VS Code's
protocol stack (editors/vscode/test/server.test.ts, real CPU model) and packages a .vsix.

``scripts/setup.sh --test`` installs its npm packages (``npm ci``)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import orjson
import pytest

from tests.vscode_package import EXTENSION, package_vsix

pytestmark = pytest.mark.model


def _npm(script: str, timeout: float) -> subprocess.CompletedProcess[str]:
    assert (EXTENSION / "node_modules").is_dir(), (
        "editors/vscode has no node_modules: run `bash scripts/setup.sh --test`"
    )
    env = {**os.environ, "FATHOM_SERVER": str(Path(sys.executable).with_name("fathom"))}
    return subprocess.run(
        ["npm", "run", "--silent", script],
        cwd=EXTENSION,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_extension_type_checks_and_lints():
    for script in ("typecheck", "lint"):
        done = _npm(script, 300)
        assert done.returncode == 0, f"npm run {script}:\n{done.stdout}\n{done.stderr}"


def test_extension_command_flow_against_the_real_server():
    done = _npm("test", 1200)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    assert "# pass 2" in output and "# fail 0" in output, output[-3000:]


def test_extension_packages_to_a_vsix(tmp_path: Path):
    vsix = package_vsix(tmp_path)
    with zipfile.ZipFile(vsix) as archive:
        names = set(archive.namelist())
        manifest = orjson.loads(archive.read("extension/package.json"))
    assert {"extension/package.json", "extension/dist/extension.js"} <= names
    assert not any("node_modules" in n or n.endswith(".ts") for n in names)
    commands = {c["command"] for c in manifest["contributes"]["commands"]}
    assert {"fathom.editWithInstruction", "fathom.reviewFile", "fathom.refactor"} <= commands
    settings = manifest["contributes"]["configuration"]["properties"]
    # Every server setting can be set from VS Code.
    from fathom.lsp_server.config import FathomConfig

    for key in FathomConfig().as_settings():
        assert f"fathom.{key}" in settings


def test_the_extension_settings_section_is_accepted_by_the_server():
    """VS Code sends the whole ``fathom`` section (client-only keys included, unset ones as
    null): the server must take it without a warning."""
    from fathom.lsp_server.config import FathomConfig, merge

    manifest = orjson.loads((EXTENSION / "package.json").read_bytes())
    properties = manifest["contributes"]["configuration"]["properties"]
    section = {key.removeprefix("fathom."): p["default"] for key, p in properties.items()}
    config, problems = merge(FathomConfig(), section, "VS Code")
    assert problems == []
    assert config == FathomConfig()  # the extension's defaults are the server's
    changed, problems = merge(config, {**section, "reviewSeverity": "warning"}, "VS Code")
    assert problems == [] and changed.review_severity == "warning"
    _, problems = merge(config, {**section, "contextBudjet": 100}, "VS Code")
    assert problems and "contextBudjet" in problems[0]  # a typo is still reported
