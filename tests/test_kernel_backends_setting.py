"""vLLM's Triton fused-MoE and CUTLASS linears in the GPU defaults (``moe_backend``,
``linear_backend``) where they were measured (a Qwen3-MoE FP8 checkpoint on one GPU): what
reaches vLLM, the embedded engine and ``vllm serve`` alike, and what a user may change.

Fast: config files only, no engine, no GPU. The figures that chose them are in
bench/results/whole_model_kernel_backends_h100.md.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from fathom.backend.gpu_defaults import LINEAR_BACKEND, MOE_BACKEND, gpu_settings_for
from fathom.backend.vllm_settings import VllmSettings
from fathom.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "tests" / "data" / "model_configs"
QWEN3 = json.loads((CONFIG_DIR / "qwen3-coder-30b-a3b-fp8.json").read_text())


def _folder(tmp_path: Path, name: str, config: dict) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.fixture
def qwen3(tmp_path: Path) -> Path:
    return _folder(tmp_path, "qwen3", QWEN3)


@pytest.mark.parametrize("gib", [79.6, 140.4])
def test_gpu_defaults_pick_tritons_moe_and_cutlass_linears(qwen3, gib):
    kwargs = gpu_settings_for(qwen3, 1, gib).engine_kwargs(str(qwen3))
    assert (kwargs["moe_backend"], kwargs["linear_backend"]) == ("triton", "cutlass")
    assert (MOE_BACKEND, LINEAR_BACKEND) == ("triton", "cutlass")


def test_where_unmeasured_vllm_picks(qwen3, tmp_path):
    dsv2 = _folder(tmp_path, "dsv2", json.loads((CONFIG_DIR / "deepseek-v2-lite.json").read_text()))
    bf16 = {k: v for k, v in QWEN3.items() if k != "quantization_config"}
    for settings in (
        gpu_settings_for(qwen3, 4, 79.6),  # several GPUs: unmeasured there
        gpu_settings_for(dsv2, 1, 140.4),  # another family
        gpu_settings_for(_folder(tmp_path, "bf16", bf16), 1, 140.4),  # not FP8 blocks
        gpu_settings_for(qwen3, 0),  # the CPU engine
    ):
        kwargs = settings.engine_kwargs("/m")
        assert "moe_backend" not in kwargs and "linear_backend" not in kwargs
    assert "linear_backend" not in VllmSettings().engine_kwargs("/m")


def test_a_users_setting_wins_and_auto_gives_vllms_choice_back(qwen3):
    settings = gpu_settings_for(qwen3, 1, 79.6, moe_backend="auto", linear_backend="deep_gemm")
    kwargs = settings.engine_kwargs(str(qwen3))
    assert (kwargs["moe_backend"], kwargs["linear_backend"]) == ("auto", "deep_gemm")


def test_vllm_takes_both_as_its_kernel_config(qwen3):
    from vllm.engine.arg_utils import AsyncEngineArgs

    args = AsyncEngineArgs(**gpu_settings_for(qwen3, 1, 79.6).engine_kwargs(str(qwen3)))
    assert (args.moe_backend, args.linear_backend) == ("triton", "cutlass")


def test_serve_model_passes_them_as_vllm_serves_flags(qwen3, capsys, monkeypatch):
    monkeypatch.delenv("FATHOM_API_KEY", raising=False)
    args = ["serve-model", "--model", str(qwen3), "--gpus", "1", "--gpu-memory-gib", "80"]
    assert main([*args, "--dry-run"]) == 0
    words = shlex.split(capsys.readouterr().out)
    assert words[words.index("--moe-backend") + 1] == "triton"
    assert words[words.index("--linear-backend") + 1] == "cutlass"
    assert main([*args, "--linear-backend", "auto", "--dry-run"]) == 0
    words = shlex.split(capsys.readouterr().out)
    assert words[words.index("--linear-backend") + 1] == "auto"
