"""Any tool's reply applied with Fathom's tolerant machinery, all of it or none of it."""

from __future__ import annotations

import pytest

from fathom.edits.errors import EditError
from fathom.pipeline.apply_reply import apply_reply

CART = "def total(items):\n    t = 0\n    for i in items:\n        t += i.price\n    return t\n"
USE = "from cart import total\n\n\ndef bill(items):\n    return total(items)\n"

# What a chat model writes: prose, a fence, wrong hunk counts, no line numbers.
TWO_FILES = """Here is the change:

```diff
--- a/cart.py
+++ b/cart.py
@@ -1,5 +1,2 @@
-def total(items):
-    t = 0
-    for i in items:
-        t += i.price
-    return t
+def total(items, tax=0.0):
+    return sum(i.price for i in items) * (1 + tax)
--- a/use.py
+++ b/use.py
@@
 def bill(items):
-    return total(items)
+    return total(items, tax=0.2)
```
That's all.
"""


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "cart.py").write_text(CART)
    (tmp_path / "use.py").write_text(USE)
    return tmp_path


def test_a_chatty_two_file_reply_is_applied_to_both_files(tree):
    done = apply_reply(TWO_FILES, tree)
    assert (tree / "cart.py").read_text().startswith("def total(items, tax=0.0):\n    return sum(")
    assert "total(items, tax=0.2)" in (tree / "use.py").read_text()
    assert {p.name for p in done.written} == {"cart.py", "use.py"}
    assert "+++ b/use.py" in done.diff


def test_a_dry_run_prints_the_diff_and_writes_nothing(tree):
    done = apply_reply(TWO_FILES, tree, dry_run=True)
    assert done.written == ()
    assert "-    return total(items)\n+    return total(items, tax=0.2)" in done.diff
    assert (tree / "cart.py").read_text() == CART and (tree / "use.py").read_text() == USE


def test_one_hunk_that_lands_nowhere_refuses_every_file(tree):
    broken = TWO_FILES.replace(
        " def bill(items):\n-    return total(items)",
        " class Invoice:\n-    lines: list[str] = []",
    )
    with pytest.raises(EditError):
        apply_reply(broken, tree)
    assert (tree / "cart.py").read_text() == CART and (tree / "use.py").read_text() == USE


def test_a_path_outside_the_root_is_refused(tree):
    outside = "--- a/../evil.py\n+++ b/../evil.py\n@@ -0,0 +1 @@\n+x = 1\n"
    with pytest.raises(EditError):
        apply_reply(outside, tree)
    assert not (tree.parent / "evil.py").exists()


def test_a_reply_that_changes_nothing_or_loops_is_refused(tree):
    same = (
        "--- a/use.py\n+++ b/use.py\n@@\n def bill(items):\n"
        "-    return total(items)\n+    return total(items)\n"
    )
    with pytest.raises(EditError, match="changes nothing"):
        apply_reply(same, tree)
    loop = "--- a/use.py\n+++ b/use.py\n@@\n def bill(items):\n" + "+    x = 1\n+    y = 2\n" * 30
    with pytest.raises(EditError, match="repetition loop"):
        apply_reply(loop, tree)
    assert (tree / "use.py").read_text() == USE


# Search/replace blocks that name no file, as a small model writes them for the selected file.
UNNAMED_BLOCK = """<<<<<<< SEARCH
def bill(items):
    return total(items)
=======
def bill(items):
    return round(total(items), 2)
>>>>>>> REPLACE
"""


def test_blocks_that_name_no_file_go_to_the_default_path_or_are_refused(tree):
    with pytest.raises(EditError):
        apply_reply(UNNAMED_BLOCK, tree)
    assert (tree / "use.py").read_text() == USE
    done = apply_reply(UNNAMED_BLOCK, tree, default_path="use.py")
    assert "return round(total(items), 2)" in (tree / "use.py").read_text()
    assert [p.name for p in done.written] == ["use.py"]
