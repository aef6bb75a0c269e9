"""Engine settings for CPUs and GPUs: checkpoint inspection, per-GPU defaults, validation,
engine kwargs and the `vllm serve` command line (checked against vLLM's own parser).

Fast: no engine starts and no GPU is needed.
"""

from __future__ import annotations

import copy
import json
import shlex
import sys
from pathlib import Path

import pytest

from fathom.backend.cpu_defaults import cpu_dtype
from fathom.backend.gpu_defaults import (
    GpuInfo,
    _visible,
    detect_gpus,
    estimate_weight_bytes,
    gpu_settings_for,
    memory_class,
)
from fathom.backend.model_info import SettingsError, inspect_model
from fathom.backend.serve_command import (
    VLLM_SERVE_MODULE,
    has_vllm_distribution,
    serve_command,
    server_entry,
)
from fathom.backend.vllm_settings import VllmSettings
from fathom.cli.main import build_parser, main

# deepseek-ai/DeepSeek-V3's published config.json, minus auto_map (the GPU benchmark loads it too).
DEEPSEEK_V3 = json.loads(
    (Path(__file__).parent / "data" / "model_configs" / "deepseek-v3.json").read_text()
)

# A small dense model (Qwen2.5-Coder-0.5B-like), unquantized.
DENSE = {
    "architectures": ["Qwen2ForCausalLM"],
    "model_type": "qwen2",
    "hidden_size": 896,
    "intermediate_size": 4864,
    "max_position_embeddings": 32768,
    "num_attention_heads": 14,
    "num_hidden_layers": 24,
    "num_key_value_heads": 2,
    "rope_theta": 1000000.0,
    "vocab_size": 151936,
}


