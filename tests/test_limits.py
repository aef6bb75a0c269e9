"""Hard limits and isolation: device files and FIFOs are never read, symlinks never lead an
edit out of the workspace, the index stops at its file cap, and model jobs at theirs — each
with a message that says what happened."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

import fathom.context.index as index_module
from fathom.context.files import walk_sources
from fathom.context.index import RepoIndex
from fathom.context.text import UnreadableFileError, read_text_file
from fathom.edits.diff_parse import parse_diff
from fathom.edits.errors import PathOutsideWorkspaceError
from fathom.edits.plan import DocumentSnapshot, build_plan
from fathom.lsp_server.jobs import Jobs, TooManyJobsError


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    for n in range(5):
        (root / f"m{n}.py").write_text(f"def f{n}():\n    return {n}\n")
    return root


def test_a_fifo_or_device_is_refused_without_blocking(project: Path):
    fifo = project / "pipe.py"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    with pytest.raises(UnreadableFileError, match="not a regular file"):
        read_text_file(fifo)
    with pytest.raises(UnreadableFileError, match="not a regular file"):
        read_text_file(Path("/dev/zero"))  # would never end
    assert sorted(s.relative for s in walk_sources(project)) == [f"m{n}.py" for n in range(5)]


def test_symlinks_never_lead_out_of_the_workspace(project: Path, tmp_path: Path):
    outside = tmp_path / "outside.py"
    outside.write_text("SECRET = 1\n")
    (project / "link.py").symlink_to(outside)
    (tmp_path / "elsewhere").mkdir()
    (project / "linked_dir").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "elsewhere" / "x.py").write_text("X = 1\n")
    walked = {s.relative for s in walk_sources(project)}
    assert "link.py" not in walked and not any(p.startswith("linked_dir") for p in walked)

    def snapshot_of(path: Path) -> DocumentSnapshot:
        return DocumentSnapshot(path, read_text_file(path), None)

    for name in ("link.py", "linked_dir/x.py"):
        diff = f"--- a/{name}\n+++ b/{name}\n@@ -1 +1 @@\n-SECRET = 1\n+SECRET = 2\n"
        with pytest.raises(PathOutsideWorkspaceError, match="outside the workspace"):
            build_plan(parse_diff(diff), project, snapshot_of)
    assert outside.read_text() == "SECRET = 1\n"


def test_the_index_stops_at_its_file_cap(project: Path, tmp_path: Path, counter, monkeypatch):
    monkeypatch.setattr(index_module, "MAX_INDEXED_FILES", 3)
    index = RepoIndex(project, counter, tmp_path / "index.sqlite", tokenizer_id="t")
    stats = index.refresh()
    assert (stats.files, stats.over_limit) == (3, 2)
    assert index.counts()[0] == 3


async def test_model_jobs_stop_at_their_cap_and_a_newer_one_replaces_its_document():
    jobs = Jobs(limit=2)
    started = asyncio.Event()
    release = asyncio.Event()

    async def job(uri: str) -> str:
        with jobs.run("edit", uri, None):
            started.set()
            await release.wait()
        return uri

    first = asyncio.create_task(job("file:///a.py"))
    second = asyncio.create_task(job("file:///b.py"))
    await asyncio.sleep(0.01)
    assert len(jobs.running()) == 2
    with pytest.raises(TooManyJobsError, match="already running 2 model jobs"):
        await job("file:///c.py")
    # A newer job on a document being worked on replaces that job: no limit hit.
    third = asyncio.create_task(job("file:///a.py"))
    await asyncio.sleep(0.01)
    assert first.cancelled() or first.done()
    release.set()
    assert await third == "file:///a.py" and await second == "file:///b.py"
    assert jobs.running() == []
