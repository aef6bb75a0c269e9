"""backend/cpu_defaults.py: what vLLM's CPU build is asked for on this machine.

- On a machine of two usable cores or fewer it reserves none for its scheduler (the model gets
  them all); on larger ones vLLM keeps its own choice; a value in the environment wins.
- On an x86 CPU without AVX-512 or AMX, ``dtype="auto"`` becomes float32; a named dtype stays.
- KV blocks of 32 tokens (vLLM's CPU build makes them 128), except for MLA models; a
  ``block_size`` in the settings wins.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fathom.backend import cpu_defaults
from fathom.backend.cpu_defaults import (
    CPU_BLOCK_TOKENS,
    cpu_block_size,
    cpu_dtype,
    cpu_engine_environment,
    usable_cores,
    x86_flags,
)
from fathom.backend.model_info import SettingsError, inspect_model
from fathom.backend.vllm_settings import VllmSettings, structure_overrides
from fathom.cli.main import main

RESERVE_NONE = {"VLLM_CPU_NUM_OF_RESERVED_CPU": "0"}
# /proc/cpuinfo excerpts: the 2-core AMD EPYC these were measured on, an Intel Xeon with
# AVX-512, a Sapphire Rapids with AMX, and an Arm machine (no x86 flags).
EPYC = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx f16c fma avx2\n"
XEON = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 avx512f avx512bw avx512vl\n"
SPR = "flags\t\t: avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
ARM = "processor\t: 0\nFeatures\t: fp asimd bf16\n"


def test_only_small_machines_reserve_no_core():
    assert cpu_engine_environment(1) == RESERVE_NONE
    assert cpu_engine_environment(2) == RESERVE_NONE
    assert cpu_engine_environment(3) == {}
    assert cpu_engine_environment(64) == {}


def test_usable_cores_are_this_process_affinity():
    assert usable_cores() == len(os.sched_getaffinity(0))


@pytest.mark.parametrize(("cores", "expected"), [(2, RESERVE_NONE), (8, {})])
def test_the_engine_environment_follows_the_machine_on_the_cpu_only(cores, expected, monkeypatch):
    monkeypatch.setattr(cpu_defaults, "usable_cores", lambda: cores)
    assert VllmSettings().engine_environment(on_cpu=True) == expected
    assert VllmSettings().engine_environment(on_cpu=False) == {}  # a GPU: not vLLM's CPU build


def test_serve_model_on_the_cpu_of_a_small_machine(tokenizer_dir: Path, capsys, monkeypatch):
    monkeypatch.setattr(cpu_defaults, "usable_cores", lambda: 2)
    monkeypatch.delenv("VLLM_CPU_NUM_OF_RESERVED_CPU", raising=False)
    args = ["serve-model", "--model", str(tokenizer_dir), "--gpus", "0", "--dry-run"]
    assert main(args) == 0
    assert "VLLM_CPU_NUM_OF_RESERVED_CPU=0" in capsys.readouterr().out
    # A user's own value stays: vLLM inherits it, nothing overrides it.
    monkeypatch.setenv("VLLM_CPU_NUM_OF_RESERVED_CPU", "1")
    assert main(args) == 0
    assert "VLLM_CPU_NUM_OF_RESERVED_CPU" not in capsys.readouterr().out


def test_x86_flags_are_read_from_cpuinfo():
    assert x86_flags(EPYC) == {"fpu", "sse2", "avx", "f16c", "fma", "avx2"}
    assert x86_flags(ARM) is None
    assert x86_flags("") is None


def test_auto_is_float32_only_where_no_bfloat16_matmul_is_built():
    assert cpu_dtype("auto", EPYC) == "float32"
    for cpu in (XEON, SPR, ARM):
        assert cpu_dtype("auto", cpu) == "auto"
    for named in ("bfloat16", "float16", "float32"):
        assert cpu_dtype(named, EPYC) == named  # the user's choice is kept


def test_the_cpu_engine_asks_for_the_machine_dtype(monkeypatch):
    monkeypatch.setattr(cpu_defaults, "x86_flags", lambda cpuinfo=None: x86_flags(EPYC))
    assert VllmSettings().engine_kwargs("/m", on_cpu=True)["dtype"] == "float32"
    assert VllmSettings().engine_kwargs("/m", on_cpu=False)["dtype"] == "auto"  # a GPU
    named = VllmSettings(dtype="bfloat16").engine_kwargs("/m", on_cpu=True)
    assert named["dtype"] == "bfloat16"
    monkeypatch.setattr(cpu_defaults, "x86_flags", lambda cpuinfo=None: x86_flags(XEON))
    assert VllmSettings().engine_kwargs("/m", on_cpu=True)["dtype"] == "auto"


def test_the_cpu_engine_asks_for_32_token_blocks_unless_told_otherwise(tmp_path):
    assert CPU_BLOCK_TOKENS == 32
    assert VllmSettings().engine_kwargs("/m", on_cpu=True)["block_size"] == 32
    assert "block_size" not in VllmSettings().engine_kwargs("/m", on_cpu=False)  # a GPU: vLLM's
    for where in (True, False):
        assert VllmSettings(block_size=64).engine_kwargs("/m", on_cpu=where)["block_size"] == 64
    # An MLA model (DeepSeek-V2-Lite's attention) keeps vLLM's own choice (16 for its
    # reference CPU MLA kernel).
    mla = {"model_type": "deepseek_v2", "kv_lora_rank": 512, "qk_rope_head_dim": 64}
    assert cpu_block_size(inspect_model(mla)) is None
    assert cpu_block_size(inspect_model({"model_type": "qwen2"})) == 32
    assert cpu_block_size(None) == 32  # not a local folder: nothing says it is MLA
    (tmp_path / "config.json").write_text(json.dumps(mla))
    assert "block_size" not in VllmSettings().engine_kwargs(str(tmp_path), on_cpu=True)


def test_a_wrong_block_size_is_a_clear_error():
    with pytest.raises(SettingsError, match="block_size must be positive"):
        VllmSettings(block_size=0)
    with pytest.raises(SettingsError, match="block_size must be a whole number"):
        structure_overrides({"block_size": "32"})
    assert structure_overrides({"block_size": 64}) == {"block_size": 64}
