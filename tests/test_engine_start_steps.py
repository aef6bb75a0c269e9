"""The steps of a vLLM start, read from the logs of the processes it spawns."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fathom.backend import engine_start_steps
from fathom.backend.engine_start_steps import describe, telling_start_steps

# Messages as vLLM logged them: 0.26 starting Qwen3-Coder-30B-A3B on an H100
# (bench/results/completion_latency_h100-quantk-qwen3-30b-cold.log) and 0.32 starting the
# CPU default model.
GPU_START = [
    "Starting to load model /tmp/fathom-qwen3-30b-real-tokenizer...",
    "Selected DeepGemmFp8BlockScaledMMKernel for Fp8LinearMethod",
    "Model loading took 29.13 GiB memory and 8.194143 seconds",
    "Dynamo bytecode transform time: 9.93 s",
    "Compiling a graph for compile range (1, 8192) takes 14.27 s",
    "torch.compile took 29.31 s in total",
    "Available KV cache memory: 24.83 GiB",
    "GPU KV cache size: 271,216 tokens",
    "Graph capturing finished in 20 secs, took 0.41 GiB",
    "init engine (profile, create kv cache, warmup model) took 208.71 s (compilation: 29.31 s)",
]
CPU_START = [
    "Starting to load model /tmp/cache/models/qwen2.5-coder-0.5b-instruct-1d9614638d18...",
    "Initializing model took 0.132249 seconds",
    "Loading weights took 0.57 seconds",
    "CPU KV cache size: 87,296 tokens, Maximum concurrency for 32,768 tokens per request: 2.66x",
    "init engine (profile, create kv cache, warmup model) took 0.54 s",
]


def test_each_step_of_a_gpu_and_a_cpu_start_is_told_in_words():
    told = [m for m in map(describe, GPU_START) if m]
    assert told == [
        "Loading the weights",
        "Loaded 29.1 GiB of weights in 8.2 s",
        "Compiling the model (torch.compile)",
        "Compiled the model in 29 s; measuring its memory",
        "Room for 271,216 tokens of KV cache; warming up the kernels",
        "Captured the CUDA graphs in 20 s",
        "Engine ready (its set-up after loading took 209 s)",
    ]
    told = [m for m in map(describe, CPU_START) if m]
    assert told == [
        "Loading the weights",
        "Loaded the weights in 0.6 s",
        "Room for 87,296 tokens of KV cache; warming up the kernels",
        "Engine ready (its set-up after loading took 0.5 s)",
    ]


CHILD = """
import logging, sys
import vllm.logger  # vLLM 0.26 configures its logging from the environment here
if hasattr(vllm.logger, "configure_logging"):  # 0.32: from a LoggingConfig, as its processes do
    from vllm.config.logging import LoggingConfig
    vllm.logger.configure_logging(LoggingConfig())
log = logging.getLogger("vllm.worker")
for line in sys.argv[1:]:
    log.info(line)
log.error("a real error reaches the console")
log.info("Starting to load model after the end: not told")
"""


def test_a_process_started_inside_tells_its_steps_and_nothing_is_left_behind(
    monkeypatch: pytest.MonkeyPatch,
):
    for name in ("VLLM_LOGGING_CONFIG_PATH", "VLLM_CONFIGURE_LOGGING"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VLLM_LOGGING_LEVEL", "ERROR")  # Fathom's quiet console
    monkeypatch.setenv("VLLM_LOGGING_STREAM", "ext://sys.stderr")
    told: list[str] = []
    with telling_start_steps(told.append):
        config = Path(os.environ["VLLM_LOGGING_CONFIG_PATH"])
        child = subprocess.run(
            [sys.executable, "-c", CHILD, *CPU_START, "an unrelated INFO message"],
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert child.returncode == 0, child.stderr[-2000:]
    assert told == [m for m in map(describe, CPU_START) if m]
    # vLLM's console stays as the environment asked: errors only.
    assert "a real error reaches the console" in child.stderr
    assert "Loading weights took" not in child.stderr + child.stdout
    # The environment is as it was and the temporary folder is gone.
    assert "VLLM_LOGGING_CONFIG_PATH" not in os.environ
    assert "VLLM_CONFIGURE_LOGGING" not in os.environ
    assert not config.parent.exists()


def test_a_logging_config_of_the_users_own_is_left_alone(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("VLLM_LOGGING_CONFIG_PATH", "/etc/team/vllm-logging.json")
    told: list[str] = []
    with telling_start_steps(told.append):
        assert os.environ["VLLM_LOGGING_CONFIG_PATH"] == "/etc/team/vllm-logging.json"
    monkeypatch.delenv("VLLM_LOGGING_CONFIG_PATH")
    monkeypatch.setenv("VLLM_CONFIGURE_LOGGING", "0")  # vLLM's logging left unconfigured
    with telling_start_steps(told.append):
        assert "VLLM_LOGGING_CONFIG_PATH" not in os.environ
    assert told == []


def test_the_step_file_stops_growing_after_the_last_step(tmp_path: Path):
    import logging

    path = tmp_path / "steps.log"
    handler = engine_start_steps.StepFileHandler(str(path))
    for message in [*CPU_START, *CPU_START]:  # a second start's messages come after the end
        handler.handle(logging.LogRecord("vllm", logging.INFO, __file__, 1, message, None, None))
    assert path.read_text().splitlines() == [m for m in CPU_START if describe(m)]


IN_PROCESS = """
import logging
import vllm.logger
from fathom.backend.engine_start_steps import StepFileHandler, telling_start_steps


def step_handlers():
    return [h for h in logging.getLogger("vllm").handlers if isinstance(h, StepFileHandler)]


with telling_start_steps(print):
    # What vLLM 0.32 does in the process that creates the engine: its logging from the file.
    from vllm.config.logging import LoggingConfig
    vllm.logger.configure_logging(LoggingConfig())
    print("during", len(step_handlers()))
print("after", len(step_handlers()))
"""


def test_the_step_handler_leaves_the_process_that_started_the_engine(
    monkeypatch: pytest.MonkeyPatch,
):
    for name in ("VLLM_LOGGING_CONFIG_PATH", "VLLM_CONFIGURE_LOGGING"):
        monkeypatch.delenv(name, raising=False)
    child = subprocess.run(
        [sys.executable, "-c", IN_PROCESS], capture_output=True, text=True, timeout=300
    )
    assert child.returncode == 0, child.stderr[-2000:]
    assert "during 1" in child.stdout  # it was there for the start ...
    assert "after 0" in child.stdout  # ... and is gone after it
