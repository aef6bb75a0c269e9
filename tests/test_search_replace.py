"""Search/replace blocks (Aider's format, and the one capable models follow best) as hunks."""

from __future__ import annotations

import pytest

from fathom.edits.errors import DiffParseError, EditError, NoDiffError
from fathom.edits.search_replace import parse_reply, parse_search_replace
from fathom.pipeline.apply_reply import apply_reply

CART = "def total(items):\n    t = 0\n    for i in items:\n        t += i.price\n    return t\n"
USE = "from cart import total\n\n\ndef bill(items):\n    return total(items)\n"

# As DeepSeek-V3 writes it in Aider's format: prose, a path line, a fenced block per change.
REPLY = """I'll add the tax parameter and pass it at the call site.

cart.py
```python
<<<<<<< SEARCH
def total(items):
    t = 0
    for i in items:
        t += i.price
    return t
=======
def total(items, tax=0.0):
    return sum(i.price for i in items) * (1 + tax)
>>>>>>> REPLACE
```

use.py
```python
<<<<<<< SEARCH
    return total(items)
=======
    return total(items, tax=0.2)
>>>>>>> REPLACE
```

shop/tax.py
```python
<<<<<<< SEARCH
=======
RATE = 0.2
>>>>>>> REPLACE
```
"""


def test_blocks_become_one_file_diff_per_file_with_old_and_new_lines():
    parsed = parse_search_replace(REPLY)
    assert [f.target for f in parsed.files] == ["cart.py", "use.py", "shop/tax.py"]
    cart = parsed.files[0].hunks[0]
    assert cart.old_lines == CART.splitlines()
    assert cart.new_lines[0] == "def total(items, tax=0.0):"
    assert parsed.files[2].source is None  # an empty SEARCH creates the file


def test_a_search_replace_reply_edits_and_creates_files(tmp_path):
    (tmp_path / "cart.py").write_text(CART)
    (tmp_path / "use.py").write_text(USE)
    apply_reply(REPLY, tmp_path)
    assert "(1 + tax)" in (tmp_path / "cart.py").read_text()
    assert (tmp_path / "use.py").read_text().endswith("return total(items, tax=0.2)\n")
    assert (tmp_path / "shop" / "tax.py").read_text() == "RATE = 0.2\n"


def test_a_block_whose_search_text_is_not_in_the_file_writes_nothing(tmp_path):
    (tmp_path / "cart.py").write_text(CART)
    (tmp_path / "use.py").write_text(USE)
    wrong = REPLY.replace("    return total(items)\n=", "    return grand_total(order, 7)\n=")
    with pytest.raises(EditError):
        apply_reply(wrong, tmp_path)
    assert (tmp_path / "cart.py").read_text() == CART
    assert not (tmp_path / "shop").exists()


def test_an_unclosed_block_or_one_without_a_file_is_named():
    with pytest.raises(DiffParseError, match=r"block 1 \(a.py\) is not closed"):
        parse_search_replace("a.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n")
    with pytest.raises(DiffParseError, match="names no file"):
        parse_search_replace("<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n")
    named = parse_search_replace(
        "<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n", default_path="a.py"
    )
    assert named.files[0].target == "a.py" and named.repairs


def test_blocks_that_change_nothing_are_no_edit_and_diffs_still_parse():
    with pytest.raises(NoDiffError):
        parse_search_replace("a.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 1\n>>>>>>> REPLACE\n")
    diff = "--- a/a.py\n+++ b/a.py\n@@ @@\n-x = 1\n+x = 2\n"
    assert parse_reply(diff).files[0].hunks[0].new_lines == ["x = 2"]


def test_a_block_closed_by_its_fence_without_the_marker_ends_there():
    # As the 1.5B wrote it on the edit suite: the marker dropped, the fence closed.
    reply = "a.py\n```python\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n```\n"
    parsed = parse_search_replace(reply)
    assert parsed.files[0].hunks[0].new_lines == ["x = 2"]
    assert parsed.repairs == ("block 1 ends at its code fence, without '>>>>>>> REPLACE'",)


def test_a_block_missing_its_end_never_takes_the_next_blocks_lines():
    reply = (
        "a.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n\n"
        "a.py\n<<<<<<< SEARCH\ny = 1\n=======\ny = 2\n>>>>>>> REPLACE\n"
    )
    with pytest.raises(DiffParseError, match=r"block 1 \(a.py\) is not closed"):
        parse_search_replace(reply)


def test_a_fence_inside_the_new_text_of_a_closed_block_is_text():
    reply = (
        "README.md\n````markdown\n<<<<<<< SEARCH\nUse it.\n=======\nUse it:\n```sh\n"
        "run\n```\n>>>>>>> REPLACE\n````\n"
    )
    hunk = parse_search_replace(reply).files[0].hunks[0]
    assert hunk.new_lines == ["Use it:", "```sh", "run", "```"]