def _write(folder: Path, config: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    return folder


def _deepseek(layers: int = 5, mtp: bool = True, **changes) -> dict:
    config = copy.deepcopy(DEEPSEEK_V3)
    config["num_hidden_layers"] = layers
    if not mtp:
        del config["num_nextn_predict_layers"]
    config.update(changes)
    return config


@pytest.fixture
def dsv3(tmp_path) -> Path:
    """A 5-layer DeepSeek-V3 checkpoint folder (config only: for dummy weights)."""
    return _write(tmp_path / "dsv3-5l", _deepseek())


@pytest.fixture
def dsv3_no_mtp(tmp_path) -> Path:
    return _write(tmp_path / "dsv3-5l-nomtp", _deepseek(mtp=False))


@pytest.fixture
def dsv3_full(tmp_path) -> Path:
    return _write(tmp_path / "dsv3", _deepseek(layers=61))


@pytest.fixture
def dense(tmp_path) -> Path:
    return _write(tmp_path / "dense", DENSE)


# -- inspecting checkpoints ----------------------------------------------------------------
def test_deepseek_checkpoint_is_read_from_its_config(dsv3):
    info = inspect_model(dsv3)
    assert info.is_deepseek and info.is_moe and info.has_mtp
    assert (info.routed_experts, info.mtp_layers, info.num_attention_heads) == (256, 1, 128)
    # FP8 block quantization is detected (vLLM reads it itself; Fathom passes no flag).
    assert info.quantization == "fp8"
    assert info.weight_block_size == (128, 128)
    assert (info.activation_scheme, info.quant_format) == ("dynamic", "e4m3")
    # YaRN factor 40 over 4096 original positions = 163840.
    assert info.max_len == 163840
    assert "fp8 128x128 blocks" in info.describe() and "1 MTP head" in info.describe()


def test_checkpoint_without_mtp_head(dsv3_no_mtp):
    info = inspect_model(dsv3_no_mtp)
    assert info.is_moe and not info.has_mtp


def test_dense_unquantized_checkpoint(dense):
    info = inspect_model(dense)
    assert not info.is_moe and not info.has_mtp and not info.is_deepseek
    assert info.quantization is None and info.weight_block_size is None
    assert info.max_len == 32768


def test_rope_scaling_decides_the_longest_context():
    linear = dict(DENSE, rope_scaling={"type": "linear", "factor": 2.0})
    assert inspect_model(linear).max_len == 65536
    llama3 = dict(DENSE, rope_scaling={"rope_type": "llama3", "factor": 8.0})
    assert inspect_model(llama3).max_len == 32768  # already scaled
    # YaRN: the smaller of the scaled original window and max_position_embeddings.
    yarn = _deepseek(max_position_embeddings=200000)
    assert inspect_model(yarn).max_len == 163840


@pytest.mark.parametrize(
    ("quant", "message"),
    [
        ({"quant_method": "fp8", "weight_block_size": [128]}, "two positive integers"),
        ({"quant_method": "fp8", "weight_block_size": [128, 0]}, "two positive integers"),
        (
            {"quant_method": "fp8", "weight_block_size": [128, 128], "activation_scheme": "static"},
            "activation_scheme 'dynamic'",
        ),
        ("fp8", "JSON object"),
    ],
)
def test_malformed_quantization_config_is_refused(quant, message):
    with pytest.raises(SettingsError, match=message):
        inspect_model(_deepseek(quantization_config=quant))


def test_missing_model_folder_is_a_settings_error(tmp_path):
    with pytest.raises(SettingsError, match="does not exist"):
        inspect_model(tmp_path / "nowhere")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    with pytest.raises(SettingsError, match=r"not a readable config\.json"):
        inspect_model(tmp_path / "broken")


def test_weight_estimate_matches_the_smoke_test_arithmetic(dsv3, dsv3_full):
    # Figures ../shared/gpu/smoke.py --config-only prints for 5 and 61 layers.
    assert estimate_weight_bytes(inspect_model(dsv3)) == 28_481_552_480
    full = inspect_model(dsv3_full)
    assert estimate_weight_bytes(full) == 673_150_611_808
    # The MTP head (loaded only for MTP decoding) adds one MoE layer and a head: ~13.5 GB.
    extra = estimate_weight_bytes(full, with_mtp=True) - estimate_weight_bytes(full)
    assert 13e9 < extra < 14e9
    assert estimate_weight_bytes(inspect_model(DENSE)) is None


# -- per-GPU defaults ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("gpus", "gib", "util", "tokens", "tp", "ep"),
    [
        (1, 80, 0.70, 8192, 1, False),  # 1 x H100
        (1, 141, 0.85, 16384, 1, False),  # 1 x H200
        (2, 141, 0.85, 16384, 2, True),  # 2 x H200
        (8, 141, 0.85, 16384, 8, True),  # 8 x H200
        (2, 79.6, 0.70, 8192, 2, True),  # what NVML reports for an H100 80GB
        (1, 140.4, 0.85, 16384, 1, False),  # ... and for an H200
    ],
)
def test_gpu_defaults_per_gpu_count_and_memory(dsv3, gpus, gib, util, tokens, tp, ep):
    settings = gpu_settings_for(dsv3, gpus, gib)
    assert settings.model == str(dsv3)
    assert settings.max_model_len == 131072
    assert settings.enable_prefix_caching and not settings.enforce_eager
    assert settings.kv_cache_dtype == "auto" and settings.quantization is None
    assert (settings.gpu_memory_utilization, settings.max_num_batched_tokens) == (util, tokens)
    assert settings.tensor_parallel_size == tp
    assert settings.enable_expert_parallel is ep
    assert settings.disable_custom_all_reduce is (tp > 1)
    assert settings.all2all_backend == ("allgather_reducescatter" if ep else None)
    assert settings.speculative == "off"
    assert settings.model_info is not None and settings.model_info.quantization == "fp8"


def test_memory_classes():
    assert memory_class(None).name == "80 GB"  # unknown: the safer settings
    assert memory_class(40).gpu_memory_utilization == 0.70
    assert memory_class(120).name == "141 GB"


