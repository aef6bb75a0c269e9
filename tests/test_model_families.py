"""GPU settings for the single-GPU MoE families beside DeepSeek-V3: Qwen3-MoE FP8
(Qwen3-Coder-30B-A3B-Instruct-FP8) and DeepSeek-V2-Lite, read from their published configs.

Fast: config files only, no engine, no GPU.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from fathom.backend.gpu_defaults import estimate_weight_bytes, gpu_settings_for, kv_bytes_per_token
from fathom.backend.model_families import family, gpu_max_model_len
from fathom.backend.model_info import SettingsError, inspect_model
from fathom.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
H200_GIB, H100_GIB = 140.4, 79.6


def _published(name: str) -> dict:
    """A model's published config.json (tests/data/model_configs: the GPU benchmark's too)."""
    return json.loads((ROOT / "tests" / "data" / "model_configs" / f"{name}.json").read_text())


QWEN3_CODER_30B_A3B_FP8 = _published("qwen3-coder-30b-a3b-fp8")
DEEPSEEK_V2_LITE = _published("deepseek-v2-lite")


def _write(folder: Path, cfg: dict) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder


@pytest.fixture
def qwen3(tmp_path) -> Path:
    return _write(tmp_path / "qwen3-coder", QWEN3_CODER_30B_A3B_FP8)


@pytest.fixture
def v2_lite(tmp_path) -> Path:
    return _write(tmp_path / "v2-lite", DEEPSEEK_V2_LITE)


def test_qwen3_coder_is_read_as_fp8_blocks_with_its_native_context(qwen3):
    info = inspect_model(qwen3)
    assert family(info) == "qwen3_moe" and not info.is_deepseek
    assert (info.quantization, info.weight_block_size, info.activation_scheme) == (
        "fp8",
        (128, 128),
        "dynamic",
    )
    assert info.max_len == 262144 and info.routed_experts == 128


def test_qwen3_coder_memory_arithmetic_matches_the_checkpoint(qwen3):
    info = inspect_model(qwen3)
    # The published FP8 checkpoint is ~31 GB (30.5B parameters at 1 byte, bf16 embeddings).
    assert 30.5e9 < estimate_weight_bytes(info) < 32e9
    # K and V of 4 KV heads x 128 dims, bf16, 48 layers; split over TP up to the 4 heads.
    assert kv_bytes_per_token(info) == 2 * 4 * 128 * 2 * 48
    assert kv_bytes_per_token(info, "fp8") == 4 * 128 * 2 * 48
    assert kv_bytes_per_token(info, "auto", 2) == kv_bytes_per_token(info) // 2
    assert kv_bytes_per_token(info, "auto", 8) == kv_bytes_per_token(info) // 4  # replicated


def test_qwen3_coder_gpu_defaults_serve_128k_on_one_gpu(qwen3):
    for gib in (H200_GIB, H100_GIB):
        settings = gpu_settings_for(qwen3, 1, gib)
        assert settings.max_model_len == 131072 == gpu_max_model_len(inspect_model(qwen3))
        assert settings.engine_kwargs(str(qwen3))["max_model_len"] == 131072
    # Its native 256K fits one H100 at the 0.70 budget (29 + 24 GiB < 55.7 GiB).
    assert gpu_settings_for(qwen3, 1, H100_GIB, max_model_len=262144).max_model_len == 262144


def test_qwen3_coder_refusals(qwen3):
    with pytest.raises(SettingsError, match="does not fit"):
        gpu_settings_for(qwen3, 1, 44.4)  # an L40S-class card: 29 GiB of weights + 12 GiB KV
    with pytest.raises(SettingsError, match="longer than"):
        gpu_settings_for(qwen3, 1, H200_GIB, max_model_len=300000)
    # TP 4 cuts moe_intermediate_size 768 into 192-wide pieces: not whole 128-wide blocks.
    with pytest.raises(SettingsError, match="moe_intermediate_size"):
        gpu_settings_for(qwen3, 4, H100_GIB, enable_expert_parallel=False)
    assert gpu_settings_for(qwen3, 4, H100_GIB).enable_expert_parallel  # EP keeps experts whole


def test_fathoms_decode_kernels_are_on_where_they_were_measured(qwen3, v2_lite):
    # On for Qwen3-MoE FP8 on one GPU, where a first start and inline completion were measured
    # faster with them (model_families.decode_kernels_measured); off where they were not.
    on = gpu_settings_for(qwen3, 1, H100_GIB)
    assert on.decode_kernels
    assert on.engine_environment()["FATHOM_DECODE_KERNELS"] == "1"
    for settings in (
        gpu_settings_for(qwen3, 4, H100_GIB),  # expert parallel over 4 GPUs: not measured
        gpu_settings_for(v2_lite, 1, H200_GIB),  # bf16: nothing for FP8 kernels to take
        gpu_settings_for(qwen3, 0),  # the CPU
        gpu_settings_for(qwen3, 1, H100_GIB, decode_kernels=False),  # asked off
    ):
        assert not settings.decode_kernels
        assert "FATHOM_DECODE_KERNELS" not in settings.engine_environment()
    unquantized = inspect_model({**inspect_model(qwen3).config, "quantization_config": None})
    assert not gpu_settings_for(unquantized, 1, H200_GIB).decode_kernels


def test_serve_model_turns_the_decode_kernels_on_unless_the_environment_says_no(
    qwen3, capsys, monkeypatch
):
    monkeypatch.delenv("FATHOM_API_KEY", raising=False)
    monkeypatch.delenv("FATHOM_DECODE_KERNELS", raising=False)
    args = ["serve-model", "--model", str(qwen3), "--gpus", "1", "--gpu-memory-gib", "80"]
    assert main([*args, "--dry-run"]) == 0
    assert "FATHOM_DECODE_KERNELS=1" in capsys.readouterr().out
    # A user's FATHOM_DECODE_KERNELS=0 stays: vLLM's processes inherit it, nothing overrides it.
    monkeypatch.setenv("FATHOM_DECODE_KERNELS", "0")
    assert main([*args, "--dry-run"]) == 0
    assert "FATHOM_DECODE_KERNELS" not in capsys.readouterr().out


def test_deepseek_v2_lite_is_a_deepseek_family_member(v2_lite):
    info = inspect_model(v2_lite)
    assert family(info) == "deepseek" and info.quantization is None
    assert info.max_len == 163840  # YaRN 40 x 4096
    assert 30.5e9 < estimate_weight_bytes(info) < 32.5e9  # 15.7B parameters in bf16
    assert kv_bytes_per_token(info) == (512 + 64) * 2 * 27  # MLA latent, not split by TP
    assert gpu_settings_for(v2_lite, 1, H200_GIB).max_model_len == 131072


def test_serve_model_takes_the_family_defaults(qwen3, capsys, monkeypatch):
    monkeypatch.delenv("FATHOM_API_KEY", raising=False)
    args = ["serve-model", "--model", str(qwen3), "--gpus", "1", "--gpu-memory-gib", "141"]
    assert main([*args, "--dry-run"]) == 0
    out, err = capsys.readouterr()
    words = shlex.split(out)
    assert words[words.index("--max-model-len") + 1] == "131072"
    assert "fp8 128x128 blocks" in err


def _dummy_model(*args: str) -> dict:
    """What bench/dummy_models.py prints for a model it writes nothing for (run as a program)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "dummy_models.py"), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def test_dummy_model_takes_a_real_tokenizer_that_fits_its_vocabulary(tmp_path):
    """Inline completion on the whole model needs the real vocabulary (fill-in-the-middle
    tokens, prompt lengths): bench/dummy_models.py --tokenizer copies one in."""
    source = tmp_path / "qwen-tokenizer"
    source.mkdir()
    spec = {"model": {"vocab": {"a": 0, "b": 1}}, "added_tokens": [{"id": 151659}]}
    (source / "tokenizer.json").write_text(json.dumps(spec))
    (source / "tokenizer_config.json").write_text('{"tokenizer_class": "Qwen2Tokenizer"}')
    target = tmp_path / "model"
    _dummy_model("qwen3-coder-30b-a3b-fp8", str(target), "--tokenizer", str(source))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        assert (target / name).read_bytes() == (source / name).read_bytes()
    assert json.loads((target / "config.json").read_text())["vocab_size"] == 151936
    spec["added_tokens"] = [{"id": 151936}]  # one past the embedding rows
    (source / "tokenizer.json").write_text(json.dumps(spec))
    refused = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "dummy_models.py"), "qwen3-coder-30b-a3b-fp8",
         str(tmp_path / "other"), "--tokenizer", str(source)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert refused.returncode != 0 and "does not fit a vocabulary of 151936" in refused.stderr


def test_dummy_configs_give_the_issue_rooflines():
    # Issue 23: 0.81 ms at batch 1 and 7.1 ms at batch 32 over 4.27 TB/s at ~1K context.
    whole = _dummy_model("qwen3-coder-30b-a3b-fp8", "--context", "1152")
    b1, b32 = whole["decode_step_bytes"]["1"], whole["decode_step_bytes"]["32"]
    assert 0.79 < 1000 * b1 / 4.27e12 < 0.84
    assert 7.0 < 1000 * b32 / 4.27e12 < 7.3
    sliced = _dummy_model("qwen3-coder-30b-a3b-fp8", "--layers", "4")["config"]
    kept = sliced["quantization_config"]["modules_to_not_convert"]
    assert kept == ["lm_head"] + [f"model.layers.{i}.mlp.gate" for i in range(4)]
