"""Typed engine settings with defaults that work on the machine at hand.

:class:`VllmSettings` is what the embedded engine (:mod:`backend.vllm_engine`) and
``fathom serve-model`` hand to vLLM. Its defaults serve the packaged default model on the CPU;
on GPUs :func:`backend.gpu_defaults.gpu_settings_for` fills it in from the checkpoint's
``config.json`` and the GPUs at hand. :func:`inspect_model` reads what the settings depend on
from a checkpoint, and :meth:`VllmSettings.check` refuses what the model or the GPUs can't do.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fathom.backend.engine import EngineError

DEFAULT_MODEL = "default"  # the packaged Qwen2.5-Coder-0.5B-Instruct (backend/default_model.py)

# vLLM's names (CacheConfig.cache_dtype) that mean something on CPUs and Hopper GPUs.
KV_CACHE_DTYPES = ("auto", "bfloat16", "fp8", "fp8_e4m3", "fp8_e5m2")
SPECULATIVE_MODES = ("off", "ngram", "mtp", "auto")
# vLLM's two prompt-lookup proposers: "ngram" searches on the CPU between steps (and turns
# vLLM's async scheduling off); "ngram_gpu" searches on the GPU and keeps it on.
NGRAM_METHODS = ("ngram", "ngram_gpu")
# DeepSeek-V3 / V3.1 (and R1) checkpoints all say model_type "deepseek_v3".
DEEPSEEK_MODEL_TYPES = ("deepseek_v3", "deepseek_v32", "deepseek_v2")

# The entry point of `vllm serve` as a module: the offline GPU bundle ships no `vllm` script.
VLLM_SERVE_MODULE = "vllm.entrypoints.cli.main"


class SettingsError(EngineError, ValueError):
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


def _no_mtp_head(model: str) -> SettingsError:
    return SettingsError(
        f"speculative 'mtp' needs a checkpoint with a multi-token-prediction head "
        f"(num_nextn_predict_layers > 0); {model} has none. Use 'ngram' or 'auto'."
    )


def local_model_info(model_path: str) -> ModelInfo | None:
    """The model's info when ``model_path`` is a local model folder, else None."""
    if not (Path(model_path).expanduser() / "config.json").is_file():
        return None
    return inspect_model(model_path)


