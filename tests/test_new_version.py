"""A small model's slip: the new code alone where the format wants old and new, read as the
selection's new version: a whole-block hunk quoting the selection already rewritten (old ==
new lines), a unified-diff hunk of new code with no line marked (the 1.5B on java-int-stack,
rs-mean-option, js-cart-tax), a search/replace block with the new code as SEARCH and REPLACE
(java-int-stack) and a search/replace block without '=======' (py-retry-exceptions)."""

import json
from pathlib import Path

import pytest

from fathom.cli.main import main
from fathom.context import LineRange
from fathom.edits.diff_parse import ParsedDiff
from fathom.edits.errors import DiffParseError, NoDiffError
from fathom.edits.new_version import (
    refused_reply_as_new_version,
    unchanged_hunk_as_new_version,
    undivided_block_as_new_version,
)
from fathom.edits.plan import EditPlan
from fathom.pipeline.apply_reply import plan_reply
from tests.test_check_loop import SOURCE
from tests.test_check_loop import edit as edit_tree

TEXT = "def total(items):\n    t = 0\n    for i in items:\n        t += i\n    return t\n\nx = 1\n"
TWICE = (
    "--- a/m.py\n+++ b/m.py\n@@ @@\n"
    "-def total(items):\n-    return sum(items)\n+def total(items):\n+    return sum(items)\n"
)


def assert_replaces_the_selection(parsed: ParsedDiff | None) -> tuple[str, ...]:
    """``parsed`` replaces lines 1-5 of TEXT with the two new lines; its repairs."""
    assert parsed is not None
    (hunk,) = parsed.files[0].hunks
    assert hunk.old_lines == TEXT.splitlines()[:5]
    assert hunk.new_lines == ["def total(items):", "    return sum(items)"]
    return parsed.repairs


def test_new_lines_written_twice_replace_the_selection():
    repairs = assert_replaces_the_selection(
        unchanged_hunk_as_new_version(TWICE, "m.py", TEXT, LineRange(0, 5))
    )
    assert any("marks no change but its lines are new" in r for r in repairs)


def test_the_refusal_picks_the_repair_and_other_formats_skip_the_whole_block_one():
    selection = LineRange(0, 5)
    no_diff = NoDiffError("The model's diff changes nothing.")
    assert_replaces_the_selection(
        refused_reply_as_new_version(no_diff, TWICE, "m.py", TEXT, selection)
    )
    # Asked for search/replace blocks, a model writes no hunks to have slipped in.
    assert (
        refused_reply_as_new_version(no_diff, TWICE, "m.py", TEXT, selection, unchanged_hunk=False)
        is None
    )
    # An unreadable reply is only ever read as an undivided block; TWICE is none.
    assert refused_reply_as_new_version(DiffParseError("x"), TWICE, "m.py", TEXT, selection) is None


def test_a_true_no_op_is_not_repaired():
    same = "--- a/m.py\n+++ b/m.py\n@@ @@\n-x = 1\n+x = 1\n"
    assert unchanged_hunk_as_new_version(same, "m.py", TEXT, LineRange(0, 5)) is None


def test_a_real_change_or_another_file_is_not_touched():
    real = "--- a/m.py\n+++ b/m.py\n@@ @@\n-x = 1\n+x = 2\n"
    assert unchanged_hunk_as_new_version(real, "m.py", TEXT, LineRange(6, 7)) is None
    other = TWICE.replace("m.py", "n.py")
    assert unchanged_hunk_as_new_version(other, "m.py", TEXT, LineRange(0, 5)) is None


UNDIVIDED = (
    "m.py\n```python\n<<<<<<< SEARCH\ndef total(items):\n    return sum(items)\n"
    ">>>>>>> REPLACE\n```\n"
)


def test_a_block_without_its_divider_replaces_the_selection():
    parsed = undivided_block_as_new_version(UNDIVIDED, "m.py", TEXT, LineRange(0, 5))
    assert assert_replaces_the_selection(parsed) == (
        "the search/replace block has no '=======' (only new lines): it replaces the selection",
    )
    # Named by the end of the selected file's path, or not at all: the same reading.
    assert undivided_block_as_new_version(UNDIVIDED, "pkg/m.py", TEXT, LineRange(0, 5))
    unnamed = UNDIVIDED.removeprefix("m.py\n")
    assert undivided_block_as_new_version(unnamed, "m.py", TEXT, LineRange(0, 5))


