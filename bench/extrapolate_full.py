"""The full 61-layer DeepSeek-V3 on eight H200s, extrapolated from one-H200 slices.

No 8-GPU machine could be had (the device tool lent one H100 or one H200 only), so this
takes the two committed one-H200 runs of the same engine — a 5-layer slice (3 dense + 2 MoE
layers) and a 9-layer slice (3 dense + 6 MoE) — and separates what each MoE layer costs
from what every slice pays once (embedding, LM head, the dense layers, the engine's own
overhead):

    per_moe = (T9 - T5) / 4          fixed = T5 - 2 * per_moe
    one_gpu_full = fixed + 58 * per_moe      (a hypothetical GPU holding all 61 layers)

Then eight H200s with tensor parallel 8 for attention and expert parallel 8 for the
experts, under stated assumptions (ASSUMPTIONS below): the work divides by eight at the
efficiency the one-GPU slice reached (optimistic for batch 1, whose per-GPU shapes get
tiny), plus the communication a single GPU never pays — per MoE layer one dispatch and one
combine all-to-all, per layer one tensor-parallel all-reduce — each a fixed latency plus
bytes over NVLink. Rooflines: the bytes a decode step must read (measured per slice by the
benchmark) spread over eight GPUs' copy bandwidth.

Writes bench/results/full_size_extrapolation.json and .md.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
SMALL, LARGE = "gpu_engine_h200-l5.json", "gpu_engine_h200-l9.json"
FULL_MOE_LAYERS, FULL_DENSE_LAYERS = 58, 3
GPUS = 8
HIDDEN = 7168
TOP_K = 8

ASSUMPTIONS = {
    "nvlink_GBps_per_direction": 450,  # H200 NVLink 4: 900 GB/s bidirectional per GPU
    "all_to_all_latency_us": 25,  # one small all-to-all over 8 GPUs (NCCL/DeepEP low-latency)
    "all_reduce_latency_us": 12,  # one small all-reduce over 8 GPUs, NVLink multicast off
    "dispatch_bytes_per_value": 1,  # FP8 dispatch
    "combine_bytes_per_value": 2,  # BF16 combine
    "remote_fraction": (GPUS - 1) / GPUS,  # of a token's experts, those on other GPUs
    "compute_efficiency_vs_one_gpu": 1.0,  # work / 8 at the slice's own efficiency
    "prefill_comm_overlap": 0.5,  # share of prefill all-to-all hidden behind compute
}


def _load(name: str) -> dict:
    return json.loads((RESULTS / name).read_text())


def _split(small: float, large: float, moe_small: int, moe_large: int) -> tuple[float, float]:
    per = (large - small) / (moe_large - moe_small)
    return small - moe_small * per, per


def _comm_s(tokens: int, prefill: bool) -> float:
    a = ASSUMPTIONS
    per_token = HIDDEN * TOP_K * a["remote_fraction"]
    bytes_moe = tokens * per_token * (a["dispatch_bytes_per_value"] + a["combine_bytes_per_value"])
    bandwidth_s = bytes_moe / (a["nvlink_GBps_per_direction"] * 1e9)
    latency_s = 2 * a["all_to_all_latency_us"] * 1e-6
    moe = FULL_MOE_LAYERS * (latency_s + bandwidth_s)
    # Attention under TP8: one all-reduce of the layer's output per layer (BF16 activations).
    ar_bytes = tokens * HIDDEN * 2 * 2 * a["remote_fraction"]  # reduce-scatter + all-gather
    ar = (FULL_MOE_LAYERS + FULL_DENSE_LAYERS) * (
        a["all_reduce_latency_us"] * 1e-6 + ar_bytes / (a["nvlink_GBps_per_direction"] * 1e9)
    )
    total = moe + ar
    return total * (1 - a["prefill_comm_overlap"]) if prefill else total


def main() -> int:
    small, large = _load(SMALL), _load(LARGE)
    m_small, m_large = small["weights"]["moe_layers"], large["weights"]["moe_layers"]
    bandwidth = min(small["copy_bandwidth_GBps"], large["copy_bandwidth_GBps"])  # per GPU
    eff = ASSUMPTIONS["compute_efficiency_vs_one_gpu"]

    ttft_rows = []
    for a, b in zip(small["ttft"], large["ttft"], strict=True):
        fixed, per = _split(a["ttft_s"], b["ttft_s"], m_small, m_large)
        one_gpu = fixed + FULL_MOE_LAYERS * per
        comm = _comm_s(b["prompt_tokens"], prefill=True)
        eight = one_gpu / GPUS / eff + comm
        ttft_rows.append(
            {
                "prompt_tokens": b["prompt_tokens"],
                "slice5_s": a["ttft_s"],
                "slice9_s": b["ttft_s"],
                "per_moe_layer_s": round(per, 4),
                "fixed_s": round(fixed, 4),
                "one_gpu_61_layers_s": round(one_gpu, 2),
                "all_to_all_and_all_reduce_s": round(comm, 3),
                "eight_h200_s": round(eight, 2),
            }
        )

    decode_rows = []
    for a, b in zip(small["decode"], large["decode"], strict=True):
        fixed, per = _split(a["tpot_ms"], b["tpot_ms"], m_small, m_large)
        bytes_fixed, bytes_per = _split(
            a["bytes_per_step_GB"], b["bytes_per_step_GB"], m_small, m_large
        )
        # A MoE layer cannot take less than reading its bytes: where the two-point slope is
        # below that (the small slice was launch-bound), the layer is charged its roofline.
        floor = bytes_per / bandwidth * 1000
        clamped = per < floor
        per = max(per, floor)
        fixed = a["tpot_ms"] - m_small * per
        one_gpu = fixed + FULL_MOE_LAYERS * per
        full_bytes = bytes_fixed + FULL_MOE_LAYERS * bytes_per
        comm_ms = 1000 * _comm_s(b["batch"], prefill=False)
        eight = one_gpu / GPUS / eff + comm_ms
        roofline = full_bytes / (GPUS * bandwidth) * 1000
        decode_rows.append(
            {
                "batch": b["batch"],
                "slice5_ms": a["tpot_ms"],
                "slice9_ms": b["tpot_ms"],
                "per_moe_layer_ms": round(per, 4),
                "slope_clamped_to_roofline": clamped,
                "fixed_ms": round(fixed, 3),
                "one_gpu_61_layers_ms": round(one_gpu, 2),
                "bytes_per_step_GB": round(full_bytes, 1),
                "communication_ms": round(comm_ms, 3),
                "eight_h200_ms": round(eight, 2),
                "roofline_8gpu_ms": round(roofline, 3),
                "of_roofline_pct": round(100 * roofline / eight, 1),
                "tokens_per_s_per_sequence": round(1000 / eight, 1),
            }
        )

    hit_small = small["prefix_cache"]["hit"]["ttft_s"]
    hit_large = large["prefix_cache"]["hit"]["ttft_s"]
    fixed, per = _split(hit_small, hit_large, m_small, m_large)
    hit_one = fixed + FULL_MOE_LAYERS * max(per, 0.0)
    hit_eight = fixed + FULL_MOE_LAYERS * max(per, 0.0) / GPUS + _comm_s(300, prefill=False)
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "measured_on": small["gpus"],
        "vllm": small["vllm"],
        "torch": small["torch"],
        "slices": {
            "small": {"file": SMALL, "layers": small["layers"], "moe_layers": m_small},
            "large": {"file": LARGE, "layers": large["layers"], "moe_layers": m_large},
        },
        "target": {
            "gpus": f"{GPUS} x H200",
            "layers": FULL_DENSE_LAYERS + FULL_MOE_LAYERS,
            "moe_layers": FULL_MOE_LAYERS,
            "parallelism": "TP8 attention + EP8 experts",
        },
        "copy_bandwidth_GBps_per_gpu": bandwidth,
        "assumptions": ASSUMPTIONS,
        "ttft": ttft_rows,
        "decode": decode_rows,
        "prefix_cache_hit": {
            "slice5_s": hit_small,
            "slice9_s": hit_large,
            "one_gpu_61_layers_s": round(hit_one, 3),
            "eight_h200_s": round(hit_eight, 3),
        },
    }
    (RESULTS / "full_size_extrapolation.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# Full DeepSeek-V3 (61 layers, FP8) on 8x H200: extrapolated ({result['date']})",
        "",
        f"From one-GPU slices measured on {small['gpus'][0]} (vLLM {small['vllm']}, torch "
        f"{small['torch']}): {small['layers']} layers ({m_small} MoE) and {large['layers']} "
        f"layers ({m_large} MoE). No 8-GPU machine was lent; these are not measurements of "
        "8 GPUs. Assumptions: "
        + ", ".join(
            f"{k}={v if not isinstance(v, float) else round(v, 3)}" for k, v in ASSUMPTIONS.items()
        )
        + ".",
        "",
        "## TTFT (prefill)",
        "",
        "| prompt tokens | 5-layer s | 9-layer s | per MoE layer s | one GPU, 61 layers s "
        "| comm s | **8x H200 s** |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        *[
            f"| {r['prompt_tokens']} | {r['slice5_s']} | {r['slice9_s']} | {r['per_moe_layer_s']} "
            f"| {r['one_gpu_61_layers_s']} | {r['all_to_all_and_all_reduce_s']} "
            f"| **{r['eight_h200_s']}** |"
            for r in ttft_rows
        ],
        "",
        "## Decode (time per output token)",
        "",
        "| batch | 5-layer ms | 9-layer ms | per MoE layer ms | one GPU, 61 layers ms "
        "| comm ms | **8x H200 ms** | roofline ms | of roofline | tok/s per sequence |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *[
            f"| {r['batch']} | {r['slice5_ms']} | {r['slice9_ms']} | {r['per_moe_layer_ms']}"
            f"{'*' if r['slope_clamped_to_roofline'] else ''} "
            f"| {r['one_gpu_61_layers_ms']} | {r['communication_ms']} | **{r['eight_h200_ms']}** "
            f"| {r['roofline_8gpu_ms']} | {r['of_roofline_pct']}% "
            f"| {r['tokens_per_s_per_sequence']} |"
            for r in decode_rows
        ],
        "",
        "\\* the two-point slope was below the layer's own roofline (the 5-layer slice was "
        "launch-bound at that batch); the layer is charged its roofline instead.",
        "",
        f"Prefix-cache hit (30K shared prefix): slices {hit_small} s / {hit_large} s; "
        f"extrapolated 8x H200 {result['prefix_cache_hit']['eight_h200_s']} s.",
        "",
        "Where all-to-all costs appear: at batch 1-8 decode the 116 all-to-alls and 61 "
        "all-reduces per token are latency, not bytes, and rival the divided compute; at "
        "batch 128 and in prefill they are bytes (FP8 dispatch, BF16 combine) and half of "
        "prefill's is assumed hidden behind compute.",
    ]
    (RESULTS / "full_size_extrapolation.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
