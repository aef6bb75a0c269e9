"""The index stays true (issue 18, items 9, 10 and 12): files changed outside the editor reach
it, a model change mid-indexing never leaves the old tokenizer's counts, an index belongs to
a tokenizer's content rather than its folder's name, and a root's Workspace outlives a
request."""

from __future__ import annotations

import asyncio
import fnmatch
import re
import sqlite3
import time
from pathlib import Path

import orjson
import pytest
from lsprotocol import types

from fathom.backend.tokenizer import HFTokenCounter, engine_fingerprint
from fathom.edits.prompt import diff_prefix
from fathom.pipeline.repositories import index_path, index_repository
from tests.lsp_client import EditorClient, edit_arguments, editor_session, open_document
from tests.openai_stub import StubServer, json_reply
from tests.tiny_tokenizer import make_tokenizer

INDEXING_GUARD_S = 600.0

REPORT_EDIT = diff_prefix("shop/report.py") + "def total_value(items):\n+def value(items):\n```\n"
# Two edits in a row that keep the selection's names (the second edits the first's result).
COMMENT = diff_prefix("shop/report.py") + "    total = 0\n+    total = 0  # start\n```\n"
RECOMMENT = diff_prefix("shop/report.py") + "    total = 0  # start\n+    total = 0  # none\n```\n"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("FATHOM_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _serving(stub: StubServer, tokenizer: Path, *replies: str) -> list[str]:
    """``fathom serve`` options for the stub as model server, answering with ``replies``."""
    stub.replay(replies)
    return stub.serve_args(tokenizer)


def _expand(glob: str) -> list[str]:
    """``**/*.{py,ts}`` -> ``**/*.py``, ``**/*.ts`` (LSP globs have braces; fnmatch none)."""
    match = re.search(r"\{([^}]*)\}", glob)
    if match is None:
        return [glob]
    return [glob[: match.start()] + alt + glob[match.end() :] for alt in match[1].split(",")]


def watched(client: EditorClient, root: Path, path: Path) -> bool:
    """As VS Code does: a file event goes to the server only through a registered watcher
    whose glob matches it."""
    relative = path.relative_to(root).as_posix()
    for registration in client.registrations:
        if registration.method != types.WORKSPACE_DID_CHANGE_WATCHED_FILES:
            continue
        for watcher in registration.register_options["watchers"]:
            for glob in _expand(watcher["globPattern"]):
                if fnmatch.fnmatch(relative, glob) or fnmatch.fnmatch(relative, glob[3:]):
                    return True
    return False


def disk_changed(client: EditorClient, root: Path, path: Path, kind: types.FileChangeType) -> None:
    if watched(client, root, path):
        client.workspace_did_change_watched_files(
            types.DidChangeWatchedFilesParams([types.FileEvent(path.as_uri(), kind)])
        )


async def _status(client: EditorClient) -> dict:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="fathom.status", arguments=[])
    )


async def indexed(client: EditorClient, root: Path) -> None:
    # A guard against a hang, not a speed limit: a loaded CI machine indexes 400 files twice
    # in well over the half minute a shorter loop allowed.
    deadline = time.monotonic() + INDEXING_GUARD_S
    while time.monotonic() < deadline:
        status = await _status(client)
        if str(root) in status["roots"] and not status["indexing"]:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{root} was never indexed: {status}")


async def _edit(client: EditorClient, uri: str) -> dict:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(
            command="fathom.edit", arguments=edit_arguments(uri, 3, 7, "Rename")
        )
    )


# -- item 9: files changed outside the editor --------------------------------------------------
async def test_vscode_is_asked_to_watch_the_indexed_suffixes_and_gitignore(
    sample_project: Path, tmp_path: Path, cache: Path, stub: StubServer
):
    tokenizer = make_tokenizer(tmp_path / "tok")
    async with editor_session(sample_project, *_serving(stub, tokenizer, REPORT_EDIT)) as client:
        await indexed(client, sample_project)
        (registration,) = client.registrations
        assert registration.method == "workspace/didChangeWatchedFiles"
        for name in ("shop/new.py", "web/app.ts", "lib/x.rs", ".gitignore", "a/b/.gitignore"):
            assert watched(client, sample_project, sample_project / name), name
        assert not watched(client, sample_project, sample_project / "notes.txt")


