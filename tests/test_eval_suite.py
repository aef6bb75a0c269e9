"""The edit evaluation (bench/eval/run_eval.py), run as a program (tests never import
bench/), with no model.

The self-check on a few tasks: each task's hidden tests fail on the project as given and pass
with the reference solution, and a task that breaks either rule is named and fails the check.
Rust and Java tasks are left to the full check, since a CI machine may lack their toolchains.
Then the edit run with a stand-in for ``fathom`` that prints ``fathom edit --json``'s object
and exits with its statuses: the command line it is given, the cache it runs with, how an
edit that solves the task, a refusal, an engine failure, a repetition loop and a crash are
counted, ``--serve`` (one server for the run, stopped after it) and the comparison of runs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HARNESS = ROOT / "bench" / "eval" / "run_eval.py"
SUITE = ROOT / "bench" / "eval" / "suite"
# Two Python and two JavaScript tasks, and a multi-file one (a rename across two modules).
CI_TASKS = [
    "py-roman-subtractive",
    "py-withdraw-overdraft",
    "js-paginate",
    "js-escape-html",
    "py-rename-quantity",
]
ROMAN = "py-roman-subtractive"
ROMAN_FILE = "numerals/roman.py"


def check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HARNESS), "--check-references", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_ci_tasks_fail_before_and_pass_with_their_reference():
    done = check("--tasks", ",".join(CI_TASKS))
    assert done.returncode == 0, done.stdout + done.stderr
    for task in CI_TASKS:
        assert f"ok   {task}" in done.stdout
    assert f"{len(CI_TASKS)} of {len(CI_TASKS)} tasks" in done.stdout


def _copy_task(tmp_path: Path) -> Path:
    suite = tmp_path / "suite"
    shutil.copytree(SUITE / ROMAN, suite / ROMAN)
    return suite


def test_a_wrong_reference_fails_the_check_and_is_named(tmp_path: Path):
    suite = _copy_task(tmp_path)
    reference = suite / ROMAN / "reference" / ROMAN_FILE
    text = reference.read_text()
    assert '(4, "IV")' in text
    reference.write_text(text.replace('(4, "IV")', '(4, "IIII")'))
    done = check("--suite", str(suite))
    assert done.returncode == 1
    assert f"FAIL {ROMAN}: its hidden tests fail with reference/" in done.stdout
    assert ROMAN in done.stderr


def test_a_task_that_passes_before_fails_the_check(tmp_path: Path):
    suite = _copy_task(tmp_path)
    before = suite / ROMAN / "before" / ROMAN_FILE
    # Solved already (plus a comment, so that it is not the reference byte for byte, which
    # is a problem of its own): the task asks for nothing, so it cannot measure an edit.
    solved = (suite / ROMAN / "reference" / ROMAN_FILE).read_text()
    before.write_text(solved + "\n# solved already\n")
    done = check("--suite", str(suite))
    assert done.returncode == 1
    assert f"FAIL {ROMAN}: its hidden tests pass on before/" in done.stdout


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("selection", '"30-40"', "selection 30-40 is outside 1-25"),
        ("multi_file", "true", "multi_file is True"),
    ],
)
def test_a_malformed_task_is_named(tmp_path: Path, field: str, value: str, problem: str):
    suite = _copy_task(tmp_path)
    toml = suite / ROMAN / "task.toml"
    lines = [
        f"{field} = {value}" if line.startswith(f"{field} =") else line
        for line in toml.read_text().splitlines()
    ]
    toml.write_text("\n".join(lines) + "\n")
    done = check("--suite", str(suite))
    assert done.returncode == 1
    assert f"FAIL {ROMAN}: " in done.stdout
    assert problem in done.stdout


# -- the edit run, with a stand-in for `fathom` (no model) -----------------------------------

FAKE_FATHOM = """#!{python}
import json, os, shutil, sys, urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

if sys.argv[1] == "serve-model":
    # `--dry-run` prints the server's command line, as Fathom's does; the harness runs it.
    port = sys.argv[sys.argv.index("--port") + 1]
    assert "--dry-run" in sys.argv
    print(f"FAKE_SERVER_ENV=set {{sys.executable}} {{sys.argv[0]}} fake-server {{port}}")
    sys.exit(0)
