"""A vLLM plugin that runs decode steps of a few tokens on Fathom's FP8 kernels.

vLLM loads it in every process through the ``vllm.general_plugins`` entry point that
installing Fathom declares (pyproject.toml). It uses vLLM's public extension point for
layers, ``PluggableLayer.register_oot``: vLLM then builds these subclasses wherever a model
asks for the originals, so no vLLM file is patched.

- FP8 block-quantized linear layers with at least ``TILES["dense_min_k"]`` columns (2048:
  the attention's QKV and output projections of Qwen3-Coder-30B-A3B, both faster on Fathom's
  kernel than on vLLM's on an H100): for ≤ ``TILES["dense_max_tokens"]`` rows, ``gemv``
  instead of quantizing the activations and running vLLM's chosen W8A8 GEMM (CUTLASS on
  Hopper); more rows go to vLLM's kernel.
- MoE layers with a softmax top-k router, SiLU experts and FP8 block weights: for ≤
  ``TILES["moe_max_tokens"]`` tokens (2: at 4 vLLM's path was faster), ``moe_decode``;
  anything else (shared experts, expert parallelism, other routers, other formats) keeps
  vLLM's path, decided once per layer.

The choice between the two paths is made inside a custom op (linear) or inside vLLM's own
opaque MoE op, so torch.compile sees one graph and each captured CUDA graph holds one path.
``FATHOM_DECODE_OPS`` (``moe,dense`` unless set) says which of them it takes; ``attention``
there also puts decode steps of a few sequences on Fathom's attention kernel
(backend/vllm_decode_attention.py).

Off unless ``FATHOM_DECODE_KERNELS=1``, which Fathom's engines set for the settings'
``decode_kernels``: on in the GPU defaults where they were measured, a Qwen3-MoE FP8
checkpoint on one GPU (model_families.decode_kernels_measured; on two fresh H100s 65 and
57 of 80 inline completions were faster with them,
bench/results/completion_whole_model_h100.md). A batch-1 decode step of
Qwen3-Coder-30B-A3B-FP8 took 0.81 of plain vLLM's time on an H100 (3.48 against 4.29 ms,
bench/results/whole_model_pdl_h100.md) and 0.86 on an H200 before the GEMV took QKV
(whole_model_fused_cast.md), more exact too; it has been measured on that model only, and
only the decode of a few tokens uses it. It does nothing where CUDA is not the platform
(vLLM's CPU build) or the GPU is older than Hopper.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import torch

# Under vLLM's logger, so these lines reach vLLM's own handlers in the processes that run the
# kernels (a "fathom" logger has none there: a GPU run could not tell the plugin was on).
LOGGER = "vllm.fathom_decode_kernels"
log = logging.getLogger(LOGGER)

# vLLM's path for row counts the kernels do not take, by the address of the layer's weight.
# The custom op finds its layer from the weight it is given, not from a per-layer constant (a
# name, an id): a constant makes each layer's compiled graph different, and vLLM compiles
# every distinct piece of the model on its own (torch.compile took 118 s with a name per
# layer against vLLM's 45 s, and 31 against 38 s since; bench/results/
# completion_whole_model_h100.md), where identical pieces compile once. vLLM keeps weights
# where loading left them (CUDA graphs rely on it).
_fallbacks: dict[int, Callable[[torch.Tensor], torch.Tensor]] = {}
_linear_op_registered = False


def enabled() -> bool:
    """Whether the plugin should act in this process."""
    if os.environ.get("FATHOM_DECODE_KERNELS", "0") != "1":
        return False
    try:
        from vllm.platforms import current_platform
    except ImportError:
        return False
    # Hopper and later: the kernels were written and measured there (FP8 in Triton needs 8.9).
    return bool(current_platform.is_cuda() and current_platform.has_device_capability(90))


def register() -> None:
    """The entry point vLLM calls (``vllm.general_plugins``)."""
    if not enabled() or getattr(register, "done", False):
        return
    register.done = True  # type: ignore[attr-defined]
    ops = set(os.environ.get("FATHOM_DECODE_OPS", "moe,dense").split(","))
    if "dense" in ops:
        _register_linear_op()
    _register_layers(dense="dense" in ops, moe="moe" in ops)
    if "attention" in ops:
        from fathom.backend import vllm_decode_attention

        vllm_decode_attention.register()
    log.info("Fathom decode kernels registered for %s (FP8 blocks, a few tokens)", sorted(ops))


def _register_linear_op() -> None:
    global _linear_op_registered
    if _linear_op_registered:
        return
    _linear_op_registered = True
    from fathom.backend.fp8_decode_tiles import TILES
    from fathom.backend.fp8_dense_kernels import DOT_MAX_ROWS, gemv

    # Read once: a captured CUDA graph holds the path its row count took.
    max_rows = min(TILES["dense_max_tokens"], DOT_MAX_ROWS)

    @torch.library.custom_op("fathom::block_fp8_linear", mutates_args=())
    def block_fp8_linear(
        x: torch.Tensor, weight: torch.Tensor, scale: torch.Tensor
    ) -> torch.Tensor:
        if x.shape[0] <= max_rows:
            return gemv(x, weight, scale)
        fallback = _fallbacks.get(weight.data_ptr())
        if fallback is None:
            raise RuntimeError(
                "Fathom's decode plugin has no vLLM kernel for this FP8 weight: it was "
                "replaced after loading; set FATHOM_DECODE_KERNELS=0 to run without the plugin"
            )
        return fallback(x)

    @block_fp8_linear.register_fake
    def _(x: torch.Tensor, weight: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return x.new_empty((x.shape[0], weight.shape[0]))


class DecodeLinearKernel:
    """Wraps vLLM's FP8 block linear kernel object: a few rows go to Fathom's GEMV."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        # vLLM 0.26's DeepGEMM warm-up compiles a layer's GEMMs at start only where its
        # kernel is DeepGEMM's or has it as ``fallback`` (warmup/deep_gemm_warmup.py,
        # ``_is_deep_gemm_backed_kernel``); hidden behind this wrapper, they compiled (nvcc,
        # ~3 s each) in the middle of a user's first prefills instead.
        self.fallback = getattr(inner, "fallback", inner)
        self.active = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def process_weights_after_loading(self, layer: Any) -> None:
        from fathom.backend.fp8_decode_tiles import TILES

        self.inner.process_weights_after_loading(layer)
        weight, scale = layer.weight, getattr(layer, "weight_scale_inv", None)
        self.active = (
            scale is not None
            and weight.dtype == torch.float8_e4m3fn
            and weight.dim() == 2
            and weight.stride(1) == 1
            and weight.shape[1] % 128 == 0
            and tuple(scale.shape) == (-(-weight.shape[0] // 128), weight.shape[1] // 128)
            and weight.shape[1] >= TILES["dense_min_k"]
        )
        if self.active:
            _fallbacks[weight.data_ptr()] = lambda x: self.inner.apply_weights(layer, x, None)

    def apply_weights(
        self, layer: Any, x: torch.Tensor, bias: torch.Tensor | None = None, **kw: Any
    ) -> torch.Tensor:
        if not self.active:
            return self.inner.apply_weights(layer, x, bias, **kw)
        rows = x.reshape(-1, x.shape[-1])
        out = torch.ops.fathom.block_fp8_linear(rows, layer.weight, layer.weight_scale_inv)
        out = out.view(*x.shape[:-1], layer.weight.shape[0])
        return out if bias is None else out + bias


def _wrap_linear(layer: Any) -> None:
    method: Any = getattr(layer, "quant_method", None)
    inner = getattr(method, "fp8_linear", None)
    if inner is None or not getattr(method, "block_quant", False):
        return
    if getattr(method, "use_marlin", False) or isinstance(inner, DecodeLinearKernel):
        return
    method.fp8_linear = DecodeLinearKernel(inner)


def _register_layers(dense: bool = True, moe: bool = True) -> None:
    from vllm.model_executor.layers import linear
    from vllm.model_executor.layers.fused_moe.runner.moe_runner import MoERunner

    bases = (
        linear.QKVParallelLinear,
        linear.RowParallelLinear,
        linear.MergedColumnParallelLinear,
        linear.ColumnParallelLinear,
        linear.ReplicatedLinear,
    )
    for base in bases if dense else ():
        base.register_oot(_decode_linear_class(base))
    if moe:
        MoERunner.register_oot(_decode_moe_runner_class(MoERunner))


def _decode_linear_class(base: Any) -> type:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        base.__init__(self, *args, **kwargs)
        _wrap_linear(self)

    return type(f"FathomDecode{base.__name__}", (base,), {"__init__": __init__})


def _decode_moe_runner_class(base: Any) -> type:
    from fathom.backend.vllm_decode_moe import DecodeMoE

    def _forward_impl(
        self: Any,
        hidden_states: torch.Tensor,
        router_logits: torch.Tensor,
        shared_experts_input: torch.Tensor | None,
        input_ids: torch.Tensor | None = None,
    ) -> Any:
        decode = self.__dict__.get("_fathom_decode")
        if decode is None:
            decode = DecodeMoE.for_runner(self)
            self.__dict__["_fathom_decode"] = decode
        if decode and hidden_states.shape[0] <= decode.max_tokens:
            return decode(hidden_states)
        return base._forward_impl(
            self, hidden_states, router_logits, shared_experts_input, input_ids
        )

    return type(f"FathomDecode{base.__name__}", (base,), {"_forward_impl": _forward_impl})
