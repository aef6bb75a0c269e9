"""Which engine a command runs, from its command line: the same choice for ``fathom serve``,
``fathom edit`` and ``fathom demo`` — the embedded vLLM (CPU or GPU defaults) or an
OpenAI-compatible server (``--server-url``).
``--model`` names one model in every command: the one run, the one whose tokenizer ``index``
and ``context`` count with, the one ``serve-model`` serves."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from fathom.backend.engine import Engine
from fathom.backend.vllm_settings import DEFAULT_MODEL, VllmSettings
from fathom.lsp_server.config import FathomConfig
from fathom.lsp_server.engine_host import MakeEngine

CPU_MAX_MODEL_LEN = 32768


def engine_settings(args: argparse.Namespace) -> VllmSettings:
    """The CPU defaults, or on a machine with GPUs the GPU defaults for the model."""
    from fathom.backend.gpu_defaults import detect_gpus, gpu_settings_for

    gpus = detect_gpus()
    if gpus.count == 0:
        return VllmSettings(model=args.model, max_model_len=args.max_model_len or CPU_MAX_MODEL_LEN)
    from fathom.backend.vllm_engine import resolve_model

    model_path = resolve_model(args.model, lambda m: print(m, file=sys.stderr))
    overrides = {"max_model_len": args.max_model_len} if args.max_model_len else {}
    return gpu_settings_for(model_path, gpus.count, gpus.memory_gib, **overrides)


def add_model_option(parser: argparse.ArgumentParser) -> None:
    """``--model``: the model a command runs, indexes for, or serves (``serve-model``)."""
    parser.add_argument(
        "--model",
        default=os.environ.get("FATHOM_MODEL", DEFAULT_MODEL),
        help="'default' (the packaged Qwen2.5-Coder-0.5B-Instruct), a local HF model folder "
        "(e.g. DeepSeek-V3 FP8), or an HF id already in the local HF cache (env FATHOM_MODEL)",
    )


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    add_model_option(parser)
    parser.add_argument(
        "--max-model-len",
        type=int,
        help=f"context window (default {CPU_MAX_MODEL_LEN}; on GPUs 131072 for DeepSeek-V3 models)",
    )
    parser.add_argument("--verbose", action="store_true", help="show the engine's own logs")


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """For the commands that ask a model: where an OpenAI-compatible server is."""
    parser.add_argument(
        "--server-url",
        metavar="URL",
        help="use an OpenAI-compatible model server (e.g. http://gpu-box:8000/v1, started with "
        "`fathom serve-model`) instead of the embedded engine; the API key comes from "
        "FATHOM_OPENAI_API_KEY or OPENAI_API_KEY",
    )
    parser.add_argument("--server-model", metavar="NAME", help="model name on the server")
    parser.add_argument(
        "--server-tokenizer",
        metavar="PATH",
        help="local tokenizer folder for counting tokens ('server' to ask the server)",
    )


def config_from_args(args: argparse.Namespace) -> FathomConfig:
    """The engine the command line asks for (the editor's settings may choose another)."""
    return FathomConfig(
        engine="openai" if args.server_url else "embedded",
        model=args.model,
        server_url=args.server_url,
        server_model=args.server_model,
    )


def engine_factory(args: argparse.Namespace) -> MakeEngine:
    """Builds an (unstarted) engine for a configuration; the command line fills the gaps. The
    engine tells the given callback its start-up steps (the default model's first assembly,
    the engine starting, which model a server serves)."""

    def make_engine(config: FathomConfig, progress: Callable[[str], None]) -> Engine:
        from fathom.backend.vllm_engine import VllmEngine

        if config.engine == "openai":
            from fathom.backend.openai_engine import OpenAIEngine

            # A shared model server (`fathom serve-model` on a GPU box): nothing loads here.
            assert config.server_url is not None
            return OpenAIEngine(
                config.server_url,
                config.server_model,
                tokenizer=args.server_tokenizer,
                progress=progress,
            )
        chosen = argparse.Namespace(**{**vars(args), "model": config.model or args.model})
        return VllmEngine(engine_settings(chosen), progress=progress)

    return make_engine


def headless_engine(args: argparse.Namespace) -> Engine:
    """The engine ``fathom edit`` and ``fathom demo`` run: the server's choice, unstarted."""
    from fathom.pipeline.headless import say

    return engine_factory(args)(config_from_args(args), say)


def model_tokenizer(args: argparse.Namespace, command: str) -> tuple[Any, str] | None:
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