if sys.argv[1] == "fake-server":
    served = {{"data": [{{"id": "fake-model", "root": "/fake/tokenizer", "max_model_len": 4096}}]}}
    Path(os.environ["FAKE_SERVER"]).write_text(json.dumps({{
        "pid": os.getpid(), "env": os.environ.get("FAKE_SERVER_ENV"),
        "cache": os.environ.get("FATHOM_CACHE_DIR"), "vllm": os.environ.get("VLLM_CACHE_ROOT")}}))

    class Models(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps(served).encode()
            self.send_response(200 if self.path == "/v1/models" else 404)
            self.end_headers()
            self.wfile.write(body)

    HTTPServer(("127.0.0.1", int(sys.argv[2])), Models).serve_forever()

# What the harness typed and the cache it gave, for the test to read.
cache = Path(os.environ["FATHOM_CACHE_DIR"])
seen = {{"argv": sys.argv[1:], "cache": str(cache), "models": str((cache / "models").resolve()),
        "vllm": os.environ["VLLM_CACHE_ROOT"]}}
if "--server-url" in sys.argv:
    url = sys.argv[sys.argv.index("--server-url") + 1]
    seen["served"] = json.loads(urllib.request.urlopen(url + "/models").read())["data"][0]["id"]
Path(os.environ["FAKE_ARGV"]).write_text(json.dumps(seen))
figures = {{"rounds": 2, "prompt_tokens": 900, "completion_tokens": 120, "generation_s": 3.5,
           "context_s": 0.2, "engine_start_s": 0.4}}
mode = os.environ["FAKE_FATHOM"]
if mode == "hang-after-first":
    # The first task's edit is the reference; the next never ends (the run is stopped).
    mode = "reference" if Path(os.environ["FAKE_REFERENCE"]).parent.name in os.getcwd() else "hang"
if mode == "hang":
    import time
    time.sleep(600)
if mode in ("reference", "loop"):
    target = Path(sys.argv[2])
    if mode == "reference":
        shutil.copytree(os.environ["FAKE_REFERENCE"], ".", dirs_exist_ok=True)
    else:
        target.write_text(target.read_text() + "# again\\nx = 1\\ny = 2\\n" * 8)
    print(json.dumps({{"applied": True, "error": None, "files": [str(target)], **figures}}))
elif mode in ("refuse", "bad-request", "engine"):
    error, status = {{
        "refuse": ("the reply holds no hunk", 1),
        "bad-request": ("the selection is empty", 2),
        "engine": ("The model server at http://x/v1 is not reachable", 3),
    }}[mode]
    print(f"fathom: no edit: {{error}}", file=sys.stderr)
    # A refusal's reply fell into a loop (Fathom's guard cut it off), as small models' do.
    replies = ["```diff\\n" + "+x = 1\\n+y = 2\\n" * 20] if mode == "refuse" else []
    print(json.dumps({{"applied": False, "error": error, "replies": replies}}))
    sys.exit(status)
elif mode == "traceback":
    raise RuntimeError("boom")  # exit 1 and no JSON: no refusal
"""


def stand_in(tmp_path: Path, mode: str) -> tuple[Path, dict[str, str]]:
    """The stand-in ``fathom`` in ``tmp_path`` and the environment that sets its ``mode``."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    fake = tmp_path / "fathom"
    fake.write_text(FAKE_FATHOM.format(python=sys.executable))
    fake.chmod(0o755)
    env = {
        **os.environ,
        "FAKE_FATHOM": mode,
        "FAKE_ARGV": str(tmp_path / "argv.json"),
        "FAKE_SERVER": str(tmp_path / "server.json"),
        "FAKE_REFERENCE": str(SUITE / ROMAN / "reference"),
    }
    return fake, env


def harness_command(fake: Path, tasks: str, label: str, out: Path, *options: str) -> list[str]:
    return [
        sys.executable,
        str(HARNESS),
        "--tasks",
        tasks,
        "--fathom",
        str(fake),
        "--label",
        label,
        "--out",
        str(out),
        *options,
    ]


def harness(tmp_path: Path, mode: str, *options: str) -> tuple[dict, dict]:
    """Run the harness on one task with the stand-in; (the record, what the stand-in saw)."""
    fake, env = stand_in(tmp_path, mode)
    done = subprocess.run(
        harness_command(fake, ROMAN, mode, tmp_path / "results", *options),
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    record = json.loads((tmp_path / "results" / f"eval_{mode}.json").read_text())
    assert (tmp_path / "results" / f"eval_{mode}.md").is_file()
    assert [t["id"] for t in record["tasks"]] == [ROMAN]
    return record, json.loads((tmp_path / "argv.json").read_text())


def run_with_fake_fathom(tmp_path: Path, mode: str) -> dict:
    record, seen = harness(tmp_path, mode, "--model", "/models/m")
    argv = seen["argv"]
    assert argv == [
        "edit",
        ROMAN_FILE,
        "--range",
        "7:13",
        "--instruction",
        argv[5],
        "--apply",
        "--json",
        "--model",
        "/models/m",
    ]
    assert "subtractive notation" in argv[5]
    return record


def test_an_edit_that_solves_the_task_is_applied_and_passes(tmp_path: Path):
    record = run_with_fake_fathom(tmp_path, "reference")
    (task,) = record["tasks"]
    assert (task["outcome"], task["passed"], task["files_changed"]) == (
        "applied",
        True,
        [ROMAN_FILE],
    )
    assert task["all_reference_files_changed"] and not task["degenerate"]
    # The figures come from `fathom edit --json`.
    assert (task["rounds"], task["prompt_tokens"], task["completion_tokens"]) == (2, 900, 120)
    assert (task["tokens"], task["generation_s"], task["engine_start_s"]) == (1020, 3.5, 0.4)
    summary = record["summary"]["all"]
    assert (summary["pass_rate"], summary["applied_rate"], summary["well_formed_rate"]) == (
        100.0,
        100.0,
        100.0,
    )
    assert (summary["mean_rounds"], summary["total_tokens"]) == (2, 1020)
    assert record["summary"]["python"]["total_tokens"] == 1020
    assert record["summary"]["single-file"]["tasks"] == 1


@pytest.mark.parametrize(("mode", "status"), [("refuse", 1), ("bad-request", 2)])
def test_a_refusal_is_well_formed_and_fails(tmp_path: Path, mode: str, status: int):
    (task,) = run_with_fake_fathom(tmp_path, mode)["tasks"]
    assert (task["outcome"], task["well_formed"], task["passed"]) == ("refused", True, False)
    assert task["fathom_exit"] == status
    assert task["message"] in ("the reply holds no hunk", "the selection is empty")
    assert task["files_changed"] == []
    assert task["rounds"] is None and task["tokens"] is None


def test_an_engine_failure_is_no_refusal(tmp_path: Path):
    record = run_with_fake_fathom(tmp_path, "engine")
    (task,) = record["tasks"]
    assert (task["outcome"], task["well_formed"]) == ("engine_error", False)
    assert "not reachable" in task["message"]
    assert record["summary"]["all"]["well_formed_rate"] == 0.0


def test_a_repetition_loop_is_marked_degenerate(tmp_path: Path):
    record = run_with_fake_fathom(tmp_path, "loop")
    (task,) = record["tasks"]
    assert (task["outcome"], task["degenerate"], task["passed"]) == ("applied", True, False)
    assert task["max_block_repeats"] >= 5
    assert record["summary"]["all"]["degenerate_applied"] == 1


def test_a_traceback_is_a_crash_not_well_formed(tmp_path: Path):
    (task,) = run_with_fake_fathom(tmp_path, "traceback")["tasks"]
    assert (task["outcome"], task["well_formed"]) == ("crashed", False)
    assert "RuntimeError: boom" in task["message"]


def test_edits_get_a_cache_of_their_own_that_reuses_the_models(tmp_path: Path):
    users = Path(os.environ["FATHOM_CACHE_DIR"])  # the conftest's: the user's, to the harness
    record, seen = harness(tmp_path, "reference")
    cache = Path(seen["cache"])
    assert cache != users and not cache.is_relative_to(users)
    assert seen["vllm"] == str(cache / "vllm")  # vLLM's cache goes there too
    assert seen["models"] == str((users / "models").resolve())
    assert not cache.exists()  # the run's cache goes with the run
    assert (users / "models").is_dir()  # and the models it linked to stay
    assert "models from" in record["cache_dir"]


def test_serve_starts_one_server_for_the_run_and_stops_it(tmp_path: Path):
    cache = tmp_path / "cache"
    record, seen = harness(tmp_path, "reference", "--serve", "--cache-dir", str(cache))
    server = json.loads((tmp_path / "server.json").read_text())
    url = seen["argv"][seen["argv"].index("--server-url") + 1]
    assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
    assert seen["argv"][-6:] == [
        "--server-url",
        url,
        "--server-model",
        "fake-model",
        "--server-tokenizer",
        "/fake/tokenizer",
    ]
    assert seen["served"] == "fake-model"  # the server answered while the edit ran
    # The command line `serve-model --dry-run` printed ran, with its environment and the
    # run's cache; it is gone once the harness is done.
    assert (server["env"], server["cache"], seen["cache"]) == ("set", str(cache), str(cache))
    assert server["vllm"] == seen["vllm"] == str(cache / "vllm")  # vLLM's cache too
    with pytest.raises(ProcessLookupError):
        os.kill(server["pid"], 0)
    assert record["server"]["start_s"] >= 0
    assert record["tasks"][0]["outcome"] == "applied"


def test_the_edit_format_is_passed_to_every_edit(tmp_path: Path):
    record, seen = harness(tmp_path, "reference", "--edit-format", "search-replace")
    assert seen["argv"][-2:] == ["--edit-format", "search-replace"]
    assert record["edit_format"] == "search-replace"


def test_decoding_settings_are_passed_and_looped_replies_counted(tmp_path: Path):
    decoding = ["--temperature", "0.2", "--repetition-penalty", "1.1", "--retry-temperature", "0.7"]
    record, seen = harness(tmp_path, "refuse", *decoding)
    assert seen["argv"][-6:] == decoding
    assert record["decoding"] == {
        "temperature": 0.2,
        "repetition_penalty": 1.1,
        "retry_temperature": 0.7,
    }
    assert record["summary"]["all"]["replies_looped"] == 1
    table = (tmp_path / "results" / "eval_refuse.md").read_text()
    assert (
        "decoding: temperature 0.2, repetition penalty 1.1, retries at temperature 0.7 (seeded)"
        in table
    )
    # Without the options nothing is passed and the run says it was greedy.
    record, seen = harness(tmp_path / "default", "reference")
    assert not {"--temperature", "--repetition-penalty", "--retry-temperature"} & set(seen["argv"])
    assert record["decoding"] == {
        "temperature": 0.0,
        "repetition_penalty": 1.0,
        "retry_temperature": None,
    }
    assert record["summary"]["all"]["replies_looped"] == 0
    assert record["summary"]["all"]["several_files_changed"] == 0  # the reference: one file


def test_runs_compare_side_by_side(tmp_path: Path):
    records = []
    for mode in ("reference", "refuse"):
        harness(tmp_path / mode, mode)
        records.append(str(tmp_path / mode / "results" / f"eval_{mode}.json"))
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "eval" / "report.py"), "--compare", *records],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "|  | eval_reference | eval_refuse |" in lines
    assert "| pass % | 100.0 | 0.0 |" in lines
    assert "| well-formed % | 100.0 | 100.0 |" in lines
    assert "| python | 100 / 100 / 100 | 0 / 0 / 100 |" in lines
    assert f"| {ROMAN} | passed | refused |" in lines
    # --tasks: every run on the same tasks; a run that lacks one is refused, not averaged.
    report = [sys.executable, str(ROOT / "bench" / "eval" / "report.py"), "--compare", *records]
    same = subprocess.run([*report, "--tasks", ROMAN], capture_output=True, text=True)
    assert same.returncode == 0 and "| tasks | 1 | 1 |" in same.stdout.splitlines()
    lacking = subprocess.run(
        [*report, "--tasks", f"{ROMAN},py-nope"], capture_output=True, text=True
    )
    assert lacking.returncode == 2 and "did not run py-nope" in lacking.stderr


