"""How close a batch-1 step's weight-streaming kernels come to the GPU's floor for their bytes.

    PYTHONPATH=/tmp/site:. python bench/gpu_read_floor.py --out DIR

The HBM roofline divides bytes by the copy bandwidth of large buffers, but one decode kernel
reads 8-25 MB, where a kernel's start and its last wave weigh too. The floor here is the
fastest a kernel that only reads those bytes (and adds them up) runs, over a sweep of grid
sizes and loads a program, timed as the kernels are (gpu_decode_kernels.py: 100 calls in one
CUDA graph, rotating over copies worth 4x the L2 cache so every byte comes from HBM).

Beside each floor, at one token, Qwen3-Coder-30B-A3B's shapes: the dense linears (QKV,
o_proj) on ``gemv`` with the plugin's tiles and with a 4-row tile, and the MoE layer on
``moe_decode`` with its tiles and options (the loop up kernel, the top-k ranked once, a
128 x 128 down tile; ``--moe-tokens`` of them); each with its error against float32 math on
the dequantized weights. Writes ``read_floor_<gpu><tag>.json`` and ``.md``. The split-K and
one-launch variants timed beside them on 2026-12-06 (bench/results/read_floor_h100.md) lost,
and their code was removed after commit d741c58 (``bench/split_k_kernels.py``,
``bench/fused_moe_kernel.py`` there); so were the loop down kernel and the up kernel's L2
prefetch of the down weights (read_floor_h100-topk-once*.md: ``bench/moe_topk_once_kernels.py``
and ``--topk-once`` at commit 8fa1106).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import triton
import triton.language as tl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.gpu_decode_kernels import (
    DENSE,
    EXPERTS,
    HIDDEN,
    INTERMEDIATE,
    ROTATE_BYTES,
    TOP_K,
    dequantize,
    error,
    gpu_tag,
    graph_time_us,
    quantize,
    rotating,
    run_header,
)
from fathom.backend.fp8_decode_kernels import moe_decode
from fathom.backend.fp8_dense_kernels import gemv


@triton.jit
def _read_kernel(src_ptr, out_ptr, n, CHUNK, BLOCK: tl.constexpr, STAGES: tl.constexpr):
    """Adds up program ``pid``'s CHUNK int32s: the bytes are read once and nothing else."""
    start = tl.program_id(0).to(tl.int64) * CHUNK
    offs = tl.arange(0, BLOCK)
    acc = tl.zeros((BLOCK,), dtype=tl.int32)
    for i in tl.range(0, CHUNK, BLOCK, num_stages=STAGES):
        at = start + i + offs
        acc += tl.load(src_ptr + at, mask=at < n, other=0)
    tl.store(out_ptr + tl.program_id(0), tl.sum(acc, axis=0))


def read_call(programs: int, block: int, stages: int) -> Callable[[torch.Tensor], torch.Tensor]:
    def call(src: torch.Tensor) -> torch.Tensor:
        out = torch.empty(programs, dtype=torch.int32, device=src.device)
        chunk = triton.cdiv(triton.cdiv(src.numel(), programs), block) * block
        _read_kernel[(programs,)](src, out, src.numel(), chunk, BLOCK=block, STAGES=stages)
        return out

    return call


