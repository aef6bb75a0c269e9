"""Edit plans from model replies: strategies, repairs, multi-file operations, syntax checks,
relocation and the feedback loop, on in-memory texts and real tree-sitter grammars."""

from pathlib import Path

import pytest

from fathom.context.text import read_text_file
from fathom.edits.diff_parse import parse_diff
from fathom.edits.disk import write_plan
from fathom.edits.errors import EditError, HunkLocationError, StaleEditError
from fathom.edits.feedback import MAX_FEEDBACK_ROUNDS, run_rounds
from fathom.edits.plan import DocumentSnapshot, PlanBuilder, build_plan
from fathom.edits.relocate import relocate
from tests.in_memory_edits import apply_to_texts, plan_for_texts

SERVICE = """\
import logging

log = logging.getLogger(__name__)


def load(path):
    with open(path) as handle:
        data = handle.read()
    log.info("loaded %s", path)
    return data


def save(path, data):
    with open(path, "w") as handle:
        handle.write(data)
    log.info("saved %s", path)
    return len(data)


def describe(path):
    return f"file {path}"
"""


def _diff(body: str, path: str = "service.py") -> str:
    return f"--- a/{path}\n+++ b/{path}\n@@ @@\n{body}"


def _apply(body: str, text: str = SERVICE):
    return apply_to_texts(_diff(body), {"service.py": text})


# -- location strategies ---------------------------------------------------------------


def test_elided_lines_inside_a_whole_function_hunk():
    body = (
        " def save(path, data):\n     ...\n-    return len(data)\n+    return len(data.encode())\n"
    )
    result = _apply(body)
    assert result.strategies == ("elided lines",)
    assert result.texts["service.py"] == SERVICE.replace(
        "return len(data)", "return len(data.encode())"
    )


def test_elision_marker_that_is_removed_drops_the_lines_it_stands_for():
    body = (
        "-def save(path, data):\n"
        "-    # ... existing code ...\n"
        "-    return len(data)\n"
        "+def save(path, data):\n"
        '+    raise NotImplementedError("read-only")\n'
    )
    new = _apply(body).texts["service.py"]
    assert 'def save(path, data):\n    raise NotImplementedError("read-only")\n\n\n' in new
    assert "handle.write" not in new
    assert "def describe(path):" in new and "def load(path):" in new


def test_a_context_line_the_model_left_out_is_located_fuzzily_and_kept():
    # The model skipped 'log.info("saved %s", path)' from its quote.
    body = (
        " def save(path, data):\n"
        '     with open(path, "w") as handle:\n'
        "         handle.write(data)\n"
        "-    return len(data)\n"
        "+    return None\n"
    )
    result = _apply(body)
    assert result.strategies == ("fuzzy",)
    assert result.texts["service.py"] == SERVICE.replace("return len(data)", "return None")


def test_a_misquoted_context_line_is_located_fuzzily_and_the_file_keeps_its_own_line():
    body = (
        " def save(path, data):\n"
        '     with open(path, "w") as fh:\n'  # the file says "handle"
        "         handle.write(data)\n"
        '     log.info("saved %s", path)\n'
        "-    return len(data)\n"
        "+    return 0\n"
    )
    result = _apply(body)
    assert result.strategies == ("fuzzy",)
    new = result.texts["service.py"]
    assert 'with open(path, "w") as handle:' in new and " as fh:" not in new
    assert new == SERVICE.replace("return len(data)", "return 0")


def test_an_invented_context_line_is_not_written_into_the_file():
    body = (
        " def save(path, data):\n"
        "     # make sure the directory exists\n"  # not in the file
        '     with open(path, "w") as handle:\n'
        "         handle.write(data)\n"
        '     log.info("saved %s", path)\n'
        "-    return len(data)\n"
        "+    return 1\n"
    )
    result = _apply(body)
    assert result.strategies == ("fuzzy",)
    assert result.texts["service.py"] == SERVICE.replace("return len(data)", "return 1")


