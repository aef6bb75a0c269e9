"""Typed engine settings, with defaults that work on the machine at hand.

:class:`VllmSettings` is what the embedded engine (:mod:`backend.vllm_engine`) and
``fathom serve-model`` hand to vLLM. Its defaults serve the packaged default model on the CPU;
on GPUs :func:`backend.gpu_defaults.gpu_settings_for` fills it in from the checkpoint's
``config.json`` and the GPUs at hand, and :meth:`VllmSettings.check` refuses what the model or
the GPUs can't do. Settings a user gives by name (``serve-model``'s options, a benchmark's
overrides) go through :func:`structure_overrides` first: cattrs checks the names and types,
so a typo or a string where a number belongs is a :class:`SettingsError` naming the setting,
not a ``TypeError`` deep inside the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError
from cattrs.gen import make_dict_structure_fn, override

from fathom.backend.cpu_defaults import cpu_block_size, cpu_dtype, cpu_engine_environment
from fathom.backend.model_info import ModelInfo, SettingsError, local_model_info

DEFAULT_MODEL = "default"  # the packaged Qwen2.5-Coder-0.5B-Instruct (backend/default_model.py)

# vLLM's names (CacheConfig.cache_dtype) that mean something on CPUs and Hopper GPUs.
KV_CACHE_DTYPES = ("auto", "bfloat16", "fp8", "fp8_e4m3", "fp8_e5m2")
SPECULATIVE_MODES = ("off", "ngram", "mtp", "auto")
# vLLM's two prompt-lookup proposers: "ngram" searches on the CPU between steps (and turns
# vLLM's async scheduling off); "ngram_gpu" searches on the GPU and keeps it on.
NGRAM_METHODS = ("ngram", "ngram_gpu")


def _no_mtp_head(model: str) -> SettingsError:
    return SettingsError(
        f"speculative 'mtp' needs a checkpoint with a multi-token-prediction head "
        f"(num_nextn_predict_layers > 0); {model} has none. Use 'ngram' or 'auto'."
    )


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
    # Steps of up to this many tokens replay CUDA graphs (vLLM's compilation_config
    # max_cudagraph_capture_size; its default is 256 here). A prefill past the largest graph
    # launches every kernel from the host, which took longer than the GPU's work: None keeps
    # vLLM's default; the GPU defaults raise it where that was measured (backend/gpu_defaults.py).
    cuda_graph_max_tokens: int | None = None
    kv_cache_dtype: str = "auto"
    # Tokens a KV block, the prefix cache's unit. None: 32 on the CPU (cpu_defaults.py), vLLM's.
    block_size: int | None = None
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
    # The dense linears' GEMMs, passed through when set: "cutlass", "deep_gemm", ... ("auto":
    # vLLM's choice, DeepGEMM for FP8 blocks on Hopper when VLLM_USE_DEEP_GEMM is on).
    linear_backend: str | None = None
    # Fathom's FP8 decode kernels (backend/vllm_decode_plugin.py) in vLLM's processes, through
    # FATHOM_DECODE_KERNELS=1 where the environment does not say otherwise (=0 there turns them
    # off). The GPU defaults turn them on where they were measured (model_families.py:
    # decode_kernels_measured); a settings object built by hand leaves them off.
    decode_kernels: bool = False
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
        if self.cuda_graph_max_tokens is not None and self.cuda_graph_max_tokens < 1:
            raise SettingsError("cuda_graph_max_tokens must be positive.")
        if self.block_size is not None and self.block_size < 1:
            raise SettingsError("block_size must be positive.")
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
            "dtype": cpu_dtype(self.dtype) if on_cpu else self.dtype,
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
        block = self.block_size
        if block is None and on_cpu:
            block = cpu_block_size(self.model_info or local_model_info(model_path))
        if block is not None:
            kwargs["block_size"] = block
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
            "linear_backend": self.linear_backend,
        }
        kwargs.update({k: v for k, v in optional.items() if v is not None})
        if self.speculative != "off":
            info = self.model_info or local_model_info(model_path)
            kwargs["speculative_config"] = self.speculative_config(info)
        kwargs.update(self.extra)
        if self.cuda_graph_max_tokens is not None and not self.enforce_eager:
            graphs = {"max_cudagraph_capture_size": self.cuda_graph_max_tokens}
            given = kwargs.get("compilation_config")
            # A compilation_config dict in `extra` keeps its own keys (vLLM refuses a maximum
            # that differs from the largest of the capture sizes it gives); a
            # CompilationConfig object there is the caller's whole say, left as it is.
            if given is None or (
                isinstance(given, dict) and "cudagraph_capture_sizes" not in given
            ):
                kwargs["compilation_config"] = {**graphs, **(given or {})}
        return kwargs

    def engine_environment(
        self, info: ModelInfo | None = None, on_cpu: bool = False
    ) -> dict[str, str]:
        """Environment defaults vLLM reads at start-up for these settings (set them only
        where unset); ``on_cpu``: for vLLM's CPU build on this machine."""
        info = info or self.model_info
        env: dict[str, str] = cpu_engine_environment() if on_cpu else {}
        # Older callers pass these two through `extra`; they mean the same there.
        no_custom = self.extra.get("disable_custom_all_reduce", self.disable_custom_all_reduce)
        load_format = self.extra.get("load_format", self.load_format)
        if self.tensor_parallel_size > 1 and no_custom:
            # vLLM's torch symmetric-memory all-reduce wants what the custom one wants (CUDA
            # IPC, NVLink multicast); the measured TP runs (../shared/gpu) had it off too.
            env["VLLM_ALLREDUCE_USE_SYMM_MEM"] = "0"
        if self.decode_kernels:
            env["FATHOM_DECODE_KERNELS"] = "1"
        if load_format == "dummy" and info is not None and info.is_moe:
            # Random weights send nearly every token to the same few experts, which makes MoE
            # look cheap; route uniformly instead (../shared/gpu "Measured": 3.6 vs 7.35 ms).
            env["VLLM_MOE_ROUTING_SIMULATION_STRATEGY"] = "uniform_random"
        return env