def test_other_undivided_replies_are_not_read_as_new_versions():
    selection = LineRange(0, 5)
    assert undivided_block_as_new_version(UNDIVIDED, "n.py", TEXT, selection) is None
    assert undivided_block_as_new_version(UNDIVIDED * 2, "m.py", TEXT, selection) is None
    quoted = UNDIVIDED.replace("    return sum(items)", "    return t")  # lines in the file
    assert undivided_block_as_new_version(quoted, "m.py", TEXT, selection) is None
    divided = UNDIVIDED.replace(">>>>>>> REPLACE", "=======\nx = 2\n>>>>>>> REPLACE")
    assert undivided_block_as_new_version(divided, "m.py", TEXT, selection) is None


def test_fathom_edit_applies_an_undivided_block_as_the_new_selection(
    tmp_path: Path, stub, tokenizer_dir: Path, capsys
):
    root = tmp_path / "tree"
    (root / ".git").mkdir(parents=True)
    (root / "cart.py").write_text(SOURCE)
    stub.replay([UNDIVIDED.replace("m.py", "cart.py")])
    done = edit_tree(root, stub, tokenizer_dir, capsys, "--edit-format", "search-replace")
    assert done.returncode == 0, done.stderr
    assert (root / "cart.py").read_text() == "def total(items):\n    return sum(items)\n"
    assert any("no '======='" in r for r in json.loads(done.stdout)["repairs"])


def test_fathom_apply_with_the_selection_reads_it_the_same(tmp_path: Path):
    (tmp_path / "m.py").write_text(TEXT)
    plan = plan_reply(UNDIVIDED, tmp_path, "m.py", LineRange(0, 5))
    (changed,) = plan.files
    assert changed.new_text() == "def total(items):\n    return sum(items)\n\nx = 1\n"


# The edit suite's java-int-stack (bench/eval/suite) and the 1.5B's first reply to it in
# unified diffs (bench/results/eval_cpu-1.5b-udiff-44.json): its new code as one hunk of
# context lines, no '-' or '+' line, written with no marker column.
INT_STACK_PATH = "src/app/util/IntStack.java"
INT_STACK = (
    "package app.util;\n"
    "\n"
    "/** A stack of ints without boxing, for the expression evaluator. */\n"
    "public class IntStack {\n"
    "    private int[] items;\n"
    "    private int size;\n"
    "\n"
    "    public IntStack(int capacity) {\n"
    "        items = new int[capacity];\n"
    "    }\n"
    "\n"
    "    public IntStack() {\n"
    "        this(8);\n"
    "    }\n"
    "\n"
    "    public void push(int value) {\n"
    "        items[size++] = value;\n"
    "    }\n"
    "\n"
    "    public int pop() {\n"
    "        return items[--size];\n"
    "    }\n"
    "\n"
    "    public int peek() {\n"
    "        return items[size - 1];\n"
    "    }\n"
    "\n"
    "    public int size() {\n"
    "        return size;\n"
    "    }\n"
    "\n"
    "    public boolean isEmpty() {\n"
    "        return size == 0;\n"
    "    }\n"
    "}\n"
)
INT_STACK_SELECTION = LineRange(15, 26)  # push, pop and peek: --range 16:26
UDIFF_NEW_CODE = (
    "```diff\n"
    "--- a/src/app/util/IntStack.java\n"
    "+++ b/src/app/util/IntStack.java\n"
    "@@ ... @@\n"
    "    public void push(int value) {\n"
    "        if (size == items.length) {\n"
    "            int[] newItems = new int[items.length * 2];\n"
    "            System.arraycopy(items, 0, newItems, 0, size);\n"
    "            items = newItems;\n"
    "        }\n"
    "        items[size++] = value;\n"
    "    }\n"
    "\n"
    "    public int pop() {\n"
    "        if (isEmpty()) {\n"
    '            throw new IllegalStateException("stack is empty");\n'
    "        }\n"
    "        return items[--size];\n"
    "    }\n"
    "\n"
    "    public int peek() {\n"
    "        if (isEmpty()) {\n"
    '            throw new IllegalStateException("stack is empty");\n'
    "        }\n"
    "        return items[size - 1];\n"
    "    }\n"
    "}\n"
    "```"
)