def test_fuzzy_candidates_of_equal_weight_are_refused_as_ambiguous():
    # Both functions hold the quoted lines; the misquoted one ('y = 3') cannot say which.
    text = (
        "def a():\n    x = compute(1)\n    y = 2\n    return x\n\n\ndef b():\n"
        "    x = compute(1)\n    y = 2\n    return x\n"
    )
    body = "     x = compute(1)\n-    y = 3\n+    y = 4\n     return x\n"
    with pytest.raises(HunkLocationError, match="matches 2 places"):
        apply_to_texts(_diff(body, "m.py"), {"m.py": text})


def test_hunks_out_of_order_both_land():
    body = (
        '-    return f"file {path}"\n+    return f"path {path}"\n'
        '@@ @@\n-    log.info("loaded %s", path)\n+    log.debug("loaded %s", path)\n'
    )
    new = _apply(body).texts["service.py"]
    assert 'log.debug("loaded %s", path)' in new and 'return f"path {path}"' in new


def test_one_failing_hunk_refuses_the_whole_file():
    body = "-    return len(data)\n+    return 0\n@@ @@\n-def remove(path):\n+def delete(path):\n"
    with pytest.raises(HunkLocationError, match=r"Hunk 2 of service\.py does not match"):
        _apply(body)


# -- repairs are recorded ----------------------------------------------------------------


def test_each_repair_of_a_damaged_reply_is_recorded():
    reply = (
        "I changed the return value.\n```diff\n"
        "--- service.py\n+++ service.py\n"
        "@@ -90,7 +90,7 @@\n"
        "-    return len(data)\n+    return 0\n```\nThat's it."
    )
    result = apply_to_texts(reply, {"service.py": SERVICE})
    assert result.texts["service.py"] == SERVICE.replace("return len(data)", "return 0")
    repairs = " | ".join(result.repairs)
    for expected in (
        "removed Markdown code fences",
        "dropped prose before the diff",
        "added a/ b/ prefixes",
        "recomputed hunk counts",
        "dropped prose after a hunk",
    ):
        assert expected in repairs


def test_a_bare_ellipsis_line_is_read_as_elided_context_and_recorded():
    reply = _diff(" def save(path, data):\n...\n-    return len(data)\n+    return -1\n")
    result = apply_to_texts(reply, {"service.py": SERVICE})
    assert any("elided context" in r for r in result.repairs)
    assert result.texts["service.py"] == SERVICE.replace("return len(data)", "return -1")


def test_an_omitted_hunk_count_is_standard_not_a_repair():
    reply = (
        '--- a/service.py\n+++ b/service.py\n@@ -20 +20 @@\n-    return f"file {path}"\n'
        "+    return str(path)\n"
    )
    assert apply_to_texts(reply, {"service.py": SERVICE}).repairs == ()


# -- line endings -------------------------------------------------------------------------


def test_crlf_and_missing_final_newline_survive_a_fuzzy_reindented_edit():
    text = SERVICE.replace("\n", "\r\n").removesuffix("\r\n")
    body = '-return f"file {path}"\n+if path:\n+    return f"file {path}"\n+return ""\n'
    new = apply_to_texts(_diff(body), {"service.py": text}).texts["service.py"]
    assert new.endswith('    return ""')  # still no final newline
    assert "\n" not in new.replace("\r\n", "")  # every line break is still CRLF
    assert '    if path:\r\n        return f"file {path}"\r\n' in new


# -- several files, create, rename, delete ---------------------------------------------------


FILES = {"service.py": SERVICE, "old_name.py": "VALUE = 1\n", "gone.py": "x = 1\n"}


