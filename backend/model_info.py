"""What a checkpoint's ``config.json`` says that the engine settings depend on.

:func:`inspect_model` reads a model folder (or an HF id in the local HF cache, or the config as
a dict) into a :class:`ModelInfo`: the context length vLLM will derive, the layout (heads,
layers, experts, MTP heads) and the FP8 block quantization. It refuses a
``quantization_config`` vLLM would refuse only after minutes of loading.

:class:`SettingsError` lives here because this is the bottom of the settings modules: the
engine settings (:mod:`backend.vllm_settings`) and the GPU defaults raise it too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fathom.backend.engine import EngineError

# DeepSeek-V3 / V3.1 (and R1) checkpoints all say model_type "deepseek_v3".
DEEPSEEK_MODEL_TYPES = ("deepseek_v3", "deepseek_v32", "deepseek_v2")


class SettingsError(EngineError):
    """Settings the model or the machine can't run; the message says what to change."""


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What the engine settings depend on, read from a checkpoint's ``config.json``."""

    model_type: str
    architectures: tuple[str, ...] = ()
    # The longest context the model is trained for: its positions after RoPE scaling.
    max_len: int | None = None
    num_attention_heads: int | None = None
    num_hidden_layers: int | None = None
    intermediate_size: int | None = None
    moe_intermediate_size: int | None = None
    routed_experts: int = 0
    mtp_layers: int = 0  # num_nextn_predict_layers: DeepSeek's multi-token-prediction heads
    # From quantization_config; None for an unquantized checkpoint.
    quantization: str | None = None
    weight_block_size: tuple[int, int] | None = None
    activation_scheme: str | None = None
    quant_format: str | None = None
    config: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_moe(self) -> bool:
        return self.routed_experts > 0

    @property
    def has_mtp(self) -> bool:
        return self.mtp_layers > 0

    @property
    def is_deepseek(self) -> bool:
        return self.model_type in DEEPSEEK_MODEL_TYPES or any(
            a.startswith(("DeepseekV3", "DeepseekV2")) for a in self.architectures
        )

    def describe(self) -> str:
        """One line for logs and ``--dry-run``: what was detected."""
        parts = [self.model_type or "unknown model"]
        if self.num_hidden_layers:
            parts.append(f"{self.num_hidden_layers} layers")
        if self.is_moe:
            parts.append(f"MoE {self.routed_experts} routed experts")
        if self.has_mtp:
            parts.append(f"{self.mtp_layers} MTP head(s)")
        if self.quantization:
            block = "x".join(map(str, self.weight_block_size)) if self.weight_block_size else ""
            parts.append(f"{self.quantization} {block} blocks".replace("  ", " "))
        if self.max_len:
            parts.append(f"up to {self.max_len} tokens")
        return ", ".join(parts)


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _model_max_len(config: Mapping[str, Any]) -> int | None:
    """The longest context ``config`` supports, the way vLLM derives it (smallest length key,
    then RoPE scaling)."""
    keys = (
        "max_position_embeddings",
        "n_positions",
        "max_seq_len",
        "seq_length",
        "model_max_length",
        "max_sequence_length",
        "max_seq_length",
        "seq_len",
    )
    lengths = [n for n in (_int(config.get(k)) for k in keys) if n]
    if not lengths:
        return None
    derived = min(lengths)
    rope = config.get("rope_scaling") or config.get("rope_parameters")
    if isinstance(rope, Mapping):
        kind = str(rope.get("rope_type") or rope.get("type") or "default")
        factor = rope.get("factor")
        original = _int(rope.get("original_max_position_embeddings"))
        if kind in ("yarn", "deepseek_yarn"):
            # YaRN extends the original window by `factor`: DeepSeek-V3 has 4096 x 40 = 163840,
            # which is also its max_position_embeddings. Older vLLM computes original x factor,
            # newer vLLM takes max_position_embeddings as already scaled; allow what both allow.
            if original and isinstance(factor, int | float):
                derived = min(derived, int(original * factor))
        elif kind not in ("default", "su", "longrope", "llama3", "mrope") and isinstance(
            factor, int | float
        ):
            derived = int(derived * factor)  # linear and dynamic scaling stretch the positions
    return derived


def _hf_cached_config(repo_id: str) -> Path | None:
    """config.json of an HF id in the local HF cache (the hub is never asked)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    try:
        found = try_to_load_from_cache(repo_id, "config.json")
    except Exception:  # an id huggingface_hub refuses is simply not in the cache
        return None
    return Path(found) if isinstance(found, str) else None


def read_model_config(source: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """A checkpoint's ``config.json`` as a dict: from a model folder, the file, or a dict."""
    if isinstance(source, Mapping):
        return dict(source)
    path = Path(source).expanduser()
    if path.is_dir():
        path = path / "config.json"
    elif not path.exists() and not str(source).startswith((".", "/", "~")):
        path = _hf_cached_config(str(source)) or path
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(
            f"{path} does not exist: point --model at an HF model folder."
        ) from None
    except (OSError, ValueError) as exc:
        raise SettingsError(f"{path} is not a readable config.json ({exc}).") from exc


def inspect_model(source: str | Path | Mapping[str, Any]) -> ModelInfo:
    """What the settings need from a checkpoint; raises :class:`SettingsError` on a
    ``quantization_config`` vLLM would refuse."""
    config = read_model_config(source)
    quant = config.get("quantization_config") or {}
    if not isinstance(quant, Mapping):
        raise SettingsError(f"quantization_config must be a JSON object, not {quant!r}.")
    method = quant.get("quant_method")
    block = quant.get("weight_block_size")
    block_size: tuple[int, int] | None = None
    if block is not None:
        if (
            not isinstance(block, list | tuple)
            or len(block) != 2
            or not all(isinstance(b, int) and not isinstance(b, bool) and b > 0 for b in block)
        ):
            raise SettingsError(
                f"quantization_config.weight_block_size must be two positive integers "
                f"([block_n, block_k], e.g. [128, 128]), not {block!r}."
            )
        block_size = (block[0], block[1])
    scheme = quant.get("activation_scheme")
    if method == "fp8" and block_size is not None and scheme not in (None, "dynamic"):
        # vLLM's Fp8Config refuses this too, after a slow start; say it up front.
        raise SettingsError(
            f"FP8 block-quantized checkpoints need activation_scheme 'dynamic' "
            f"(per-token-group activation scales); this one says {scheme!r}."
        )
    experts = (
        _int(config.get("n_routed_experts"))
        or _int(config.get("num_experts"))
        or _int(config.get("num_local_experts"))
        or 0
    )
    return ModelInfo(
        model_type=str(config.get("model_type", "")),
        architectures=tuple(config.get("architectures") or ()),
        max_len=_model_max_len(config),
        num_attention_heads=_int(config.get("num_attention_heads")),
        num_hidden_layers=_int(config.get("num_hidden_layers")),
        intermediate_size=_int(config.get("intermediate_size")),
        moe_intermediate_size=_int(config.get("moe_intermediate_size")),
        routed_experts=experts,
        mtp_layers=_int(config.get("num_nextn_predict_layers")) or 0,
        quantization=str(method) if method else None,
        weight_block_size=block_size,
        activation_scheme=str(scheme) if scheme else None,
        quant_format=str(quant["fmt"]) if quant.get("fmt") else None,
        config=config,
    )


def local_model_info(model_path: str) -> ModelInfo | None:
    """The model's info when ``model_path`` is a local model folder, else None."""
    if not (Path(model_path).expanduser() / "config.json").is_file():
        return None
    return inspect_model(model_path)