def int_stack_tree(root: Path) -> Path:
    (root / ".git").mkdir(parents=True)
    target = root / INT_STACK_PATH
    target.parent.mkdir(parents=True)
    target.write_text(INT_STACK)
    return target


def assert_int_stack_rewritten(text: str) -> None:
    """The selection holds the reply's new code at its own indentation; the rest is kept."""
    lines = text.splitlines()
    assert lines[:15] == INT_STACK.splitlines()[:15]
    assert lines[15:21] == [
        "    public void push(int value) {",
        "        if (size == items.length) {",
        "            int[] newItems = new int[items.length * 2];",
        "            System.arraycopy(items, 0, newItems, 0, size);",
        "            items = newItems;",
        "        }",
    ]
    assert text.count("throw new IllegalStateException") == 2
    assert text.endswith(INT_STACK[INT_STACK.index("    public int size()") :])


# The 1.5B's first reply to java-int-stack in search/replace blocks
# (bench/results/eval_cpu-1.5b-search-replace-44.json): the new code as both SEARCH and REPLACE.
INT_STACK_NEW = UDIFF_NEW_CODE.split("@@ ... @@\n")[1].removesuffix("}\n```")
SEARCH_REPLACE_NEW_CODE = (
    f"{INT_STACK_PATH}\n```java\n<<<<<<< SEARCH\n{INT_STACK_NEW}=======\n{INT_STACK_NEW}"
    ">>>>>>> REPLACE\n```"
)
NEW_CODE_REPLIES = [
    pytest.param(UDIFF_NEW_CODE, "udiff", "hunk marks no change", id="udiff"),
    pytest.param(
        SEARCH_REPLACE_NEW_CODE,
        "search-replace",
        "search/replace block changes nothing",
        id="search-replace",
    ),
]


@pytest.mark.parametrize(("reply", "edit_format", "repair"), NEW_CODE_REPLIES)
def test_new_code_quoted_as_unchanged_replaces_the_selection(
    tmp_path: Path, reply: str, edit_format: str, repair: str
):
    int_stack_tree(tmp_path)
    plan = plan_reply(reply, tmp_path, INT_STACK_PATH, INT_STACK_SELECTION)
    (changed,) = plan.files
    assert_int_stack_rewritten(changed.new_text())
    assert any(repair in r for r in plan.repairs), plan.repairs


@pytest.mark.parametrize(("reply", "edit_format", "repair"), NEW_CODE_REPLIES)
def test_fathom_edit_reads_it_the_same(
    tmp_path: Path, stub, tokenizer_dir: Path, capsys, reply: str, edit_format: str, repair: str
):
    target = int_stack_tree(tmp_path)
    stub.replay([reply])
    argv = ["edit", str(target), "--range", "16:26", "--instruction", "grow the array"]
    argv += ["--edit-format", edit_format, "--json", "--apply", *stub.serve_args(tokenizer_dir)]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert_int_stack_rewritten(target.read_text())
    assert any(repair in r for r in json.loads(out)["repairs"])


