"""How many experts a decode step of the GPU bench's dummy-weight Qwen3-Coder touches, on
the raw path's prompts and on the chat path's, with vLLM's top-k routing (CPU only).

Why it can be worked out without a GPU: vLLM's dummy loader
(``model_loader/weight_utils.initialize_dummy_weights``) draws every parameter from
U(-1e-3, 1e-3) with one seed, so parameters of one shape hold the same values: the LM head
equals the embedding, every RMSNorm weight of the hidden size is one vector ``w``, every
layer's router is one matrix ``G``. FP8 weights drawn from U(-1e-3, 1e-3) round to 0 or
e4m3's smallest step (2^-9) and are scaled by block scales of ~1e-3, so what a layer's
attention and experts add to the residual is ~1e-10 of it (measured here, the first row):
the residual stays the current token's embedding through all 48 layers. Hence, for a token
``t`` (with ``h = w * e_t / rms(e_t)``):

- every layer routes it to the same 8 experts, ``topk(G h)``;
- the next greedy token is ``argmax(E h)``, a function of ``t`` alone.

A batch's step therefore touches the experts of the distinct current tokens, and sequences
whose last prompt token is the same stay in step forever. The chat path's prompts all end
with the template's Assistant token; the raw path's end at different places in the corpus.

The draws here are torch's CPU generator's, not the GPU's: the token chains differ from a GPU
run's, their structure (one map, one router) does not. Writes bench/results/dummy_routing.*.

    python bench/dummy_routing.py [--steps 256] [--seeds 0 1 2 3 4]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import dummy_deepseek, dummy_models
from bench.common import write_results

MODEL = "qwen3-coder-30b-a3b-fp8"
PROMPT_TOKENS = 1024  # gpu_whole_model.py's --decode-ctx default
OFFSET = 997  # gpu_whole_model.decode: sequence i's prompt starts 997 * i tokens in


def last_prompt_tokens(
    tokenizer: Any, ids: list[int], batch: int, seed: int
) -> dict[str, list[int]]:
    """Each sequence's last prompt token on both paths, built as gpu_whole_model.Bench builds
    the prompts (a nonce, then the corpus from 997 * i) and VllmEngine sends them (the chat
    template around a system and a user message). The nonces are uuid-like hex, as there,
    but drawn from ``seed`` so that a run can be repeated. ``ids``: the corpus, tokenized."""
    draws = random.Random(seed)
    raw, chat = [], []
    for i in range(batch):
        nonce = tokenizer.encode(
            f"# request {draws.getrandbits(128):032x}\n", add_special_tokens=False
        )
        corpus = ids * (2 + (PROMPT_TOKENS + OFFSET * i) // len(ids))
        prompt = (nonce + corpus[OFFSET * i : OFFSET * i + PROMPT_TOKENS])[:PROMPT_TOKENS]
        raw.append(prompt[-1])
        messages = [
            {"role": "system", "content": "You edit code."},
            {"role": "user", "content": tokenizer.decode(prompt)},
        ]
        templated = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=False
        )
        chat.append(tokenizer.encode(templated, add_special_tokens=False)[-1])
    return {"raw": raw, "chat": chat}


def uniform(shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    """U(-1e-3, 1e-3), the dummy loader's range, in float32."""
    return torch.rand(shape, generator=gen) * 2e-3 - 1e-3


