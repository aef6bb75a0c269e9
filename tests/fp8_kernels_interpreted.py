"""Fathom's FP8 decode kernels run by Triton's interpreter on the CPU, against float32 math.

Run as a script by tests/test_fp8_decode_kernels.py with ``TRITON_INTERPRET=1`` (which must be
set before the kernels are defined, so not inside the pytest process). Prints one JSON line.
"""

from __future__ import annotations

import json
import sys

import torch

from fathom.backend import fp8_decode_kernels as kernels
from fathom.backend import fp8_dense_kernels as dense_kernels
from fathom.backend import vllm_decode_plugin
from fathom.backend.fp8_moe_router import router_topk


def quantize(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """FP8 weights, one float scale per 128x128 block (rows padded up to a whole block)."""
    n, k = w.shape[-2:]
    pad = -n % 128
    padded = torch.nn.functional.pad(w, (0, 0, 0, pad))
    blocks = padded.reshape(*w.shape[:-2], (n + pad) // 128, 128, k // 128, 128)
    scale = blocks.abs().amax(dim=(-3, -1)).clamp(min=1e-8) / 448.0
    q = (blocks / scale[..., :, None, :, None]).to(torch.float8_e4m3fn)
    return q.reshape(padded.shape)[..., :n, :].contiguous(), scale.float()


def dequantize(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    n = q.shape[-2]
    full = scale.repeat_interleave(128, -2).repeat_interleave(128, -1)
    return q.float() * full[..., :n, :]


def rel_error(out: torch.Tensor, exact: torch.Tensor) -> float:
    return ((out.float() - exact).abs().max() / exact.abs().max()).item()


def dense() -> dict[str, float]:
    errors = {}
    # N not a multiple of the row tile, K not a power of two: the masks are exercised.
    q, s = quantize(torch.randn(200, 384))
    for m in (1, 3, 4):
        x = torch.randn(m, 384).bfloat16()
        exact = x.float() @ dequantize(q, s).T
        # The default kernel for m rows (tl.dot from TILES' dense_dot_min_rows, 4), then each
        # one by name.
        errors[f"fp8_m{m}"] = rel_error(dense_kernels.gemv(x, q, s), exact)
        loop = dense_kernels.gemv(x, q, s, dot=False)
        errors[f"fp8_loop_m{m}"] = rel_error(loop, exact)
        dot = dense_kernels.gemv(x, q, s, dot=True, block_n=16, block_k=128, num_stages=2)
        errors[f"fp8_dot_m{m}"] = rel_error(dot, exact)
    # More rows than the loop takes: tl.dot with 16, 32 and 64 rows a program (padded).
    for m in (9, 20, 33):
        x = torch.randn(m, 384).bfloat16()
        exact = x.float() @ dequantize(q, s).T
        out = dense_kernels.gemv(x, q, s, block_n=32, block_k=128, num_stages=2)
        errors[f"fp8_dot_m{m}"] = rel_error(out, exact)
    # Which kernel gemv picks by itself: tl.dot from TILES' dense_dot_min_rows (4) on, with
    # DOT_TILES' tiles for the weight's shape and the rows' program height where it has them.
    real, rows = dense_kernels.dense_dot, []

    def recorded(x: torch.Tensor, *args: object, **tiles: int) -> torch.Tensor:
        rows.append((x.shape[0], tiles["block_n"], tiles["block_k"]))
        return real(x, *args, **tiles)  # type: ignore[arg-type]

    dense_kernels.dense_dot = recorded  # type: ignore[assignment]
    dense_kernels.DOT_TILES["200x384"] = {"32": [16, 128]}
    for m in (1, 3, 4, 20):
        dense_kernels.gemv(torch.ones(m, 384, dtype=torch.bfloat16), q, s)  # no RNG draw
    dense_kernels.dense_dot = real
    del dense_kernels.DOT_TILES["200x384"]
    errors["dot_picked_from_4_rows"] = float([r[0] for r in rows] == [4, 20])
    # 4 rows: TILES' 64 rows and the widest K tile that divides 384 (128); 20: DOT_TILES'.
    errors["dot_tiles_by_shape"] = float([r[1:] for r in rows] == [(64, 128), (16, 128)])
    w = torch.randn(24, 100).bfloat16()  # the router's case: 16-bit, no scale, any K
    x = torch.randn(2, 100).bfloat16()
    out = dense_kernels.gemv(x, w, out_dtype=torch.float32)
    errors["bf16"] = rel_error(out, x.float() @ w.float().T)
    errors["bf16_dtype_is_float32"] = float(out.dtype == torch.float32)
    return errors


def moe(
    renormalize: bool,
    split_k: int = 1,
    fused_cast: bool = False,
    up_loop: bool = True,
    topk_once: bool = False,
    h: int = 256,
) -> float:
    e, i, top_k, m = 8, 384, 2, 2
    x = torch.randn(m, h).bfloat16()
    gate = torch.randn(e, h).bfloat16()
    q13, s13 = quantize(torch.randn(e, 2 * i, h) * 0.05)
    q2, s2 = quantize(torch.randn(e, h, i) * 0.05)
    out = kernels.moe_decode(
        x,
        gate,
        q13,
        s13,
        q2,
        s2,
        top_k=top_k,
        renormalize=renormalize,
        split_k=split_k,
        fused_cast=fused_cast,
        up_loop=up_loop,
        topk_once=topk_once,
    )
    assert out.dtype == x.dtype and out.shape == x.shape
    probs = (x.float() @ gate.float().T).softmax(-1)
    weights, ids = probs.topk(top_k, -1)
    if renormalize:
        weights = weights / weights.sum(-1, keepdim=True)
    w13, w2 = dequantize(q13, s13), dequantize(q2, s2)
    exact = torch.zeros(m, h)
    for t in range(m):
        for j in range(top_k):
            up = w13[ids[t, j]] @ x[t].float()
            act = torch.nn.functional.silu(up[:i]) * up[i:]
            exact[t] += weights[t, j] * (w2[ids[t, j]] @ act)
    return rel_error(out, exact)


def router() -> dict[str, float]:
    """router_topk: the top-k of distinct logits as torch ranks them (also for a hidden size
    its K tile overhangs); ties to the lower index; the counter back at zero after each call,
    so the next call's last program ranks."""
    e, h, top_k = 12, 256, 3
    count = torch.zeros(1, dtype=torch.int32)
    x, gate = torch.randn(2, h).bfloat16(), torch.randn(e, h).bfloat16()
    results = {}
    for call in range(2):  # the same counter twice
        ids, weights = router_topk(x, gate, count, top_k=top_k, renormalize=False, block_n=4)
        probs = (x.float() @ gate.float().T).softmax(-1)
        want_w, want_i = probs.topk(top_k, -1)
        results[f"ids_{call}"] = float(torch.equal(ids.view(2, top_k).long(), want_i))
        results[f"weights_{call}"] = rel_error(weights.view(2, top_k), want_w)
        results[f"count_{call}"] = float(count.item())
    x200, gate200 = torch.randn(2, 200).bfloat16(), torch.randn(e, 200).bfloat16()  # K tile 256
    ids, weights = router_topk(x200, gate200, count, top_k=top_k, renormalize=True, block_n=8)
    want_w, want_i = (x200.float() @ gate200.float().T).softmax(-1).topk(top_k, -1)
    results["ids_k200"] = float(torch.equal(ids.view(2, top_k).long(), want_i))
    want_w = want_w / want_w.sum(-1, keepdim=True)
    results["weights_k200"] = rel_error(weights.view(2, top_k), want_w)
    same = torch.ones(e, h).bfloat16()  # every expert's logit equal
    ids, weights = router_topk(x[:1], same, count, top_k=top_k, renormalize=True, block_n=8)
    results["ties_to_lower_index"] = float(ids.tolist() == [0, 1, 2])
    results["ties_weights"] = rel_error(weights, torch.full((top_k,), 1 / top_k))
    return results


def linear_wrapper() -> dict[str, float]:
    """DecodeLinearKernel: up to TILES' dense_max_tokens rows (16) through the custom op's
    GEMV, more to vLLM's kernel."""
    vllm_decode_plugin._register_linear_op()
    q, s = quantize(torch.randn(256, 256))

    class Layer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight, self.weight_scale_inv = q, s

    class VllmKernel:  # stands in for vLLM's CUTLASS kernel object
        calls = 0

        def process_weights_after_loading(self, layer: torch.nn.Module) -> None:
            pass

        def apply_weights(self, layer: torch.nn.Module, x: torch.Tensor, bias: object = None):
            VllmKernel.calls += 1
            return torch.zeros(x.shape[0], 256, dtype=x.dtype)

    layer, wrapper = Layer(), vllm_decode_plugin.DecodeLinearKernel(VllmKernel())
    wrapper.process_weights_after_loading(layer)
    few, most = torch.randn(2, 256).bfloat16(), torch.randn(16, 256).bfloat16()
    out, out_most = wrapper.apply_weights(layer, few), wrapper.apply_weights(layer, most)
    many = wrapper.apply_weights(layer, torch.randn(17, 256).bfloat16())
    return {
        "active": float(wrapper.active),
        "few_error": rel_error(out, few.float() @ dequantize(q, s).T),
        "most_error": rel_error(out_most, most.float() @ dequantize(q, s).T),
        "fallback_calls": float(VllmKernel.calls),
        "many_is_fallback": float(bool((many == 0).all())),
    }


if __name__ == "__main__":
    torch.manual_seed(0)
    report = {
        "dense": dense(),
        "moe_renormalized": moe(True),
        "moe_softmax": moe(False),
        # A hidden size of 3 scale blocks: the loop up kernel's K tile halves to 128.
        "moe_hidden_384": moe(True, h=384),
        # The down kernel's last program writes the bf16 result (no cast kernel).
        "moe_fused_cast": moe(True, fused_cast=True),
        # The experts ranked once by the router kernel, not in each up program.
        "moe_once_renormalized": moe(True, topk_once=True),
        "moe_once_softmax": moe(False, topk_once=True),
        # The tl.dot up kernel, which ranks the experts in each of its programs.
        "moe_dot_renormalized": moe(True, up_loop=False),
        "moe_dot_softmax": moe(False, up_loop=False),
        # Its K split over 2 programs, partial sums added in the down kernel.
        "moe_split_k2": moe(True, split_k=2, up_loop=False),
        "router": router(),
        "linear": linear_wrapper(),
    }
    json.dump(report, sys.stdout)
    print()
