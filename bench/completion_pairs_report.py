"""The table of bench/results/completion_whole_model_h100.md, from completion_latency's JSONs.

    python bench/completion_pairs_report.py h100-qwen3-30b-cold h100-qwen3-30b-vllm-kernels-cold

Each name is a ``completion_latency_<name>.json`` in bench/results. Per run: latency p50 / p95
by mode (as completion_latency reports them), the first tokens over 1 s (a stall: a compile in the middle of a request), the
median first token of prefills of 257-999 and of 1000 or more new tokens with stalls left out
(past 256 tokens a step runs outside vLLM's CUDA graphs), and the median time a decoded token
takes over the requests that wrote more than 8 (fewer are dominated by the first token).

``--paired RUN TWIN`` compares two runs of the same requests request by request: how many
were faster in RUN, the median of RUN's latency over TWIN's, and the median first-token ratio
by the same prefill lengths (requests with a stall in either run left out).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import percentile

RESULTS = Path(__file__).parent / "results"
STALL_S = 1.0
GRAPH_ROWS = 256  # vLLM's largest captured CUDA graph with the GPU defaults


def _median_or_none(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def prefill_length(request: dict[str, Any]) -> str:
    """Which of the table's prefill lengths a request's new (uncached) tokens fall in."""
    new = request["prompt_tokens"] - request["cached_tokens"]
    return "graphs" if new <= GRAPH_ROWS else "257-999" if new < 1000 else ">=1000"


def summary(requests: list[dict[str, Any]]) -> dict[str, Any]:
    """The table's figures for one run's requests."""

    def latencies(mode: str) -> list[float]:
        return [r["latency_s"] * 1000 for r in requests if r["mode"] == mode]

    calm = [r for r in requests if r["first_token_s"] < STALL_S]
    decoded = [
        (r["engine_s"] - r["first_token_s"]) / (r["completion_tokens"] - 1) * 1000
        for r in requests
        if r["completion_tokens"] > 8
    ]
    out: dict[str, Any] = {
        mode: (percentile(latencies(mode), 50), percentile(latencies(mode), 95))
        for mode in ("single", "multi")
        if latencies(mode)
    }
    out["stalls_s"] = [
        (r["n"], round(r["first_token_s"], 2)) for r in requests if r["first_token_s"] >= STALL_S
    ]
    out["first_token_ms"] = {
        length: _median_or_none(
            [r["first_token_s"] * 1000 for r in calm if prefill_length(r) == length]
        )
        for length in ("graphs", "257-999", ">=1000")
    }
    out["decoded_token_ms"] = _median_or_none(decoded)
    return out


def paired(run: list[dict[str, Any]], twin: list[dict[str, Any]]) -> dict[str, Any]:
    """Request-by-request ratios of ``run`` to ``twin`` (the same requests, in order)."""
    if [r["n"] for r in run] != [r["n"] for r in twin]:
        raise ValueError("the two runs did not make the same requests")
    ratios = [a["latency_s"] / b["latency_s"] for a, b in zip(run, twin, strict=True)]
    out: dict[str, Any] = {
        "requests": len(ratios),
        "faster": sum(r < 1 for r in ratios),
        "median_latency_ratio": round(statistics.median(ratios), 3),
        "same_tokens": sum(
            a["completion_tokens"] == b["completion_tokens"] for a, b in zip(run, twin, strict=True)
        ),
    }
    for length, label in (("graphs", "≤256"), ("257-999", "257-999"), (">=1000", "≥1000")):
        firsts = [
            a["first_token_s"] / b["first_token_s"]
            for a, b in zip(run, twin, strict=True)
            if prefill_length(b) == length and max(a["first_token_s"], b["first_token_s"]) < STALL_S
        ]
        out[f"first_token_ratio {label}"] = (
            (len(firsts), round(statistics.median(firsts), 3)) if firsts else None
        )
    return out


def _fmt(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def row(name: str, figures: dict[str, Any]) -> str:
    single, multi = figures.get("single", (None, None)), figures.get("multi", (None, None))
    stalls = figures["stalls_s"]
    first = figures["first_token_ms"]
    return (
        f"| `{name}` | {_fmt(single[0])} / {_fmt(single[1])} | {_fmt(multi[0])} / "
        f"{_fmt(multi[1])} | {len(stalls)}{' ' + str(stalls) if stalls else ''} | "
        f"{_fmt(first['graphs'], 1)} / {_fmt(first['257-999'], 1)} / "
        f"{_fmt(first['>=1000'], 1)} | {_fmt(figures['decoded_token_ms'], 2)} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="+", help="completion_latency_<name>.json in bench/results")
    parser.add_argument("--paired", action="store_true", help="two names: RUN against TWIN")
    args = parser.parse_args()
    runs = [
        json.loads((RESULTS / f"completion_latency_{name}.json").read_text())["figures"]
        for name in args.names
    ]
    if args.paired:
        if len(runs) != 2:
            parser.error("--paired takes two names: RUN TWIN")
        print(json.dumps(paired(runs[0]["requests"], runs[1]["requests"]), ensure_ascii=False))
        return
    print(
        "| run | single-line p50 / p95 ms | multi-line p50 / p95 ms | first token ≥ 1 s "
        "(request, s) | first token ≤ 256 / 257–999 / ≥ 1000 new tokens, median ms | "
        "ms a decoded token (median) |"
    )
    print("|---|---|---|---|---|---|")
    for name, figures in zip(args.names, runs, strict=True):
        print(row(name, summary(figures["requests"])))


if __name__ == "__main__":
    main()