def test_one_reply_edits_creates_renames_and_deletes():
    reply = (
        _diff("-    return len(data)\n+    return 0\n")
        + "--- /dev/null\n+++ b/pkg/new.py\n@@ -0,0 +1,2 @@\n+def new():\n+    return 1\n"
        + "diff --git a/old_name.py b/new_name.py\nsimilarity index 50%\n"
        "rename from old_name.py\nrename to new_name.py\n"
        "--- a/old_name.py\n+++ b/new_name.py\n@@ @@\n-VALUE = 1\n+VALUE = 2\n"
        + "diff --git a/gone.py b/gone.py\ndeleted file mode 100644\n"
    )
    plan = plan_for_texts(reply, FILES)
    assert [c.path.name for c in plan.creates] == ["new.py"]
    assert [(r.source.path.name, r.target.name) for r in plan.renames] == [
        ("old_name.py", "new_name.py")
    ]
    assert [d.snapshot.path.name for d in plan.deletes] == ["gone.py"]
    texts = apply_to_texts(reply, FILES).texts
    assert texts == {
        "service.py": SERVICE.replace("return len(data)", "return 0"),
        "pkg/new.py": "def new():\n    return 1\n",
        "new_name.py": "VALUE = 2\n",
        "old_name.py": None,
        "gone.py": None,
    }


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("--- /dev/null\n+++ b/service.py\n@@ @@\n+x = 1\n", "already exists"),
        ("--- a/missing.py\n+++ b/missing.py\n@@ @@\n-x\n+y\n", "does not exist"),
        (
            "diff --git a/gone.py b/service.py\nrename from gone.py\nrename to service.py\n",
            "already exists",
        ),
        ("--- a/../etc/passwd\n+++ b/../etc/passwd\n@@ @@\n-x\n+y\n", "outside the workspace"),
    ],
)
def test_file_operations_that_would_lose_work_or_leave_the_workspace_are_refused(reply, reason):
    with pytest.raises(EditError, match=reason):
        apply_to_texts(reply, FILES)


def test_binary_file_is_never_edited(tmp_path: Path):
    (tmp_path / "blob.py").write_bytes(b"x = 1\n\x00\x01\x02")

    def from_disk(path: Path) -> DocumentSnapshot:
        return DocumentSnapshot(path, read_text_file(path), None)

    with pytest.raises(EditError, match="binary"):
        build_plan(parse_diff(_diff("-x = 1\n+x = 2\n", "blob.py")), tmp_path, from_disk)


# -- syntax check -----------------------------------------------------------------------------


def test_an_edit_that_breaks_the_syntax_is_refused_with_the_line():
    body = "-def describe(path):\n+def describe(path:\n"
    with pytest.raises(HunkLocationError, match=r"Hunk 1 of service.py breaks the syntax"):
        _apply(body)


def test_python_refuses_what_tree_sitter_lets_through():
    """A one-line def over a body that stays indented: tree-sitter's grammar recovers without
    an error node, Python says "unexpected indent" (a review's fix once did exactly this)."""
    body = "-def load(path):\n+def load(path): return open(path).read()\n"
    with pytest.raises(HunkLocationError, match=r"Hunk 1 .*Python: unexpected indent at line 7"):
        _apply(body)


def test_python_that_did_not_parse_before_is_not_blamed_on_the_edit():
    # A stray indent tree-sitter recovers from and Python refuses, there before the edit (as
    # is code for a newer Python than the server's): the edit elsewhere is not refused.
    odd = SERVICE.replace("log = logging", "  log = logging")
    new = _apply('-    return f"file {path}"\n+    return f"path {path}"\n', odd)
    assert 'return f"path {path}"' in new.texts["service.py"]


def test_a_file_already_broken_there_may_still_be_edited():
    broken = SERVICE.replace("def describe(path):", "def describe(path:")
    body = '-    return f"file {path}"\n+    return f"path {path}"\n'
    new = _apply(body, broken).texts["service.py"]
    assert 'return f"path {path}"' in new


@pytest.mark.parametrize(
    ("path", "text", "old", "bad"),
    [
        ("lib.rs", "fn main() {\n    let x = 1;\n}\n", "    let x = 1;", "    let x = (1;"),
        ("app.ts", "const x: number = 1;\n", "const x: number = 1;", "const x: number = ;"),
        ("main.go", "package main\n\nfunc f() int {\n\treturn 1\n}\n", "\treturn 1", "\treturn {"),
    ],
)
def test_syntax_check_uses_each_files_grammar(path, text, old, bad):
    with pytest.raises(HunkLocationError, match="breaks the syntax"):
        apply_to_texts(_diff(f"-{old}\n+{bad}\n", path), {path: text})


