"""``fathom``: serve (the language server), edit (headless), demo (the main job, end to end),
serve-model (vLLM's OpenAI-compatible server for a team's GPU box)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any

from fathom.backend.engine import Engine, ModelUnavailableError
from fathom.backend.settings import DEFAULT_MODEL, KV_CACHE_DTYPES, SPECULATIVE_MODES, SettingsError
from fathom.cli.engines import (
    CPU_MAX_MODEL_LEN,
    add_engine_options,
    add_server_options,
    config_from_args,
    engine_factory,
)


def _quiet_engine_logs(verbose: bool) -> None:
    if not verbose:
        # vLLM's CPU build warns about missing Triton, tcmalloc and more on every start;
        # none of it is actionable for a Fathom user.
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
        os.environ.setdefault("PYTHONWARNINGS", "ignore::FutureWarning")
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not verbose:  # some vLLM modules log before VLLM_LOGGING_LEVEL takes effect
        logging.getLogger("vllm").setLevel(logging.ERROR)


def _serve(args: argparse.Namespace) -> int:
    from fathom.lsp_server.server import build_server
    from fathom.lsp_server.streams import lsp_channel

    _quiet_engine_logs(args.verbose)
    # The command line sets the defaults; the editor's settings may choose another engine.
    server = build_server(engine_factory(args), config_from_args(args))
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        server.start_tcp(host or "127.0.0.1", int(port))
        return 0
    # stdout is the LSP channel and stderr the editor's error log: the engine's own output
    # goes to a log file unless --verbose (lsp_server/streams.py).
    server.start_io(sys.stdin.buffer, lsp_channel(args.verbose))
    return 0


def _parse_range(text: str) -> tuple[int, int]:
    try:
        first, _, last = text.partition(":")
        start, end = int(first), int(last or first)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--range takes L1:L2 (1-based lines), not {text!r}"
        ) from None
    if start < 1 or end < start:
        raise argparse.ArgumentTypeError(f"--range {text}: lines are 1-based and L1 <= L2")
    return start, end


def _headless_engine(args: argparse.Namespace) -> Engine:
    """The engine ``fathom edit`` and ``fathom demo`` run: the server's choice, unstarted."""
    from fathom.pipeline.headless import say

    return engine_factory(args, progress=say)(config_from_args(args))


def _edit(args: argparse.Namespace) -> int:
    from fathom.pipeline.headless import edit_file, resolved

    _quiet_engine_logs(args.verbose)
    if resolved(args.path, "edit") is None or (args.root and resolved(args.root, "edit") is None):
        return 2
    return asyncio.run(
        edit_file(
            Path(args.path),
            args.range,
            args.instruction,
            apply=args.apply,
            allow_delete=args.allow_delete,
            engine=_headless_engine(args),
            root=Path(args.root) if args.root else None,
        )
    )


def _demo(args: argparse.Namespace) -> int:
    from fathom.cli.demo import run_demo

    _quiet_engine_logs(args.verbose)
    return asyncio.run(run_demo(_headless_engine(args)))


def _model_tokenizer(args: argparse.Namespace, command: str) -> tuple[Any, str] | None:
    """The model's token counter and its id (no engine needed), or None after saying why."""
    from fathom.backend.engine import ModelUnavailableError
    from fathom.backend.tokenizer import HFTokenCounter
    from fathom.backend.vllm_engine import resolve_model

    try:
        model_path = resolve_model(args.model, lambda m: print(m, file=sys.stderr))
    except ModelUnavailableError as exc:
        print(f"fathom {command}: {exc}", file=sys.stderr)
        return None
    counter = HFTokenCounter.from_model(model_path)
    return counter, counter.fingerprint  # the index's identity: the tokenizer's content


def _index(args: argparse.Namespace) -> int:
    import time

    from fathom.pipeline.repositories import index_path, open_index

    _quiet_engine_logs(args.verbose)
    root = Path(args.root).resolve()
    if not root.is_dir():
        print(f"fathom index: {root} is not a folder", file=sys.stderr)
        return 2
    tokenizer = _model_tokenizer(args, "index")
    if tokenizer is None:
        return 1
    index = open_index(root, *tokenizer)
    last = [0.0]

    def progress(done: int, total: int) -> None:
        if time.monotonic() - last[0] > 2 or done == total:
            last[0] = time.monotonic()
            print(f"indexing {done}/{total} files", file=sys.stderr)

    try:
        stats = index.refresh(progress)
    finally:
        index.close()
    rate = stats.indexed / stats.seconds if stats.seconds else 0.0
    print(
        f"{stats.files} files, {stats.chunks} chunks, {stats.symbols} symbols in "
        f"{stats.seconds:.2f} s ({stats.indexed} indexed at {rate:.0f} files/s, "
        f"{stats.cache_hits} from the cache, {stats.removed} removed)\nindex: {index_path(root)}"
    )
    return 0