def draw(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """One dummy parameter as vLLM draws it (U(-1e-3, 1e-3), bf16), here on the CPU."""
    return uniform(shape, torch.Generator().manual_seed(seed)).to(torch.bfloat16).float()


class DummyQwen3:
    """The map a dummy-weight Qwen3-MoE decode step reduces to: a token's experts (the same
    in every layer) and the next greedy token, memoized (the chains fall into short cycles)."""

    def __init__(self, cfg: dict[str, Any], seed: int) -> None:
        hidden = cfg["hidden_size"]
        self.embed = draw((cfg["vocab_size"], hidden), seed)  # = the LM head: same shape, seed
        self.norm = draw((hidden,), seed)
        self.router = draw((cfg["num_experts"], hidden), seed)
        self.top_k, self.eps = cfg["num_experts_per_tok"], cfg["rms_norm_eps"]
        self.known: dict[int, tuple[int, frozenset[int]]] = {}

    def normed(self, token: int) -> torch.Tensor:
        """``h``: the token's embedding (the residual in every layer) after the RMSNorm."""
        x = self.embed[token]
        return self.norm * x * torch.rsqrt(x.pow(2).mean() + self.eps)

    def step(self, token: int) -> tuple[int, frozenset[int]]:
        if token not in self.known:
            h = self.normed(token)
            experts = frozenset((self.router @ h).topk(self.top_k).indices.tolist())
            self.known[token] = (int((self.embed @ h).argmax()), experts)
        return self.known[token]


def fp8_linear(x: torch.Tensor, rows: int, seed: int) -> torch.Tensor:
    """An FP8 linear as the dummy loader leaves it: e4m3 weights drawn from U(-1e-3, 1e-3)
    (through float16, as vLLM draws sub-16-bit types) and one U(-1e-3, 1e-3) scale a 128x128
    block."""
    gen = torch.Generator().manual_seed(seed)
    weight = uniform((rows, x.numel()), gen).half().to(torch.float8_e4m3fn).float()
    scale = uniform((rows // 128, x.numel() // 128), gen)
    return (weight * scale.repeat_interleave(128, 0).repeat_interleave(128, 1)) @ x


def added_over_residual(cfg: dict[str, Any], model: DummyQwen3, token: int, seed: int) -> float:
    """The largest entry a layer's attention and experts add to the residual, over the
    residual's RMS, for one token (its own value row standing in for attention's average)."""
    x, h = model.embed[token], model.normed(token)
    head, kv_heads = cfg["head_dim"], cfg["num_key_value_heads"]
    value = fp8_linear(h, head * kv_heads, seed)
    attention = fp8_linear(value.repeat(cfg["num_attention_heads"] // kv_heads), x.numel(), seed)
    inner = cfg["moe_intermediate_size"]
    expert = fp8_linear(
        torch.nn.functional.silu(fp8_linear(h, inner, seed)) * fp8_linear(h, inner, seed + 1),
        x.numel(),
        seed,
    )
    added = max(attention.abs().max().item(), expert.abs().max().item())
    return added / x.pow(2).mean().sqrt().item()


def mean_experts(model: DummyQwen3, starts: list[int], steps: int) -> float:
    """Greedy decode of every sequence from its last prompt token, ``steps`` steps: the mean
    count of distinct experts a step's tokens route to (a layer's; every layer's is the same)."""
    tokens, counts = list(starts), []
    for _ in range(steps):
        picks = [model.step(token) for token in tokens]
        counts.append(len(frozenset().union(*(experts for _, experts in picks))))
        tokens = [nxt for nxt, _ in picks]
    return round(statistics.mean(counts), 1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=256)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    args = parser.parse_args(argv)
    from transformers import AutoTokenizer

    cfg = dummy_models.MODELS[MODEL]
    folder = Path(tempfile.mkdtemp(prefix="dummy-routing-"))
    dummy_models.write_model(folder, MODEL)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    ids: list[int] = tokenizer.encode(
        "\n".join(dummy_deepseek._corpus_texts()), add_special_tokens=False
    )
    experts, top_k = cfg["num_experts"], cfg["num_experts_per_tok"]
    runs: dict[int, list[dict[str, Any]]] = {b: [] for b in args.batches}
    ratios = []
    for seed in args.seeds:  # one model in memory at a time (its embedding is 1.2 GB)
        model = DummyQwen3(cfg, seed)
        ratios.append(added_over_residual(cfg, model, 1000, seed))
        for batch in args.batches:  # new nonces a seed (the bench draws a uuid a prompt)
            starts = last_prompt_tokens(tokenizer, ids, batch, seed)
            runs[batch].append(
                {
                    path: {
                        "distinct_last_prompt_tokens": len(set(first)),
                        "mean_experts": mean_experts(model, first, args.steps),
                    }
                    for path, first in starts.items()
                }
            )
    ratio = max(ratios)
    figures: dict[str, Any] = {
        "model": MODEL,
        "steps": args.steps,
        "seeds": args.seeds,
        "largest_layer_output_over_residual_rms": f"{ratio:.1e}",
    }
    rows: list[tuple[str, str]] = [
        (
            "what a layer's attention or experts add, largest entry ÷ the residual's RMS",
            f"{ratio:.1e}",
        )
    ]
    for batch in args.batches:
        expected = experts * (1 - (1 - top_k / experts) ** batch)  # under uniform routing
        figures[f"batch_{batch}"] = {
            "uniform_routing_experts": round(expected, 1),
            "runs": runs[batch],
        }
        for path in ("raw", "chat"):
            experts_seen = ", ".join(str(run[path]["mean_experts"]) for run in runs[batch])
            firsts = ", ".join(str(run[path]["distinct_last_prompt_tokens"]) for run in runs[batch])
            rows.append(
                (
                    f"batch {batch}, {path} path: experts a layer a step, one a seed",
                    f"{experts_seen} (uniform routing: {expected:.1f}); distinct last prompt "
                    f"tokens {firsts}",
                )
            )
    reading = (
        "Reading: on the chat path every sequence of a batch decodes the same tokens, so a step "
        "of 8 or 32 sequences touches a batch-1 step's 8 experts a layer. That is why the chat "
        "path's batch-8 and -32 rows of the GPU runs are no measure (7.19 ms at batch 32 with "
        "Triton's MoE, 140% of a roofline that counts 111.8 experts: "
        "whole_model_kernel_backends_h100.md). On the raw path each sequence keeps its own "
        "tokens, and a step touches close to uniform routing's experts; where it touches fewer "
        "(last prompt tokens that repeat), its roofline share is that much generous."
    )
    notes = __doc__.split("\n\n", 1)[1].split("\n\n    python")[0]
    write_results("dummy_routing", figures, rows, notes + "\n\n" + reading)


if __name__ == "__main__":
    main()