def test_a_created_file_that_does_not_parse_is_refused():
    reply = "--- /dev/null\n+++ b/new.py\n@@ @@\n+def broken(:\n+    pass\n"
    with pytest.raises(EditError, match="does not parse"):
        apply_to_texts(reply, FILES)


# -- relocation after the user typed ------------------------------------------------------------


def _plan_for(text: str, body: str):
    root = Path("/fathom-virtual-root")
    path = root / "service.py"
    builder = PlanBuilder(
        root, lambda p: DocumentSnapshot(path, text, 4), lambda p: p == path, resolve=False
    )
    builder.add(parse_diff(_diff(body)))
    return builder.plan(), path


def test_plan_moves_with_lines_the_user_added_elsewhere():
    plan, path = _plan_for(SERVICE, "-    return len(data)\n+    return 0\n")
    typed = "#!/usr/bin/env python\n# a header the user typed meanwhile\n" + SERVICE
    moved = relocate(plan.files[0], DocumentSnapshot(path, typed, 5))
    assert moved.snapshot.version == 5
    assert moved.new_text() == typed.replace("return len(data)", "return 0")


def test_plan_is_refused_when_the_user_changed_the_lines_it_replaces():
    plan, path = _plan_for(SERVICE, "-    return len(data)\n+    return 0\n")
    typed = SERVICE.replace("return len(data)", "return len(data) + 1")
    with pytest.raises(StaleEditError, match="nothing was applied"):
        relocate(plan.files[0], DocumentSnapshot(path, typed, 5))


# -- the feedback loop, with a recorded sequence of replies --------------------------------------


async def _rounds(replies: list[str], text: str = SERVICE, asked: list[str] | None = None):
    """Run the rounds on ``replies``; ``asked`` (if given) collects the messages sent back."""
    root = Path("/fathom-virtual-root")
    builder = PlanBuilder(
        root,
        lambda p: DocumentSnapshot(p, text, 1),
        lambda p: p == root / "service.py",
        resolve=False,
    )
    asked = [] if asked is None else asked
    queue = iter(replies[1:])

    async def ask_again(message: str) -> str:
        asked.append(message)
        return next(queue)

    plan, rounds = await run_rounds(builder, replies[0], parse_diff, ask_again)
    return plan, rounds, asked


async def test_failed_hunk_goes_back_with_its_reason_and_the_text_around_it():
    first = _diff(
        '-    log.info("loaded %s", path)\n+    log.debug("loaded %s", path)\n'
        "@@ @@\n-def store(path, data):\n+def store(path, data, mode):\n"
    )
    second = _diff(
        '-def save(path, data):\n-    with open(path, "w") as handle:\n'
        '+def save(path, data, mode="w"):\n+    with open(path, mode) as handle:\n'
    )
    plan, rounds, asked = await _rounds([first, second])
    assert len(rounds) == 2 and len(asked) == 1
    message = asked[0]
    assert "1 hunk(s) applied and are kept: do not send them again" in message
    assert "Hunk 2 of service.py does not match the file" in message
    assert "   13 | def save(path, data):" in message  # the current text, numbered
    (file_edit,) = plan.files
    new = file_edit.new_text()
    assert 'log.debug("loaded %s", path)' in new  # the hunk that landed first was kept
    assert 'def save(path, data, mode="w"):\n    with open(path, mode) as handle:' in new


async def test_a_garbled_retry_is_answered_with_the_protocol_and_the_next_reply_counts():
    first = _diff("-def store(path):\n+def store2(path):\n")
    fixed = _diff("-def describe(path):\n+def describe(path, /):\n")
    plan, rounds, asked = await _rounds([first, "Sorry, here you go.", fixed])
    assert "could not be read as a unified diff" in asked[1]
    assert rounds[1].parse_error is not None
    assert "def describe(path, /):" in plan.files[0].new_text()


