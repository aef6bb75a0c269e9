"""Each bench/gpu_whole_model.py run beside its plain-vLLM twin from the same machine.

    python bench/whole_model_pairs_report.py --title "..." --out bench/results/NAME.md \
        RUN.json:TWIN.json [RUN.json:TWIN.json ...]

For each pair (issue 23 asks every figure with its plain-vLLM twin from the same run): ms per
decode step per phase (``decode``: the 1K prompt; ``decode_long``: the long one) and batch,
the run's time over the twin's, both shares of the HBM roofline; the settings of each; and
where a run has a profile, its GPU-busy time, kernels and families a step. Prints the
markdown and writes it to ``--out`` when given.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path
from typing import Any


def _settings(run: dict[str, Any]) -> str:
    """What set the run apart: engine, plugin, variant and its settings, routing."""
    plugin = (run.get("fathom_decode_env") or {}).get("FATHOM_DECODE_KERNELS") == "1"
    tiles = (run.get("fathom_decode_env") or {}).get("FATHOM_DECODE_TILES")
    parts = [
        f"engine {run.get('engine')}",
        "plugin on" if plugin else "plugin off",
        f"variant {run.get('variant')} {json.dumps(run.get('variant_settings') or {})}",
        "routing "
        + ((run.get("env") or {}).get("VLLM_MOE_ROUTING_SIMULATION_STRATEGY") or "top-k"),
    ]
    if run.get("moe_config_folder"):
        parts.append("fused-MoE configs from bench/gpu_moe_tune.py")
    if plugin and tiles:
        parts.append(f"tiles {tiles}")
    if plugin:
        ops = (run.get("fathom_decode_env") or {}).get("FATHOM_DECODE_OPS")
        parts.append(f"ops {ops or 'moe,dense'}")
    return "; ".join(parts)


def _rows(run: dict[str, Any], phase: str) -> dict[int, dict[str, Any]]:
    rows = (run.get(phase) or {}).get("raw") or []
    return {row["batch"]: row for row in rows if row.get("tpot_ms") is not None}


def pair_lines(name: str, run: dict[str, Any], twin: dict[str, Any]) -> list[str]:
    lines = [
        f"### {name}",
        "",
        f"- run: {_settings(run)}; {run.get('date')}; engine start {run.get('engine_start_s')} s",
        f"- twin: {_settings(twin)}; {twin.get('date')}; engine start "
        f"{twin.get('engine_start_s')} s",
        "",
        "| prompt | batch | run ms/step | twin ms/step | run ÷ twin | roofline ms | run share "
        "| twin share |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for phase in ("decode", "decode_long"):
        mine, theirs = _rows(run, phase), _rows(twin, phase)
        for batch in sorted(set(mine) | set(theirs)):
            a, b = mine.get(batch), theirs.get(batch)
            ratio = f"{a['tpot_ms'] / b['tpot_ms']:.3f}" if a and b else "—"
            ref = a or b or {}
            lines.append(
                f"| {ref.get('prompt_tokens')} | {batch} | {a['tpot_ms'] if a else '—'} | "
                f"{b['tpot_ms'] if b else '—'} | {ratio} | {ref.get('roofline_ms')} | "
                f"{a['of_roofline_pct'] if a else '—'}% | {b['of_roofline_pct'] if b else '—'}% |"
            )
    for (label, r), (key, batch) in itertools.product(
        (("run", run), ("twin", twin)), (("trace", 1), ("trace_b32", 32))
    ):
        trace = r.get(key) or {}
        step = trace.get("per_step")
        if not step:
            continue
        families = ", ".join(
            f"{family} {fig['us']} µs/{fig['kernels']}"
            for family, fig in (trace.get("families_per_step") or {}).items()
        )
        lines += [
            "",
            f"Profile ({label}, batch {batch}): GPU busy {round(1000 * step['busy_ms'])} µs a "
            f"step in {step['kernels']} kernels; {families}.",
        ]
    return [*lines, ""]


def report(title: str, pairs: list[tuple[Path, Path]]) -> str:
    runs = [(json.loads(a.read_text()), json.loads(b.read_text()), a, b) for a, b in pairs]
    first = runs[0][0] if runs else {}
    lines = [
        f"# {title}",
        "",
        f"{', '.join(first.get('gpus') or ['?'])}, vLLM {first.get('vllm')}, torch "
        f"{first.get('torch')}, copy bandwidth {first.get('copy_bandwidth_GBps')} GB/s, "
        f"model {first.get('model')} (dummy weights). Twin: plain vLLM on the same machine in "
        "the same session. Share: the HBM roofline (bytes a step ÷ copy bandwidth) over the "
        "measured ms per step.",
        "",
    ]
    for run, twin, a, b in runs:
        lines += pair_lines(f"`{a.name}` beside `{b.name}`", run, twin)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("pairs", nargs="+", help="RUN.json:TWIN.json")
    parser.add_argument("--title", default="Whole model, each run beside its plain-vLLM twin")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    pairs = [tuple(Path(p) for p in pair.split(":", 1)) for pair in args.pairs]
    text = report(args.title, pairs)  # type: ignore[arg-type]
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
