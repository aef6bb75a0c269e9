"""Which of vLLM's MoE layers Fathom's decode kernel can run, and running it.

``moe_decode`` implements one kind of MoE layer: a 16-bit router, softmax over all experts,
top-k (renormalized or not), SiLU-and-mul experts with FP8 weights in 128x128 blocks, every
expert local, no shared experts. ``DecodeMoE.for_runner`` checks a vLLM ``MoERunner``
against that once, after its weights are loaded, and says why not when it is something else.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from fathom.backend.fp8_decode_kernels import moe_decode
from fathom.backend.fp8_decode_tiles import MAX_DECODE_TOKENS, QUANT_BLOCK, TILES

log = logging.getLogger("vllm.fathom_decode_kernels")  # vllm_decode_plugin.LOGGER


class DecodeMoE:
    """Fathom's kernel bound to one MoE layer's router and expert weights."""

    # Fewer than the dense GEMV takes: at 4 tokens vLLM's MoE path was the faster (TILES).
    max_tokens = min(MAX_DECODE_TOKENS, TILES["moe_max_tokens"])

    def __init__(self, runner: Any) -> None:
        experts = runner.routed_experts
        self.gate_weight = runner.gate.weight
        self.w13, self.w13_scale = experts.w13_weight, experts.w13_weight_scale_inv
        self.w2, self.w2_scale = experts.w2_weight, experts.w2_weight_scale_inv
        self.top_k = int(runner.router.top_k)
        self.renormalize = bool(runner.router.renormalize)
        # The router kernel's count of programs done (fp8_moe_router.py): made here, before
        # vLLM captures its CUDA graphs, so every replay adds to the same zero, which the
        # kernel's last program leaves at zero again.
        self.count = torch.zeros(1, dtype=torch.int32, device=self.w13.device)

    def __call__(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return moe_decode(
            hidden_states,
            self.gate_weight,
            self.w13,
            self.w13_scale,
            self.w2,
            self.w2_scale,
            top_k=self.top_k,
            renormalize=self.renormalize,
            count=self.count,
        )

    @classmethod
    def for_runner(cls, runner: Any) -> DecodeMoE | bool:
        """The kernel for this layer, or False (logged once with the reason) to keep vLLM's."""
        reason = unsupported_reason(runner)
        if reason:
            log.info("Fathom MoE decode kernel not used for %s: %s", runner.layer_name, reason)
            return False
        return cls(runner)


def unsupported_reason(runner: Any) -> str | None:
    """Why ``moe_decode`` cannot stand in for this runner's layer (None: it can)."""
    experts = runner.routed_experts
    router = runner.router
    checks: list[tuple[bool, str]] = [
        (runner.gate is not None, "the router is outside the layer"),
        (getattr(runner, "_shared_experts", None) is None, "shared experts"),
        (not getattr(runner, "_fse_fuse_gate", False), "a shared-expert gate"),
        (not runner.do_naive_dispatch_combine, "data or sequence parallel dispatch"),
        (runner.routed_input_transform is None, "an input transform"),
        (runner.routed_output_transform is None, "an output transform"),
        (float(runner.routed_scaling_factor) == 1.0, "a routed scaling factor"),
        (type(router).__name__ == "FusedTopKRouter", f"router {type(router).__name__}"),
        (getattr(router, "scoring_func", None) == "softmax", "scoring other than softmax"),
        ("silu" in str(getattr(experts, "activation", "")).lower(), "activation not SiLU"),
        (getattr(experts, "expert_map", None) is None, "expert parallelism"),
        (not getattr(experts, "apply_router_weight_on_input", False), "weights on input"),
        (getattr(experts, "e_score_correction_bias", None) is None, "a score bias"),
    ]
    for ok, why in checks:
        if not ok:
            return why
    return _weights_reason(runner)


def _weights_reason(runner: Any) -> str | None:
    experts = runner.routed_experts
    gate = getattr(runner.gate, "weight", None)
    names = ("w13_weight", "w13_weight_scale_inv", "w2_weight", "w2_weight_scale_inv")
    if any(getattr(experts, name, None) is None for name in names):
        return "weights not FP8 with block scales"
    w13, s13 = experts.w13_weight, experts.w13_weight_scale_inv
    w2, s2 = experts.w2_weight, experts.w2_weight_scale_inv
    if w13.dtype != torch.float8_e4m3fn or w2.dtype != torch.float8_e4m3fn:
        return f"expert weights are {w13.dtype}"
    e, two_i, h = w13.shape
    i = two_i // 2
    if w2.shape != (e, h, i) or h % QUANT_BLOCK or i % QUANT_BLOCK:
        return f"expert shapes {tuple(w13.shape)} and {tuple(w2.shape)}"
    if tuple(s13.shape) != (e, two_i // QUANT_BLOCK, h // QUANT_BLOCK):
        return f"scale shape {tuple(s13.shape)}"
    if tuple(s2.shape) != (e, h // QUANT_BLOCK, i // QUANT_BLOCK):
        return f"scale shape {tuple(s2.shape)}"
    if any(t.stride(-1) != 1 for t in (w13, w2, s13, s2)):
        return "weights not row-major"
    if gate is None or gate.dtype not in (torch.bfloat16, torch.float16) or gate.shape != (e, h):
        return "router weights not 16-bit [experts, hidden]"
    if getattr(runner.gate, "bias", None) is not None:
        return "a router bias"
    return None
