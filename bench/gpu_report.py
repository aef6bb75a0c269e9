"""Tables of the GPU runs (bench/results/gpu_engine_*.json, ngram_speculation_*.json) -> .md.

    python bench/gpu_report.py        # writes bench/results/gpu_engine.md and prints it

The runs happen on a GPU host (bench/gpu_engine.py, bench/ngram_speculation.py); their JSON
is committed as it came back, and this renders it next to the goals and the hand-measured
reference (../shared/gpu/README.md "Measured": one H100, vLLM 0.26.0, smoke.py).
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
REFERENCE = {"tpot_1": 2.31, "tpot_32": 7.35, "hit": 0.050, "cold": 0.552}
NOTES = {
    "h100_tp1": "ran before VllmEngine handed vLLM token ids; it tokenized each prompt twice "
    "(Fathom's count, then vLLM's), which shows in its TTFT.",
    "h100-flashmla": "attention backend FLASHMLA: batch 1 slower than vLLM's default choice.",
    "h100-kvfp8": "FP8 KV cache: best batch 8 and 32; decode and a 32K prefill only.",
    "h200-l5": "one H200, the same 5-layer slice, batches to 128; with h200-l9, the two points "
    "bench/extrapolate_full.py separates per-MoE-layer cost from fixed cost with.",
    "h200-l9": "one H200, 9 layers (3 dense + 6 MoE), about the most one H200 holds with KV room.",
    "h100-prefixids": "prefix-reusing tokenization (backend/prefix_tokens.py): the shared 30K "
    "prefix's ids come from the previous prompt; no decode phase. Its overhead row is 5 "
    "alternating reps of a 4K prompt, noisy (raw vLLM measured slower).",
}
GOALS = "goals: ≥ 85% of roofline at batch 1, ≥ 90% at batch 32, overhead ≤ 3%, n-gram ≥ 2×"


def _run_table(runs: list[tuple[str, dict]]) -> list[str]:
    head = "| what | " + " | ".join(name for name, _ in runs) + " |"
    rows = [head, "|---" * (len(runs) + 1) + "|"]

    def row(label: str, cell) -> None:
        rows.append(f"| {label} | " + " | ".join(cell(r) for _, r in runs) + " |")

    row("GPU", lambda r: ", ".join(r["gpus"]))
    row("layers (dense + MoE)", lambda r: f"{r.get('layers', 5)} "
        f"({r['weights']['dense_layers']} + {r['weights']['moe_layers']})")  # fmt: skip
    row("settings", lambda r: _settings(r))
    row("engine start", lambda r: f"{r['engine_start_s']} s")
    row("copy bandwidth (read + write)", lambda r: f"{r['copy_bandwidth_GBps']} GB/s")
    for i, label in enumerate(("TTFT 32K prompt", "TTFT 120K prompt")):
        row(label, lambda r, i=i: _ttft(r, i))
    for batch in (1, 8, 32):
        row(f"decode ms/token, batch {batch} (roofline; share)", lambda r, b=batch: _decode(r, b))
    row("bytes per decode step, batch 1 / 32", lambda r: _bytes(r))
    row("prefix cache, 30K shared prefix: TTFT cold → hit", lambda r: _prefix(r))
    row("Fathom overhead: VllmEngine.stream vs AsyncLLM.generate", lambda r: _overhead(r))
    return rows


def _settings(r: dict) -> str:
    s = r["settings"]
    parts = [f"TP {s['tensor_parallel_size']}"]
    if s.get("enable_expert_parallel"):
        parts.append("EP")
    parts.append(f"mem {s.get('gpu_memory_utilization')}, {s.get('max_num_batched_tokens')} tok")
    parts.append(f"KV {s['kv_cache_dtype']}")
    parts.append(s.get("attention_backend") or "default attention")
    return ", ".join(parts)


def _ttft(r: dict, i: int) -> str:
    t = r["ttft"]
    return f"{t[i]['ttft_s']} s ({t[i]['prompt_tokens']} tok)" if i < len(t) else "—"


def _decode(r: dict, batch: int) -> str:
    for d in r.get("decode", []):
        if d["batch"] == batch:
            return f"{d['tpot_ms']} ({d['roofline_ms']}; {d['of_roofline_pct']}%)"
    return "—"


def _bytes(r: dict) -> str:
    by = {d["batch"]: d["bytes_per_step_GB"] for d in r.get("decode", [])}
    return f"{by.get(1, '—')} / {by.get(32, '—')} GB"


def _prefix(r: dict) -> str:
    p = r.get("prefix_cache")
    if not p:
        return "—"
    return f"{p['cold']['ttft_s']} → {p['hit']['ttft_s']} s ({p['hit']['cached_prompt_tokens']} cached)"


def _overhead(r: dict) -> str:
    o = r.get("overhead")
    if not o:
        return "—"
    return f"{o['fathom_s']} vs {o['raw_vllm_s']} s ({o['overhead_pct']:+.1f}%)"


def main() -> None:
    runs = [
        (p.stem.removeprefix("gpu_engine_"), json.loads(p.read_text()))
        for p in sorted(RESULTS.glob("gpu_engine_*.json"))
    ]
    first = runs[0][1] if runs else {}
    md = [
        "# gpu_engine",
        "",
        f"DeepSeek-V3 architecture slices (layers per column; the full model has 61: 3 dense + 58 MoE), dummy FP8 "
        "128×128 weights, `VLLM_MOE_ROUTING_SIMULATION_STRATEGY=uniform_random`, CUDA graphs, "
        f"through Fathom's `VllmEngine`; vLLM {first.get('vllm')}, torch {first.get('torch')}. "
        "Roofline = bytes one decode step must read (bench/dummy_deepseek.py "
        "`bytes_per_decode_step`: every dense weight, the shared expert and the routed experts "
        "a batch touches under uniform routing, the LM head, MLA KV cache) ÷ measured copy "
        f"bandwidth. {GOALS}.",
        "",
        *_run_table(runs),
        "",
        f"Hand-measured reference (one H100, smoke.py, token ids in, no detokenizer): batch 1 "
        f"{REFERENCE['tpot_1']} ms, batch 32 {REFERENCE['tpot_32']} ms, 30K prefix "
        f"{REFERENCE['cold']} s cold → {REFERENCE['hit']} s hit.",
        "",
        *(f"- {name}: {NOTES[name]}" for name, _ in runs if name in NOTES),
        "",
    ]
    for p in sorted(RESULTS.glob("ngram_speculation_*.json")):
        n = json.loads(p.read_text())
        md += [
            f"## n-gram speculation on edit requests ({p.stem.removeprefix('ngram_speculation_')})",
            "",
            f"{n['model']} on {', '.join(n['gpus'])}, vLLM {n['vllm']}; {n['off']['requests']} "
            "edit prompts of real Django functions as Fathom lays them out, greedy, batch 1, "
            f"through `VllmEngine`; speculation {n['ngram']['speculative_config']}.",
            "",
            "| what | off | n-gram |",
            "|---|---|---|",
            f"| output tokens/s | {n['off']['output_tokens_per_s']} | "
            f"{n['ngram']['output_tokens_per_s']} |",
            f"| output tokens, seconds | {n['off']['output_tokens']}, {n['off']['seconds']} s | "
            f"{n['ngram']['output_tokens']}, {n['ngram']['seconds']} s |",
            f"| speed-up | | {n['speedup']}× (identical replies {n['identical_replies']}/"
            f"{n['off']['requests']}) |",
            "",
        ]
    text = "\n".join(md)
    (RESULTS / "gpu_engine.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