def test_custom_all_reduce_kept_by_env(dsv3, monkeypatch):
    monkeypatch.setenv("FATHOM_CUSTOM_ALLREDUCE", "1")
    assert not gpu_settings_for(dsv3, 2, 141).disable_custom_all_reduce
    monkeypatch.delenv("FATHOM_CUSTOM_ALLREDUCE")
    assert gpu_settings_for(dsv3, 2, 141).disable_custom_all_reduce
    assert not gpu_settings_for(dsv3, 2, 141, custom_all_reduce=True).disable_custom_all_reduce


def test_overrides_win_and_dependent_defaults_follow(dsv3):
    tp_only = gpu_settings_for(dsv3, 2, 141, enable_expert_parallel=False)
    assert tp_only.tensor_parallel_size == 2 and not tp_only.enable_expert_parallel
    assert tp_only.all2all_backend is None and tp_only.disable_custom_all_reduce
    one = gpu_settings_for(dsv3, 2, 141, tensor_parallel_size=1)
    assert not one.enable_expert_parallel and not one.disable_custom_all_reduce
    bench = gpu_settings_for(
        dsv3, 1, 80, load_format="dummy", kv_cache_dtype="fp8", max_model_len=65536
    )
    assert (bench.load_format, bench.kv_cache_dtype, bench.max_model_len) == (
        "dummy",
        "fp8",
        65536,
    )


def test_tensor_parallel_default_divides_the_heads(dsv3):
    assert gpu_settings_for(dsv3, 6, 141).tensor_parallel_size == 4  # 128 heads
    assert gpu_settings_for(dsv3, 16, 80, pipeline_parallel_size=2).tensor_parallel_size == 8


def test_dense_model_on_gpus(dense):
    settings = gpu_settings_for(dense, 2, 80)
    assert settings.max_model_len == 32768
    assert settings.tensor_parallel_size == 2 and not settings.enable_expert_parallel
    assert settings.speculative_config() is None


def test_no_gpus_gives_cpu_settings(dense):
    settings = gpu_settings_for(dense, 0, None)
    assert settings.enforce_eager and settings.tensor_parallel_size == 1
    assert "kv_cache_memory_bytes" in settings.engine_kwargs(str(dense), on_cpu=True)
    assert gpu_settings_for(dict(DENSE, max_position_embeddings=4096), 0).max_model_len == 4096


# -- validation ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("gpus", "overrides", "message"),
    [
        (2, {"tensor_parallel_size": 4}, "needs 4 GPUs; 2 are planned"),
        (4, {"tensor_parallel_size": 3}, "must divide the model's 128 attention heads"),
        (
            8,
            {"tensor_parallel_size": 4, "pipeline_parallel_size": 4},
            "needs 16 GPUs; 8 are planned",
        ),
        (1, {"kv_cache_dtype": "int4"}, "kv_cache_dtype 'int4' is not one of"),
        (1, {"gpu_memory_utilization": 0.0}, r"in \(0, 1\]"),
        (1, {"gpu_memory_utilization": 1.5}, r"in \(0, 1\]"),
        (1, {"max_model_len": 200000}, "longer than .* supports .163840 tokens"),
        (1, {"speculative": "eagle"}, "speculative 'eagle' is not one of"),
        (1, {"prompt_lookup_min": 5, "prompt_lookup_max": 3}, "prompt_lookup_min"),
        (1, {"tensor_parallel": 2}, "Unknown setting"),
        (1, {"model_info": None}, r"Unknown setting\(s\) model_info;"),  # detected, not given
        (2, {"pipeline_parallel_size": "2"}, "pipeline_parallel_size must be a whole number"),
        (1, {"enforce_eager": "no"}, "enforce_eager must be true or false, not 'no'"),
        (1, {"extra": 5}, "extra must be a mapping"),
        (32, {"enable_expert_parallel": False}, "not whole 128-wide FP8 blocks"),
    ],
)
def test_settings_the_model_or_gpus_cannot_run_are_refused(dsv3, gpus, overrides, message):
    with pytest.raises(SettingsError, match=message):
        gpu_settings_for(dsv3, gpus, 141, **overrides)