# The 1.5B's first replies in unified diffs to two more tasks of the edit suite
# (bench/results/eval_cpu-1.5b-udiff-new-version-44.json): the new code as one hunk of context
# lines in a code block, the marker column on its first lines only, so the parser ends the
# hunk at the first line at column 0 ("}") and the rest never reaches the file.
STATS = (
    "/// The arithmetic mean of `values`.\n"
    "pub fn mean(values: &[i64]) -> f64 {\n"
    "    let sum: i64 = values.iter().sum();\n"
    "    sum as f64 / values.len() as f64\n"
    "}\n"
    "\n"
    '/// A one-line summary for the dashboard: "n=3 mean=2.50".\n'
    "pub fn describe(values: &[i64]) -> String {\n"
    '    format!("n={} mean={:.2}", values.len(), mean(values))\n'
    "}\n"
    "\n"
    "/// The smallest and largest reading.\n"
    "pub fn range(values: &[i64]) -> Option<(i64, i64)> {\n"
    "    Some((*values.iter().min()?, *values.iter().max()?))\n"
    "}\n"
)
# Asked about lines 1-10 (mean and describe), it rewrote range too.
STATS_NEW = (
    "/// The arithmetic mean of `values`.\n"
    "pub fn mean(values: &[i64]) -> Option<f64> {\n"
    "    if values.is_empty() {\n"
    "        return None;\n"
    "    }\n"
    "    let sum: i128 = values.iter().sum();\n"
    "    Some(sum as f64 / values.len() as f64)\n"
    "}\n"
    "\n"
    '/// A one-line summary for the dashboard: "n=3 mean=2.50".\n'
    "pub fn describe(values: &[i64]) -> String {\n"
    "    if values.is_empty() {\n"
    '        return format!("n=0 mean=-");\n'
    "    }\n"
    '    format!("n={} mean={:.2}", values.len(), mean(values))\n'
    "}\n"
    "\n"
    "/// The smallest and largest reading.\n"
    "pub fn range(values: &[i64]) -> Option<(i64, i64)> {\n"
    "    if values.is_empty() {\n"
    "        return None;\n"
    "    }\n"
    "    Some((*values.iter().min()?, *values.iter().max()?))\n"
    "}\n"
)
STATS_REPLY = (
    "```diff\n--- a/src/stats.rs\n+++ b/src/stats.rs\n@@ ... @@\n"
    + "".join(f" {line}\n" for line in STATS_NEW.splitlines()[:2])
    + "".join(f"{line}\n" for line in STATS_NEW.splitlines()[2:])
    + "```"
)
CART = (
    "'use strict';\n\n/** Sum of price * quantity, in cents. */\nfunction subtotal(items) {\n"
    "  return items.reduce((sum, item) => sum + item.priceCents * item.quantity, 0);\n}\n\n"
    "/** What the customer pays, in cents. */\nfunction total(items) {\n"
    "  return subtotal(items);\n}\n\nmodule.exports = { subtotal, total };\n"
)
CART_REPLY = (
    "```diff\n--- a/src/cart.js\n+++ b/src/cart.js\n@@ ... @@\n"
    " function total(items, { taxRate = 0 } = {}) {\n"
    "  return subtotal(items) + (subtotal(items) * taxRate) / 100;\n}\n```"
)


def planned(root: Path, rel: str, text: str, reply: str, selection: LineRange) -> EditPlan:
    """``reply``'s plan for ``rel`` (holding ``text``) with ``selection`` asked about."""
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)
    return plan_reply(reply, root, rel, selection)


def test_a_hunk_whose_marker_column_stops_is_read_to_the_end_of_its_code_block(
    tmp_path: Path,
):
    plan = planned(tmp_path, "src/cart.js", CART, CART_REPLY, LineRange(8, 11))
    (changed,) = plan.files
    # The "}" at column 0 closes the function; the return line keeps the file's 2 spaces.
    assert changed.new_text() == CART.replace(
        "function total(items) {\n  return subtotal(items);\n}\n",
        "function total(items, { taxRate = 0 } = {}) {\n"
        "  return subtotal(items) + (subtotal(items) * taxRate) / 100;\n}\n",
    )


def test_a_new_version_that_goes_on_past_the_selection_replaces_what_it_rewrote(
    tmp_path: Path,
):
    plan = planned(tmp_path, "src/stats.rs", STATS, STATS_REPLY, LineRange(0, 10))
    (changed,) = plan.files
    assert changed.new_text() == STATS_NEW  # range once, as rewritten, not twice
    assert any("also rewrites lines 11-15" in r for r in plan.repairs)


def test_the_closing_brace_after_a_selection_inside_a_function_is_kept():
    text = "fn f(x: i32) -> i32 {\n    let y = x;\n    y\n}\n\nfn g() {}\n"
    reply = "```diff\n@@ @@\n     let y = x + 1;\n     y\n}\n```"
    parsed = unchanged_hunk_as_new_version(reply, "m.rs", text, LineRange(1, 3))
    assert parsed is not None
    (hunk,) = parsed.files[0].hunks
    # Only the selected lines are replaced: the function's own "}" after them stays.
    assert hunk.old_lines == ["    let y = x;", "    y"]
    assert hunk.new_lines == ["    let y = x + 1;", "    y"]


def test_a_search_replace_no_op_is_refused_as_one(tmp_path: Path):
    int_stack_tree(tmp_path)
    old = "".join(INT_STACK.splitlines(keepends=True)[15:26])
    reply = f"{INT_STACK_PATH}\n<<<<<<< SEARCH\n{old}=======\n{old}>>>>>>> REPLACE\n"
    with pytest.raises(NoDiffError, match="search/replace blocks change nothing"):
        plan_reply(reply, tmp_path, INT_STACK_PATH, INT_STACK_SELECTION)