def floor_row(name: str, nbytes: int, args: argparse.Namespace) -> dict[str, Any]:
    """µs the fastest read-only kernel takes for ``nbytes`` from HBM, and its settings."""
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    src = torch.randint(-100, 100, (nbytes // 4,), dtype=torch.int32, device="cuda")
    copies = [(src,)] + [(src.clone(),) for _ in range(ROTATE_BYTES // nbytes)]
    times = {}
    for per_sm, block, stages in itertools.product(args.per_sm, args.block, args.stages):
        times[f"{per_sm * sms},{block},{stages}"] = graph_time_us(
            rotating(read_call(per_sm * sms, block, stages), copies)
        )
    best = min(times, key=times.__getitem__)
    us = times[best]
    row = {"what": name, "bytes": nbytes, "floor_us": us, "floor_setting": best}
    row.update(floor_tb_s=round(nbytes / us / 1e6, 3), settings=times)
    print(f"[floor] {json.dumps({k: v for k, v in row.items() if k != 'settings'})}", flush=True)
    return row


def dense_rows() -> list[dict[str, Any]]:
    rows = []
    for name, (n, k) in DENSE.items():
        q, s = quantize(torch.randn(n, k, device="cuda") * 0.02)
        copies = [(q, s)] + [(q.clone(), s.clone()) for _ in range(ROTATE_BYTES // (n * k))]
        x = torch.randn(1, k, device="cuda", dtype=torch.bfloat16)
        exact = x.float() @ dequantize(q, s).T
        variants: dict[str, Callable[..., torch.Tensor]] = {
            "gemv, plugin tiles": functools.partial(gemv, x),
            "gemv loop, 4 rows": functools.partial(gemv, x, block_n=4),
        }
        row: dict[str, Any] = {"op": name, "n": n, "k": k, "tokens": 1, "variants": {}}
        row["bytes"] = n * k + s.numel() * 4 + k * 2
        for label, call in variants.items():
            err = error(call(q, s), exact)
            us = graph_time_us(rotating(call, copies))
            row["variants"][label] = {"us": us, "error": err}
        rows.append(row)
        print(f"[dense] {json.dumps(row)}", flush=True)
    return rows


def moe_row(tokens: int) -> dict[str, Any]:
    gate = (torch.randn(EXPERTS, HIDDEN, device="cuda") * 0.02).bfloat16()
    q13, s13 = quantize(torch.randn(EXPERTS, 2 * INTERMEDIATE, HIDDEN, device="cuda") * 0.02)
    q2, s2 = quantize(torch.randn(EXPERTS, HIDDEN, INTERMEDIATE, device="cuda") * 0.02)
    w13, w2 = dequantize(q13, s13), dequantize(q2, s2)
    x = torch.randn(tokens, HIDDEN, device="cuda", dtype=torch.bfloat16)
    probs = (x.float() @ gate.float().T).softmax(-1)
    top_w, top_i = probs.topk(TOP_K, -1)
    top_w = top_w / top_w.sum(-1, keepdim=True)
    exact = torch.zeros(tokens, HIDDEN, device="cuda")
    for t, j in itertools.product(range(tokens), range(TOP_K)):
        h = w13[top_i[t, j]] @ x[t].float()
        act = torch.nn.functional.silu(h[:INTERMEDIATE]) * h[INTERMEDIATE:]
        exact[t] += top_w[t, j] * (w2[top_i[t, j]] @ act)
    del w13, w2
    layer = functools.partial(
        moe_decode, gate_weight=gate, w13=q13, w13_scale=s13, w2=q2, w2_scale=s2,
        top_k=TOP_K, renormalize=True,
    )  # fmt: skip
    down_128 = {"block_n": (64, 128), "block_k": (256, 128)}
    variants: dict[str, Callable[..., torch.Tensor]] = {
        "moe_decode, plugin tiles": layer,
        "moe_decode, loop up kernel": functools.partial(layer, up_loop=True),
        "moe_decode, loop up kernel, top-k once": functools.partial(
            layer, up_loop=True, topk_once=True
        ),
        "moe_decode, down 128 x 128": functools.partial(layer, **down_128),
        "moe_decode, loop up kernel, down 128 x 128": functools.partial(
            layer, up_loop=True, **down_128
        ),
    }
    inputs = [(torch.randn_like(x),) for _ in range(32)]
    row: dict[str, Any] = {"op": "moe", "tokens": tokens, "variants": {}}
    row["bytes"] = TOP_K * 3 * INTERMEDIATE * HIDDEN + gate.numel() * 2
    for label, call in variants.items():
        err = error(call(x), exact)
        row["variants"][label] = {"us": graph_time_us(rotating(call, inputs)), "error": err}
        print(f"[moe] {label}: {json.dumps(row['variants'][label])}", flush=True)
    return row


def markdown(result: dict[str, Any]) -> str:
    floors = {row["what"]: row for row in result["floors"]}
    lines = [
        f"# Read floor, {result['gpu']}",
        "",
        f"{result['date']}, torch {result['torch']}, Triton {result.get('triton')}, "
        f"vLLM {result.get('vllm')}. µs a call at one token (the MoE at "
        f"{result['moe']['tokens'] if result['moe'] else 1}); floor = the fastest read-only "
        "kernel over the same bytes (grid, block, stages swept).",
        "",
        "| op | variant | µs | floor µs | ÷ floor | max error |",
        "|---|---|---|---|---|---|",
    ]
    for row in [*result["dense"], *([result["moe"]] if result["moe"] else [])]:
        floor = floors[row["op"]]["floor_us"]
        ranked = sorted(row["variants"].items(), key=lambda kv: kv[1]["us"])
        for label, v in ranked[: result["shown"]]:
            lines.append(
                f"| {row['op']} | {label} | {v['us']} | {floor} | {v['us'] / floor:.2f} "
                f"| {v['error']['max_rel']} |"
            )
    lines += ["", "| bytes | floor µs | TB/s | grid, block, stages |", "|---|---|---|---|"]
    for row in result["floors"]:
        lines.append(
            f"| {row['what']} ({row['bytes'] / 1e6:.1f} MB) | {row['floor_us']} "
            f"| {row['floor_tb_s']} | {row['floor_setting']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tag", default="", help="appended to the file names")
    parser.add_argument("--per-sm", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--block", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--stages", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--ops", default="dense,moe", help="which rows to time (and floor)")
    parser.add_argument("--moe-tokens", type=int, default=1, help="tokens of the MoE row")
    parser.add_argument("--shown", type=int, default=6, help="variants a row in the .md")
    args = parser.parse_args()
    torch.manual_seed(0)
    result: dict[str, Any] = run_header()
    result["shown"] = args.shown
    ops = args.ops.split(",")
    result["dense"] = dense_rows() if "dense" in ops else []
    result["moe"] = moe_row(args.moe_tokens) if "moe" in ops else None
    timed = [*result["dense"], *([result["moe"]] if result["moe"] else [])]
    sizes = {row["op"]: row["bytes"] for row in timed}
    if result["moe"]:
        expert = INTERMEDIATE * HIDDEN  # one expert matrix's FP8 bytes
        sizes.update({"moe up": TOP_K * 2 * expert, "moe down": TOP_K * expert})
    result["floors"] = [floor_row(name, nbytes, args) for name, nbytes in sizes.items()]
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"read_floor_{gpu_tag()}{args.tag}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1))
    stem.with_suffix(".md").write_text(markdown(result))
    print(markdown(result), flush=True)


if __name__ == "__main__":
    main()
