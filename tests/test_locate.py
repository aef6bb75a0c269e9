"""Hunk location by content: exact, then whitespace-insensitive; refusals name the hunk."""

from pathlib import Path

import pytest

from fathom.edits.confine import resolve_in_workspace
from fathom.edits.diff_parse import parse_diff
from fathom.edits.errors import HunkLocationError, PathOutsideWorkspaceError
from fathom.edits.locate import Strategy, locate_all
from fathom.edits.plan import DocumentSnapshot, apply_edits, build_plan

SOURCE = "def f():\n    total = 0\n    return total\n\n\ndef g():\n    return 2\n"


def _hunks(body: str):
    return parse_diff("--- a/m.py\n+++ b/m.py\n@@ @@\n" + body).files[0].hunks


def _apply(body: str, text: str = SOURCE) -> tuple[str, list]:
    located = locate_all(_hunks(body), text, "m.py")
    return apply_edits(text, [h.edit for h in located]), located


def test_exact_match_replaces_only_the_block():
    new, located = _apply("-def g():\n-    return 2\n+def g():\n+    return 3\n")
    assert new == SOURCE.replace("return 2", "return 3")
    assert located[0].strategy is Strategy.EXACT
    assert located[0].first_line == 5


def test_indentation_drift_is_located_and_the_replacement_reindented():
    # The model dropped the file's indentation (a common copy error).
    body = "-total = 0\n-return total\n+total = 1\n+if total:\n+    total += 1\n+return total\n"
    new, located = _apply(body)
    assert located[0].strategy is Strategy.WHITESPACE
    assert "    total = 1\n    if total:\n        total += 1\n    return total\n" in new


# Qwen2.5-Coder-1.5B's reply on the eval task py-chunked-remainder (bench/results/
# eval_cpu-1.5b.json): the whole block is indented 4 columns too deep, and its context lines
# lost their marker space, so they sit one column shallower than its "-" and "+" lines.
CHUNKED = (
    "def chunked(items, size):\n"
    '    """Yield lists of ``size`` items."""\n'
    "    batch = []\n"
    "    for item in items:\n"
    "        batch.append(item)\n"
    "        if len(batch) == size:\n"
    "            yield batch\n"
    "            batch = []\n"
)
CHUNKED_REPLY = (
    "-    def chunked(items, size):\n"
    "+    def chunked(items, size):\n"
    '        """Yield lists of ``size`` items."""\n'
    "        batch = []\n"
    "        for item in items:\n"
    "            batch.append(item)\n"
    "            if len(batch) == size:\n"
    "                yield batch\n"
    "                batch = []\n"
    "+            elif size > 1 and not batch:\n"
    '+                raise ValueError("Size must be at least 1")\n'
)


def test_added_lines_follow_the_removed_lines_when_context_lost_its_marker_space():
    new, located = _apply(CHUNKED_REPLY, CHUNKED)
    assert located[0].strategy is Strategy.WHITESPACE
    # The context lines alone say "3 columns too deep"; the "-" line says 4, as the "+" lines
    # are: "elif" lands under its "if", not one column off (an IndentationError in Python).
    added = "        elif size > 1 and not batch:\n"
    added += '            raise ValueError("Size must be at least 1")\n'
    assert new == CHUNKED + added


# Qwen2.5-Coder-1.5B's reply on js-status-archived (bench/results/eval_cpu-1.5b.json): its
# context lines lost their marker space, and so did one "+" line but not the other.
STATUS = (
    "'use strict';\n\nconst Status = Object.freeze({\n  OPEN: 'open',\n  CLOSED: 'closed',\n});\n"
)
STATUS_REPLY = (
    "-const Status = Object.freeze({\n"
    "+const Status = Object.freeze({\n"
    "  OPEN: 'open',\n"
    "  CLOSED: 'closed',\n"
    "+ ARCHIVED: 'archived',\n"
    "});\n"
)


def test_added_lines_take_the_depth_their_own_offset_gives_when_a_reply_mixes_two():
    new, _located = _apply(STATUS_REPLY, STATUS)
    # "+const" sits as the "-" line does; "+ ARCHIVED" as the context lines do.
    assert new == STATUS.replace("});", "  ARCHIVED: 'archived',\n});")


AREA = (
    "def area(kind, size):\n"
    '    if kind == "square":\n'
    "        return size * size\n"
    "    raise ValueError(kind)\n"
)


