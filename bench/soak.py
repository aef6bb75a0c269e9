"""Soak: 500 mixed requests against the real ``fathom serve`` over stdio, its model server a
stub that answers with recorded replies (the model is not what is soaked here: the server is).

The mix, drawn with a fixed seed: edits (the editor applies each workspace edit and sends
the change back), reviews (findings published as diagnostics), edits cancelled while the
reply streams ($/cancelRequest), typing (incremental didChange), code actions and status
requests. One request at a time, so the recorded replies meet the requests they were
recorded for; cancellations still race the stream.

Prints a table and writes bench/results/soak.json and soak.md: requests, unexpected
errors, p50/p99 latency per kind, and the server's RSS (with its child processes) before
and after, sampled after every 100 requests.

    .venv/bin/python bench/soak.py [--requests 500] [--seed 7] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fathom.edits.prompt import diff_prefix  # noqa: E402
from tests.raw_client import EDITOR_CAPABILITIES, RawClient  # noqa: E402
from tests.tiny_tokenizer import make_tokenizer  # noqa: E402

LINES = 400
SOAK_FILE = "".join(f"value_{i} = 0\n" for i in range(LINES))
KINDS = ["edit", "review", "cancel", "typing", "codeAction", "status"]
WEIGHTS = [30, 15, 10, 25, 10, 10]


def _rss_mb(proc: psutil.Process) -> float:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20


def _model_server(replies_file: Path) -> tuple[subprocess.Popen, str]:
    """tests/openai_stub.py answering with the recorded replies, in a process of its own as a
    real model server is: its streaming never competes with this driver's threads for the GIL,
    so the latencies measured here are the language server's."""
    stub = subprocess.Popen(
        [sys.executable, "-m", "tests.openai_stub", str(replies_file)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert stub.stdout is not None
    url = stub.stdout.readline().strip()
    if not url:
        stub.kill()
        raise SystemExit("the model server stub did not start")
    return stub, url


def _whole(first: int, last: int) -> dict:
    return {"start": {"line": first, "character": 0}, "end": {"line": last, "character": 0}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    schedule = rng.choices(KINDS, WEIGHTS, k=args.requests)

    work = Path(tempfile.mkdtemp(prefix="fathom-soak-"))
    (work / "soak.py").write_text(SOAK_FILE)
    # One recorded reply per request that reaches the engine, in request order. Each edit
    # changes a line no earlier edit touched, so every one applies to the current text.
    replies, next_line = [], 0
    for kind in schedule:
        if kind == "edit":
            replies.append(
                diff_prefix("soak.py") + f"value_{next_line} = 0\n+value_{next_line} = 1\n```\n"
            )
            next_line += 1
        elif kind == "review":
            finding = {
                "code": "value_1 = 0",
                "problem": "A magic number.",
                "severity": "hint",
                "fixed_code": "value_1 = 0  # start",
            }
            replies.append(json.dumps({"findings": [finding]}))
        elif kind == "cancel":
            replies.append(
                {"text": diff_prefix("soak.py") + "x\n" * 400, "seconds_per_chunk": 0.02}
            )
    model = Path(tempfile.mkdtemp(prefix="fathom-soak-model-"))  # outside the workspace
    (model / "replies.json").write_text(json.dumps(replies))
    stub, url = _model_server(model / "replies.json")
    # Token counts are not soaked either: a tiny generated tokenizer counts them.
    tokenizer = make_tokenizer(model / "tokenizer")
    client = RawClient(work, "--server-url", url, "--server-tokenizer", str(tokenizer))
    server = psutil.Process(client.proc.pid)
    latencies: dict[str, list[float]] = {k: [] for k in KINDS}
    errors: list[str] = []
    rss = []
    try:
        client.initialize(work, EDITOR_CAPABILITIES)
        uri = (work / "soak.py").as_uri()
        text, version = SOAK_FILE, 1
        client.send(
            {
                "jsonrpc": "2.0",
                "method": "textDocument/didOpen",
                "params": {
                    "textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}
                },
            }
        )
        client.alive()
        client.pump(5)
        rss.append((0, _rss_mb(server)))
        started_all = time.perf_counter()
        edited = 0
        for n, kind in enumerate(schedule, start=1):
            started = time.perf_counter()
            if kind == "edit":
                target = f"value_{edited} = 0"  # the line this edit's reply was recorded for
                edited += 1
                line = text.splitlines().index(target)
                applied_before = len(client.edits)
                answer = client.request(
                    "workspace/executeCommand",
                    {
                        "command": "fathom.edit",
                        "arguments": [
                            {
                                "uri": uri,
                                "range": _whole(line, line + 1),
                                "instruction": "Set it to 1.",
                            }
                        ],
                    },
                    60,
                )
                if answer.get("result", {}).get("applied") is not True:
                    errors.append(f"{n} edit: {answer}")
                elif len(client.edits) == applied_before + 1:
                    # Apply what the server sent, as the editor does, and send it back.
                    (change,) = client.edits[-1]["edit"]["documentChanges"]
                    lines = text.splitlines(keepends=True)
                    for e in sorted(
                        change["edits"], key=lambda e: e["range"]["start"]["line"], reverse=True
                    ):
                        a, b = e["range"]["start"]["line"], e["range"]["end"]["line"]
                        lines[a:b] = [e["newText"]]
                    text, version = "".join(lines), version + 1
                    client.send(
                        {
                            "jsonrpc": "2.0",
                            "method": "textDocument/didChange",
                            "params": {
                                "textDocument": {"uri": uri, "version": version},
                                "contentChanges": [{"text": text}],
                            },
                        }
                    )
            elif kind == "review":
                answer = client.request(
                    "workspace/executeCommand",
                    {"command": "fathom.review", "arguments": [{"uri": uri}]},
                    60,
                )
                if "result" not in answer:
                    errors.append(f"{n} review: {answer}")
            elif kind == "cancel":
                seen = sum(1 for m in client.notifications if m["method"] == "fathom/preview")
                ident = client.start(
                    "workspace/executeCommand",
                    {
                        "command": "fathom.edit",
                        "arguments": [
                            {"uri": uri, "range": _whole(0, 1), "instruction": "Rewrite."}
                        ],
                    },
                )
                client.pump(
                    10,
                    until=lambda s=seen: (
                        sum(1 for m in client.notifications if m["method"] == "fathom/preview") > s
                    ),
                )
                client.send(
                    {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": ident}}
                )
                answer = client.wait(ident, 30)
                if answer.get("error", {}).get("code") != -32800:  # RequestCancelled
                    errors.append(f"{n} cancel: {answer}")
            elif kind == "typing":
                # A new comment line somewhere: the lines edits are recorded for stay intact.
                line = rng.randrange(len(text.splitlines()))
                version += 1
                client.send(
                    {
                        "jsonrpc": "2.0",
                        "method": "textDocument/didChange",
                        "params": {
                            "textDocument": {"uri": uri, "version": version},
                            "contentChanges": [
                                {
                                    "range": {
                                        "start": {"line": line, "character": 0},
                                        "end": {"line": line, "character": 0},
                                    },
                                    "text": f"# note {n}\n",
                                }
                            ],
                        },
                    }
                )
                lines = text.splitlines(keepends=True)
                lines.insert(line, f"# note {n}\n")
                text = "".join(lines)
                client.alive()  # the round trip after the change is what typing waits on
            elif kind == "codeAction":
                answer = client.request(
                    "textDocument/codeAction",
                    {
                        "textDocument": {"uri": uri},
                        "range": _whole(3, 5),
                        "context": {"diagnostics": []},
                    },
                )
                if not answer.get("result"):
                    errors.append(f"{n} codeAction: {answer}")
            else:
                answer = client.request(
                    "workspace/executeCommand", {"command": "fathom.status", "arguments": []}
                )
                if answer.get("result", {}).get("state") not in ("ready", "busy"):
                    errors.append(f"{n} status: {answer}")
            latencies[kind].append((time.perf_counter() - started) * 1000)
            if n % 100 == 0:
                client.pump(1)
                rss.append((n, _rss_mb(server)))
        total_s = time.perf_counter() - started_all
        client.alive()
        alive_at_end = client.proc.poll() is None
    finally:
        client.proc.kill()
        stub.terminate()
        stub.wait()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(model, ignore_errors=True)

    def pct(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2) if values else 0.0

    rows = [
        {
            "kind": k,
            "requests": len(v),
            "p50_ms": round(statistics.median(v), 2) if v else 0.0,
            "p99_ms": pct(v, 0.99),
            "max_ms": round(max(v), 2) if v else 0.0,
        }
        for k, v in latencies.items()
    ]
    every = [x for v in latencies.values() for x in v]
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()}, {psutil.cpu_count()} CPUs, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB",
        "python": platform.python_version(),
        "engine": "a model server stub answering with recorded replies over HTTP "
        "(tests/openai_stub.py); the server and its context pipeline are real",
        "seed": args.seed,
        "requests": len(every),
        "errors": len(errors),
        "error_samples": errors[:10],
        "server_alive_at_end": alive_at_end,
        "seconds": round(total_s, 1),
        "p50_ms": round(statistics.median(every), 2),
        "p99_ms": pct(every, 0.99),
        "by_kind": rows,
        "rss_mb": [{"after_requests": n, "rss_mb": round(m, 1)} for n, m in rss],
        "rss_growth_mb": round(rss[-1][1] - rss[0][1], 1),
        # Over the second half of the run: start-up caches have filled by then.
        "rss_growth_second_half_mb": round(rss[-1][1] - rss[len(rss) // 2][1], 1),
    }
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "soak.json").write_text(json.dumps(result, indent=2) + "\n")
    table = [
        f"# Soak: {result['requests']} mixed requests, one server ({result['date']})",
        "",
        f"{result['machine']}; Python {result['python']}; engine: {result['engine']}.",
        f"Errors: **{result['errors']}**; server alive at the end: {alive_at_end}; "
        f"{result['seconds']} s in all.",
        "",
        "| kind | requests | p50 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|",
        *[
            f"| {r['kind']} | {r['requests']} | {r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} |"
            for r in rows
        ],
        f"| **all** | {result['requests']} | {result['p50_ms']} | {result['p99_ms']} | |",
        "",
        "| after requests | RSS MB (server + children) |",
        "|---:|---:|",
        *[f"| {n} | {m:.1f} |" for n, m in rss],
        "",
        f"RSS growth over the run: {result['rss_growth_mb']} MB; over its second half: "
        f"{result['rss_growth_second_half_mb']} MB.",
    ]
    (out / "soak.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))
    return 0 if not errors and alive_at_end else 1


if __name__ == "__main__":
    sys.exit(main())
