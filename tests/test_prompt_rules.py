"""One rule decides whether a file's text may reach a model, on every path that builds a
prompt: the language server (before and after its index is ready) and the command line.
What a model server receives is captured on a real HTTP stub (tests/openai_stub.py), so the
assertions are about the bytes that leave Fathom, after redaction."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from fathom.context import LineRange, PromptRefusedError, Workspace
from fathom.context.files import prompt_refusal
from fathom.context.imports import imported_files
from tests.lsp_client import edit_arguments, editor_session, open_document
from tests.openai_stub import StubServer, serve_stub, sse_reply

MAIN = """import helpers
import local_settings
import private
from private import keys
from vendor import lib

db_password = "hunter2"
os.environ["AWS_SECRET_ACCESS_KEY"] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
settings["passphrase"] = "correct horse battery staple"


def total(values):
    return sum(values)
"""
# Text that must never leave the machine, and where it lives.
NEVER_SENT = {
    "local_settings.py": "IGNORED = 'local-settings-text'\n",  # git-ignored by name
    "private/__init__.py": "PRIVATE = 'private-package-text'\n",  # in an ignored folder
    "private/keys.py": "KEYS = 'private-keys-text'\n",
    "vendor/lib.py": "LIB = 'vendored-through-a-symlink-text'\n",  # via a symlinked folder
    ".env": "DB_PASSWORD=env-file-secret-text\n",
    ".git/config": "[core]\n\tgit-config-text = 1\n",
}
SHOWN = "helper-text-shown"
# Secret values in a shown file: they reach the model only as «secret-N» markers.
SECRET_VALUES = ["hunter2", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "correct horse battery"]
# The selection is total(): the model answers with a diff of it.
SELECTION = next(n for n, line in enumerate(MAIN.splitlines()) if line.startswith("def total"))


def _reply(old: str, new: str) -> str:
    """What the model writes after the prefix Fathom gave it (the fence and the first "-")."""
    return f"def total(values):\n-    {old}\n+def total(values):\n+    {new}\n```\n"


REPLY = _reply("return sum(values)", "return sum(values, 0)")
AGAIN = _reply("return sum(values, 0)", "return 0 + sum(values)")


MARKERS = [
    "local-settings-text",
    "private-package-text",
    "private-keys-text",
    "vendored-through-a-symlink-text",
    "env-file-secret-text",
    "git-config-text",
]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    (root / ".git").mkdir(parents=True)
    (root / ".gitignore").write_text("local_settings.py\nprivate/\n")
    (root / "main.py").write_text(MAIN)
    (root / "helpers.py").write_text(f"def helper():\n    return '{SHOWN}'\n")
    outside = tmp_path / "outside_vendor"
    outside.mkdir()
    (root / "vendor").symlink_to(outside, target_is_directory=True)
    for name, text in NEVER_SENT.items():
        path = outside / "lib.py" if name == "vendor/lib.py" else root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _sent(stub: StubServer) -> str:
    """Everything the model server was sent for chat completions."""
    return "\n".join(
        json.dumps(s.body, ensure_ascii=False) for s in stub.requests("/v1/chat/completions")
    )


def test_each_marker_is_in_its_file():
    assert all(any(m in text for text in NEVER_SENT.values()) for m in MARKERS)


def _assert_nothing_private(sent: str) -> None:
    assert sent, "the model server was asked nothing"
    for marker in [*MARKERS, *SECRET_VALUES]:
        assert marker not in sent
    assert "«secret-" in sent  # the file with the secrets was shown, masked
    assert SHOWN in sent  # the rule left out only what it must


def test_the_rule_refuses_each_kind_of_file(project: Path):
    def why(name: str) -> str | None:
        return prompt_refusal(project / name, project)

    assert why("main.py") is None and why("helpers.py") is None
    assert "ignored" in (why("local_settings.py") or "")
    assert "ignored" in (why("private/__init__.py") or "")
    assert "secret" in (why(".env") or "")
    assert ".git" in (why(".git/config") or "")
    assert "symlink" in (why("vendor/lib.py") or "")
    assert "outside" in (prompt_refusal(project.parent / "outside_vendor/lib.py", project) or "")
    fifo = project / "pipe.py"
    os.mkfifo(fifo)
    assert "regular" in (why("pipe.py") or "")  # and it was not opened: no hang
    (project / "blob.py").write_bytes(b"x = 1\0\0")
    assert "binary" in (why("blob.py") or "")
    # The editor's unsaved text is judged, not the disk's.
    assert "binary" in (prompt_refusal(project / "main.py", project, text="a\0b") or "")


def test_the_imports_fallback_shows_only_what_the_rule_allows(project: Path):
    shown = imported_files(project / "main.py", MAIN, project)
    assert shown == [project / "helpers.py"]


def test_a_secret_looking_target_is_refused_with_a_reason(project: Path, counter):
    workspace = Workspace(project, counter)
    with pytest.raises(PromptRefusedError, match=r"\.env .*looks like a secret"):
        workspace.pack(project / ".env", LineRange(0, 1), "Add DEBUG=1", 4000)
    with pytest.raises(PromptRefusedError, match=r"ignored by \.gitignore"):
        workspace.pack(project / "local_settings.py", LineRange(0, 1), "Rename", 4000)


def _start_at_zero(uri: str) -> list[dict]:
    return edit_arguments(uri, SELECTION, SELECTION + 1, "Start at 0.")


def _server_args(stub: StubServer, tokenizer_dir: Path) -> list[str]:
    return ["--server-url", stub.url, "--server-tokenizer", str(tokenizer_dir)]


@pytest.fixture
def model_server() -> object:
    gen = serve_stub(max_model_len=32768)
    stub = next(gen)
    stub.on("/v1/chat/completions", sse_reply([REPLY]), sse_reply([AGAIN]))
    yield stub
    next(gen, None)


async def test_the_server_sends_no_ignored_secret_or_linked_text(
    project: Path, model_server: StubServer, tokenizer_dir: Path, tmp_path: Path
):
    before = _tree(project)
    async with editor_session(project, *_server_args(model_server, tokenizer_dir)) as client:
        uri = open_document(client, project / "main.py")
        # At once (the imports fallback while the index is built), then once it is ready.
        first = await client.workspace_execute_command_async(
            types.ExecuteCommandParams("fathom.edit", _start_at_zero(uri))
        )
        assert first["applied"] is True, first
        for _ in range(200):
            status = await client.workspace_execute_command_async(
                types.ExecuteCommandParams("fathom.status")
            )
            if str(project.resolve()) in status["roots"]:
                break
            await asyncio.sleep(0.1)
        open_document(client, project / "helpers.py")
        second = await client.workspace_execute_command_async(
            types.ExecuteCommandParams("fathom.edit", _start_at_zero(uri))
        )
        assert second["applied"] is True
        assert {"ranked chunk", "repository map"} & {c["kind"] for c in second["context"]}
        # A secret-looking file opened in the editor is refused, and nothing is sent for it.
        asked = len(model_server.requests("/v1/chat/completions"))
        env_uri = open_document(client, project / ".env")
        with pytest.raises(JsonRpcException, match="looks like a secret"):
            await client.workspace_execute_command_async(
                types.ExecuteCommandParams("fathom.edit", edit_arguments(env_uri, 0, 0, "Add X"))
            )
        with pytest.raises(JsonRpcException, match="looks like a secret"):
            await client.workspace_execute_command_async(
                types.ExecuteCommandParams("fathom.review", [{"uri": env_uri}])
            )
        assert len(model_server.requests("/v1/chat/completions")) == asked
    _assert_nothing_private(_sent(model_server))
    # The index and the journal live in the cache dir, never in the repository.
    assert _tree(project) == before
    cache = Path(os.environ["FATHOM_CACHE_DIR"])
    assert any((cache / "index").iterdir()) and (cache / "journal.sqlite").is_file()


def _tree(root: Path) -> set[str]:
    """Every path under ``root`` (the edited file's text may change, no file may appear)."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def test_the_embedded_engine_turns_off_usage_reports_and_hub_downloads(monkeypatch):
    """vLLM reports usage to its authors and transformers reaches for the Hugging Face hub
    unless told not to: the embedded engine tells them, unless the user chose otherwise."""
    from fathom.backend import vllm_engine

    for name in ("VLLM_NO_USAGE_STATS", "DO_NOT_TRACK", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    vllm_engine._quiet_environment()
    assert os.environ["VLLM_NO_USAGE_STATS"] == "1" and os.environ["DO_NOT_TRACK"] == "1"
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def _fathom_edit(
    project: Path,
    stub: StubServer,
    tokenizer_dir: Path,
    target: str,
    lines: str,
    tmp_path: Path,
    *more: str,
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FATHOM_CACHE_DIR": str(tmp_path / "cache")}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "fathom.cli",
            "edit",
            str(project / target),
            "--range",
            lines,
            "--instruction",
            "Start the sum at 0.",
            *_server_args(stub, tokenizer_dir),
            *more,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_the_command_line_sends_no_ignored_secret_or_linked_text(
    project: Path, model_server: StubServer, tokenizer_dir: Path, tmp_path: Path
):
    lines = f"{SELECTION + 1}:{SELECTION + 2}"
    done = _fathom_edit(project, model_server, tokenizer_dir, "main.py", lines, tmp_path, "--apply")
    assert done.returncode == 0, done.stderr
    assert "sum(values, 0)" in (project / "main.py").read_text()
    sent = _sent(model_server)
    _assert_nothing_private(sent)
    assert "File: helpers.py (lines" in sent  # a ranked chunk: the command line uses the index
    refused = _fathom_edit(project, model_server, tokenizer_dir, ".env", "1:1", tmp_path)
    assert refused.returncode == 2
    assert "looks like a secret" in refused.stderr
    assert _sent(model_server) == sent  # nothing more was sent
