"""Fathom's FP8 decode kernels and the vLLM plugin that would use them.

The kernels run under Triton's interpreter on the CPU (tests/fp8_kernels_interpreted.py):
the same kernel code the GPU compiles, checked against float32 math on the dequantized
weights. Their speed and their error beside vLLM's ops on a GPU are in
bench/results/decode_kernels.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from fathom.backend import vllm_decode_plugin
from fathom.backend.vllm_decode_moe import unsupported_reason
from tests.triton_interpreted import run_interpreted

# bf16 outputs carry ~3 significant digits; the float32 sums differ only in order.
TOLERANCE = 0.01


@pytest.fixture(scope="module")
def interpreted() -> dict[str, Any]:
    # The plugin takes only FP8 linears of K >= 2048 (QKV, o_proj) by default; the wrapper check
    # runs a 256-column layer.
    return run_interpreted(
        "fp8_kernels_interpreted.py", FATHOM_DECODE_TILES=json.dumps({"dense_min_k": 0})
    )


def test_gemv_matches_float32_math(interpreted: dict[str, Any]) -> None:
    dense = interpreted["dense"]
    assert dense["fp8_m1"] < TOLERANCE
    assert dense["fp8_m3"] < TOLERANCE
    assert dense["fp8_m4"] < TOLERANCE
    assert dense["dot_picked_from_4_rows"] == 1.0  # TILES["dense_dot_min_rows"]
    assert dense["dot_tiles_by_shape"] == 1.0  # fp8_decode_tiles.DOT_TILES
    for m in (9, 20, 33):  # past the loop's 4 rows, tl.dot's 16/32/64-row programs
        assert dense[f"fp8_dot_m{m}"] < TOLERANCE
    for m in (1, 3, 4):
        assert dense[f"fp8_loop_m{m}"] < TOLERANCE
        assert dense[f"fp8_dot_m{m}"] < TOLERANCE
    assert dense["bf16"] < TOLERANCE
    assert dense["bf16_dtype_is_float32"] == 1.0


def test_moe_decode_routes_and_sums_like_float32_math(interpreted: dict[str, Any]) -> None:
    # The loop up kernel (TILES' moe_up_loop), the top-k in each of its programs.
    assert interpreted["moe_renormalized"] < TOLERANCE
    assert interpreted["moe_softmax"] < TOLERANCE
    assert interpreted["moe_hidden_384"] < TOLERANCE
    assert interpreted["moe_fused_cast"] < TOLERANCE
    # The top-k ranked once by the router kernel.
    assert interpreted["moe_once_renormalized"] < TOLERANCE
    assert interpreted["moe_once_softmax"] < TOLERANCE
    # The tl.dot up kernel (TILES' default), the top-k in each of its programs.
    assert interpreted["moe_dot_renormalized"] < TOLERANCE
    assert interpreted["moe_dot_softmax"] < TOLERANCE
    assert interpreted["moe_split_k2"] < TOLERANCE


def test_router_kernel_ranks_once_and_resets_its_counter(interpreted: dict[str, Any]) -> None:
    router = interpreted["router"]
    for call in (0, 1):  # the second call finds the counter at zero again
        assert router[f"ids_{call}"] == 1.0
        assert router[f"weights_{call}"] < TOLERANCE
        assert router[f"count_{call}"] == 0.0
    assert router["ids_k200"] == 1.0  # a K tile past the hidden size reads zeros there
    assert router["weights_k200"] < TOLERANCE
    assert router["ties_to_lower_index"] == 1.0
    assert router["ties_weights"] < TOLERANCE


def test_linear_wrapper_sends_few_rows_to_the_gemv_and_more_to_vllm(
    interpreted: dict[str, Any],
) -> None:
    linear = interpreted["linear"]
    assert linear["active"] == 1.0
    assert linear["few_error"] < TOLERANCE
    assert linear["most_error"] < TOLERANCE  # 16 rows: TILES["dense_max_tokens"]
    assert linear["fallback_calls"] == 1.0
    assert linear["many_is_fallback"] == 1.0


def test_plugin_is_off_unless_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FATHOM_DECODE_KERNELS", raising=False)
    assert not vllm_decode_plugin.enabled()
    monkeypatch.setenv("FATHOM_DECODE_KERNELS", "0")
    assert not vllm_decode_plugin.enabled()


def test_plugin_acts_on_hopper_and_later_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import vllm.platforms

    class Gpu:  # vLLM's CUDA platform as far as ``enabled`` asks
        def __init__(self, capability: int) -> None:
            self.capability = capability

        def is_cuda(self) -> bool:
            return True

        def has_device_capability(self, wanted: int) -> bool:
            return self.capability >= wanted

    monkeypatch.setenv("FATHOM_DECODE_KERNELS", "1")
    monkeypatch.setattr(vllm.platforms, "current_platform", Gpu(80), raising=False)  # A100
    assert not vllm_decode_plugin.enabled()
    monkeypatch.setattr(vllm.platforms, "current_platform", Gpu(90), raising=False)  # H100
    assert vllm_decode_plugin.enabled()


def test_plugin_does_nothing_on_vllms_cpu_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    from vllm.model_executor.custom_op import op_registry_oot

    monkeypatch.setenv("FATHOM_DECODE_KERNELS", "1")
    before = dict(op_registry_oot)
    vllm_decode_plugin.register()
    assert not vllm_decode_plugin.enabled()
    assert op_registry_oot == before


def test_installed_entry_point_names_the_plugin() -> None:
    from importlib.metadata import entry_points

    names = {ep.name: ep.value for ep in entry_points(group="vllm.general_plugins")}
    assert names.get("fathom_decode_kernels") == "fathom.backend.vllm_decode_plugin:register"


def _runner(**overrides: Any) -> SimpleNamespace:
    """A stand-in for vLLM's MoERunner with a layer moe_decode can run."""
    e, h, i = 8, 256, 128
    fp8 = torch.float8_e4m3fn
    experts = SimpleNamespace(
        w13_weight=torch.zeros(e, 2 * i, h, dtype=fp8),
        w13_weight_scale_inv=torch.ones(e, 2 * i // 128, h // 128),
        w2_weight=torch.zeros(e, h, i, dtype=fp8),
        w2_weight_scale_inv=torch.ones(e, h // 128, i // 128),
        activation="MoEActivation.SILU",
        expert_map=None,
        apply_router_weight_on_input=False,
        e_score_correction_bias=None,
    )
    router = type("FusedTopKRouter", (), {"scoring_func": "softmax", "top_k": 2})()
    fields: dict[str, Any] = {
        "gate": SimpleNamespace(weight=torch.zeros(e, h, dtype=torch.bfloat16), bias=None),
        "_shared_experts": None,
        "_fse_fuse_gate": False,
        "do_naive_dispatch_combine": False,
        "routed_input_transform": None,
        "routed_output_transform": None,
        "routed_scaling_factor": 1.0,
        "router": router,
        "routed_experts": experts,
    }
    fields.update(overrides)
    return SimpleNamespace(**fields)


def test_moe_layers_the_kernel_can_run_are_told_apart() -> None:
    assert unsupported_reason(_runner()) is None
    assert unsupported_reason(_runner(_shared_experts=object())) == "shared experts"
    assert unsupported_reason(_runner(routed_scaling_factor=2.5)) == "a routed scaling factor"
    simulated = type("RoutingSimulatorRouter", (), {"scoring_func": "softmax"})()
    assert unsupported_reason(_runner(router=simulated)) == "router RoutingSimulatorRouter"
    bf16_experts = _runner()
    bf16_experts.routed_experts.w13_weight = torch.zeros(8, 256, 256, dtype=torch.bfloat16)
    assert unsupported_reason(bf16_experts) == "expert weights are torch.bfloat16"


def test_moe_kernel_leaves_four_token_steps_to_vllm() -> None:
    """At 4 tokens vLLM's MoE path measured faster (bench/results/decode_kernels_dot.md);
    vLLM's CUDA graphs pad 3 tokens to 4, so the MoE kernel takes 1 or 2 and the dense GEMV
    (faster at 4) keeps 4 and more."""
    from fathom.backend.fp8_decode_tiles import MAX_DECODE_TOKENS
    from fathom.backend.vllm_decode_moe import DecodeMoE

    assert DecodeMoE.max_tokens == 2
    assert MAX_DECODE_TOKENS == 4


def test_gemv_refuses_a_row_tile_that_straddles_scale_blocks() -> None:
    from fathom.backend import fp8_dense_kernels as kernels

    x = torch.zeros((1, 256), dtype=torch.bfloat16)
    weight = torch.zeros((256, 256), dtype=torch.float8_e4m3fn)
    scale = torch.ones((2, 2), dtype=torch.float32)
    with pytest.raises(ValueError, match="straddles the 128-row scale blocks"):
        kernels.gemv(x, weight, scale, block_n=48)


def test_dot_kernels_k_tile_keeps_its_pipeline_in_shared_memory() -> None:
    from fathom.backend import fp8_dense_kernels as kernels

    # TILES' 512 columns at 3 stages: 208 KiB for 64 rows of a 64-row tile, 288 KiB (past
    # Hopper's 227, as Triton 3.6 compiled it for sm_90) with a 128-row tile.
    assert kernels._dot_k_tile(2048, rows=64, block_n=64, stages=3) == 512
    assert kernels._dot_k_tile(2048, rows=64, block_n=128, stages=3) == 256
    assert kernels._dot_k_tile(384, rows=4, block_n=64, stages=3) == 128  # whole blocks of K


def test_gemv_of_no_rows_is_empty_and_launches_nothing() -> None:
    from fathom.backend import fp8_dense_kernels as kernels

    # CPU tensors outside Triton's interpreter: any launch would raise.
    weight = torch.zeros((256, 256), dtype=torch.float8_e4m3fn)
    out = kernels.gemv(torch.zeros((0, 256)), weight, torch.ones((2, 2)))
    assert out.shape == (0, 256)


def test_wrapped_linear_stays_visible_to_vllms_deepgemm_warmup() -> None:
    # vLLM 0.26 warms a layer's DeepGEMM kernels at start only if ``fp8_linear`` is the
    # DeepGEMM kernel or has it as ``fallback`` (warmup/deep_gemm_warmup.py); otherwise they
    # compile during the user's first prefills.
    class DeepGemmKernel:
        pass

    class DynamicKernel:  # vLLM's FlashInfer-or-DeepGEMM kernel
        def __init__(self) -> None:
            self.fallback = DeepGemmKernel()

    deep_gemm = DeepGemmKernel()
    assert vllm_decode_plugin.DecodeLinearKernel(deep_gemm).fallback is deep_gemm
    dynamic = DynamicKernel()
    wrapped = vllm_decode_plugin.DecodeLinearKernel(dynamic)
    assert wrapped.fallback is dynamic.fallback


def test_every_wrapped_layer_compiles_to_the_same_graph_and_finds_its_own_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # vLLM compiles each distinct piece of a model on its own; a per-layer constant in the
    # op's arguments (a name, an id) made all 48 of Qwen3-Coder's pieces distinct (torch.compile
    # 118 s against 45 s). Rows past the GEMV's reach must still reach that layer's kernel.
    vllm_decode_plugin._register_linear_op()
    graphs: list[str] = []

    def record(graph: torch.fx.GraphModule, inputs: list[torch.Tensor]) -> Any:
        graphs.append(graph.code)
        return graph.forward

    class VllmKernel:  # stands in for vLLM's DeepGEMM kernel object: writes its layer's number
        def __init__(self, number: float) -> None:
            self.number = number

        def process_weights_after_loading(self, layer: torch.nn.Module) -> None:
            pass

        def apply_weights(self, layer: torch.nn.Module, x: torch.Tensor, bias: object = None):
            return torch.full((x.shape[0], 128), self.number, dtype=x.dtype)

    class Layer(torch.nn.Module):
        def __init__(self, number: float) -> None:
            super().__init__()
            fp8 = torch.zeros((128, 2048), dtype=torch.float8_e4m3fn)
            self.weight = torch.nn.Parameter(fp8, requires_grad=False)
            self.weight_scale_inv = torch.nn.Parameter(torch.ones((1, 16)), requires_grad=False)
            self.kernel = vllm_decode_plugin.DecodeLinearKernel(VllmKernel(number))
            self.kernel.process_weights_after_loading(self)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.kernel.apply_weights(self, x)

    rows = torch.ones((17, 2048), dtype=torch.bfloat16)  # more rows than the GEMV takes (16)
    outputs = []
    for number in (1.0, 2.0):
        layer = Layer(number)
        assert layer.kernel.active
        torch._dynamo.reset()
        outputs.append(torch.compile(layer, backend=record, fullgraph=True)(rows))
    assert len(graphs) == 2
    assert "block_fp8_linear" in graphs[0]
    assert graphs[0] == graphs[1]
    assert outputs[0].eq(1.0).all() and outputs[1].eq(2.0).all()

    # Through Inductor's generated code (vLLM's backend), each layer still finds its own
    # kernel by its weight: Inductor hands the op the parameter itself, not a copy.
    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.first, self.second = Layer(3.0), Layer(4.0)

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return self.first(x), self.second(x)

    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))  # not the machine's cache
    torch._dynamo.reset()
    first, second = torch.compile(Model(), backend="inductor", dynamic=True)(rows)
    assert first.eq(3.0).all() and second.eq(4.0).all()
