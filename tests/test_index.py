"""The persisted index: what is never indexed, cache reuse on restart, one-file updates."""

from __future__ import annotations

from pathlib import Path

import pytest

from fathom.context.files import walk_sources
from fathom.context.index import RepoIndex
from fathom.context.symbols import FileSymbols


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "a.py").write_text("def alpha():\n    return beta()\n")
    (root / "pkg" / "b.py").write_text("def beta():\n    return 2\n")
    (root / "web.ts").write_text("export function gamma(): number { return 3; }\n")
    # Never indexed:
    (root / ".gitignore").write_text("build/\n*.gen.py\n")
    (root / "build").mkdir()
    (root / "build" / "out.py").write_text("def built(): pass\n")
    (root / "pkg" / "schema.gen.py").write_text("def generated(): pass\n")
    (root / "pkg" / ".gitignore").write_text("local_*.py\n")
    (root / "pkg" / "local_settings.py").write_text("def local(): pass\n")
    (root / ".env").write_text("API_KEY=abc\n")
    (root / "credentials.py").write_text("TOKEN = 'abc'\n")
    (root / "server.key").write_text("-----BEGIN PRIVATE KEY-----\n")
    (root / "blob.py").write_bytes(b"\x00\x01binary" * 10)
    (root / "huge.py").write_text("x = 1\n" * 200_000)  # 1.2 MB
    (root / "node_modules" / "dep").mkdir(parents=True)
    (root / "node_modules" / "dep" / "index.js").write_text("function dep() {}\n")
    return root


def _index(repo: Path, counter, tmp_path: Path) -> RepoIndex:
    return RepoIndex(repo, counter, tmp_path / "index.sqlite", tokenizer_id="qwen-test")


def test_ignored_binary_huge_and_secret_files_are_never_indexed(repo):
    found = sorted(s.relative for s in walk_sources(repo))
    assert found == ["pkg/a.py", "pkg/b.py", "web.ts"]


def test_index_records_chunks_and_symbols(repo, counter, tmp_path):
    index = _index(repo, counter, tmp_path)
    stats = index.refresh()
    assert (stats.files, stats.indexed, stats.cache_hits) == (3, 3, 0)
    assert index.paths() == ["pkg/a.py", "pkg/b.py", "web.ts"]
    (chunk,) = index.chunks_of("pkg/a.py")
    assert chunk.text == (repo / "pkg/a.py").read_text()
    symbols = index.symbols_of("pkg/a.py")
    assert ("alpha", "function_definition", 0) in symbols.defs
    assert ("beta", 1) in symbols.refs
    assert "gamma" in index.symbols_of("web.ts").def_names()


def test_restart_reuses_the_cache(repo, counter, tmp_path):
    _index(repo, counter, tmp_path).refresh()
    again = _index(repo, counter, tmp_path).refresh()  # a new process would do the same
    assert (again.indexed, again.cache_hits, again.files) == (0, 3, 3)


def test_editing_one_function_rechunks_only_that_file(repo, counter, tmp_path):
    index = _index(repo, counter, tmp_path)
    index.refresh()
    (repo / "pkg" / "b.py").write_text("def beta():\n    return 20\n")
    stats = index.refresh()
    assert (stats.indexed, stats.cache_hits) == (1, 2)
    assert "return 20" in index.chunks_of("pkg/b.py")[0].text


def test_editor_text_updates_one_file_and_same_content_is_free(repo, counter, tmp_path):
    index = _index(repo, counter, tmp_path)
    index.refresh()
    assert index.update_text("pkg/a.py", "def alpha():\n    return 1\n", "python") is True
    assert index.update_text("pkg/a.py", "def alpha():\n    return 1\n", "python") is False
    # Content seen before (the original b.py) under another name is not chunked again.
    assert index.update_text("pkg/c.py", (repo / "pkg/b.py").read_text(), "python") is False


def test_deleted_files_leave_the_index(repo, counter, tmp_path):
    index = _index(repo, counter, tmp_path)
    index.refresh()
    (repo / "web.ts").unlink()
    stats = index.refresh()
    assert stats.removed == 1 and "web.ts" not in index.paths()
    assert index.symbols_of("web.ts") == FileSymbols()


def test_another_tokenizer_invalidates_the_cache(repo, counter, tmp_path):
    _index(repo, counter, tmp_path).refresh()
    other = RepoIndex(repo, counter, tmp_path / "index.sqlite", tokenizer_id="another-model")
    assert other.refresh().indexed == 3
