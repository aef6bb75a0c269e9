"""The steps of a vLLM engine's start, read from its own processes' logs and told as progress.

A first start on a GPU takes minutes: loading the weights, torch.compile, DeepGEMM's warm-up
and CUDA graph capture took 182-245 s on an H100 (bench/results/completion_whole_model_h100.md).
It all happens in vLLM's engine-core and worker processes, whose console logging Fathom keeps
at ERROR, so the editor used to see one "Starting the engine" for all of it. For the start,
vLLM's processes get a logging config of their own (``VLLM_LOGGING_CONFIG_PATH``, vLLM's
documented ``dictConfig`` file): vLLM's console handler as it was, plus
:class:`StepFileHandler`, which appends the few messages that name a step to a file in a
private temporary folder. A thread reads that file as it grows and tells each step in words.
A step vLLM stops logging is simply not told; the progress's own clock still runs.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

CONFIG_PATH = "VLLM_LOGGING_CONFIG_PATH"
CONFIGURE = "VLLM_CONFIGURE_LOGGING"


def _seconds(value: str) -> str:
    seconds = float(value)
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"


# vLLM's messages (0.26 on GPUs, 0.32 on the CPU) and what the progress says for each, in the
# order a start logs them. The last one ends the start.
STEPS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"Starting to load model"), lambda m: "Loading the weights"),
    (
        re.compile(r"Loading weights took ([\d.]+) s"),
        lambda m: f"Loaded the weights in {_seconds(m[1])}",
    ),
    (
        re.compile(r"Model loading took ([\d.]+) GiB memory and ([\d.]+) s"),
        lambda m: f"Loaded {float(m[1]):.1f} GiB of weights in {_seconds(m[2])}",
    ),
    (
        re.compile(r"Dynamo bytecode transform time"),
        lambda m: "Compiling the model (torch.compile)",
    ),
    (
        re.compile(r"torch\.compile took ([\d.]+) s in total"),
        lambda m: f"Compiled the model in {_seconds(m[1])}; measuring its memory",
    ),
    (
        re.compile(r"KV cache size: ([\d,]+) tokens"),
        lambda m: f"Room for {m[1]} tokens of KV cache; warming up the kernels",
    ),
    (
        re.compile(r"Graph capturing finished in (\d+) secs"),
        lambda m: f"Captured the CUDA graphs in {m[1]} s",
    ),
    (
        re.compile(r"init engine .*took ([\d.]+) s"),
        lambda m: f"Engine ready (its set-up after loading took {_seconds(m[1])})",
    ),
)
LAST = STEPS[-1][0]


def describe(line: str) -> str | None:
    """The progress message for one of vLLM's log messages, None for one that names no step."""
    for pattern, words in STEPS:
        found = pattern.search(line)
        if found:
            return words(found)
    return None


class StepFileHandler(logging.Handler):
    """In vLLM's processes: appends each message that names a step to ``path``; after the last
    step it writes nothing more, so the file stays a few lines long."""

    def __init__(self, path: str) -> None:
        super().__init__(logging.INFO)
        self.path = path
        self.done = False

    def emit(self, record: logging.LogRecord) -> None:
        if self.done:
            return
        message = " ".join(record.getMessage().split())
        if describe(message) is None:
            return
        self.done = LAST.search(message) is not None
        # The folder is gone once the start is over (OSError: nothing to tell any more).
        with contextlib.suppress(OSError), open(self.path, "a", encoding="utf-8") as file:
            file.write(message + "\n")


def logging_config(steps: Path) -> dict[str, Any]:
    """vLLM's own default logging config (its console handler at the level the environment
    asks for), with :class:`StepFileHandler` beside it at INFO."""
    from vllm.logger import DEFAULT_LOGGING_CONFIG

    config = copy.deepcopy(DEFAULT_LOGGING_CONFIG)
    level = os.environ.get("VLLM_LOGGING_LEVEL", "INFO").upper()
    console = config["handlers"]["vllm"]
    console["level"] = level
    console["stream"] = os.environ.get("VLLM_LOGGING_STREAM", "ext://sys.stdout")
    config["handlers"]["fathom_steps"] = {"()": f"{__name__}.StepFileHandler", "path": str(steps)}
    logger = config["loggers"]["vllm"]
    logger["handlers"] = [*logger["handlers"], "fathom_steps"]
    logger["level"] = "DEBUG" if level == "DEBUG" else "INFO"
    return config


class _Reader(threading.Thread):
    def __init__(self, path: Path, tell: Callable[[str], None]) -> None:
        super().__init__(name="fathom-engine-start-steps", daemon=True)
        self.path = path
        self.tell = tell
        self.stopped = threading.Event()
        self.offset = 0

    def run(self) -> None:
        while not self.stopped.wait(0.25):
            self.read()
        self.read()

    def read(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            with open(self.path, "rb") as file:
                file.seek(self.offset)
                data = file.read()
            whole = data[: data.rfind(b"\n") + 1]  # a line still being written waits
            self.offset += len(whole)
            for line in whole.decode("utf-8", "replace").splitlines():
                message = describe(line)
                if message:
                    self.tell(message)


@contextlib.contextmanager
def telling_start_steps(tell: Callable[[str], None]) -> Iterator[None]:
    """Around the start of a vLLM engine (the processes it spawns inherit the environment):
    tells each step they log. Does nothing where the user configured vLLM's logging."""
    if os.environ.get(CONFIG_PATH) or os.environ.get(CONFIGURE, "1") == "0":
        yield
        return
    folder = Path(tempfile.mkdtemp(prefix="fathom-engine-start-"))
    steps = folder / "steps.log"
    config = folder / "logging.json"
    config.write_text(json.dumps(logging_config(steps)), encoding="utf-8")
    saved = {name: os.environ.get(name) for name in (CONFIG_PATH, CONFIGURE)}
    os.environ.update({CONFIG_PATH: str(config), CONFIGURE: "1"})
    reader = _Reader(steps, tell)
    reader.start()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reader.stopped.set()
        reader.join()
        _detach(steps)
        shutil.rmtree(folder, ignore_errors=True)


def _detach(steps: Path) -> None:
    """Takes the step handler off vLLM's logger in this process, where vLLM configured its
    logging from the file during the start (0.32 does, in the process that creates the
    engine): the last step is logged in the engine's own process, so this one would otherwise
    match every INFO record of the process's life against the steps' patterns."""
    logger = logging.getLogger("vllm")
    for handler in list(logger.handlers):
        if isinstance(handler, StepFileHandler) and handler.path == str(steps):
            logger.removeHandler(handler)
            handler.close()
