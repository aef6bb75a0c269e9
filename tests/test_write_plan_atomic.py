"""``write_plan`` (the headless CLI's writer) lands a multi-file plan whole or not at all: a
failure at any file leaves every file as it was, with no temporary or backup files left over,
and says clearly which file failed.

Tests run as root, where a read-only folder does not stop writes, so the failures are real
ones root cannot write past (a path whose parent is a file) or an ``os.replace`` / ``os.rename``
that fails at a chosen step.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fathom.context.text import read_text_file
from fathom.edits.diff_parse import parse_diff
from fathom.edits.disk import write_plan
from fathom.edits.errors import EditError
from fathom.edits.plan import DocumentSnapshot, build_plan

EDIT_A = "--- a/a.py\n+++ b/a.py\n@@ @@\n-x = 1\n+x = 2\n"
EDIT_B = "--- a/b.py\n+++ b/b.py\n@@ @@\n-y = 1\n+y = 2\n"


def _plan(root: Path, reply: str):
    def from_disk(path: Path) -> DocumentSnapshot:
        return DocumentSnapshot(path, read_text_file(path), None)

    return build_plan(parse_diff(reply), root, from_disk)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("y = 1\n")
    (tmp_path / "c.py").write_text("C = 1\n")
    (tmp_path / "blocker").write_text("a file where the plan wants a folder\n")
    return tmp_path


def _state(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its text: leftovers show up as extra names."""
    files = [p for p in sorted(root.rglob("*")) if p.is_file()]
    return {p.relative_to(root).as_posix(): p.read_text() for p in files}


def test_a_file_that_cannot_be_created_leaves_the_edited_files_untouched(root: Path):
    before = _state(root)
    plan = _plan(root, EDIT_A + EDIT_B + "--- /dev/null\n+++ b/blocker/new.py\n@@ @@\n+N = 1\n")
    with pytest.raises(EditError, match=r"blocker.*nothing was written"):
        write_plan(plan)
    assert _state(root) == before


@pytest.mark.parametrize("fail_at", [2, 3])
def test_a_rename_into_place_failing_midway_puts_back_what_was_written(
    root: Path, monkeypatch: pytest.MonkeyPatch, fail_at: int
):
    before = _state(root)
    plan = _plan(root, EDIT_A + EDIT_B + "--- /dev/null\n+++ b/pkg/d.py\n@@ @@\n+D = 1\n")
    real_replace = os.replace
    calls = []

    def failing_replace(src, dst):
        calls.append(dst)
        if len(calls) == fail_at:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(EditError, match=r"\(No space left on device\); nothing was written"):
        write_plan(plan)
    assert len(calls) > fail_at  # the files already in place were put back
    monkeypatch.undo()
    assert _state(root) == before
    assert not (root / "pkg").exists()


def test_a_failed_rename_undoes_the_edits_before_it_and_the_deletes_never_happen(
    root: Path, monkeypatch: pytest.MonkeyPatch
):
    before = _state(root)
    reply = (
        EDIT_A
        + "diff --git a/b.py b/sub/e.py\nrename from b.py\nrename to sub/e.py\n"
        + "diff --git a/c.py b/c.py\ndeleted file mode 100644\n"
    )
    plan = _plan(root, reply)

    def failing_rename(src, dst):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "rename", failing_rename)
    with pytest.raises(EditError, match=r"b\.py could not be written"):
        write_plan(plan, allow_delete=True)
    monkeypatch.undo()
    assert _state(root) == before
    assert not (root / "sub").exists()


def test_a_whole_plan_still_lands_and_keeps_each_file_mode(root: Path):
    (root / "a.py").chmod(0o755)
    reply = (
        EDIT_A
        + "diff --git a/b.py b/sub/e.py\nrename from b.py\nrename to sub/e.py\n"
        + "--- a/b.py\n+++ b/sub/e.py\n@@ @@\n-y = 1\n+y = 2\n"
        + "--- /dev/null\n+++ b/pkg/d.py\n@@ @@\n+D = 1\n"
        + "diff --git a/c.py b/c.py\ndeleted file mode 100644\n"
    )
    written = write_plan(_plan(root, reply), allow_delete=True)
    assert {p.name for p in written} >= {"a.py", "e.py", "d.py", "c.py"}
    assert _state(root) == {
        "a.py": "x = 2\n",
        "blocker": "a file where the plan wants a folder\n",
        "pkg/d.py": "D = 1\n",
        "sub/e.py": "y = 2\n",
    }
    assert (root / "a.py").stat().st_mode & 0o777 == 0o755
