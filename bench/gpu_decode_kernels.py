"""Fathom's FP8 decode kernels against vLLM's ops on the GPU: correctness and time per call.

    PYTHONPATH=/tmp/site:. python bench/gpu_decode_kernels.py --out DIR

Shapes of Qwen3-Coder-30B-A3B-Instruct-FP8 (hidden 2048, 32 query + 4 KV heads of 128,
128 experts of 768, top-8), random weights quantized to FP8 in 128x128 blocks:
- correctness: each kernel against float32 math on the dequantized weights (the exact
  answer) and against vLLM's own op (CUTLASS W8A8 block GEMM after per-token-group
  quantization; router + ``fused_topk`` + ``fused_experts``), max and mean absolute error
  relative to the largest output;
- time: each op captured 100 times in one CUDA graph, replayed, µs per call (a decode step
  runs them inside CUDA graphs too), for vLLM's op, the GEMV at each tile swept
  (``--dense-dot/-n/-k/-warps/-stages``: the loop kernel or the tl.dot one; the plugin's
  tile alone by default) and the MoE kernels at each
  tile swept (tried at one token; the best one again at more). ``--ops dense`` (or ``moe``)
  times one kind alone and writes no settings. The calls rotate over
  copies of the dense weights (4x the L2 cache) and over inputs that route to other experts,
  so weights come from HBM as in a model's step (reading one copy 100 times timed the L2).
Writes ``decode_kernels_<tag>.json`` and, with ``--tiles-file``, the plugin's settings from
them (``best_tiles``: FATHOM_DECODE_TILES and FATHOM_DECODE_OPS for a whole-model run).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from triton.runtime.errors import OutOfResources

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.decode_tile_choice import best_tiles, dense_settings
from fathom.backend.fp8_decode_kernels import moe_decode
from fathom.backend.fp8_decode_tiles import MAX_DECODE_TOKENS, TILES
from fathom.backend.fp8_dense_kernels import gemv

HIDDEN, HEADS, KV_HEADS, HEAD_DIM = 2048, 32, 4, 128
EXPERTS, INTERMEDIATE, TOP_K = 128, 768, 8
DENSE = {  # name: (N, K)
    "qkv_proj": ((HEADS + 2 * KV_HEADS) * HEAD_DIM, HIDDEN),
    "o_proj": (HIDDEN, HEADS * HEAD_DIM),
}


def quantize(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """FP8 e4m3 weights and one float32 scale per 128x128 block (the checkpoints' format)."""
    n, k = w.shape[-2:]
    blocks = w.reshape(*w.shape[:-2], n // 128, 128, k // 128, 128)
    scale = blocks.abs().amax(dim=(-3, -1)).clamp(min=1e-8) / 448.0
    q = (blocks / scale[..., :, None, :, None]).to(torch.float8_e4m3fn)
    return q.reshape(w.shape).contiguous(), scale.float().contiguous()


def dequantize(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return q.float() * scale.repeat_interleave(128, -2).repeat_interleave(128, -1)


def error(out: torch.Tensor, exact: torch.Tensor) -> dict[str, float]:
    top = exact.abs().max().item()
    diff = (out.float() - exact).abs()
    return {
        "max_rel": round(diff.max().item() / top, 6),
        "mean_rel": round(diff.mean().item() / top, 6),
    }


def graph_time_us(fn: Callable[[], Any], calls: int = 100, replays: int = 20) -> float:
    """Median µs per call of ``fn`` captured ``calls`` times in one CUDA graph."""
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        for _ in range(3):
            fn()
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph, stream=stream):
        for _ in range(calls):
            fn()
    times = []
    for _ in range(replays):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        graph.replay()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) * 1000 / calls)
    return round(sorted(times)[len(times) // 2], 2)


L2_BYTES = 50 * 2**20  # an H200's L2 cache
ROTATE_BYTES = 4 * L2_BYTES


def rotating(fn: Callable[..., Any], variants: list[tuple[Any, ...]]) -> Callable[[], Any]:
    """``fn`` called on the next of ``variants`` each time: in a step of the real model every
    weight comes from HBM, so a bench that reads one copy 100 times times the L2 cache
    instead (the first sweep did: its winners were 2x slower in the model)."""
    turn = itertools.cycle(variants)
    return lambda: fn(*next(turn))


def vllm_dense(x: torch.Tensor, q: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    from vllm import _custom_ops as ops
    from vllm.model_executor.layers.quantization.utils.fp8_utils import per_token_group_quant_fp8

    # CUTLASS reads the activation scales M-major, as vLLM lays them out for it.
    xq, xs = per_token_group_quant_fp8(x, 128, column_major_scales=True)
    return ops.cutlass_scaled_mm(xq, q.T, out_dtype=x.dtype, scale_a=xs, scale_b=s.T)


def dense_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for name, (n, k) in DENSE.items():
        q, s = quantize(torch.randn(n, k, device="cuda") * 0.02)
        exact_w = dequantize(q, s)
        copies = [(q, s)] + [(q.clone(), s.clone()) for _ in range(ROTATE_BYTES // (n * k))]
        for m in args.tokens:
            x = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
            exact = x.float() @ exact_w.T
            row: dict[str, Any] = {"op": name, "n": n, "k": k, "tokens": m}
            row["fathom_error"] = error(gemv(x, q, s), exact)
            row["vllm_error"] = error(vllm_dense(x, q, s), exact)
            row["vllm_us"] = graph_time_us(rotating(functools.partial(vllm_dense, x), copies))
            tiles = {}
            for tile in dense_tiles(args, k, m):
                try:
                    timed = graph_time_us(rotating(dense_call(x, *tile), copies))
                except OutOfResources:  # e.g. 64 rows' pipeline past the shared memory
                    continue
                tiles[",".join(map(str, tile))] = timed
            row["best_tile"] = min(tiles, key=tiles.__getitem__)
            row.update(fathom_us=tiles[row["best_tile"]], tiles=tiles)
            row["bytes"] = n * k + s.numel() * 4 + m * k * 2
            row["fathom_tb_s"] = round(row["bytes"] / row["fathom_us"] / 1e6, 3)
            row["vllm_tb_s"] = round(row["bytes"] / row["vllm_us"] / 1e6, 3)
            rows.append(row)
            print(f"[kernels] {json.dumps(row)}", flush=True)
    return rows


def dense_tiles(args: argparse.Namespace, k: int, m: int) -> list[tuple[int, int, int, int, int]]:
    """(dot, block_n, block_k, warps, stages) to time for m rows: the loop kernel takes at
    most MAX_DECODE_TOKENS rows and ignores the stages (one value of them), the tl.dot kernel
    takes row tiles of 16-128 and K tiles of whole scale blocks that divide K (0: the
    plugin's choice)."""
    tiles = []
    for dot, block_n, block_k, warps, stages in itertools.product(
        args.dense_dot, args.dense_n, args.dense_k, args.dense_warps, args.dense_stages
    ):
        if not dot and (stages != args.dense_stages[0] or m > MAX_DECODE_TOKENS):
            continue
        if dot and (block_n < 16 or 128 % block_n or (block_k and (block_k % 128 or k % block_k))):
            continue
        tiles.append((dot, block_n, block_k, warps, stages))
    return tiles


def dense_call(
    x: torch.Tensor, dot: int, block_n: int, block_k: int, warps: int, stages: int
) -> Callable[..., torch.Tensor]:
    return functools.partial(
        gemv, x, block_n=block_n, block_k=block_k or None, num_warps=warps, dot=bool(dot),
        num_stages=stages,
    )  # fmt: skip


def moe_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    from vllm.model_executor.layers.fused_moe.config import fp8_w8a8_moe_quant_config
    from vllm.model_executor.layers.fused_moe.fused_moe import fused_experts
    from vllm.model_executor.layers.fused_moe.router.fused_topk_router import fused_topk

    gate = (torch.randn(EXPERTS, HIDDEN, device="cuda") * 0.02).bfloat16()
    q13, s13 = quantize(torch.randn(EXPERTS, 2 * INTERMEDIATE, HIDDEN, device="cuda") * 0.02)
    q2, s2 = quantize(torch.randn(EXPERTS, HIDDEN, INTERMEDIATE, device="cuda") * 0.02)
    w13, w2 = dequantize(q13, s13), dequantize(q2, s2)
    config = fp8_w8a8_moe_quant_config(w1_scale=s13, w2_scale=s2, block_shape=[128, 128])

    def vllm_moe(x: torch.Tensor) -> torch.Tensor:
        logits = torch.nn.functional.linear(x, gate)
        weights, ids, _ = fused_topk(x, logits, TOP_K, True)
        return fused_experts(x, q13, q2, weights, ids, quant_config=config)

    rows = []
    best: str | None = None
    for m in args.tokens:
        x = torch.randn(m, HIDDEN, device="cuda", dtype=torch.bfloat16)
        probs = (x.float() @ gate.float().T).softmax(-1)
        top_w, top_i = probs.topk(TOP_K, -1)
        top_w = top_w / top_w.sum(-1, keepdim=True)
        exact = torch.zeros(m, HIDDEN, device="cuda")
        for t, j in itertools.product(range(m), range(TOP_K)):
            h = w13[top_i[t, j]] @ x[t].float()
            act = torch.nn.functional.silu(h[:INTERMEDIATE]) * h[INTERMEDIATE:]
            exact[t] += top_w[t, j] * (w2[top_i[t, j]] @ act)
        row: dict[str, Any] = {"op": "moe", "tokens": m, "experts": EXPERTS, "top_k": TOP_K}
        out = moe_decode(x, gate, q13, s13, q2, s2, top_k=TOP_K, renormalize=True)
        row["fathom_error"] = error(out, exact)
        row["vllm_error"] = error(vllm_moe(x), exact)
        # Inputs that route to other experts each call, so the experts' weights (38 MB for one
        # token) come from HBM as in a model's step, not from the L2 cache.
        inputs = [(torch.randn_like(x),) for _ in range(32)]
        row["vllm_us"] = graph_time_us(rotating(vllm_moe, inputs))
        tiles = {}
        sweep = (
            itertools.product(
                args.up_n, args.up_k, args.down_n, args.down_k, args.stages, args.warps,
                args.split_k, args.fused_cast,
            )
            if best is None
            else [tuple(map(int, best.split(",")))]
        )  # fmt: skip
        for up, up_k, down, down_k, stages, warps, split, cast in sweep:
            if HIDDEN % (up_k * split):
                continue
            call = functools.partial(
                moe_decode, gate_weight=gate, w13=q13, w13_scale=s13, w2=q2, w2_scale=s2,
                top_k=TOP_K, renormalize=True, block_n=(up, down), block_k=(up_k, down_k),
                stages=stages, num_warps=warps, split_k=split, fused_cast=bool(cast),
            )  # fmt: skip
            key = f"{up},{up_k},{down},{down_k},{stages},{warps},{split},{cast}"
            if split > 1 or cast:  # new code paths: their own error too (a race would show)
                row.setdefault("variant_error", {})[key] = error(call(x), exact)
            tiles[key] = graph_time_us(rotating(call, inputs))
        best = min(tiles, key=tiles.__getitem__)
        row.update(fathom_us=tiles[best], best_tile=best, tiles=tiles)
        experts_read = min(EXPERTS, m * TOP_K)
        row["bytes"] = experts_read * 3 * INTERMEDIATE * HIDDEN + gate.numel() * 2
        row["fathom_tb_s"] = round(row["bytes"] / row["fathom_us"] / 1e6, 3)
        row["vllm_tb_s"] = round(row["bytes"] / row["vllm_us"] / 1e6, 3)
        rows.append(row)
        print(f"[kernels] {json.dumps({k: v for k, v in row.items() if k != 'tiles'})}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--up-n", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--up-k", type=int, nargs="+", default=[256])
    parser.add_argument("--down-n", type=int, nargs="+", default=[64])
    parser.add_argument("--down-k", type=int, nargs="+", default=[256])
    parser.add_argument("--stages", type=int, nargs="+", default=[3, 4])
    parser.add_argument("--warps", type=int, nargs="+", default=[4])
    parser.add_argument("--split-k", type=int, nargs="+", default=[1], help="e.g. 1 2 4")
    parser.add_argument("--fused-cast", type=int, nargs="+", default=[0], help="0 1: both")
    parser.add_argument(
        "--dense-n", type=int, nargs="+",
        default=[TILES["dense_block_n"], TILES["dense_dot_block_n"]],
    )  # fmt: skip
    # 0: the plugin's choice (TILES' widest, narrowed for more rows, as ``gemv`` does).
    parser.add_argument("--dense-k", type=int, nargs="+", default=[0])
    parser.add_argument("--dense-warps", type=int, nargs="+", default=[TILES["dense_warps"]])
    parser.add_argument("--dense-dot", type=int, nargs="+", default=[0, 1], help="loop, tl.dot")
    parser.add_argument("--dense-stages", type=int, nargs="+", default=[TILES["dense_stages"]])
    parser.add_argument("--ops", nargs="+", choices=["dense", "moe"], default=["dense", "moe"])
    parser.add_argument("--tag", default=None, help="file name's tag; default: the GPU's model")
    parser.add_argument("--tiles-file", type=Path, default=None, help="best_tiles as JSON")
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args()
    torch.manual_seed(0)
    result = run_header()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"decode_kernels_{args.tag or gpu_tag()}.json"
    for name, rows in (("dense", dense_rows), ("moe", moe_rows)):
        if name in args.ops:
            result[name] = rows(args)
            path.write_text(json.dumps(result, indent=2))
    if set(args.ops) != {"dense", "moe"}:  # the plugin's settings need both ...
        print(f"[kernels] wrote {path}", flush=True)
        if args.tiles_file and "dense" in args.ops:  # ... or are the dense ones alone
            settings = dense_settings(result["dense"])[0]
            args.tiles_file.write_text(json.dumps(settings))
            print(f"FATHOM_DECODE_TILES='{json.dumps(settings)}'", flush=True)
        return
    result["best_tiles"] = best_tiles(result)
    path.write_text(json.dumps(result, indent=2))
    print(f"[kernels] wrote {path}", flush=True)
    print(f"FATHOM_DECODE_TILES='{json.dumps(result['best_tiles'])}'", flush=True)
    if args.tiles_file:
        args.tiles_file.write_text(json.dumps(result["best_tiles"]))


def gpu_tag() -> str:
    """The GPU's model as a file-name tag ("h100", "h200"): results from two cards never share
    a name."""
    name = torch.cuda.get_device_name().lower()
    return next((m for m in re.findall(r"[a-z]\d{2,4}", name)), "gpu")


def run_header() -> dict[str, Any]:
    """What a GPU kernel bench's JSON starts with: date, GPU and the versions it ran."""
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
    }
    import triton

    result["triton"] = triton.__version__
    try:  # the kernels alone run without vLLM (bench/gpu_read_floor.py on a bare machine)
        import vllm

        result["vllm"] = vllm.__version__
    except ImportError as exc:
        result["import_error"] = str(exc)
    return result


if __name__ == "__main__":
    main()