async def test_rounds_stop_after_the_limit_and_the_edit_is_refused():
    wrong = _diff("-def store(path):\n+def store2(path):\n")
    with pytest.raises(HunkLocationError, match="does not match"):
        await _rounds([wrong] * (MAX_FEEDBACK_ROUNDS + 1))


async def test_a_reply_written_again_ends_the_rounds_with_the_first_ones_error():
    # Greedy retries mostly repeat the reply they were asked to fix; a third ask would too.
    wrong = _diff("-def store(path):\n+def store2(path):\n")
    other = _diff("-def stored(path):\n+def store2(path):\n")
    assert MAX_FEEDBACK_ROUNDS >= 3
    asked: list[str] = []
    with pytest.raises(HunkLocationError, match="does not match"):
        await _rounds([wrong, other, wrong, "never asked for"], asked=asked)
    assert len(asked) == 2  # wrong, other, wrong again: the rounds end there


async def test_a_hunk_that_breaks_the_syntax_is_sent_back_with_the_parse_error():
    first = _diff("-def describe(path):\n+def describe(path:\n")
    fixed = _diff("-def describe(path):\n+def describe(path, *, short=False):\n")
    plan, _, asked = await _rounds([first, fixed])
    assert "breaks the syntax" in asked[0]
    assert "def describe(path, *, short=False):" in plan.files[0].new_text()


# -- cases the benchmark corpus caught ----------------------------------------------------------


def test_the_header_line_number_chooses_between_identical_blocks_and_says_so():
    text = "def a():\n    return 0\n\n\ndef b():\n    return 0\n"
    # The quoted line is at lines 2 and 6; the header says 5 (models count from the def).
    reply = "--- a/m.py\n+++ b/m.py\n@@ -5,1 +5,1 @@\n-    return 0\n+    return 1\n"
    result = apply_to_texts(reply, {"m.py": text})
    assert result.texts["m.py"] == "def a():\n    return 0\n\n\ndef b():\n    return 1\n"
    assert any("took line 6, the one its header names" in r for r in result.repairs)


def test_a_header_far_from_every_candidate_decides_nothing():
    text = "def a():\n    return 0\n\n\ndef b():\n    return 0\n"
    reply = "--- a/m.py\n+++ b/m.py\n@@ -40,1 +40,1 @@\n-    return 0\n+    return 1\n"
    with pytest.raises(HunkLocationError, match="matches 2 places"):
        apply_to_texts(reply, {"m.py": text})


@pytest.mark.parametrize("header", ["@@ ... @@", "@@"])
def test_number_less_hunk_headers_are_hunks(header):
    reply = f"--- a/service.py\n+++ b/service.py\n{header}\n-    return len(data)\n+    return 0\n"
    result = apply_to_texts(reply, {"service.py": SERVICE})
    assert result.texts["service.py"] == SERVICE.replace("return len(data)", "return 0")


def test_reindenting_moves_every_line_by_the_same_amount():
    # The model quoted the method 4 spaces too deep; its closing line is shallower than its first.
    text = "class A {\n  run() {\n    go();\n  }\n}\n"
    reply = _diff("-      go();\n-    }\n+      go();\n+      stop();\n+    }\n", "a.js")
    new = apply_to_texts(reply, {"a.js": text}).texts["a.js"]
    assert new == "class A {\n  run() {\n    go();\n    stop();\n  }\n}\n"


def test_spaces_written_into_a_tab_indented_file_become_tabs():
    text = "package main\n\nfunc f() int {\n\tx := 1\n\treturn x\n}\n"
    reply = _diff(
        " func f() int {\n-    x := 1\n+    x := 2\n+    if x > 1 {\n+        x--\n+    }\n",
        "main.go",
    )
    new = apply_to_texts(reply, {"main.go": text}).texts["main.go"]
    assert (
        new
        == "package main\n\nfunc f() int {\n\tx := 2\n\tif x > 1 {\n\t\tx--\n\t}\n\treturn x\n}\n"
    )


