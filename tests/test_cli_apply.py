"""``fathom apply`` and ``fathom edit --json`` as scripts use them: exit status, output, disk."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SOURCE = "def total(items):\n    t = 0\n    for i in items:\n        t += i\n    return t\n"
DIFF = """```diff
--- a/cart.py
+++ b/cart.py
@@ -1,5 +1,2 @@
-def total(items):
-    t = 0
-    for i in items:
-        t += i
-    return t
+def total(items):
+    return sum(items)
```
"""
BLOCKS = """cart.py
```python
<<<<<<< SEARCH
    for i in items:
        t += i
=======
    for i in items:
        t += 2 * i
>>>>>>> REPLACE
```
"""


def fathom(*args: str, stdin: str = "", cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fathom.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=os.environ,
        timeout=120,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / "cart.py").write_text(SOURCE)
    return tmp_path


def test_apply_writes_a_chatty_diff_and_prints_it(tree):
    done = fathom("apply", stdin="Sure!\n" + DIFF, cwd=tree)
    assert done.returncode == 0, done.stderr
    assert (tree / "cart.py").read_text() == "def total(items):\n    return sum(items)\n"
    assert "+    return sum(items)" in done.stdout and "applied to" in done.stderr


def test_apply_takes_search_replace_blocks_from_any_tool(tree):
    done = fathom("apply", stdin=BLOCKS, cwd=tree / ".git")  # the git root is found from below
    assert done.returncode == 0, done.stderr
    assert "t += 2 * i" in (tree / "cart.py").read_text()


def test_a_dry_run_prints_the_diff_and_writes_nothing(tree):
    done = fathom("apply", "--dry-run", "--root", str(tree), stdin=DIFF, cwd=tree.parent)
    assert done.returncode == 0, done.stderr
    assert "+    return sum(items)" in done.stdout
    assert (tree / "cart.py").read_text() == SOURCE


def test_a_reply_that_does_not_apply_exits_1_and_writes_nothing(tree):
    wrong = DIFF.replace("-    t = 0", "-    t = start_value")
    wrong = wrong.replace("-        t += i", "-        t = combine(t, i, weights)")
    done = fathom("apply", stdin=wrong, cwd=tree)
    assert done.returncode == 1
    assert "not applied, nothing written" in done.stderr
    assert (tree / "cart.py").read_text() == SOURCE and done.stdout == ""


PALINDROME_TASK = Path(__file__).resolve().parents[1] / "bench/eval/suite/java-palindrome"
PALINDROMES = "src/app/text/Palindromes.java"
# Qwen2.5-Coder-1.5B's whole-block reply on java-palindrome (bench/results/eval_cpu-1.5b.json),
# the opening Fathom wrote for it included: it quotes the selection (lines 8-19) already
# rewritten, as context lines, so as written it changes nothing.
PALINDROME_REPLY = (
    "```diff\n"
    "--- a/src/app/text/Palindromes.java\n"
    "+++ b/src/app/text/Palindromes.java\n"
    "@@ @@\n"
    "-    public static boolean isPalindrome(String text) {\n"
    "+    public static boolean isPalindrome(String text) {\n"
    "        text = text.toLowerCase();\n"
    "        int i = 0;\n"
    "        int j = text.length() - 1;\n"
    "        while (i < j) {\n"
    "            if (!Character.isLetterOrDigit(text.charAt(i))) {\n"
    "                i++;\n"
    "                continue;\n"
    "            }\n"
    "            if (!Character.isLetterOrDigit(text.charAt(j))) {\n"
    "                j--;\n"
    "                continue;\n"
    "            }\n"
    "            if (text.charAt(i) != text.charAt(j)) {\n"
    "                return false;\n"
    "            }\n"
    "            i++;\n"
    "            j--;\n"
    "        }\n"
    "        return true;\n"
    "    }"
)


def test_a_reply_quoting_the_selection_rewritten_applies_given_the_file_and_range(tmp_path):
    shutil.copytree(PALINDROME_TASK / "before", tmp_path / "tree")
    tree = tmp_path / "tree"
    (tree / ".git").mkdir()
    before = (tree / PALINDROMES).read_text()
    plain = fathom("apply", stdin=PALINDROME_REPLY, cwd=tree)
    assert plain.returncode == 1  # without the selection there is nothing to read it as
    assert (tree / PALINDROMES).read_text() == before
    done = fathom(
        "apply", "--file", PALINDROMES, "--range", "8:19", stdin=PALINDROME_REPLY, cwd=tree
    )
    assert done.returncode == 0, done.stderr
    after = (tree / PALINDROMES).read_text()
    assert "Character.isLetterOrDigit(text.charAt(i))" in after
    assert after.count("public static boolean isPalindrome") == 1
    assert "longestPalindromicWord" in after  # the rest of the file is as it was


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--range", "8:19"], "--range needs --file"),
        (["--file", "nowhere.java"], "--file nowhere.java is not a file under"),
    ],
)
def test_a_range_without_a_file_or_a_missing_file_is_a_bad_request(tree, args, problem):
    done = fathom("apply", *args, stdin=DIFF, cwd=tree)
    assert done.returncode == 2 and problem in done.stderr
    assert (tree / "cart.py").read_text() == SOURCE


def test_no_reply_exits_2(tree):
    done = fathom("apply", stdin="  \n", cwd=tree)
    assert done.returncode == 2 and "no reply on stdin" in done.stderr


def test_edit_json_says_the_engine_failed_with_its_own_status(tree, tokenizer_dir):
    done = fathom(
        "edit",
        str(tree / "cart.py"),
        "--range",
        "1:5",
        "--instruction",
        "use sum",
        "--json",
        "--server-url",
        "http://127.0.0.1:9/v1",
        "--server-tokenizer",
        str(tokenizer_dir),
        cwd=tree,
    )
    assert done.returncode == 3, done.stderr
    summary = json.loads(done.stdout)
    assert summary["applied"] is False and summary["error"]
    assert (tree / "cart.py").read_text() == SOURCE


def test_edit_json_gives_the_figures_of_an_applied_edit(tree, tokenizer_dir, stub, tmp_path):
    # The model server answers the whole-block reply Fathom begins for it.
    stub.replay(
        [
            "def total(items):\n-    t = 0\n-    for i in items:\n-        t += i\n"
            "-    return t\n+def total(items):\n+    return sum(items)\n```\n"
        ]
    )
    env_cache = str(tmp_path / "cache")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "fathom.cli",
            "edit",
            str(tree / "cart.py"),
            "--range",
            "1:5",
            "--instruction",
            "use sum",
            "--json",
            "--apply",
            *stub.serve_args(tokenizer_dir),
        ],
        capture_output=True,
        text=True,
        cwd=tree,
        timeout=300,
        env={**os.environ, "FATHOM_CACHE_DIR": env_cache},
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["applied"] is True and summary["error"] is None
    assert summary["files"] == ["cart.py"] and summary["rounds"] == 1
    assert summary["prompt_tokens"] > 0 and summary["completion_tokens"] > 0
    assert "+    return sum(items)" in summary["diff"]
    (reply,) = summary["replies"]  # what the model wrote, after the opening Fathom wrote
    assert reply.startswith("```diff\n--- a/cart.py\n") and "+    return sum(items)" in reply
    assert (tree / "cart.py").read_text() == "def total(items):\n    return sum(items)\n"


def test_edit_asks_for_the_chosen_format_and_applies_its_blocks(
    tree, tokenizer_dir, stub, tmp_path
):
    blocks = BLOCKS.replace("t += 2 * i", "t += 3 * i")
    stub.replay([blocks])
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "fathom.cli",
            "edit",
            str(tree / "cart.py"),
            "--range",
            "3:4",
            "--instruction",
            "triple it",
            "--edit-format",
            "search-replace",
            "--apply",
            *stub.serve_args(tokenizer_dir),
        ],
        capture_output=True,
        text=True,
        cwd=tree,
        timeout=300,
        env={**os.environ, "FATHOM_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert done.returncode == 0, done.stderr
    assert "t += 3 * i" in (tree / "cart.py").read_text()
    system = stub.requests("/v1/chat/completions")[0].body["messages"][0]["content"]
    assert "SEARCH/REPLACE" in system