def test_settings_errors_are_fathom_errors_and_engine_errors(dsv3):
    # Fathom's errors derive from FathomError and never from ValueError (issue "One house"),
    # so an ``except ValueError`` written for int() cannot swallow one.
    from fathom.backend.engine import EngineError
    from fathom.errors import FathomError

    with pytest.raises(FathomError) as bad_fraction:
        VllmSettings(gpu_memory_utilization=2.0)
    assert not isinstance(bad_fraction.value, ValueError)
    with pytest.raises(EngineError):
        VllmSettings(kv_cache_dtype="nope")


def test_mtp_needs_the_head(dsv3_no_mtp):
    with pytest.raises(SettingsError, match="num_nextn_predict_layers > 0"):
        gpu_settings_for(dsv3_no_mtp, 1, 141, speculative="mtp")
    # auto falls back to n-gram.
    settings = gpu_settings_for(dsv3_no_mtp, 1, 141, speculative="auto")
    assert settings.speculative_config()["method"] == "ngram"


def test_expert_parallel_needs_moe_and_warns_on_one_gpu(dense, dsv3, caplog):
    with pytest.raises(SettingsError, match="no routed experts"):
        gpu_settings_for(dense, 2, 80, enable_expert_parallel=True)
    gpu_settings_for(dsv3, 1, 141, enable_expert_parallel=True)
    assert "does nothing on one GPU" in caplog.text


def test_full_deepseek_v3_fits_8_h200_not_8_h100(dsv3_full):
    settings = gpu_settings_for(dsv3_full, 8, 140.4)
    assert settings.tensor_parallel_size == 8 and settings.enable_expert_parallel
    with pytest.raises(SettingsError, match=r"78\.4 GiB of weights per GPU on 8 GPU"):
        gpu_settings_for(dsv3_full, 8, 79.6)
    # Two nodes of 8 x H100 with pipeline parallel: half the weights per GPU.
    two_nodes = gpu_settings_for(dsv3_full, 16, 79.6, pipeline_parallel_size=2)
    assert (two_nodes.tensor_parallel_size, two_nodes.pipeline_parallel_size) == (8, 2)


# -- what vLLM gets ------------------------------------------------------------------------
def test_default_settings_give_vllm_these_kwargs_on_the_cpu():
    # Callers construct VllmSettings(model=..., max_model_len=...) and get exactly this:
    # a key added or changed here changes every CPU engine Fathom starts.
    kwargs = VllmSettings(model="m", max_model_len=4096).engine_kwargs("/m", on_cpu=True)
    # "auto", or float32 on an x86 CPU that builds no bfloat16 matmul (test_cpu_defaults.py)
    assert kwargs.pop("dtype") == cpu_dtype("auto")
    assert kwargs == {
        "model": "/m",
        "max_model_len": 4096,
        "enforce_eager": True,
        "enable_prefix_caching": True,
        "tensor_parallel_size": 1,
        "enable_expert_parallel": False,
        "kv_cache_dtype": "auto",
        "disable_log_stats": False,
        "kv_cache_memory_bytes": 1 << 30,
        "block_size": 32,  # backend/cpu_defaults.py: the prefix cache's unit
    }
    extra = VllmSettings(extra={"load_format": "dummy", "seed": 3}).engine_kwargs("/m")
    assert extra["load_format"] == "dummy" and extra["seed"] == 3


