"""One model server for a whole eval run (``run_eval.py --serve``): vLLM's OpenAI-compatible
server with the settings ``fathom serve-model`` chooses, on a free loopback port, so that
every task's ``fathom edit --server-url`` reuses one engine instead of starting its own
(about 85 s each on the CPU).

The command is the one ``fathom serve-model --dry-run`` prints for the model, run in its own
process group (logging to a file) and stopped with the group when the run ends, by Ctrl-C
included.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.eval.suite_io import cache_env

POLL_S = 2.0
STOP_GRACE_S = 30.0


class ServerError(RuntimeError):
    """The model server did not come up (its log says why)."""


@dataclass(frozen=True, slots=True)
class ServedModel:
    url: str  # the API root, http://127.0.0.1:PORT/v1
    name: str  # the served model's id, what --server-model names
    root: str  # its folder, which --server-tokenizer counts tokens with
    command: list[str]
    start_s: float  # from launch to /v1/models answering
    log: Path


def free_port() -> int:
    """A loopback port nobody listens on now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def parse_dry_run(line: str) -> tuple[dict[str, str], list[str]]:
    """(environment, argv) of the shell line ``fathom serve-model --dry-run`` prints: its
    leading ``NAME=value`` words are the environment."""
    words = shlex.split(line)
    env: dict[str, str] = {}
    while words and "=" in words[0] and words[0].split("=", 1)[0].isidentifier():
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    return env, words


def server_command(
    fathom: list[str],
    model: str,
    port: int,
    max_model_len: int | None,
    env: dict[str, str],
) -> tuple[dict[str, str], list[str]]:
    """The environment and argv Fathom would serve ``model`` with on ``port``. The dry run
    also converts a packaged model into ``$FATHOM_CACHE_DIR/models`` on first use."""
    dry = [*fathom, "serve-model", "--model", model, "--host", "127.0.0.1", "--port", str(port)]
    if max_model_len:
        dry += ["--max-model-len", str(max_model_len)]
    done = subprocess.run(
        [*dry, "--dry-run"], capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise ServerError(f"{shlex.join(dry)} --dry-run failed:\n{done.stderr[-2000:]}")
    # The command runs on this install as printed (the CPU wheel's entry point included:
    # backend/serve_command.py).
    return parse_dry_run(lines[-1])


def served_models(url: str) -> list[dict[str, object]] | None:
    """``/v1/models``' entries, or None while the server does not answer."""
    try:
        with urllib.request.urlopen(f"{url}/models", timeout=5) as response:
            data = json.loads(response.read()).get("data")
    except (OSError, ValueError, AttributeError):
        return None
    return data if isinstance(data, list) and data else None


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """End the server's whole process group (vLLM's engine runs in a child process): politely,
    then, after a grace period, for good (also the children a leader that exited left)."""
    with contextlib.suppress(ProcessLookupError):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=STOP_GRACE_S)
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@contextmanager
def serve(
    fathom: list[str],
    model: str,
    cache_dir: Path,
    log: Path,
    max_model_len: int | None = None,
    start_timeout_s: float = 1200.0,
    say: Callable[[str], None] = print,
) -> Iterator[ServedModel]:
    """Serve ``model`` (its cache in ``cache_dir``) until the block ends, however it ends."""
    env = {**os.environ, **cache_env(cache_dir)}
    env.pop("FATHOM_API_KEY", None)  # a key the edits would not send
    port = free_port()
    server_env, argv = server_command(fathom, model, port, max_model_len, env)
    url = f"http://127.0.0.1:{port}/v1"
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            argv,
            env={**env, **server_env},
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        say(f"serving {model} at {url} (log: {log})")
        while (models := served_models(url)) is None:
            if proc.poll() is not None:
                raise ServerError(f"the model server exited {proc.returncode}:\n{_tail(log)}")
            if time.monotonic() - started > start_timeout_s:
                raise ServerError(f"the model server did not answer in {start_timeout_s} s")
            time.sleep(POLL_S)
        entry = models[0]
        yield ServedModel(
            url=url,
            name=str(entry.get("id")),
            root=str(entry.get("root") or entry.get("id")),
            command=argv,
            start_s=round(time.monotonic() - started, 1),
            log=log,
        )
    finally:
        _stop(proc)
