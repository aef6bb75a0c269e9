"""CUDA graphs for steps of up to 2048 tokens in the GPU defaults (``cuda_graph_max_tokens``)
where they were measured (a Qwen3-MoE model on one GPU): what reaches vLLM, the embedded
engine and ``vllm serve`` alike, and what a user may change.

Fast: config files only, no engine, no GPU. The figures that chose 2048 are in
bench/results/whole_model_prefill_graphs_h100.md.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import replace
from pathlib import Path

import pytest

from fathom.backend.gpu_defaults import CUDA_GRAPH_MAX_TOKENS, gpu_settings_for
from fathom.backend.model_info import SettingsError
from fathom.backend.vllm_settings import VllmSettings, structure_overrides
from fathom.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "tests" / "data" / "model_configs"
CONFIG = (CONFIG_DIR / "qwen3-coder-30b-a3b-fp8.json").read_text()
GRAPHS = {"max_cudagraph_capture_size": 2048}


@pytest.fixture
def qwen3(tmp_path: Path) -> Path:
    (tmp_path / "config.json").write_text(CONFIG)
    return tmp_path


@pytest.mark.parametrize("gib", [79.6, 140.4])
def test_gpu_defaults_capture_graphs_to_2048_tokens(qwen3, gib):
    settings = gpu_settings_for(qwen3, 1, gib)
    assert settings.cuda_graph_max_tokens == CUDA_GRAPH_MAX_TOKENS == 2048
    assert settings.engine_kwargs(str(qwen3))["compilation_config"] == GRAPHS


def test_where_unmeasured_vllms_own_sizes_stay(qwen3, tmp_path):
    dsv2 = tmp_path / "dsv2"
    dsv2.mkdir()
    (dsv2 / "config.json").write_text((CONFIG_DIR / "deepseek-v2-lite.json").read_text())
    for settings in (
        gpu_settings_for(qwen3, 4, 79.6),  # several GPUs: graphs there are unmeasured
        gpu_settings_for(dsv2, 1, 140.4),  # another family
    ):
        assert settings.cuda_graph_max_tokens is None
        assert "compilation_config" not in settings.engine_kwargs("/m")


def test_the_cpu_and_eager_engines_ask_for_no_graphs(qwen3):
    assert "compilation_config" not in gpu_settings_for(qwen3, 0).engine_kwargs(str(qwen3))
    assert "compilation_config" not in VllmSettings().engine_kwargs("/m")
    eager = VllmSettings(enforce_eager=True, cuda_graph_max_tokens=512)
    assert "compilation_config" not in eager.engine_kwargs("/m")


def test_a_compilation_config_in_extra_keeps_its_own_keys():
    settings = VllmSettings(enforce_eager=False, cuda_graph_max_tokens=2048)
    mine = {"cudagraph_mode": "FULL", "max_cudagraph_capture_size": 512}
    merged = replace(settings, extra={"compilation_config": mine})
    assert merged.engine_kwargs("/m")["compilation_config"] == mine
    other = {"cudagraph_mode": "FULL"}
    merged = replace(settings, extra={"compilation_config": other})
    assert merged.engine_kwargs("/m")["compilation_config"] == {**GRAPHS, **other}
    # vLLM refuses a maximum unlike the largest of the sizes given: none is added to them.
    sizes = {"cudagraph_capture_sizes": [1, 2, 4]}
    merged = replace(settings, extra={"compilation_config": sizes})
    assert merged.engine_kwargs("/m")["compilation_config"] == sizes


def test_vllm_takes_the_key_as_its_compilation_config():
    from vllm.engine.arg_utils import AsyncEngineArgs

    kwargs = VllmSettings(enforce_eager=False, cuda_graph_max_tokens=1024).engine_kwargs("/m")
    args = AsyncEngineArgs(**kwargs)
    assert args.compilation_config.max_cudagraph_capture_size == 1024


def test_serve_model_passes_it_as_vllm_serves_flag(qwen3, capsys, monkeypatch):
    monkeypatch.delenv("FATHOM_API_KEY", raising=False)
    args = ["serve-model", "--model", str(qwen3), "--gpus", "1", "--gpu-memory-gib", "80"]
    assert main([*args, "--dry-run"]) == 0
    words = shlex.split(capsys.readouterr().out)
    assert json.loads(words[words.index("--compilation-config") + 1]) == GRAPHS
    assert main([*args, "--cuda-graph-max-tokens", "512", "--dry-run"]) == 0
    words = shlex.split(capsys.readouterr().out)
    assert json.loads(words[words.index("--compilation-config") + 1]) == {
        "max_cudagraph_capture_size": 512
    }


@pytest.mark.parametrize("value", [0, -1, "2048", 2.5, True])
def test_a_wrong_value_is_refused_by_name(value):
    with pytest.raises(SettingsError, match="cuda_graph_max_tokens"):
        VllmSettings(**structure_overrides({"cuda_graph_max_tokens": value}))
