"""Whole MoE coding models on one GPU: Fathom's VllmEngine beside plain vLLM, same run.

    PYTHONPATH=/tmp/site python bench/gpu_whole_model.py --model qwen3-coder-30b-a3b-fp8 \
        --engine fathom --out DIR          # Fathom's settings, through VllmEngine
    ... --engine plain                     # vLLM's own defaults, AsyncLLM.generate only

Dummy weights (bench/dummy_models.py: the real config.json), uniform routing. One engine per
process; run ``--engine fathom`` and ``--engine plain`` one after the other on the same GPU.
Each request is timed on two paths where the engine allows: ``fathom`` (chat messages ->
template -> ``VllmEngine.stream`` -> text deltas) and ``raw`` (token ids straight into vLLM's
``AsyncLLM.generate``, no Fathom code). Phases (``--phases``): decode at batch 1/8/32/128
against the HBM roofline (bytes per step ÷ measured copy bandwidth; bench/gpu_engine.py
``add_roofline``) at a 1K prompt and (``decode_long``) at a 32K one, prefix-cache cold vs hit, TTFT at the given prompt lengths, greedy edit
requests (bench/ngram_speculation.py's prompts; run once with ``--speculative ngram``), and a
torch-profiler trace of batch-1 decode (``profile32``: batch 32) read by
bench/gpu_decode_profile.py, and (``profile_prefill``) of prefills past vLLM's CUDA graphs
(bench/gpu_prefill_profile.py), whose TTFT ``prefill_sweep`` times at ``--prefill-sizes``
on both sides of the largest graph. ``--variant``
picks engine settings from gpu_decode_profile.VARIANTS. Writes ``whole_<tag>.json`` after
every phase, so a run cut short keeps what it measured.
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
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common, dummy_models, gpu_decode_profile, gpu_engine, ngram_speculation
from bench.gpu_prefill_profile import prefill_sweep, profile_prefill
from fathom.backend.engine import GenerationStats
from fathom.backend.gpu_defaults import detect_gpus, estimate_weight_bytes, gpu_settings_for
from fathom.backend.model_info import inspect_model
from fathom.backend.vllm_engine import VllmEngine

# (prompt tokens, output tokens, [(time, output tokens so far)]) of one request.
Marks = tuple[int, int, list[tuple[float, int]]]
Runner = Callable[[int, int, int], Awaitable[Marks]]  # (prompt tokens, offset, max tokens)


class Bench:
    """One engine, either Fathom's (both paths) or plain vLLM's (raw path only)."""

    def __init__(self, llm: Any, tokenizer: Any, engine: VllmEngine | None) -> None:
        self.llm, self.engine = llm, engine
        text = "\n".join(gpu_engine.dummy_deepseek._corpus_texts())
        self.ids: list[int] = tokenizer.encode(text, add_special_tokens=False)
        self.tokenizer = tokenizer

    def prompt_ids(self, tokens: int, offset: int) -> list[int]:
        nonce = self.tokenizer.encode(f"# request {uuid.uuid4().hex}\n", add_special_tokens=False)
        ids = self.ids * (1 + (tokens + offset) // len(self.ids) + 1)
        return (nonce + ids[offset : offset + tokens])[:tokens]

    def text(self, tokens: int, offset: int) -> str:
        return self.tokenizer.decode(self.prompt_ids(tokens, offset))

    async def raw(self, tokens: int, offset: int, max_tokens: int) -> Marks:
        return await self.raw_ids(self.prompt_ids(tokens, offset), max_tokens)

    async def raw_ids(self, ids: list[int], max_tokens: int) -> Marks:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt
        from vllm.sampling_params import RequestOutputKind

        params = SamplingParams(
            max_tokens=max_tokens,
            temperature=0.0,
            ignore_eos=True,
            output_kind=RequestOutputKind.DELTA,
        )
        marks, done = [], 0
        async for out in self.llm.generate(
            TokensPrompt(prompt_token_ids=ids), params, uuid.uuid4().hex
        ):
            done += len(out.outputs[0].token_ids)
            marks.append((time.perf_counter(), done))
        return len(ids), done, marks

    async def fathom(self, tokens: int, offset: int, max_tokens: int) -> Marks:
        assert self.engine is not None
        # The chat template adds a few tokens; the row reports the count vLLM got.
        req = gpu_engine.request(self.text(tokens, offset), max_tokens)
        stats, marks = await gpu_engine.timed_stream(self.engine, req)
        return stats.prompt_tokens, stats.completion_tokens, marks

    def runners(self) -> dict[str, Runner]:
        return {"fathom": self.fathom, "raw": self.raw} if self.engine else {"raw": self.raw}


async def decode(run: Runner, batch: int, ctx: int, out: int) -> dict[str, Any]:
    """Steady-state ms per step with ``batch`` requests decoding together (the window from
    the last request's first token to the first request's end; gpu_engine.decode's method)."""
    results = await asyncio.gather(*(run(ctx, 997 * i, out) for i in range(batch)))
    start = max(marks[0][0] for _, _, marks in results)
    end = min(marks[-1][0] for _, _, marks in results)
    per_token = []
    for _, _, marks in results:
        inside = [(t, n) for t, n in marks if start <= t <= end]
        if len(inside) >= 2 and inside[-1][1] > inside[0][1]:
            per_token.append((inside[-1][0] - inside[0][0]) / (inside[-1][1] - inside[0][1]))
    return {
        "batch": batch,
        "prompt_tokens": results[0][0],
        "output_tokens_each": min(n for _, n, _ in results),
        "tpot_ms": round(1000 * statistics.median(per_token), 3) if per_token else None,
        "window_s": round(end - start, 3),
    }


async def ttft(run: Runner, tokens: int) -> dict[str, Any]:
    start = time.perf_counter()
    prompt, _, _ = await run(tokens, 0, 1)
    return {"prompt_tokens": prompt, "ttft_s": round(time.perf_counter() - start, 4)}


async def prefix_hit(bench: Bench, path: str, prefix: int) -> dict[str, Any]:
    """TTFT of a 30K shared prefix + 256 new tokens: first (cold) vs second (cache hit)."""
    shared = bench.prompt_ids(prefix, 5000)
    out: dict[str, Any] = {}
    for name, offset in (("cold", 11), ("hit", 4242)):
        suffix = bench.ids[offset : offset + 256]
        start = time.perf_counter()
        if path == "raw":
            await bench.raw_ids(shared + suffix, 1)
        else:
            assert bench.engine is not None
            text = bench.tokenizer.decode(shared) + "\n" + bench.tokenizer.decode(suffix)
            await gpu_engine.timed_stream(bench.engine, gpu_engine.request(text, 1))
        out[name] = round(time.perf_counter() - start, 4)
    out["speedup"] = round(out["cold"] / out["hit"], 2)
    return out


async def edits(engine: VllmEngine, count: int, max_tokens: int) -> dict[str, Any]:
    """Greedy edit requests one at a time (what n-gram speculation is for): output tok/s."""
    reqs = [replace(r, max_tokens=max_tokens) for r in ngram_speculation.edit_requests(count + 1)]
    async for _ in engine.stream(reqs[0]):  # warm-up
        pass
    tokens, seconds, replies = 0, 0.0, []
    for req in reqs[1:]:
        stats = GenerationStats()
        pieces = [piece async for piece in engine.stream(req, stats)]
        tokens += stats.completion_tokens
        seconds += stats.total_s
        replies.append("".join(pieces)[:120])
    return {
        "requests": len(reqs) - 1,
        "max_tokens": max_tokens,
        "output_tokens": tokens,
        "seconds": round(seconds, 3),
        "output_tokens_per_s": round(tokens / seconds, 1),
        "reply_heads": replies[:2],
    }


async def profile_decode(
    bench: Bench, trace_dir: Path, tpot_ms: float | None, batch: int = 1
) -> dict[str, Any]:
    """vLLM's torch profiler over ~0.25 s in the middle of a long decode of ``batch``.

    The window opens once the prompts' prefill is over: 0.5 s at batch 1; at batch 32 the
    first try opened it at 0.5 s too and caught four prefill chunks of the 32 prompts instead
    of decode steps (bench/results/whole_model_gemv_h100.md), so larger batches wait a second
    more and 0.1 s per 1K prompt tokens (32K tokens prefill in ~1.3 s on an H200)."""
    tokens = 600 if batch == 1 else 1500
    job = asyncio.create_task(decode(bench.raw, batch, 1024, tokens))
    await asyncio.sleep(0.5 if batch == 1 else 1.5 + 0.1 * batch * 1024 / 1000)
    await bench.llm.start_profile()
    await asyncio.sleep(0.25)
    await bench.llm.stop_profile()
    await job
    await asyncio.sleep(5)  # the engine process writes the trace after stopping
    return gpu_decode_profile.read_trace(trace_dir, tpot_ms)


async def start(args: argparse.Namespace, folder: Path, trace_dir: Path) -> tuple[Bench, dict]:
    """The engine the run measures, and the arguments vLLM got."""
    variant = gpu_decode_profile.VARIANTS[args.variant]
    extra: dict[str, Any] = {"seed": 0, **variant.get("extra", {})}
    if {"profile", "profile32", "profile_prefill"} & set(args.phases):
        from vllm.config import ProfilerConfig

        extra["profiler_config"] = ProfilerConfig(
            profiler="torch",
            torch_profiler_dir=str(trace_dir),
            torch_profiler_with_stack=False,
            ignore_frontend=True,
        )
    overrides = {k: v for k, v in variant.items() if k not in ("extra", "env")}
    if args.max_model_len:
        overrides["max_model_len"] = args.max_model_len
    if args.speculative != "off":
        overrides["speculative"] = args.speculative
    if args.engine == "fathom":
        gpus = detect_gpus()
        settings = gpu_settings_for(
            folder, gpus.count, gpus.memory_gib, load_format="dummy", extra=extra, **overrides
        )
        engine = VllmEngine(settings, progress=lambda m: print(f"[engine] {m}", flush=True))
        await engine.start()
        kwargs = settings.engine_kwargs(str(folder))
        return Bench(engine._llm, engine.tokenizer, engine), kwargs
    from transformers import AutoTokenizer
    from vllm.engine.arg_utils import AsyncEngineArgs
    from vllm.v1.engine.async_llm import AsyncLLM

    # Plain vLLM: its own defaults, only what a dummy-weight run needs, plus the variant.
    kwargs = {"model": str(folder), "load_format": "dummy", **extra}
    for key in ("max_model_len", "attention_backend", "moe_backend"):
        if key in overrides:
            kwargs[key] = overrides[key]
    llm = await asyncio.to_thread(AsyncLLM.from_engine_args, AsyncEngineArgs(**kwargs))
    return Bench(llm, AutoTokenizer.from_pretrained(folder), None), kwargs


async def run(args: argparse.Namespace, result: dict[str, Any], save: Callable[[], None]) -> None:
    folder = Path(tempfile.mkdtemp(prefix="model-"))
    cfg = dummy_models.write_model(folder, args.model, args.layers)
    trace_dir = Path(tempfile.mkdtemp(prefix="trace-"))
    bandwidth = gpu_engine.copy_bandwidth()
    result["copy_bandwidth_GBps"] = round(bandwidth / 1e9, 1)
    result["weights_GB"] = round((estimate_weight_bytes(inspect_model(cfg)) or 0) / 1e9, 2)
    started = time.perf_counter()
    bench, kwargs = await start(args, folder, trace_dir)
    result["engine_start_s"] = round(time.perf_counter() - started, 1)
    result["engine_kwargs"] = {k: str(v) for k, v in kwargs.items()}
    print(f"[bench] engine up in {result['engine_start_s']} s", flush=True)
    save()
    runners = bench.runners()
    await decode(bench.raw, 8, 512, 32)  # warm-up: not reported
    if bench.engine:
        await decode(bench.fathom, 8, 512, 32)
    kv_bytes = 1 if str(kwargs.get("kv_cache_dtype", "auto")).startswith("fp8") else 2
    for phase in args.phases:
        t0 = time.perf_counter()
        if phase in ("decode", "decode_long"):
            # decode_long: a long context, where attention's KV reads (and how FlashAttention
            # splits them over SMs) weigh on the step; settings that help at 1K can hurt there.
            batches, ctx = (
                (args.batches, args.decode_ctx)
                if phase == "decode"
                else (args.long_batches, args.long_ctx)
            )
            for name, runner in runners.items():
                rows = []
                for batch in batches:
                    row = await decode(runner, batch, ctx, args.decode_tokens)
                    context = row["prompt_tokens"] + args.decode_tokens // 2
                    gpu_engine.add_roofline(row, cfg, context, kv_bytes, bandwidth)
                    rows.append(row)
                    print(f"[bench] {phase} {name} {row}", flush=True)
                result.setdefault(phase, {})[name] = rows
        elif phase == "prefix":
            result["prefix_cache"] = {
                name: await prefix_hit(bench, name, args.prefix) for name in runners
            }
        elif phase == "overhead" and bench.engine:
            result["overhead"] = await gpu_engine.overhead(
                bench.engine, _Prompts(bench), 4096, 256, 5
            )
        elif phase == "ttft":
            result["ttft"] = {
                name: [await ttft(runner, n) for n in args.ttft] for name, runner in runners.items()
            }
        elif phase == "ttft_long" and args.ttft_long:
            # The longest context once, on the first path only (tens of seconds each).
            name, runner = next(iter(runners.items()))
            result["ttft_long"] = {name: await ttft(runner, args.ttft_long)}
        elif phase == "edits" and bench.engine:
            result["edits"] = await edits(bench.engine, args.edit_requests, args.edit_tokens)
        elif phase == "prefill_sweep":
            result["prefill_sweep"] = await prefill_sweep(bench, args.prefill_sizes)
        elif phase == "profile_prefill":  # one past the CUDA graphs: host time, not GPU
            result["trace_prefill"] = await profile_prefill(bench, trace_dir, args.prefill_tokens)
        elif phase in ("profile", "profile32"):
            batch = 1 if phase == "profile" else 32
            rows = result.get("decode", {}).get("raw", [])
            tpot = next((row["tpot_ms"] for row in rows if row["batch"] == batch), None)
            key = "trace" if batch == 1 else "trace_b32"
            result[key] = await profile_decode(bench, trace_dir, tpot, batch)
        else:
            continue
        print(
            f"[bench] {phase} done in {time.perf_counter() - t0:.1f} s: "
            f"{json.dumps(result.get(KEYS.get(phase, phase), ''))[:1500]}",
            flush=True,
        )
        save()
    if bench.engine:
        await bench.engine.close()
    else:
        bench.llm.shutdown()


class _Prompts:
    """gpu_engine.Prompts' interface over this bench's prompts (for gpu_engine.overhead)."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench

    def text(self, tokens: int, offset: int = 0) -> str:
        return self.bench.text(tokens, offset)

    @staticmethod
    def nonce() -> str:
        return gpu_engine.Prompts.nonce()


KEYS = {
    "prefix": "prefix_cache",
    "profile": "trace",
    "profile32": "trace_b32",
    "profile_prefill": "trace_prefill",
}  # where each phase's figures go
PHASES = (
    "decode", "decode_long", "prefix", "overhead", "ttft", "edits", "profile", "profile32",
    "ttft_long", "profile_prefill", "prefill_sweep",
)  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=sorted(dummy_models.MODELS), required=True)
    parser.add_argument("--layers", type=int, default=None, help="default: the whole model")
    parser.add_argument("--engine", choices=("fathom", "plain"), default="fathom")
    parser.add_argument("--variant", choices=sorted(gpu_decode_profile.VARIANTS), default="default")
    parser.add_argument("--speculative", choices=("off", "ngram"), default="off")
    parser.add_argument("--max-model-len", type=int, default=None)
    parser.add_argument("--phases", nargs="+", choices=PHASES, default=list(PHASES))
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32, 128])
    parser.add_argument("--decode-ctx", type=int, default=1024)
    parser.add_argument("--decode-tokens", type=int, default=256)
    parser.add_argument("--long-ctx", type=int, default=32768, help="decode_long's prompt")
    parser.add_argument("--long-batches", type=int, nargs="+", default=[1])
    parser.add_argument("--ttft", type=int, nargs="*", default=[32768, 131072])
    parser.add_argument("--ttft-long", type=int, default=None, help="e.g. 261000")
    parser.add_argument("--prefix", type=int, default=30000)
    parser.add_argument("--prefill-tokens", type=int, default=1000, help="profile_prefill's")
    parser.add_argument("--prefill-sizes", type=int, nargs="+", default=[256, 320, 512, 1000, 2000])
    parser.add_argument("--edit-requests", type=int, default=6)
    parser.add_argument("--edit-tokens", type=int, default=256)
    parser.add_argument(
        "--decode-kernels",
        action="store_true",
        help="with --engine plain: Fathom's decode-kernel plugin on (the A/B twin of plain)",
    )
    parser.add_argument("--tag", default=None)
    parser.add_argument("--out", type=Path, default=Path("."))
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    os.environ.update(gpu_decode_profile.VARIANTS[args.variant].get("env", {}))
    if args.engine == "plain":  # vLLM as it comes: not Fathom's plugin either, unless asked
        os.environ["FATHOM_DECODE_KERNELS"] = "1" if args.decode_kernels else "0"
    if args.decode_kernels and not common.decode_plugin_entry_point():
        raise SystemExit("--decode-kernels: vLLM cannot find Fathom's plugin (no entry point)")
    for key, value in gpu_engine.ENV.items():
        os.environ.setdefault(key, value)
    tag = args.tag or f"{args.model}_{args.engine}_{args.variant}"
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **gpu_engine.gpu_facts(),
        "model": args.model,
        "layers": args.layers,
        "engine": args.engine,
        "variant": args.variant,
        "variant_settings": gpu_decode_profile.VARIANTS[args.variant],
        "speculative": args.speculative,
        "env": {k: os.environ.get(k) for k in gpu_engine.ENV},
        "moe_config_folder": os.environ.get("VLLM_TUNED_CONFIG_FOLDER"),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"whole_{tag}.json"

    def save() -> None:
        result["fathom_decode_env"] = common.fathom_decode_env()  # read at each save
        path.write_text(json.dumps(result, indent=2, default=str))

    asyncio.run(run(args, result, save))
    save()
    print(f"[bench] wrote {path}", flush=True)


if __name__ == "__main__":
    main()