async def test_a_file_written_on_disk_reaches_the_next_edits_context(
    sample_project: Path, tmp_path: Path, cache: Path, stub: StubServer
):
    tokenizer = make_tokenizer(tmp_path / "tok")
    serving = _serving(stub, tokenizer, COMMENT, RECOMMENT)
    report = sample_project / "shop" / "report.py"
    async with editor_session(sample_project, *serving) as client:
        await indexed(client, sample_project)
        uri = open_document(client, report)
        before = await _edit(client, uri)
        assert "shop/pricing.py" not in {s["path"] for s in before["context"]}
        # A `git checkout` brings a module that defines what the selection calls.
        pricing = sample_project / "shop" / "pricing.py"
        pricing.write_text(
            "from shop.report import total_value\n\n\ndef grand_total(items):\n"
            "    total = total_value(items)\n    return total * items[0].quantity\n"
        )
        disk_changed(client, sample_project, pricing, types.FileChangeType.Created)
        after = await _edit(client, uri)
        assert "shop/pricing.py" in {s["path"] for s in after["context"]}


async def test_a_gitignore_changed_on_disk_is_applied_to_the_index(
    sample_project: Path, tmp_path: Path, cache: Path, stub: StubServer
):
    tokenizer = make_tokenizer(tmp_path / "tok")
    (sample_project / ".gitignore").write_text("generated/\n")
    (sample_project / "generated").mkdir()
    (sample_project / "generated" / "totals.py").write_text("def total_value(items):\n    pass\n")
    async with editor_session(sample_project, *_serving(stub, tokenizer, REPORT_EDIT)) as client:
        await indexed(client, sample_project)
        (sample_project / ".gitignore").write_text("")  # generated/ may be shown now
        gitignore = sample_project / ".gitignore"
        disk_changed(client, sample_project, gitignore, types.FileChangeType.Changed)
        await asyncio.sleep(0.2)  # the re-walk starts in the background
        await indexed(client, sample_project)
        result = await _edit(client, open_document(client, sample_project / "shop" / "report.py"))
        assert "generated/totals.py" in {s["path"] for s in result["context"]}


# -- item 10: the index belongs to the tokenizer's content ------------------------------------
def test_two_model_folders_with_one_name_and_different_tokenizers_differ(tmp_path: Path):
    words = make_tokenizer(tmp_path / "a" / "model")
    chars = make_tokenizer(tmp_path / "b" / "model", per_character=True)
    same = make_tokenizer(tmp_path / "c" / "other-name")
    fingerprint = {p: HFTokenCounter.from_model(str(p)).fingerprint for p in (words, chars, same)}
    assert fingerprint[words] != fingerprint[chars]
    assert fingerprint[words] == fingerprint[same]  # the content counts, not the name


async def _indexed_with(root: Path, tokenizer: Path, stub: StubServer):
    engine = stub.engine(tokenizer)
    await engine.start()
    repository, stats, _notes = await asyncio.to_thread(
        index_repository, root, engine, engine_fingerprint(engine)
    )
    repository.index.close()
    await engine.close()
    return stats


async def test_an_index_is_not_shared_by_two_tokenizers_of_one_folder_name(
    sample_project: Path, tmp_path: Path, cache: Path, stub: StubServer
):
    words = make_tokenizer(tmp_path / "a" / "model")
    chars = make_tokenizer(tmp_path / "b" / "model", per_character=True)
    first = await _indexed_with(sample_project, words, stub)
    again = await _indexed_with(sample_project, words, stub)
    other = await _indexed_with(sample_project, chars, stub)
    assert first.cache_hits == 0 and again.cache_hits == again.files  # the same tokenizer reuses
    assert other.cache_hits == 0  # another tokenizer's counts are never reused