def test_engine_kwargs_for_two_h200_with_expert_parallel(dsv3):
    kwargs = gpu_settings_for(dsv3, 2, 141, load_format="dummy").engine_kwargs(str(dsv3))
    assert kwargs["tensor_parallel_size"] == 2
    assert kwargs["enable_expert_parallel"] is True
    assert kwargs["all2all_backend"] == "allgather_reducescatter"
    assert kwargs["disable_custom_all_reduce"] is True
    assert kwargs["load_format"] == "dummy"
    assert (kwargs["gpu_memory_utilization"], kwargs["max_num_batched_tokens"]) == (0.85, 16384)
    assert "quantization" not in kwargs  # vLLM reads the checkpoint's quantization_config
    assert "speculative_config" not in kwargs and "kv_cache_memory_bytes" not in kwargs


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("mtp", {"method": "mtp", "num_speculative_tokens": 1}),
        ("auto", {"method": "mtp", "num_speculative_tokens": 1}),
        (
            "ngram",
            {
                "method": "ngram",
                "num_speculative_tokens": 5,
                "prompt_lookup_max": 4,
                "prompt_lookup_min": 2,
            },
        ),
    ],
)
def test_speculative_config_shape(dsv3, mode, expected):
    settings = gpu_settings_for(dsv3, 1, 141, speculative=mode)
    assert settings.engine_kwargs(str(dsv3))["speculative_config"] == expected


def test_ngram_proposer_on_the_gpu_is_a_setting(dsv3):
    on_gpu = gpu_settings_for(dsv3, 1, 141, speculative="ngram", ngram_method="ngram_gpu")
    assert on_gpu.speculative_config()["method"] == "ngram_gpu"
    assert on_gpu.speculative_config()["prompt_lookup_max"] == 4
    with pytest.raises(SettingsError, match="ngram_method 'ngram_cuda' is not one of"):
        gpu_settings_for(dsv3, 1, 141, speculative="ngram", ngram_method="ngram_cuda")


def test_speculative_auto_reads_the_folder_when_settings_were_built_by_hand(dsv3, dsv3_no_mtp):
    settings = VllmSettings(model=str(dsv3), speculative="auto")
    assert settings.engine_kwargs(str(dsv3))["speculative_config"]["method"] == "mtp"
    assert settings.engine_kwargs(str(dsv3_no_mtp))["speculative_config"]["method"] == "ngram"
    three = VllmSettings(speculative="mtp", num_speculative_tokens=3)
    assert three.speculative_config()["num_speculative_tokens"] == 3


def test_engine_environment(dsv3, dense):
    assert gpu_settings_for(dsv3, 2, 141).engine_environment() == {
        "VLLM_ALLREDUCE_USE_SYMM_MEM": "0"
    }
    assert gpu_settings_for(dsv3, 1, 80).engine_environment() == {}
    dummy = gpu_settings_for(dsv3, 1, 80, load_format="dummy").engine_environment()
    assert dummy == {"VLLM_MOE_ROUTING_SIMULATION_STRATEGY": "uniform_random"}
    assert gpu_settings_for(dense, 1, 80, load_format="dummy").engine_environment() == {}
    # The same through `extra`, as settings built by hand pass them.
    by_hand = VllmSettings(
        tensor_parallel_size=2, extra={"disable_custom_all_reduce": True, "load_format": "dummy"}
    )
    assert by_hand.engine_environment(inspect_model(dsv3)) == {
        "VLLM_ALLREDUCE_USE_SYMM_MEM": "0",
        "VLLM_MOE_ROUTING_SIMULATION_STRATEGY": "uniform_random",
    }


# -- detecting GPUs ------------------------------------------------------------------------
def test_detect_gpus_without_a_gpu_is_zero():
    gpus = detect_gpus()
    if not Path("/dev/nvidiactl").exists():
        assert gpus == GpuInfo(0, 0.0)


def test_cuda_visible_devices(monkeypatch):
    sizes = [79.6, 79.6, 140.4]
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert _visible(sizes) == sizes
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2")
    assert _visible(sizes) == [140.4]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert _visible(sizes) == []
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-aaa,GPU-bbb")
    assert len(_visible(sizes)) == 2


# -- `vllm serve` command line -------------------------------------------------------------
def _flags(argv: list[str]) -> dict[str, str | None]:
    """``--flag value`` / ``--flag`` pairs after the model (value None for a switch)."""
    out: dict[str, str | None] = {}
    rest = argv[5:]
    for i, token in enumerate(rest):
        if token.startswith("--"):
            following = rest[i + 1] if i + 1 < len(rest) else None
            value = following if following and not following.startswith("--") else None
            out[token] = value
    return out


