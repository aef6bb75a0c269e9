"""The edit corpus's third-party sources (Django, zod, psutil...) stay out of the index of
Fathom's own repository: they are kept in an archive, and the folder they unpack into is
git-ignored (the index honours .gitignore)."""

from __future__ import annotations

import shutil
from pathlib import Path

from fathom.context.files import walk_sources

ROOT = Path(__file__).resolve().parents[1]
CORPUS = "bench/edit_corpus"


def test_no_vendored_benchmark_source_is_indexed_from_the_repository_root():
    indexed = [s.relative for s in walk_sources(ROOT)]
    assert f"{CORPUS}/generate.py" in indexed  # the benchmark's own code is still indexed
    vendored = [p for p in indexed if p.startswith((f"{CORPUS}/sources/", f"{CORPUS}/unpacked/"))]
    assert vendored == []


def test_unpacked_benchmark_sources_are_ignored_by_the_repositorys_rules(tmp_path: Path):
    shutil.copy(ROOT / ".gitignore", tmp_path / ".gitignore")
    corpus = tmp_path / CORPUS
    django = corpus / "unpacked" / "sources" / "python" / "django"
    django.mkdir(parents=True)
    (django / "paginator.py").write_text("class Paginator:\n    pass\n")
    (corpus / "generate.py").write_text("def main():\n    pass\n")
    assert [s.relative for s in walk_sources(tmp_path)] == [f"{CORPUS}/generate.py"]
