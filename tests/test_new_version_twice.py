"""A small model's slip: the selection quoted already rewritten (old == new lines)."""

from fathom.context import LineRange
from fathom.pipeline.edit_flow import new_version_twice

TEXT = "def total(items):\n    t = 0\n    for i in items:\n        t += i\n    return t\n\nx = 1\n"
TWICE = (
    "--- a/m.py\n+++ b/m.py\n@@ @@\n"
    "-def total(items):\n-    return sum(items)\n+def total(items):\n+    return sum(items)\n"
)


def test_new_lines_written_twice_replace_the_selection():
    parsed = new_version_twice(TWICE, "m.py", TEXT, LineRange(0, 5))
    assert parsed is not None
    (hunk,) = parsed.files[0].hunks
    assert hunk.old_lines == TEXT.splitlines()[:5]
    assert hunk.new_lines == ["def total(items):", "    return sum(items)"]
    assert any("quoted its new version" in r for r in parsed.repairs)


def test_a_true_no_op_is_not_repaired():
    same = "--- a/m.py\n+++ b/m.py\n@@ @@\n-x = 1\n+x = 1\n"
    assert new_version_twice(same, "m.py", TEXT, LineRange(0, 5)) is None


def test_a_real_change_or_another_file_is_not_touched():
    real = "--- a/m.py\n+++ b/m.py\n@@ @@\n-x = 1\n+x = 2\n"
    assert new_version_twice(real, "m.py", TEXT, LineRange(6, 7)) is None
    other = TWICE.replace("m.py", "n.py")
    assert new_version_twice(other, "m.py", TEXT, LineRange(0, 5)) is None
