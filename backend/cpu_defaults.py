"""What vLLM's CPU build is asked for on this machine: the cores the model runs on and the
number type it computes in.

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
"""

from __future__ import annotations

import os
from pathlib import Path

# Machines with at most this many usable cores reserve none for vLLM's scheduler.
SMALL_MACHINE_CORES = 2
# x86 flags with which oneDNN builds bfloat16 matmuls (natively or through AVX-512).
BF16_MATMUL_FLAGS = frozenset({"avx512f", "avx512_bf16", "amx_bf16"})


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
