"""Fathom's decode attention kernel run by Triton's interpreter on the CPU, against float32.

Run as a script by tests/test_decode_attention.py with ``TRITON_INTERPRET=1`` (set before the
kernel is defined). Prints one JSON line: each case's error relative to the largest output
and the slice counts left behind. fp16 caches: the interpreter's ``tl.dot`` multiplies
bfloat16 operands wrongly (their bits, as numpy has no bfloat16); the GPU test covers
bfloat16 (tests/test_decode_attention_gpu.py).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from paged_attention_reference import attention, paged_cache

from fathom.backend.decode_attention_kernels import decode_attention

# (name, lengths, query heads, KV heads, head size, kernel settings): one slice, several
# slices combined by the last program, an empty context, a group of 3 query heads a KV head.
CASES = [
    ("one_slice", [37], 8, 2, 32, {}),
    ("slices", [300, 5], 8, 2, 32, {"splits": 8, "min_chunk": 16, "block_t": 16}),
    ("empty_and_long", [0, 200], 4, 4, 16, {"splits": 4, "min_chunk": 32, "block_t": 32}),
    ("group_of_3", [100], 6, 2, 16, {"splits": 2, "min_chunk": 16, "block_t": 16}),
]


def main() -> None:
    torch.manual_seed(0)
    result: dict[str, float | list[int]] = {}
    for name, lengths, heads, kv_heads, head, settings in CASES:
        keys, values, table, lens = paged_cache(lengths, kv_heads, head, dtype=torch.float16)
        query = torch.randn(len(lengths), heads, head).half()
        counts = torch.zeros(len(lengths) * kv_heads, dtype=torch.int32)
        out = torch.full_like(query, float("nan"))
        scale = 1 / math.sqrt(head)
        decode_attention(query, keys, values, table, lens, out, scale, counts, **settings)
        exact = attention(query, keys, values, table, lens, scale)
        result[name] = ((out.float() - exact).abs().max() / exact.abs().max()).item()
        result[f"{name}_counts"] = counts.tolist()
        # Again with the same counts: a second step must find them zeroed.
        out.fill_(float("nan"))
        decode_attention(query, keys, values, table, lens, out, scale, counts, **settings)
        result[f"{name}_again"] = ((out.float() - exact).abs().max() / exact.abs().max()).item()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