@dataclass(frozen=True, slots=True, kw_only=True)
class VllmSettings:
    """What :class:`backend.vllm_engine.VllmEngine` passes to vLLM's ``AsyncEngineArgs``.

    ``model`` is ``"default"``, a local HF folder, or an HF id already in the local HF cache.
    The defaults are the CPU's; :func:`backend.gpu_defaults.gpu_settings_for` makes GPU ones.
    """

    model: str = DEFAULT_MODEL
    max_model_len: int = 32768
    # CUDA graphs / torch.compile cost 50-70 s of start-up on a 2-core CPU for a few percent
    # of decode speed on a 0.5B model; an editor user waits for the start, so skip them.
    # (On GPUs they are worth it: 2.3 ms vs 13.2 ms per token, ../shared/gpu "Measured".)
    enforce_eager: bool = True
    dtype: str = "auto"
    enable_prefix_caching: bool = True
    tensor_parallel_size: int = 1
    # Layers split over this many groups of tensor_parallel_size GPUs: for several nodes.
    pipeline_parallel_size: int = 1
    enable_expert_parallel: bool = False
    gpu_memory_utilization: float | None = None
    max_num_batched_tokens: int | None = None
    kv_cache_dtype: str = "auto"
    # On vLLM's CPU build, gpu_memory_utilization reserves a fraction of a NUMA node's RAM and
    # refuses to start when an editor, a browser and the LSP client already use it; an
    # explicit KV-cache size starts anywhere. 1 GiB holds ~85K tokens of the 0.5B default.
    kv_cache_memory_bytes: int | None = None
    cpu_kv_cache_memory_bytes: int = 1 << 30
    # None: vLLM reads the checkpoint's own quantization_config (FP8 128x128 blocks for
    # DeepSeek-V3); set only to quantize an unquantized checkpoint on the fly.
    quantization: str | None = None
    # None: vLLM's "auto" (safetensors). "dummy" gives random weights: benchmarks, smoke tests.
    load_format: str | None = None
    # vLLM's custom all-reduce needs CUDA IPC handles, which some VMs refuse; True uses NCCL.
    disable_custom_all_reduce: bool = False
    # MoE token exchange with expert parallel (vLLM's default: "allgather_reducescatter").
    all2all_backend: str | None = None
    # Passed through to vLLM when set, e.g. "FLASHMLA", "FLASH_ATTN_MLA", "TRITON_MLA".
    attention_backend: str | None = None
    # Passed through when set: "triton", "cutlass", "deep_gemm" (vLLM's default: "auto").
    moe_backend: str | None = None
    # "ngram": propose tokens copied from the prompt (edits repeat most of their input);
    # "mtp": the checkpoint's own multi-token-prediction head; "auto": mtp if it has one.
    speculative: str = "off"
    num_speculative_tokens: int | None = None  # None: 1 for mtp (one head), 5 for ngram
    prompt_lookup_max: int = 4
    prompt_lookup_min: int = 2
    ngram_method: str = "ngram"
    # What gpu_settings_for detected in the checkpoint (not passed to vLLM).
    model_info: ModelInfo | None = field(default=None, compare=False)
    # Anything else AsyncEngineArgs accepts, passed through unchanged (e.g. skip_tokenizer_init).
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.max_model_len < 1:
            raise SettingsError(f"max_model_len must be positive, not {self.max_model_len}.")
        if self.tensor_parallel_size < 1:
            raise SettingsError(
                f"tensor_parallel_size must be 1 or more, not {self.tensor_parallel_size}."
            )
        if self.pipeline_parallel_size < 1:
            raise SettingsError(
                f"pipeline_parallel_size must be 1 or more, not {self.pipeline_parallel_size}."
            )
        if self.kv_cache_dtype not in KV_CACHE_DTYPES:
            raise SettingsError(
                f"kv_cache_dtype {self.kv_cache_dtype!r} is not one of "
                f"{', '.join(KV_CACHE_DTYPES)}."
            )
        util = self.gpu_memory_utilization
        if util is not None and not 0 < util <= 1:
            raise SettingsError(
                f"gpu_memory_utilization is the fraction of each GPU's memory vLLM may use: "
                f"in (0, 1], not {util}."
            )
        if self.max_num_batched_tokens is not None and self.max_num_batched_tokens < 1:
            raise SettingsError("max_num_batched_tokens must be positive.")
        if self.speculative not in SPECULATIVE_MODES:
            raise SettingsError(
                f"speculative {self.speculative!r} is not one of {', '.join(SPECULATIVE_MODES)}."
            )
        if self.num_speculative_tokens is not None and self.num_speculative_tokens < 1:
            raise SettingsError("num_speculative_tokens must be 1 or more.")
        if self.ngram_method not in NGRAM_METHODS:
            raise SettingsError(
                f"ngram_method {self.ngram_method!r} is not one of {', '.join(NGRAM_METHODS)}."
            )
        if not 1 <= self.prompt_lookup_min <= self.prompt_lookup_max:
            raise SettingsError(
                f"n-gram lookup needs 1 <= prompt_lookup_min ({self.prompt_lookup_min}) <= "
                f"prompt_lookup_max ({self.prompt_lookup_max})."
            )

    # -- checks that need the model or the machine ----------------------------------------
    def check(self, info: ModelInfo | None = None, gpu_count: int | None = None) -> list[str]:
        """Raise :class:`SettingsError` for what ``info``'s model or ``gpu_count`` GPUs can't
        run; return warnings for what runs but is probably not meant."""
        info = info or self.model_info
        warnings: list[str] = []
        tp = self.tensor_parallel_size
        world = tp * self.pipeline_parallel_size
        sizes = f"tensor_parallel_size {tp}" + (
            f" x pipeline_parallel_size {self.pipeline_parallel_size}" if world > tp else ""
        )
        if gpu_count is not None and gpu_count > 0 and world > gpu_count:
            raise SettingsError(
                f"{sizes} needs {world} GPUs; {gpu_count} are planned for. Lower it, or plan "
                "for the GPUs of all nodes (README: Scaling out)."
            )
        if gpu_count is not None and gpu_count > 0 and gpu_count % world:
            warnings.append(f"{sizes} leaves {gpu_count % world} GPU(s) idle.")
        if gpu_count == 0 and world > 1:
            raise SettingsError(f"{sizes} needs GPUs; none were found.")
        if self.enable_expert_parallel and tp == 1:
            warnings.append("enable_expert_parallel does nothing on one GPU.")
        if info is None:
            return warnings
        name = self.model
        if info.num_attention_heads and info.num_attention_heads % tp:
            raise SettingsError(
                f"tensor_parallel_size {tp} must divide the model's "
                f"{info.num_attention_heads} attention heads."
            )
        if self.enable_expert_parallel and not info.is_moe:
            raise SettingsError(
                f"enable_expert_parallel needs a mixture-of-experts model; {name} "
                f"({info.model_type}) has no routed experts."
            )
        if info.max_len is not None and self.max_model_len > info.max_len:
            raise SettingsError(
                f"max_model_len {self.max_model_len} is longer than {name} supports "
                f"({info.max_len} tokens: max_position_embeddings with its RoPE scaling)."
            )
        if self.speculative == "mtp" and not info.has_mtp:
            raise _no_mtp_head(name)
        if info.weight_block_size and self.quantization in (None, info.quantization):
            block_n = info.weight_block_size[0]
            # vLLM splits these dimensions over the TP ranks; each piece must be whole blocks.
            split: dict[str, int | None] = {"intermediate_size": info.intermediate_size}
            if not self.enable_expert_parallel:
                split["moe_intermediate_size"] = info.moe_intermediate_size
            for key, size in split.items():
                if size and (size % tp or (size // tp) % block_n):
                    raise SettingsError(
                        f"tensor_parallel_size {tp} splits {key} {size} into pieces that are "
                        f"not whole {block_n}-wide FP8 blocks; use a smaller TP"
                        + (" or expert parallel." if key == "moe_intermediate_size" else ".")
                    )
        return warnings

    # -- what vLLM gets -------------------------------------------------------------------
    def speculative_config(self, info: ModelInfo | None = None) -> dict[str, Any] | None:
        """vLLM's ``speculative_config`` for :attr:`speculative` (None when off)."""
        info = info or self.model_info
        mode = self.speculative
        if mode == "off":
            return None
        if mode == "auto":
            mode = "mtp" if info is not None and info.has_mtp else "ngram"
        if mode == "mtp":
            if info is not None and not info.has_mtp:
                raise _no_mtp_head(self.model)
            # "mtp" is vLLM's method name for every MTP family; "deepseek_mtp" is its old
            # alias (deprecated, mapped to "mtp").
            return {"method": "mtp", "num_speculative_tokens": self.num_speculative_tokens or 1}
        return {
            "method": self.ngram_method,
            "num_speculative_tokens": self.num_speculative_tokens or 5,
            "prompt_lookup_max": self.prompt_lookup_max,
            "prompt_lookup_min": self.prompt_lookup_min,
        }

    def engine_kwargs(self, model_path: str, on_cpu: bool = False) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": model_path,
            "max_model_len": self.max_model_len,
            "enforce_eager": self.enforce_eager,
            "dtype": self.dtype,
            "enable_prefix_caching": self.enable_prefix_caching,
            "tensor_parallel_size": self.tensor_parallel_size,
            "enable_expert_parallel": self.enable_expert_parallel,
            "kv_cache_dtype": self.kv_cache_dtype,
            "disable_log_stats": False,
        }
        if self.pipeline_parallel_size > 1:
            kwargs["pipeline_parallel_size"] = self.pipeline_parallel_size
        if self.gpu_memory_utilization is not None:
            kwargs["gpu_memory_utilization"] = self.gpu_memory_utilization
        if self.kv_cache_memory_bytes is not None:
            kwargs["kv_cache_memory_bytes"] = self.kv_cache_memory_bytes
        elif on_cpu:
            kwargs["kv_cache_memory_bytes"] = self.cpu_kv_cache_memory_bytes
        if self.max_num_batched_tokens is not None:
            kwargs["max_num_batched_tokens"] = self.max_num_batched_tokens
        if self.disable_custom_all_reduce:
            kwargs["disable_custom_all_reduce"] = True
        optional = {
            "quantization": self.quantization,
            "load_format": self.load_format,
            "all2all_backend": self.all2all_backend,
            "attention_backend": self.attention_backend,
            "moe_backend": self.moe_backend,
        }
        kwargs.update({k: v for k, v in optional.items() if v is not None})
        if self.speculative != "off":
            info = self.model_info or local_model_info(model_path)
            kwargs["speculative_config"] = self.speculative_config(info)
        kwargs.update(self.extra)
        return kwargs

    def engine_environment(self, info: ModelInfo | None = None) -> dict[str, str]:
        """Environment defaults vLLM reads at start-up for these settings (set them only
        where unset)."""
        info = info or self.model_info
        env: dict[str, str] = {}
        # Older callers pass these two through `extra`; they mean the same there.
        no_custom = self.extra.get("disable_custom_all_reduce", self.disable_custom_all_reduce)
        load_format = self.extra.get("load_format", self.load_format)
        if self.tensor_parallel_size > 1 and no_custom:
            # vLLM's torch symmetric-memory all-reduce wants what the custom one wants (CUDA
            # IPC, NVLink multicast); the measured TP runs (../shared/gpu) had it off too.
            env["VLLM_ALLREDUCE_USE_SYMM_MEM"] = "0"
        if load_format == "dummy" and info is not None and info.is_moe:
            # Random weights send nearly every token to the same few experts, which makes MoE
            # look cheap; route uniformly instead (../shared/gpu "Measured": 3.6 vs 7.35 ms).
            env["VLLM_MOE_ROUTING_SIMULATION_STRATEGY"] = "uniform_random"
        return env


# -- `vllm serve` command line ------------------------------------------------------------
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
