"""GPU engine: DeepSeek-V3 architecture (dummy FP8 weights) through Fathom's own VllmEngine.

    PYTHONPATH=/tmp/site python bench/gpu_engine.py --layers 5 --out DIR          # 1 GPU
    PYTHONPATH=/tmp/site python bench/gpu_engine.py --layers 5 --tp 2 --ep --out DIR

Measures, each through ``VllmEngine.stream`` (the interface the editor's requests take):
TTFT of 32K and 120K prompts; decode time per output token at batch 1, 8 and 32 against its
HBM roofline (bytes one step must read ÷ the GPU's measured copy bandwidth; both printed);
prefix-cache TTFT cold vs hit for a 30K shared prefix; and Fathom's overhead: the same
request through ``VllmEngine.stream`` vs vLLM's ``AsyncLLM.generate`` with the same prompt
tokens. Dummy weights route tokens unrealistically, so routing is simulated uniformly
(``VLLM_MOE_ROUTING_SIMULATION_STRATEGY=uniform_random``). Writes ``gpu_engine_<tag>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import dummy_deepseek
from fathom.backend.engine import ChatMessage, ChatRequest, GenerationStats
from fathom.backend.gpu_defaults import detect_gpus, gpu_settings_for
from fathom.backend.vllm_engine import VllmEngine

ENV = {
    "VLLM_MOE_ROUTING_SIMULATION_STRATEGY": "uniform_random",
    "VLLM_USE_FLASHINFER_SAMPLER": "0",  # flashinfer is not in the offline bundle
    "NCCL_NVLS_ENABLE": "0",  # these machines keep NVLink multicast off
    "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1",
    "NVSHMEM_DISABLE_NVLS": "1",
    "VLLM_ALLREDUCE_USE_SYMM_MEM": "0",
    "VLLM_USE_DEEP_GEMM": "0",
}


def copy_bandwidth(gib: float = 2.0, repeats: int = 20) -> float:
    """Device-to-device copy bandwidth of GPU 0 in bytes/s (read + write counted)."""
    import torch

    n = int(gib * 2**30)
    src = torch.empty(n, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    for _ in range(3):
        dst.copy_(src)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        dst.copy_(src)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    del src, dst
    torch.cuda.empty_cache()
    return 2 * n * repeats / seconds


class Prompts:
    """Real code (the edit corpus's sources) cut to a token length; each prompt unique."""

    def __init__(self, engine: VllmEngine) -> None:
        text = "\n".join(dummy_deepseek._corpus_texts())
        self.ids = engine.tokenizer.encode(text, add_special_tokens=False)
        self.tokenizer = engine.tokenizer

    def text(self, tokens: int, offset: int = 0) -> str:
        ids = (self.ids * (1 + tokens // len(self.ids) + 1))[offset : offset + tokens]
        return self.tokenizer.decode(ids)

    @staticmethod
    def nonce() -> str:
        # First in the prompt, so no two requests share a cached prefix unless meant to.
        return f"# request {uuid.uuid4().hex}\n"


def request(user: str, max_tokens: int) -> ChatRequest:
    return ChatRequest(
        [ChatMessage("system", "You edit code."), ChatMessage("user", user)],
        max_tokens=max_tokens,
    )


async def timed_stream(
    engine: VllmEngine, req: ChatRequest
) -> tuple[GenerationStats, list[tuple[float, int]]]:
    """Run one request; returns its stats and (time, tokens so far) at each streamed piece."""
    stats = GenerationStats()
    marks: list[tuple[float, int]] = []
    async for _piece in engine.stream(req, stats):
        marks.append((time.perf_counter(), stats.completion_tokens))
    return stats, marks


async def ttft(engine: VllmEngine, prompts: Prompts, tokens: int) -> dict[str, Any]:
    req = request(prompts.nonce() + prompts.text(tokens), max_tokens=1)
    start = time.perf_counter()
    stats, _ = await timed_stream(engine, req)
    wall = time.perf_counter() - start
    return {"prompt_tokens": stats.prompt_tokens, "ttft_s": round(wall, 4)}


async def decode(engine: VllmEngine, prompts: Prompts, batch: int, ctx: int, out: int) -> dict:
    """Steady-state time per output token with ``batch`` requests decoding together.

    Measured from the moment the last request got its first token (all are decoding) to the
    first request's end, over the tokens each produced in that window.
    """
    reqs = [request(prompts.nonce() + prompts.text(ctx, 997 * i), out) for i in range(batch)]
    results = await asyncio.gather(*(timed_stream(engine, r) for r in reqs))
    start = max(marks[0][0] for _, marks in results)
    end = min(marks[-1][0] for _, marks in results)
    per_token = []
    for _, marks in results:
        inside = [(t, n) for t, n in marks if start <= t <= end]
        if len(inside) >= 2 and inside[-1][1] > inside[0][1]:
            per_token.append((inside[-1][0] - inside[0][0]) / (inside[-1][1] - inside[0][1]))
    tokens = [stats.completion_tokens for stats, _ in results]
    return {
        "batch": batch,
        "prompt_tokens": results[0][0].prompt_tokens,
        "output_tokens_each": min(tokens),
        "tpot_ms": round(1000 * statistics.median(per_token), 3) if per_token else None,
        "window_s": round(end - start, 3),
    }


def add_roofline(
    row: dict, cfg: dict, context: int, kv_bytes: int, bandwidth: float, gpus: int = 1
) -> None:
    """Put a decode row (from :func:`decode`) next to its HBM roofline: the bytes one step
    reads at ``context`` tokens, per GPU, over the measured copy bandwidth."""
    step_bytes = dummy_deepseek.bytes_per_decode_step(cfg, row["batch"], context, kv_bytes)
    per_gpu = step_bytes / gpus  # every weight and KV byte is sharded over the GPUs
    row["bytes_per_step_GB"] = round(step_bytes / 1e9, 3)
    row["roofline_ms"] = round(1000 * per_gpu / bandwidth, 3)
    if row["tpot_ms"]:
        row["of_roofline_pct"] = round(100 * row["roofline_ms"] / row["tpot_ms"], 1)


async def prefix_cache(engine: VllmEngine, prompts: Prompts, prefix: int) -> dict[str, Any]:
    shared = prompts.nonce() + prompts.text(prefix, 5000)
    out = {}
    for name, suffix_offset in (("cold", 11), ("hit", 4242)):
        req = request(shared + "\n" + prompts.text(256, suffix_offset), max_tokens=1)
        start = time.perf_counter()
        stats, _ = await timed_stream(engine, req)
        out[name] = {
            "ttft_s": round(time.perf_counter() - start, 4),
            "prompt_tokens": stats.prompt_tokens,
            "cached_prompt_tokens": stats.cached_prompt_tokens,
        }
    out["speedup"] = round(out["cold"]["ttft_s"] / out["hit"]["ttft_s"], 2)
    return out


async def overhead(engine: VllmEngine, prompts: Prompts, ctx: int, out: int, reps: int) -> dict:
    """The same prompt tokens and sampling through VllmEngine.stream vs AsyncLLM.generate."""
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt
    from vllm.sampling_params import RequestOutputKind

    fathom_s, raw_s = [], []
    for _ in range(reps):
        # Fathom: chat messages -> template -> tokens -> stream of text deltas.
        req = request(prompts.nonce() + prompts.text(ctx, 123), out)
        start = time.perf_counter()
        stats, _ = await timed_stream(engine, req)
        fathom_s.append(time.perf_counter() - start)
        # Raw: a fresh prompt of the same token count, already tokenized, no Fathom code.
        raw_req = request(prompts.nonce() + prompts.text(ctx, 123), out)
        ids = engine.tokenizer.encode(engine.render(raw_req.messages), add_special_tokens=False)
        params = SamplingParams(
            max_tokens=stats.completion_tokens,
            min_tokens=stats.completion_tokens,
            temperature=0.0,
            output_kind=RequestOutputKind.DELTA,
        )
        start = time.perf_counter()
        async for _ in engine._llm.generate(
            TokensPrompt(prompt_token_ids=ids), params, uuid.uuid4().hex
        ):
            pass
        raw_s.append(time.perf_counter() - start)
    f, r = statistics.median(fathom_s), statistics.median(raw_s)
    return {
        "prompt_tokens": ctx,
        "output_tokens": out,
        "fathom_s": round(f, 4),
        "raw_vllm_s": round(r, 4),
        "overhead_pct": round(100 * (f - r) / r, 2),
        "reps": reps,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(args.model_dir or tempfile.mkdtemp(prefix="dsv3-"))
    cfg = dummy_deepseek.write_model(folder, args.layers)
    bandwidth = copy_bandwidth()
    # The product's own defaults for this GPU (backend/gpu_defaults.py), plus what was asked.
    gpus = detect_gpus()
    overrides: dict[str, Any] = {"load_format": "dummy", "extra": {"seed": 0}}
    for field, value in (
        ("tensor_parallel_size", args.tp),
        ("enable_expert_parallel", args.ep),
        ("gpu_memory_utilization", args.gpu_mem),
        ("max_num_batched_tokens", args.max_num_batched_tokens),
        ("kv_cache_dtype", args.kv_cache_dtype),
        ("attention_backend", args.attention_backend),
        ("enforce_eager", args.enforce_eager or None),
    ):
        if value is not None:
            overrides[field] = value
    settings = gpu_settings_for(folder, gpus.count, gpus.memory_gib, **overrides)
    engine = VllmEngine(settings, progress=lambda m: print(f"[engine] {m}", flush=True))
    started = time.perf_counter()
    await engine.start()
    start_s = time.perf_counter() - started
    print(f"[bench] engine up in {start_s:.1f} s", flush=True)
    prompts = Prompts(engine)
    await ttft(engine, prompts, 16384)  # warm-up: compile paths, not reported
    await decode(engine, prompts, max(args.batches), 512, 32)

    result: dict[str, Any] = {
        "layers": args.layers,
        "tp": settings.tensor_parallel_size,
        "expert_parallel": settings.enable_expert_parallel,
        "settings": settings.engine_kwargs(str(folder)),
        "env": {k: os.environ.get(k) for k in ENV},
        "engine_start_s": round(start_s, 1),
        "copy_bandwidth_GBps": round(bandwidth / 1e9, 1),
        "weights": dummy_deepseek.weight_sizes(cfg),
    }
    result["ttft"] = [await ttft(engine, prompts, n) for n in args.prefill]
    if "decode" in args.skip:
        args.batches = []
    print(f"[bench] ttft {result['ttft']}", flush=True)
    kv_bytes = 1 if settings.kv_cache_dtype.startswith("fp8") else 2
    rows = []
    for batch in args.batches:
        row = await decode(engine, prompts, batch, args.decode_ctx, args.decode_tokens)
        context = row["prompt_tokens"] + args.decode_tokens // 2
        add_roofline(row, cfg, context, kv_bytes, bandwidth, settings.tensor_parallel_size)
        rows.append(row)
        print(f"[bench] decode {row}", flush=True)
    result["decode"] = rows
    if "prefix" not in args.skip:
        result["prefix_cache"] = await prefix_cache(engine, prompts, args.prefix)
        print(f"[bench] prefix cache {result['prefix_cache']}", flush=True)
    if "overhead" not in args.skip:
        result["overhead"] = await overhead(engine, prompts, 4096, 256, 5)
        print(f"[bench] overhead {result['overhead']}", flush=True)
    await engine.close()
    return result


def gpu_facts() -> dict[str, Any]:
    import torch

    names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    import vllm

    return {"gpus": names, "torch": torch.__version__, "vllm": vllm.__version__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", type=int, default=5)
    parser.add_argument("--tp", type=int, default=None, help="default: every local GPU")
    parser.add_argument("--ep", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--gpu-mem", type=float, default=None, help="default: per GPU class")
    parser.add_argument("--max-num-batched-tokens", type=int, default=None)
    parser.add_argument("--kv-cache-dtype", default=None)
    parser.add_argument("--attention-backend", default=None)
    parser.add_argument("--enforce-eager", action="store_true")
    parser.add_argument("--prefill", type=int, nargs="*", default=[32768, 120000])
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["decode", "prefix", "overhead"], help="phases"
    )
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--decode-ctx", type=int, default=1024)
    parser.add_argument("--decode-tokens", type=int, default=256)
    parser.add_argument("--prefix", type=int, default=30000)
    parser.add_argument("--model-dir", default=None)
    parser.add_argument("--tag", default=None)
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args()
    for key, value in ENV.items():
        os.environ.setdefault(key, value)
    result = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **gpu_facts(),
        **asyncio.run(run(args)),
    }
    tag = args.tag or f"tp{result['tp']}{'-ep' if result['expert_parallel'] else ''}"
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"gpu_engine_{tag}.json"
    path.write_text(json.dumps(result, indent=2))
    print("RESULT_JSON " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
