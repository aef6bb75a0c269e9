"""What vLLM's CPU build is asked for on this machine: the cores the model runs on, the
number type it computes in and the size of the KV cache's blocks.

- **Cores.** vLLM's CPU worker binds its OpenMP threads to the usable cores less those it
  reserves for the engine's scheduler process (``VLLM_CPU_NUM_OF_RESERVED_CPU``; one on x86
  with one worker, vllm/utils/ompmultiprocessing.py). On a 2-core machine that leaves the
  model one core: with none reserved the 0.5B default decoded ~1.6x as fast
  (bench/results/cpu_defaults.md). With more cores one reserved core costs less and was not
  measured, so vLLM keeps its own choice there. A value the user set always wins.
- **Number type.** The default model's checkpoint is bfloat16. On an x86 CPU without AVX-512
  or AMX, oneDNN cannot build a bfloat16 matmul (vLLM logs "Failed to create oneDNN linear,
  fallback to torch linear"). On a 2-core AMD EPYC, torch's fallback gave a 501-token
  prompt its first token after 35 s, float32 after 3.4 s (with every core; 18 s in bfloat16),
  and the demo's edit took 13.2 instead of 29.3 s, for 19% slower decoding (twice the bytes
  a token) and a 6 s longer engine start. There ``dtype="auto"`` becomes float32 (twice the
  weights' memory: 2 GB for the 0.5B). A dtype the user named is kept, as is ``auto`` on
  every other CPU.
- **KV block size.** The engine's prefix cache reuses whole blocks of KV cache, and vLLM's
  CPU build makes a block 128 tokens. A keystroke in an inline completion changes the prompt
  at the cursor, so besides the text after the cursor up to 127 tokens before it were
  computed again on every keystroke. Its CPU attention takes
  any multiple of 32, so Fathom asks for 32 (``block_size`` in the settings wins). On a 2-core
  AMD EPYC a keystroke then computed a median 250 tokens again instead of 317, and single-line
  suggestions took 0.83 of the time (2.4 against 2.9 s at the median,
  bench/results/completion_block_size_cpu.md). MLA models keep vLLM's choice: its reference
  CPU MLA kernel runs on 16-token blocks only.
"""

from __future__ import annotations

import os
from pathlib import Path

from fathom.backend.model_info import ModelInfo

# Machines with at most this many usable cores reserve none for vLLM's scheduler.
SMALL_MACHINE_CORES = 2
# x86 flags with which oneDNN builds bfloat16 matmuls (natively or through AVX-512).
BF16_MATMUL_FLAGS = frozenset({"avx512f", "avx512_bf16", "amx_bf16"})
# Tokens a KV block: the smallest block vLLM's CPU attention takes (any multiple of 32).
CPU_BLOCK_TOKENS = 32


def usable_cores() -> int:
    """The cores this process may run on (its affinity where the OS tells it)."""
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        return len(affinity(0))
    return os.cpu_count() or 1


def cpu_engine_environment(cores: int | None = None) -> dict[str, str]:
    """Environment defaults for vLLM's CPU build on a machine with ``cores`` usable cores
    (this one's when None)."""
    if (cores if cores is not None else usable_cores()) <= SMALL_MACHINE_CORES:
        return {"VLLM_CPU_NUM_OF_RESERVED_CPU": "0"}
    return {}


def x86_flags(cpuinfo: str | None = None) -> frozenset[str] | None:
    """The x86 feature flags of ``cpuinfo`` (this machine's /proc/cpuinfo when None), or None
    where there are none to read (another architecture, another OS)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return None
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return None


def cpu_dtype(requested: str, cpuinfo: str | None = None) -> str:
    """The dtype to ask vLLM's CPU build for when the settings ask for ``requested``."""
    flags = x86_flags(cpuinfo)
    if requested == "auto" and flags is not None and not flags & BF16_MATMUL_FLAGS:
        return "float32"
    return requested


def cpu_block_size(info: ModelInfo | None) -> int | None:
    """The KV block size to ask vLLM's CPU build for (None: its own choice), for the model
    ``info`` describes (None where it is not a local folder)."""
    if info is not None and "kv_lora_rank" in info.config:  # MLA
        return None
    return CPU_BLOCK_TOKENS