@pytest.mark.parametrize("added", ["+z = 3\n", "+\n+z = 3\n"])
def test_lines_appended_after_a_last_line_without_newline_start_on_their_own_line(added):
    text = "x = 1\ny = 2"
    new = apply_to_texts(_diff(f" y = 2\n{added}", "m.py"), {"m.py": text}).texts["m.py"]
    assert new == "x = 1\ny = 2\n" + added.replace("+", "").removesuffix("\n")


# -- writing a plan to disk (the headless CLI) ----------------------------------------------------


def _disk_plan(root: Path, reply: str):
    def from_disk(path: Path) -> DocumentSnapshot:
        return DocumentSnapshot(path, read_text_file(path), None)

    return build_plan(parse_diff(reply), root, from_disk)


def test_write_plan_edits_creates_renames_and_deletes_on_disk(tmp_path: Path):
    (tmp_path / "a.py").write_bytes(b"x = 1\r\ny = 2\r\n")
    (tmp_path / "b.py").write_text("B = 1\n")
    (tmp_path / "c.py").write_text("C = 1\n")
    reply = (
        "--- a/a.py\n+++ b/a.py\n@@ @@\n-y = 2\n+y = 3\n"
        "--- /dev/null\n+++ b/pkg/d.py\n@@ @@\n+D = 1\n"
        "diff --git a/b.py b/e.py\nrename from b.py\nrename to e.py\n"
        "diff --git a/c.py b/c.py\ndeleted file mode 100644\n"
    )
    write_plan(_disk_plan(tmp_path, reply), allow_delete=True)
    assert (tmp_path / "a.py").read_bytes() == b"x = 1\r\ny = 3\r\n"
    assert (tmp_path / "pkg" / "d.py").read_text() == "D = 1\n"
    assert (tmp_path / "e.py").read_text() == "B = 1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py", "e.py", "pkg"]


def test_write_plan_refuses_everything_if_a_file_changed_meanwhile(tmp_path: Path):
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("y = 1\n")
    reply = (
        "--- a/a.py\n+++ b/a.py\n@@ @@\n-x = 1\n+x = 2\n"
        "--- a/b.py\n+++ b/b.py\n@@ @@\n-y = 1\n+y = 2\n"
    )
    plan = _disk_plan(tmp_path, reply)
    (tmp_path / "b.py").write_text("y = 1\nz = 0\n")  # someone saved while the model wrote
    with pytest.raises(EditError, match="changed on disk"):
        write_plan(plan)
    assert (tmp_path / "a.py").read_text() == "x = 1\n"  # not even the unchanged file


# -- cases held-out corpora (other generator seeds) caught ------------------------------------


def test_a_blank_line_leading_the_quote_pairs_with_the_blank_next_to_it():
    text = "def f():\n    x = 1\n\n    y = 2\n\n    z = 3\n    w = 4\n    return z\n"
    reply = _diff(
        "\n     # Invented comment line.\n     z = 3\n-    w = 4\n+    w = 5\n     return z\n"
    )
    reply = reply.replace("service.py", "m.py")
    assert apply_to_texts(reply, {"m.py": text}).texts["m.py"] == text.replace("w = 4", "w = 5")


def test_the_indent_shift_is_the_one_most_matched_lines_agree_on():
    # The model left out the outer "}": its "    }" pairs with the file's "}" (shift -4), but
    # the lines with words in them say the shift is 0.
    text = (
        "int a(int x) {\n    if (x) {\n        x++;\n    }\n}\n\nint b(void) {\n    return 2;\n}\n"
    )
    reply = _diff(
        "     }\n\n+int c(void) {\n+    return 3;\n+}\n+\n int b(void) {\n     return 2;\n", "m.c"
    )
    new = apply_to_texts(reply, {"m.c": text}).texts["m.c"]
    assert new == text.replace("\nint b(void)", "\nint c(void) {\n    return 3;\n}\n\nint b(void)")


