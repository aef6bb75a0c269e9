"""``fathom edit --check CMD``: the user's check judges each edit on a scratch copy; a failing
edit is asked again with the check's output and never written."""

from __future__ import annotations

import json
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from fathom.cli.main import main
from fathom.edits.plan import CreateFile, DeleteFile, DocumentSnapshot, EditPlan
from fathom.pipeline.check_loop import lay_over
from tests.openai_stub import CHAT

SOURCE = "def total(items):\n    t = 0\n    for i in items:\n        t += i\n    return t\n"
# Whole-block replies, as the model writes them after the reply Fathom begins for it.
WRONG = (
    "def total(items):\n-    t = 0\n-    for i in items:\n-        t += i\n-    return t\n"
    "+def total(items):\n+    return 0\n```\n"
)
RIGHT = WRONG.replace("+    return 0", "+    return sum(items)")
# The check prints what it saw, so the retry's prompt can be seen to carry it.
CHECK = (
    f'{shlex.quote(sys.executable)} -c "import cart, sys; r = cart.total([1, 2]); '
    "print('total gave', r); sys.exit(r != 3)\""
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / ".git").mkdir(parents=True)
    (root / "cart.py").write_text(SOURCE)
    return root


@dataclass(frozen=True)
class Done:
    returncode: int
    stdout: str
    stderr: str


def edit(tree: Path, stub, tokenizer_dir: Path, capsys, *extra: str) -> Done:
    """``fathom edit`` as a script runs it, in this process (its own cache: conftest)."""
    code = main(
        [
            "edit",
            str(tree / "cart.py"),
            "--range",
            "1:5",
            "--instruction",
            "use sum",
            "--json",
            "--apply",
            *extra,
            *stub.serve_args(tokenizer_dir),
        ]
    )
    out, err = capsys.readouterr()
    return Done(code, out, err)


def user_turn(body: dict) -> str:
    """The last user message of a chat request (an assistant turn Fathom began may follow)."""
    return [m["content"] for m in body["messages"] if m["role"] == "user"][-1]


def test_a_failed_check_asks_again_with_its_output_and_writes_the_edit_that_passes(
    tree, stub, tokenizer_dir, capsys
):
    stub.replay([WRONG, RIGHT])
    done = edit(tree, stub, tokenizer_dir, capsys, "--check", CHECK)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["attempts"] == 2
    assert ["return 0" in r for r in summary["replies"]] == [True, False]
    assert [c["passed"] for c in summary["checks"]] == [False, True]
    assert summary["checks"][0]["exit_code"] == 1
    assert "total gave 0" in summary["checks"][0]["output"]
    assert (tree / "cart.py").read_text() == "def total(items):\n    return sum(items)\n"
    # The second attempt was told what the first changed and what the check printed.
    first, second = stub.requests(CHAT)
    asked = user_turn(second.body)
    assert "total gave 0" in asked and "+    return 0" in asked and "use sum" in asked
    assert "total gave" not in user_turn(first.body)


def test_an_edit_that_never_passes_is_refused_and_nothing_is_written(
    tree, stub, tokenizer_dir, capsys
):
    stub.replay([WRONG, WRONG])
    done = edit(tree, stub, tokenizer_dir, capsys, "--check", CHECK, "--check-rounds", "1")
    assert done.returncode == 1, done.stderr
    summary = json.loads(done.stdout)
    assert summary["applied"] is False and summary["written"] == []
    assert len(summary["replies"]) == 2  # a refusal still says what the model wrote
    assert "failed (exit 1) after 2 attempt(s)" in summary["error"]
    assert [c["passed"] for c in summary["checks"]] == [False, False]
    assert "+    return 0" in summary["diff"]  # the last attempt is shown, not written
    assert (tree / "cart.py").read_text() == SOURCE
    assert len(stub.requests(CHAT)) == 2


def test_the_check_runs_on_a_copy_without_git_and_leaves_the_tree_alone(
    tree, stub, tokenizer_dir, capsys
):
    stub.replay([RIGHT])
    # Passes only where the edit is laid over a copy: not in the tree, no .git, cart.py edited.
    check = (
        f'test "$(pwd -P)" != "{tree.resolve()}" && test ! -e .git && grep -q sum cart.py '
        f"&& ! grep -q sum {shlex.quote(str(tree / 'cart.py'))}"
    )
    done = edit(tree, stub, tokenizer_dir, capsys, "--check", check, "--check-rounds", "0")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["checks"][0]["passed"] is True
    assert "sum(items)" in (tree / "cart.py").read_text()


def test_a_check_past_its_time_limit_fails_and_its_processes_are_stopped(
    tree, stub, tokenizer_dir, tmp_path, capsys
):
    stub.replay([RIGHT])
    pid_file = tmp_path / "sleeper.pid"
    check = f"sleep 300 & echo $! > {shlex.quote(str(pid_file))}; wait"
    done = edit(
        tree,
        stub,
        tokenizer_dir,
        capsys,
        *("--check", check, "--check-rounds", "0", "--check-timeout", "2"),
    )
    assert done.returncode == 1, done.stderr
    summary = json.loads(done.stdout)
    assert summary["checks"][0]["exit_code"] is None
    assert "did not finish within its time limit" in summary["error"]
    assert (tree / "cart.py").read_text() == SOURCE
    sleeper = int(pid_file.read_text())
    for _ in range(100):  # the orphan is reaped by init once killed
        if not Path(f"/proc/{sleeper}").exists():
            break
        time.sleep(0.1)
    assert not Path(f"/proc/{sleeper}").exists(), "the check's child outlived it"


@pytest.mark.parametrize("bad", [["--check-rounds", "-1"], ["--check-timeout", "0"]])
def test_bad_check_settings_are_a_bad_request(tree, stub, tokenizer_dir, bad, capsys):
    stub.replay([RIGHT])
    done = edit(tree, stub, tokenizer_dir, capsys, "--check", "true", *bad)
    assert done.returncode == 2
    assert "--check-rounds takes 0 or more" in done.stderr
    assert stub.requests(CHAT) == []


def test_lay_over_writes_created_and_removes_deleted_files(tmp_path):
    root, scratch = tmp_path / "root", tmp_path / "copy"
    for folder in (root, scratch):
        (folder / "pkg").mkdir(parents=True)
        (folder / "pkg" / "old.py").write_text("x = 1\n")
    plan = EditPlan(
        files=(),
        repairs=(),
        creates=(CreateFile(root / "pkg" / "sub" / "new.py", "y = 2\r\n"),),
        deletes=(DeleteFile(DocumentSnapshot(root / "pkg" / "old.py", "x = 1\n", None)),),
    )
    lay_over(plan, root, scratch)
    assert (scratch / "pkg" / "sub" / "new.py").read_bytes() == b"y = 2\r\n"
    assert not (scratch / "pkg" / "old.py").exists()
    assert (root / "pkg" / "old.py").exists()