def test_the_check_loop_gives_fathom_the_hidden_tests_as_its_check(tmp_path: Path):
    record, seen = harness(tmp_path / "run", "reference", "--check-loop", "--check-rounds", "3")
    argv = seen["argv"]
    check = argv[argv.index("--check") + 1]
    assert argv[argv.index("--check-rounds") + 1] == "3"
    assert float(argv[argv.index("--check-timeout") + 1]) > 0
    assert record["check_loop"] == "the hidden tests, at most 3 more attempt(s)"
    # The check is a command that passes on the reference and fails on the project as given,
    # run as Fathom runs it: with a shell, in a copy of the project.
    before, solved = tmp_path / "before", tmp_path / "solved"
    shutil.copytree(SUITE / ROMAN / "before", before)
    shutil.copytree(before, solved)
    shutil.copytree(SUITE / ROMAN / "reference", solved, dirs_exist_ok=True)
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    ran = [
        subprocess.run(check, shell=True, cwd=folder, capture_output=True, timeout=300, env=env)
        for folder in (before, solved)
    ]
    assert [r.returncode != 0 for r in ran] == [True, False]


def test_a_stopped_run_keeps_the_tasks_it_finished(tmp_path: Path):
    """Results are written after every task: SIGTERM during the second task leaves the first
    task's row, marked partial."""
    fake, env = stand_in(tmp_path, "hang-after-first")
    results = tmp_path / "results"
    run = subprocess.Popen(
        harness_command(fake, f"{ROMAN},py-withdraw-overdraft", "stopped", results),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    record_path = results / "eval_stopped.json"
    try:
        for _ in range(1200):  # a guard against a hang, not a limit
            if record_path.exists():
                break
            time.sleep(0.1)
        run.send_signal(signal.SIGTERM)
        _out, err = run.communicate(timeout=120)
    finally:
        run.kill()
    assert run.returncode == 130, err
    assert "complete: false" in err
    record = json.loads(record_path.read_text())
    assert [t["id"] for t in record["tasks"]] == [ROMAN]
    assert (record["complete"], record["tasks_planned"]) == (False, 2)
    assert "Partial: 1 of 2 tasks" in (results / "eval_stopped.md").read_text()