def _context(args: argparse.Namespace) -> int:
    from fathom.context import ContextBudgetError, LineRange, UnreadableFileError, Workspace
    from fathom.pipeline.headless import find_root, resolved
    from fathom.pipeline.repositories import open_repository

    _quiet_engine_logs(args.verbose)
    where, _, line = args.location.rpartition(":")
    if not where or not line.isdigit() or int(line) < 1:
        print(f"fathom context: give PATH:LINE (1-based), not {args.location!r}", file=sys.stderr)
        return 2
    path = resolved(where, "context")
    root = resolved(args.root, "context") if args.root else path and find_root(path)
    if path is None or root is None:
        return 2
    tokenizer = _model_tokenizer(args, "context")
    if tokenizer is None:
        return 1
    counter = tokenizer[0]
    repository = open_repository(root, *tokenizer)
    try:
        stats = repository.refresh()
        hits = f"{stats.cache_hits} from the cache"
        print(f"index: {stats.files} files ({hits}) in {stats.seconds:.2f} s")
        workspace = Workspace(root, counter, repository=repository)
        row = int(line) - 1
        budget = args.budget or (args.max_model_len or CPU_MAX_MODEL_LEN) - 2048
        try:
            pack = workspace.pack(path, LineRange(row, row + 1), args.instruction, budget)
        except (ContextBudgetError, UnreadableFileError, ValueError) as exc:
            print(f"fathom context: {exc}", file=sys.stderr)
            return 2
    finally:
        repository.index.close()
    print(f"budget {pack.budget} tokens, used {pack.tokens}")
    for section in pack.sections:
        shown = f" lines {section.lines.start + 1}-{section.lines.end}" if section.lines else ""
        print(f"{section.tokens:>7}  {section.kind.value:<15} {section.path.as_posix()}{shown}")
    for left_out in pack.omitted:
        print(f"left out: {left_out}")
    return 0


def _serve_model(args: argparse.Namespace) -> int:
    from fathom.backend.gpu_defaults import GpuInfo, detect_gpus, gpu_settings_for
    from fathom.backend.settings import format_command, serve_command
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
        "enforce_eager": args.enforce_eager,
        "load_format": args.load_format,
        "attention_backend": args.attention_backend,
        "moe_backend": args.moe_backend,
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
    )
    env = {"VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}
    env.update(settings.engine_environment())
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


def _add_serve_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        default=os.environ.get("FATHOM_MODEL", DEFAULT_MODEL),
        help="a local HF model folder (e.g. DeepSeek-V3 FP8), an HF id in the local HF cache, "
        "or 'default' (env FATHOM_MODEL)",
    )
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
    gpu.add_argument("--enforce-eager", action="store_true", default=None, help="no CUDA graphs")
    gpu.add_argument("--load-format", help="'dummy': random weights, for benchmarks")
    gpu.add_argument("--attention-backend", help="e.g. FLASHMLA, FLASH_ATTN_MLA, TRITON_MLA")
    gpu.add_argument("--moe-backend", help="e.g. triton, cutlass, deep_gemm")
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fathom", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the language server (stdio unless --tcp)")
    serve.add_argument("--stdio", action="store_true", help="accepted for clients that pass it")
    serve.add_argument("--tcp", metavar="[HOST:]PORT", help="listen on TCP instead of stdio")
    serve.add_argument(
        "--replay",
        metavar="FILE",
        help="answer with recorded replies (a JSON list of strings) instead of a model; "
        "for tests of the edit plumbing",
    )
    add_engine_options(serve)
    add_server_options(serve)
    serve.set_defaults(run=_serve)

    edit = sub.add_parser("edit", help="edit lines of a file headlessly; prints the diff")
    edit.add_argument("path")
    edit.add_argument("--range", type=_parse_range, required=True, metavar="L1:L2")
    edit.add_argument("--instruction", required=True)
    edit.add_argument("--apply", action="store_true", help="write the edit to the file")
    edit.add_argument(
        "--allow-delete",
        action="store_true",
        help="let --apply delete files the edit deletes (without it, such an edit is refused)",
    )
    edit.add_argument("--root", help="workspace root (default: the git root or the file's folder)")
    add_engine_options(edit)
    add_server_options(edit)
    edit.set_defaults(run=_edit)

    index = sub.add_parser("index", help="index a repository (chunks, symbols) into the cache")
    index.add_argument("root", nargs="?", default=".", metavar="ROOT")
    add_engine_options(index)
    index.set_defaults(run=_index)

    context = sub.add_parser("context", help="show what the model would be shown for a line")
    context.add_argument("location", metavar="PATH:LINE")
    context.add_argument("instruction")
    context.add_argument("--root", help="workspace root (default: the git root or the folder)")
    context.add_argument("--budget", type=int, help="tokens (default: context window - 2048)")
    add_engine_options(context)
    context.set_defaults(run=_context)

    demo = sub.add_parser("demo", help="one real edit of a sample project, end to end")
    add_engine_options(demo)
    add_server_options(demo)
    demo.set_defaults(run=_demo)

    serve_model = sub.add_parser(
        "serve-model",
        help="serve the model over vLLM's OpenAI-compatible HTTP API (one GPU box for a team)",
    )
    _add_serve_model_options(serve_model)
    serve_model.set_defaults(run=_serve_model)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except SettingsError as exc:  # settings the model or the GPUs can't run
        print(f"fathom {args.command}: {exc}", file=sys.stderr)
        return 2
    except ModelUnavailableError as exc:  # GPU settings read the model before the engine does
        print(f"fathom {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
