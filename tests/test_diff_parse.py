"""Tolerant parsing of model diffs: each repair is recorded, unusable replies are refused."""

import pytest

from fathom.edits.diff_parse import parse_diff
from fathom.edits.errors import DiffParseError, NoDiffError

CLEAN = """\
--- a/shop/report.py
+++ b/shop/report.py
@@ -4,2 +4,2 @@
 def f():
-    return 1
+    return 2
"""


def test_clean_diff_parses_without_repairs():
    parsed = parse_diff(CLEAN)
    assert parsed.repairs == ()
    (file_diff,) = parsed.files
    assert file_diff.source == file_diff.target == "shop/report.py"
    (hunk,) = file_diff.hunks
    assert hunk.old_lines == ["def f():", "    return 1"]
    assert hunk.new_lines == ["def f():", "    return 2"]


def test_fences_and_prose_are_removed_and_recorded():
    reply = "Sure! Here is the change:\n```diff\n" + CLEAN + "```\nThis makes f return 2."
    parsed = parse_diff(reply)
    assert parsed.files[0].hunks[0].new_lines[-1] == "    return 2"
    assert "removed Markdown code fences" in parsed.repairs
    assert "dropped prose before the diff" in parsed.repairs
    assert "dropped prose after a hunk" in parsed.repairs


def test_wrong_hunk_counts_are_recomputed_and_recorded():
    parsed = parse_diff(CLEAN.replace("@@ -4,2 +4,2 @@", "@@ -4,7 +4,9 @@"))
    assert parsed.files[0].hunks[0].old_lines == ["def f():", "    return 1"]
    assert any("recomputed hunk counts" in r for r in parsed.repairs)


def test_bare_hunk_header_is_the_protocol_not_a_repair():
    parsed = parse_diff(CLEAN.replace("@@ -4,2 +4,2 @@", "@@ @@"))
    assert parsed.repairs == ()
    assert parsed.files[0].hunks[0].new_lines == ["def f():", "    return 2"]


def test_missing_prefixes_are_added_and_recorded():
    parsed = parse_diff(CLEAN.replace("a/shop", "shop").replace("b/shop", "shop"))
    assert parsed.files[0].target == "shop/report.py"
    assert any("prefixes" in r for r in parsed.repairs)


def test_missing_file_header_uses_the_target_file_and_says_so():
    body = CLEAN.split("\n", 2)[2]
    parsed = parse_diff(body, default_path="shop/report.py")
    assert parsed.files[0].target == "shop/report.py"
    assert any("missing file header" in r for r in parsed.repairs)
    with pytest.raises(DiffParseError):
        parse_diff(body)


def test_empty_context_line_without_its_space_is_context():
    reply = "--- a/x.py\n+++ b/x.py\n@@ @@\n def f():\n\n-    a = 1\n+    a = 2\n     return a\n"
    hunk = parse_diff(reply).files[0].hunks[0]
    assert hunk.old_lines == ["def f():", "", "    a = 1", "    return a"]


def test_removed_sql_comment_is_not_a_file_header():
    reply = "--- a/q.sql\n+++ b/q.sql\n@@ @@\n--- old comment\n+-- new comment\n"
    hunk = parse_diff(reply).files[0].hunks[0]
    assert hunk.old_lines == ["-- old comment"]
    assert hunk.new_lines == ["-- new comment"]


def test_several_files_in_one_reply():
    second = CLEAN.replace("shop/report.py", "shop/models.py")
    parsed = parse_diff(CLEAN + second)
    assert [f.target for f in parsed.files] == ["shop/report.py", "shop/models.py"]


@pytest.mark.parametrize("reply", ["I cannot help with that.", "", "```python\nprint(1)\n```"])
def test_reply_without_a_diff_is_refused(reply):
    with pytest.raises(NoDiffError):
        parse_diff(reply)


def test_diff_that_changes_nothing_is_refused():
    with pytest.raises(NoDiffError):
        parse_diff("--- a/x.py\n+++ b/x.py\n@@ @@\n same\n")
