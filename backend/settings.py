"""The engine settings under one name, for the modules and scripts that import them from here.

Each part has its own module: what a checkpoint's ``config.json`` says
(:mod:`backend.model_info`), the settings vLLM gets and their checks
(:mod:`backend.vllm_settings`), and the ``vllm serve`` command line made from them
(:mod:`backend.serve_command`). The GPU defaults are in :mod:`backend.gpu_defaults`.
"""

from __future__ import annotations

from fathom.backend.model_info import (
    DEEPSEEK_MODEL_TYPES,
    ModelInfo,
    SettingsError,
    inspect_model,
    local_model_info,
    read_model_config,
)
from fathom.backend.serve_command import VLLM_SERVE_MODULE, format_command, serve_command
from fathom.backend.vllm_settings import (
    DEFAULT_MODEL,
    KV_CACHE_DTYPES,
    NGRAM_METHODS,
    SETTING_NAMES,
    SPECULATIVE_MODES,
    VllmSettings,
    structure_overrides,
)

__all__ = [
    "DEEPSEEK_MODEL_TYPES",
    "DEFAULT_MODEL",
    "KV_CACHE_DTYPES",
    "NGRAM_METHODS",
    "SETTING_NAMES",
    "SPECULATIVE_MODES",
    "VLLM_SERVE_MODULE",
    "ModelInfo",
    "SettingsError",
    "VllmSettings",
    "format_command",
    "inspect_model",
    "local_model_info",
    "read_model_config",
    "serve_command",
    "structure_overrides",
]