def test_serve_command_has_every_setting_as_its_flag(dsv3):
    settings = gpu_settings_for(
        dsv3,
        2,
        141,
        speculative="ngram",
        load_format="dummy",
        kv_cache_dtype="fp8",
        attention_backend="FLASHMLA",
        moe_backend="triton",
    )
    argv = serve_command(
        settings,
        "0.0.0.0",
        8001,
        served_model_name="dsv3",
        python="python3",
        vllm_distribution=True,
    )
    assert argv[:5] == ["python3", "-m", VLLM_SERVE_MODULE, "serve", str(dsv3)]
    flags = _flags(argv)
    assert flags["--host"] == "0.0.0.0" and flags["--port"] == "8001"
    assert flags["--served-model-name"] == "dsv3"
    assert flags["--max-model-len"] == "131072"
    assert flags["--tensor-parallel-size"] == "2"
    assert "--enable-expert-parallel" in flags and flags["--enable-expert-parallel"] is None
    assert "--disable-custom-all-reduce" in flags
    assert "--enable-prefix-caching" in flags and "--enforce-eager" not in flags
    assert flags["--all2all-backend"] == "allgather_reducescatter"
    assert flags["--gpu-memory-utilization"] == "0.85"
    assert flags["--max-num-batched-tokens"] == "16384"
    assert flags["--kv-cache-dtype"] == "fp8"
    assert flags["--load-format"] == "dummy"
    assert flags["--attention-backend"] == "FLASHMLA"
    assert flags["--moe-backend"] == "triton"
    assert json.loads(flags["--speculative-config"]) == settings.speculative_config()
    assert "--quantization" not in flags and "--disable-log-stats" not in flags
    assert not any("api" in token for token in argv)  # the key travels in the environment


def test_serve_command_says_off_for_default_on_switches():
    argv = serve_command(VllmSettings(enable_prefix_caching=False), "h", 1, model_path="/m")
    assert "--no-enable-prefix-caching" in argv
    argv = serve_command(VllmSettings(), "h", 1, model_path="/m", on_cpu=True, extra_args=["-x"])
    assert argv[-5:] == ["--kv-cache-memory-bytes", str(1 << 30), "--block-size", "32", "-x"]


def _vllm_serve_parser():
    """vLLM's own `vllm serve` parser (0.26: entrypoints.openai; 0.32: entrypoints.launchers)."""
    pytest.importorskip("vllm")
    try:
        from vllm.utils.argparse_utils import FlexibleArgumentParser
    except ImportError:  # older layouts
        from vllm.utils import FlexibleArgumentParser
    try:
        from vllm.entrypoints.openai.cli_args import make_arg_parser
    except ImportError:
        from vllm.entrypoints.launchers.cli_args import make_arg_parser
    return make_arg_parser(FlexibleArgumentParser())


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"speculative": "auto", "load_format": "dummy", "cuda_graph_max_tokens": 1024},
        {
            "speculative": "ngram",
            "enable_expert_parallel": False,
            "kv_cache_dtype": "fp8",
            "attention_backend": "FLASHMLA",
            "moe_backend": "triton",
            "linear_backend": "cutlass",
            "enforce_eager": True,
            "enable_prefix_caching": False,
        },
    ],
)
def test_vllm_own_parser_reads_the_serve_command_back(dsv3, overrides):
    """Every flag is one vLLM knows, and it parses back into the engine kwargs: the server
    runs what the embedded engine would. Runs on vLLM's CPU build (no GPU needed)."""
    from vllm.engine.arg_utils import AsyncEngineArgs

    parser = _vllm_serve_parser()
    settings = gpu_settings_for(dsv3, 2, 141, **overrides)
    argv = serve_command(
        settings, "0.0.0.0", 8001, served_model_name="dsv3", vllm_distribution=True
    )
    assert argv[2:4] == [VLLM_SERVE_MODULE, "serve"]
    namespace = parser.parse_args(argv[4:])
    assert namespace.model_tag == str(dsv3)
    assert (namespace.host, namespace.port) == ("0.0.0.0", 8001)
    namespace.model = namespace.model_tag  # what `vllm serve` does with the positional
    engine_args = AsyncEngineArgs.from_cli_args(namespace)
    for key, value in settings.engine_kwargs(str(dsv3)).items():
        got = getattr(engine_args, key)
        if isinstance(value, dict) and not isinstance(got, dict):  # a config vLLM built from it
            got = {name: getattr(got, name) for name in value}
        assert got == value or str(got) == str(value), key
    # The kwargs themselves are AsyncEngineArgs fields, as VllmEngine passes them.
    AsyncEngineArgs(**settings.engine_kwargs(str(dsv3)))


