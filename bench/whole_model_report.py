"""Tables from bench/gpu_whole_model.py runs: Fathom beside plain vLLM, variants, profiles.

    python bench/whole_model_report.py RUN.json [RUN.json ...]   # the runs' whole_*.json

Writes bench/results/whole_model.json (every run's figures, as they came back) and
whole_model.md, and prints the tables.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def _row(rows: list[dict], batch: int) -> dict | None:
    return next((r for r in rows if r["batch"] == batch), None)


def _cell(row: dict | None) -> str:
    if not row or row.get("tpot_ms") is None:
        return "—"
    return f"{row['tpot_ms']} ({row['roofline_ms']}; {row['of_roofline_pct']}%)"


def decode_table(model: str, runs: dict[str, dict]) -> list[str]:
    """Decode ms/step per batch: Fathom's VllmEngine, raw AsyncLLM on the same engine, and
    plain vLLM with its own defaults; the ratio Fathom / plain."""
    fathom = runs.get(f"{model}_fathom_default", {}).get("decode", {})
    plain = runs.get(f"{model}_plain_default", {}).get("decode", {}).get("raw", [])
    batches = sorted({r["batch"] for rows in fathom.values() for r in rows})
    lines = [
        "| batch | VllmEngine ms/step (roofline ms; share) | same engine, raw AsyncLLM | "
        "plain vLLM defaults | bytes/step GB | VllmEngine ÷ plain |",
        "|---|---|---|---|---|---|",
    ]
    for b in batches:
        f, r, p = _row(fathom.get("fathom", []), b), _row(fathom.get("raw", []), b), _row(plain, b)
        ratio = f"{f['tpot_ms'] / p['tpot_ms']:.3f}" if f and p else "—"
        gb = f["bytes_per_step_GB"] if f else "—"
        lines.append(f"| {b} | {_cell(f)} | {_cell(r)} | {_cell(p)} | {gb} | {ratio} |")
    return lines


def latency_table(model: str, runs: dict[str, dict]) -> list[str]:
    fathom = runs.get(f"{model}_fathom_default", {})
    plain = runs.get(f"{model}_plain_default", {})
    lines = ["| what | VllmEngine | same engine, raw | plain vLLM |", "|---|---|---|---|"]
    for i, row in enumerate(fathom.get("ttft", {}).get("fathom", [])):
        raw = fathom["ttft"].get("raw", [{}] * (i + 1))[i]
        p = plain.get("ttft", {}).get("raw", [{}] * (i + 1))
        p = p[i] if i < len(p) else {}
        lines.append(
            f"| TTFT {row['prompt_tokens']} tok | {row['ttft_s']} s | {raw.get('ttft_s', '—')} s "
            f"| {p.get('ttft_s', '—')} s |"
        )
    for name, row in fathom.get("ttft_long", {}).items():
        lines.append(
            f"| TTFT {row['prompt_tokens']} tok ({name} only) | {row['ttft_s']} s | — | — |"
        )
    pf, pp = fathom.get("prefix_cache", {}), plain.get("prefix_cache", {}).get("raw", {})

    def hit(d: dict) -> str:
        return f"{d['cold']} → {d['hit']} s (×{d['speedup']})" if d else "—"

    lines.append(
        f"| 30K shared prefix + 256: TTFT cold → hit | {hit(pf.get('fathom', {}))} | "
        f"{hit(pf.get('raw', {}))} | {hit(pp)} |"
    )
    if "overhead" in fathom:
        o = fathom["overhead"]
        lines.append(
            f"| 4K prompt + 256 tokens, whole request (median of {o['reps']}) | {o['fathom_s']} s "
            f"| {o['raw_vllm_s']} s | overhead {o['overhead_pct']}% |"
        )
    starts = (fathom.get("engine_start_s"), plain.get("engine_start_s"))
    lines.append(f"| engine start | {starts[0]} s | — | {starts[1]} s |")
    return lines


def variant_table(model: str, runs: dict[str, dict]) -> list[str]:
    names = [t for t in runs if t.startswith(f"{model}_fathom_") and runs[t].get("trace")]
    names += [t for t in runs if t.startswith(f"{model}_fathom_") and t not in names]
    head = (
        "| what | "
        + " | ".join(
            runs[t]["variant"] + ("+ngram" if runs[t].get("speculative") == "ngram" else "")
            for t in names
        )
        + " |"
    )
    lines = [head, "|---" * (len(names) + 1) + "|"]

    def decode_cell(run: dict, batch: int) -> str:
        return _cell(_row(run.get("decode", {}).get("fathom", []), batch))

    lines.append(
        "| engine start s | " + " | ".join(str(runs[t].get("engine_start_s")) for t in names) + " |"
    )
    for b in (1, 32):
        lines.append(
            f"| batch {b} ms/step (roofline; share) | "
            + " | ".join(decode_cell(runs[t], b) for t in names)
            + " |"
        )
    traces = [runs[t].get("trace") or {} for t in names]
    lines.append(
        "| profiled GPU busy per step, µs | "
        + " | ".join(str(round(1000 * tr["per_step"]["busy_ms"])) if tr else "—" for tr in traces)
        + " |"
    )
    lines.append(
        "| kernels per step | "
        + " | ".join(str(tr["per_step"]["kernels"]) if tr else "—" for tr in traces)
        + " |"
    )
    families = sorted({f for tr in traces for f in tr.get("families_per_step", {})})
    for fam in families:
        cells = []
        for tr in traces:
            v = tr.get("families_per_step", {}).get(fam)
            cells.append(f"{v['us']} ({v['kernels']})" if v else "—")
        lines.append(f"| {fam}, µs/step (kernels) | " + " | ".join(cells) + " |")
    return lines


def build(paths: list[Path]) -> tuple[dict[str, Any], str]:
    runs: dict[str, dict] = {}
    for path in paths:
        run = json.loads(path.read_text())
        runs[path.stem.removeprefix("whole_")] = run
    models = sorted({r["model"] for r in runs.values()}, reverse=True)
    first = next(iter(runs.values()))
    md = [
        "# whole_model",
        "",
        f"Whole MoE models on one {first['gpus'][0]} (copy bandwidth "
        f"{first['copy_bandwidth_GBps']} GB/s, read + write), vLLM {first['vllm']}, torch "
        f"{first['torch']}, {first['date'][:10]}; dummy weights (bench/dummy_models.py: the "
        "published config.json), `VLLM_MOE_ROUTING_SIMULATION_STRATEGY=uniform_random`, CUDA "
        "graphs (vLLM's default FULL_AND_PIECEWISE). bench/gpu_whole_model.py. Roofline = bytes "
        "one decode step must read (every attention weight, the routed experts a batch touches "
        "under uniform routing, router, LM head, KV cache at ~1.15K tokens) ÷ the copy "
        "bandwidth. VllmEngine = Fathom's settings (backend/gpu_defaults.py) through "
        "`VllmEngine.stream`; raw = token ids into the same engine's `AsyncLLM.generate`; "
        "plain vLLM = a separate engine with vLLM's own defaults, raw path. Goals (issue 23): "
        "batch 1 ≥ 50% of roofline, batch 32 ≥ 85%, Fathom overhead ≤ 3%.",
    ]
    for model in models:
        weights = runs.get(f"{model}_fathom_default", {}).get("weights_GB")
        md += ["", f"## {model} ({weights} GB of weights)", "", "### Decode", ""]
        md += decode_table(model, runs)
        md += ["", "### Prefill, prefix cache, overhead", ""]
        md += latency_table(model, runs)
        md += ["", "### Variants and batch-1 profile (through VllmEngine)", ""]
        md += variant_table(model, runs)
    text = "\n".join(md) + "\n"
    return {"runs": runs}, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--notes", type=Path, default=None, help="markdown appended to the .md")
    args = parser.parse_args()
    data, text = build(args.runs)
    if args.notes:
        text += "\n" + args.notes.read_text()
    (RESULTS / "whole_model.json").write_text(json.dumps(data, indent=1))
    (RESULTS / "whole_model.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