GET_SET = (
    "void get(void) {\n    // Get process CPU affinity.\n    // Reference: see cpuset.c\n"
    "    // More: man cpuset\n    pid_t pid;\n    int ret;\n    int i;\n}\n\n"
    "void set(void) {\n    // Set process CPU affinity.\n    // Reference: see cpuset.c\n"
    "    // More: man cpuset\n    pid_t pid;\n    int i;\n}\n"
)
GET_HUNK = (
    "     // Get process CPU affinity.\n     // Reference: see cpuset.c\n"
    "     // More: man cpuset\n+    log();\n     pid_t pid;\n     int i;\n"
)


def test_a_line_dropped_here_is_not_outscored_by_a_misquote_elsewhere():
    # 'get' with "int ret;" left out scores 5/6; 'set' scores ~0.99 by reading Get as Set.
    # Without a header that says which, that is a refusal, not an edit in the wrong function.
    with pytest.raises(HunkLocationError, match="matches 2 places"):
        apply_to_texts(_diff(GET_HUNK, "m.c"), {"m.c": GET_SET})
    numbered = "--- a/m.c\n+++ b/m.c\n@@ -2,5 +2,6 @@\n" + GET_HUNK
    new = apply_to_texts(numbered, {"m.c": GET_SET}).texts["m.c"]
    assert new == GET_SET.replace(
        "man cpuset\n    pid_t pid;\n    int ret;",
        "man cpuset\n    log();\n    pid_t pid;\n    int ret;",
    )


def test_the_header_is_weighed_against_every_fuzzy_candidate_not_just_two():
    block = (
        "    if (n < 0) {\n        return -1;\n    }\n    out.WriteByte(text[0])\n    return 0\n}\n"
    )
    text = "".join(f"int f{i}(int n) {{\n{block}\n" for i in range(3))
    reply = (
        "--- a/m.go\n+++ b/m.go\n@@ -20,4 +20,5 @@\n     }\n     out.WriteyBte(text[0])\n"
        "+    // note\n     return 0\n }\n"
    )
    new = apply_to_texts(reply, {"m.go": text}).texts["m.go"]
    third = text.index("int f2")
    tail = text[third:].replace("text[0])\n", "text[0])\n    // note\n", 1)
    assert new == text[:third] + tail


def test_blank_context_lines_written_with_their_space_at_the_end_of_a_hunk_are_kept():
    hunk = parse_diff("--- a/m.c\n+++ b/m.c\n@@ -1,4 +1,4 @@\n a\n-b\n+c\n \n \n").files[0].hunks[0]
    assert hunk.old_lines == ["a", "b", "", ""]
    bare = parse_diff("--- a/m.c\n+++ b/m.c\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n\n\n").files[0].hunks[0]
    assert bare.old_lines == ["a", "b"]  # empty lines after a hunk end the reply


def test_an_invented_blank_context_line_is_not_paired_with_a_far_blank_line():
    text = (
        "def f():\n    a = 1\n    b = 2\n    c = 3\n    d = 4\n    e = 5\n    f = 6\n\n    g = 7\n"
    )
    reply = _diff(
        "     a = 1\n-    b = 2\n+    b = 20\n     c = 3\n     d = 4\n \n     e = 5\n", "m.py"
    )
    assert apply_to_texts(reply, {"m.py": text}).texts["m.py"] == text.replace(
        "b = 2\n", "b = 20\n"
    )


def test_removed_blank_lines_after_an_invented_line_remove_the_files_blank_lines():
    text = "def f():\n    return 1\n\n\ndef g():\n    return 2\n"
    reply = _diff(
        "     return 1\n     # invented comment\n-\n-\n-def g():\n-    return 2\n", "m.py"
    )
    assert apply_to_texts(reply, {"m.py": text}).texts["m.py"] == "def f():\n    return 1\n"