def _stored_chunks(root: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(index_path(root)) as db:
        rows = db.execute("SELECT a.chunks FROM files f JOIN analyses a ON a.hash = f.hash")
        return [(c[4], c[5]) for (chunks,) in rows for c in orjson.loads(chunks)]


async def test_a_model_change_during_the_first_indexing_indexes_with_the_new_tokenizer(
    tmp_path: Path, cache: Path, stub: StubServer
):
    root = tmp_path / "big"
    (root / "pkg").mkdir(parents=True)
    body = "".join(f"def f{i}(value):\n    return value + {i} * 2 - total\n" for i in range(120))
    for n in range(400):  # about 2 MB: several batches of the indexer
        (root / "pkg" / f"m{n}.py").write_text(f"# module {n}\n{body}")
    words = make_tokenizer(tmp_path / "a" / "model")
    chars = make_tokenizer(tmp_path / "b" / "model", per_character=True)
    stub.replay([REPORT_EDIT])
    # Two served models, each with its folder on this machine (vLLM reports it as ``root``):
    # the engine counts with the served model's own tokenizer.
    served = [
        {"id": name, "max_model_len": 32768, "root": str(folder)}
        for name, folder in (("words", words), ("chars", chars))
    ]
    stub.on("/v1/models", json_reply(200, {"data": served}))
    serving = ["--server-url", stub.url, "--server-model", "words"]
    async with editor_session(root, *serving) as client:
        deadline = time.monotonic() + INDEXING_GUARD_S
        while time.monotonic() < deadline:  # the first report: files counted, none done
            reports = [v for vs in client.progress_reports.values() for v in vs]
            if any("/400 files" in (getattr(r, "message", None) or "") for r in reports):
                break
            await asyncio.sleep(0.02)
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"fathom": {"serverModel": "chars"}})
        )
        await asyncio.sleep(0.2)
        await indexed(client, root)
    counter = HFTokenCounter.from_model(str(chars))
    with sqlite3.connect(index_path(root)) as db:
        meta = dict(db.execute("SELECT key, value FROM meta"))
    assert meta["tokenizer"] == counter.fingerprint
    chunks = _stored_chunks(root)
    assert chunks
    short = [(text, tokens) for text, tokens in chunks if tokens < counter.count_tokens(text)]
    assert short == []  # no chunk keeps the word tokenizer's (smaller) count


# -- item 12: one Workspace per root, as the context benchmark measures -----------------------
def test_a_roots_workspace_is_kept_across_requests_and_follows_its_repository(
    sample_project: Path, stub: StubServer, tokenizer_dir: Path
):
    from fathom.context.files import name_refusal
    from fathom.lsp_server.roots import Workspaces

    engine, other = stub.engine(tokenizer_dir), stub.engine(tokenizer_dir)
    kept = Workspaces()

    def get(engine, repository=None):
        return kept.get(sample_project, engine, repository, lambda _p: None, list)

    first = get(engine)
    first.count_tokens("x" * 4096)  # a cache that must outlive the request
    assert get(engine) is first and first._counted
    swapped = object()  # the root's index, built since the last request
    assert get(engine, swapped).repository is swapped  # type: ignore[arg-type]
    (sample_project / ".gitignore").write_text("shop/models.py\n")  # no watcher told us
    assert name_refusal(Path("shop/models.py"), get(engine).rules) is not None
    assert get(other) is not first  # another engine counts otherwise: a new Workspace


async def test_a_stopped_indexing_ends_before_the_next_one_of_its_root_starts(tmp_path: Path):
    import threading

    from fathom.lsp_server.roots import Indexings, stoppable

    indexings, events = Indexings(), []
    in_batch, batch_may_end = threading.Event(), threading.Event()

    def old_tokenizer(stop: threading.Event) -> None:
        progress = stoppable(lambda _d, _t: None, stop)
        progress(0, 2)
        in_batch.set()
        batch_may_end.wait()  # a batch being tokenised when the model changes
        events.append("old batch done")
        progress(1, 2)  # raises: stopped
        events.append("old kept")

    async def old(stop: threading.Event) -> None:
        await asyncio.to_thread(old_tokenizer, stop)

    async def new(_stop: threading.Event) -> None:
        events.append("new started")

    first = asyncio.create_task(indexings.run(tmp_path, old))
    await asyncio.to_thread(in_batch.wait)
    indexings.cancel_all()
    second = asyncio.create_task(indexings.run(tmp_path, new))
    await asyncio.sleep(0.05)
    assert events == []  # the new one waits for the old thread
    batch_may_end.set()
    await second
    assert events == ["old batch done", "new started"]
    await first  # stopped quietly: IndexingStopped never reaches the caller
    assert indexings.running() == []