# -- the CLI -------------------------------------------------------------------------------
def test_serve_model_dry_run_prints_the_command(dsv3, capsys, monkeypatch):
    monkeypatch.delenv("FATHOM_API_KEY", raising=False)
    code = main(
        [
            "serve-model",
            "--model",
            str(dsv3),
            "--gpus",
            "2",
            "--gpu-memory-gib",
            "141",
            "--host",
            "0.0.0.0",
            "--api-key",
            "s3cret",
            "--speculative",
            "auto",
            "--no-expert-parallel",
            "--dry-run",
            "--",
            "--max-num-seqs",
            "64",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0
    words = shlex.split(out)
    assert "VLLM_API_KEY=***" in words and "s3cret" not in out
    assert "VLLM_ALLREDUCE_USE_SYMM_MEM=0" in words
    argv = words[words.index(sys.executable) :]
    assert argv[1:5] == [*server_entry(has_vllm_distribution()), str(dsv3)]
    assert "--tensor-parallel-size" in argv and "--enable-expert-parallel" not in argv
    assert argv[-2:] == ["--max-num-seqs", "64"]
    assert "--disable-custom-all-reduce" in argv
    assert '"method":"mtp"' in out
    assert "fp8 128x128 blocks" in err and "http://0.0.0.0:8000/v1" in err


def test_serve_model_warns_without_api_key_beyond_localhost(dsv3, capsys, monkeypatch):
    monkeypatch.delenv("FATHOM_API_KEY", raising=False)
    args = ["serve-model", "--model", str(dsv3), "--gpus", "1", "--host", "0.0.0.0", "--dry-run"]
    assert main(args) == 0
    assert "without an API key" in capsys.readouterr().err


def test_serve_model_refuses_what_cannot_fit(dsv3_full, capsys):
    args = ["serve-model", "--model", str(dsv3_full), "--gpus", "8", "--gpu-memory-gib", "80"]
    assert main([*args, "--dry-run"]) == 2
    assert "does not fit" in capsys.readouterr().err


def test_serve_model_options_parse():
    args = build_parser().parse_args(
        [
            "serve-model",
            "--tensor-parallel-size",
            "8",
            "--expert-parallel",
            "--kv-cache-dtype",
            "fp8",
        ]
    )
    assert (args.tensor_parallel_size, args.expert_parallel, args.kv_cache_dtype) == (
        8,
        True,
        "fp8",
    )
    assert (args.host, args.port, args.vllm_args) == ("127.0.0.1", 8000, [])
    assert build_parser().parse_args(["serve-model"]).expert_parallel is None


def test_settings_are_constructed_as_before():
    settings = VllmSettings(model="m", max_model_len=1024, extra={"seed": 1})
    assert settings.model_info is None and settings.speculative == "off"


def test_serve_model_with_a_missing_model_says_so(tmp_path, capsys):
    assert main(["serve-model", "--model", str(tmp_path / "nope"), "--dry-run"]) == 1
    assert "does not exist" in capsys.readouterr().err
