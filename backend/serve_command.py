"""The command line of vLLM's OpenAI-compatible server for a :class:`VllmSettings`.

``fathom serve-model`` runs a team's GPU box with exactly the settings the embedded engine
would use: every engine keyword becomes the ``vllm serve`` flag of the same name (checked
against vLLM's own parser in tests/test_engine_settings.py). Nothing here starts a process.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from fathom.backend.vllm_settings import VllmSettings

# The entry point of `vllm serve` as a module: the offline GPU bundle ships no `vllm` script.
VLLM_SERVE_MODULE = "vllm.entrypoints.cli.main"

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
) -> list[str]:
    """The argv of vLLM's OpenAI-compatible server for ``settings`` (nothing is started).

    Every engine setting becomes the ``vllm serve`` flag of the same name, so the server runs
    exactly what the embedded engine would. The API key is not here: pass it in the
    environment (``VLLM_API_KEY``), where ``ps`` does not show it.
    """
    kwargs = settings.engine_kwargs(model_path or settings.model, on_cpu=on_cpu)
    model = kwargs.pop("model")
    argv = [python or sys.executable, "-m", VLLM_SERVE_MODULE, "serve", model]
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