def test_a_python_block_written_at_the_context_lines_offset_lands_at_the_files_depths():
    # The same mixture in Python, where one column off is an IndentationError: the context
    # lines and the added block lost a column, the "-" and first "+" line did not.
    reply = (
        "-def area(kind, size):\n"
        "+def area(kind, size):\n"
        '    if kind == "square":\n'
        "        return size * size\n"
        '+   if kind == "circle":\n'
        "+       return 3 * size * size\n"
        "    raise ValueError(kind)\n"
    )
    new, _located = _apply(reply, AREA)
    added = '    if kind == "circle":\n        return 3 * size * size\n'
    assert new == AREA.replace("    raise", added + "    raise")
    compile(new, "area.py", "exec")


def test_one_line_at_its_own_offset_moves_no_added_line():
    # A continuation aligned by hand in the file is no offset of the reply's: the added line
    # at that depth follows the block's shift (here none).
    text = "x = call(a,\n         b)\ny = 2\n"
    new, _located = _apply(
        "-x = call(a,\n-        b)\n-y = 2\n+x = call(a,\n+        b)\n+y = 3\n", text
    )
    assert new == "x = call(a,\n        b)\ny = 3\n"


def test_trailing_whitespace_difference_still_locates():
    new, located = _apply("-    total = 0   \n+    total = 5\n")
    assert located[0].strategy is Strategy.WHITESPACE
    assert "    total = 5\n" in new


def test_hunk_matching_several_places_is_refused_with_its_number():
    text = "x = 1\ny = 2\nx = 1\n"
    with pytest.raises(HunkLocationError, match=r"Hunk 1 of m.py matches 2 places \(lines 1, 3\)"):
        locate_all(_hunks("-x = 1\n+x = 9\n"), text, "m.py")


def test_hunk_matching_nowhere_is_refused():
    with pytest.raises(HunkLocationError, match=r"Hunk 1 of m\.py does not match"):
        locate_all(_hunks("-def h():\n+def k():\n"), SOURCE, "m.py")


def test_hunks_of_one_file_apply_together_or_not_at_all():
    body = "-def g():\n+def g2():\n@@ @@\n-missing line\n+other\n"
    with pytest.raises(HunkLocationError, match="Hunk 2"):
        locate_all(_hunks(body), SOURCE, "m.py")


def test_crlf_file_keeps_crlf_on_new_lines():
    text = SOURCE.replace("\n", "\r\n")
    new, _ = _apply("-def g():\n-    return 2\n+def g():\n+    x = 2\n+    return x\n", text)
    assert new == text.replace("    return 2\r\n", "    x = 2\r\n    return x\r\n")
    assert "\n" not in new.replace("\r\n", "")


def test_missing_final_newline_stays_missing():
    text = "a = 1\nb = 2"
    new, _ = _apply("-b = 2\n+b = 3\n", text)
    assert new == "a = 1\nb = 3"


def _snapshot_of(root: Path, texts: dict[str, str]):
    def snapshot(path: Path) -> DocumentSnapshot:
        return DocumentSnapshot(path, texts[path.relative_to(root).as_posix()], 7)

    return snapshot


def test_plan_covers_several_files_with_their_versions(tmp_path):
    reply = (
        "--- a/one.py\n+++ b/one.py\n@@ @@\n-a = 1\n+a = 2\n"
        "--- a/two.py\n+++ b/two.py\n@@ @@\n-b = 1\n+b = 2\n"
    )
    plan = build_plan(
        parse_diff(reply),
        tmp_path,
        _snapshot_of(tmp_path, {"one.py": "a = 1\n", "two.py": "b = 1\n"}),
    )
    assert [f.new_text() for f in plan.files] == ["a = 2\n", "b = 2\n"]
    assert {f.snapshot.version for f in plan.files} == {7}


@pytest.mark.parametrize("path", ["../outside.py", "/etc/passwd", "a/../../x.py"])
def test_paths_outside_the_workspace_are_refused(tmp_path, path):
    with pytest.raises(PathOutsideWorkspaceError):
        resolve_in_workspace(tmp_path, path)


def test_symlink_leaving_the_workspace_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(outside)
    with pytest.raises(PathOutsideWorkspaceError):
        resolve_in_workspace(root, "link/file.py")