# -- settings given by name, checked through cattrs ---------------------------------------
# What a user may set by name: every field but model_info, which is detected, never given.
SETTING_NAMES = tuple(sorted(f.name for f in fields(VllmSettings) if f.name != "model_info"))


# cattrs' own hooks convert (int("2"), bool("no") is True); settings a user typed are checked
# as they are instead, so a wrong type is reported rather than silently changed.
def _whole_number(value: Any, _: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"must be a whole number, not {value!r}")
    return value


def _number(value: Any, _: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"must be a number, not {value!r}")
    return float(value)


def _switch(value: Any, _: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"must be true or false, not {value!r}")
    return value


def _text(value: Any, _: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"must be a string, not {value!r}")
    return value


def _engine_args(value: Any, _: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"must be a mapping of AsyncEngineArgs fields, not {value!r}")
    return dict(value)


def _converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_structure_hook(int, _whole_number)
    converter.register_structure_hook(float, _number)
    converter.register_structure_hook(bool, _switch)
    converter.register_structure_hook(str, _text)
    # model_info left out of the structuring function makes it an unknown key, as it should be.
    structure = make_dict_structure_fn(
        VllmSettings,
        converter,
        model_info=override(omit=True),
        extra=override(struct_hook=_engine_args),
    )
    converter.register_structure_hook(VllmSettings, structure)
    return converter


_CONVERTER = _converter()


def _settings_error(exc: ClassValidationError) -> SettingsError:
    """One SettingsError for what cattrs refused: unknown names first (a typo explains the
    rest), then each mistyped setting, else VllmSettings' own check that failed."""
    mistyped, others = exc.group_exceptions()
    for error in others:
        if isinstance(error, ForbiddenExtraKeysError):
            unknown = ", ".join(sorted(map(str, error.extra_fields)))
            return SettingsError(
                f"Unknown setting(s) {unknown}; VllmSettings has {', '.join(SETTING_NAMES)}."
            )
    if mistyped:
        return SettingsError("; ".join(f"{note.name} {error}" for error, note in mistyped) + ".")
    for error in others:
        if isinstance(error, SettingsError):  # raised by VllmSettings.__post_init__
            return error
    raise exc  # no hook raises anything else: a bug here, not a user's mistake


def structure_overrides(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` (:class:`VllmSettings` fields by name, as a user gives them) with their
    types and ranges checked; raises :class:`SettingsError` naming each wrong setting.

    The values are checked on their own, before any default that depends on them is chosen;
    the result holds the same names, typed (an int given for a float field becomes a float).
    """
    try:
        typed = _CONVERTER.structure(dict(values), VllmSettings)
    except ClassValidationError as exc:
        # The message says all cattrs found; its exception group would only repeat it.
        raise _settings_error(exc) from None
    return {name: getattr(typed, name) for name in values}
