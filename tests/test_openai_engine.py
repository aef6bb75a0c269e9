"""OpenAIEngine against a real ``vllm serve`` of the CPU default model, and against a tiny
real HTTP server in the test for what a healthy vLLM never does (503, 429, 500, 401, stalls,
streams cut short).

The real-server tests (marked ``model``) share one module-scoped server; the test that kills
a server mid-stream starts its own.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from fathom.backend.engine import ChatMessage, ChatRequest, Engine, EngineError, GenerationStats
from fathom.backend.fim import detect_fim
from fathom.backend.openai_engine import OpenAIEngine, token_starts_from_strings
from fathom.context import LineRange, Workspace
from fathom.context.text import read_text_file
from fathom.context.tokens import line_token_counts
from fathom.edits.plan import DocumentSnapshot
from fathom.pipeline.completion import DEFAULT_BUDGET, CompletionEngine, complete
from fathom.pipeline.edit_flow import run_edit
from tests.openai_stub import COMPLETIONS, StubServer, completion_reply, json_reply, sse_reply

SERVER_START_TIMEOUT_S = 300  # two cores shared with other test runs: be patient


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ask(text: str, max_tokens: int, **kwargs) -> ChatRequest:
    return ChatRequest([ChatMessage("user", text)], max_tokens=max_tokens, **kwargs)


# -- a real vllm serve ---------------------------------------------------------------------------
class VllmServer:
    """``python -m vllm.entrypoints.openai.api_server`` in its own process group."""

    def __init__(self, model_dir: Path, log: Path, kv_cache_bytes: int = 1 << 30) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.log = log
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "VLLM_NO_USAGE_STATS": "1",
            "DO_NOT_TRACK": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
        command = [
            sys.executable,
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            str(model_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--max-model-len",
            "4096",
            "--enforce-eager",
            # The CPU build sizes its KV cache from a fraction of RAM unless told; see
            # backend/vllm_settings.py.
            "--kv-cache-memory-bytes",
            str(kv_cache_bytes),
            # Usage then carries prompt_tokens_details.cached_tokens (off by default).
            "--enable-prompt-tokens-details",
            "--disable-uvicorn-access-log",
        ]
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"vllm serve exited with {self.proc.returncode}:\n{self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.5)
        self.stop()
        pytest.fail(
            f"vllm serve did not answer /health in {SERVER_START_TIMEOUT_S} s:\n{self.tail()}"
        )

    def kill(self) -> None:
        """SIGKILL the server and its engine process (the whole group it leads)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=30)
        self.kill()  # anything of its group still there
        self.proc.wait(timeout=30)

    async def metrics(self) -> dict[str, float]:
        """Prometheus values summed over labels: ``{"vllm:num_requests_running": 0.0, ...}``."""
        async with httpx.AsyncClient() as client:
            text = (await client.get(f"http://127.0.0.1:{self.port}/metrics", timeout=10)).text
        values: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith("vllm:"):
                name, value = line.split("{", 1)[0].split(" ", 1)[0], line.rsplit(" ", 1)[1]
                values[name] = values.get(name, 0.0) + float(value)
        return values


@pytest.fixture(scope="module")
def vllm_server(model_dir: Path, tmp_path_factory) -> Iterator[VllmServer]:
    server = VllmServer(model_dir, tmp_path_factory.mktemp("vllm") / "server.log")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.mark.model
async def test_streams_a_reply_that_continues_the_prefix(vllm_server, model_dir):
    engine = OpenAIEngine(vllm_server.url)
    assert isinstance(engine, Engine)
    try:
        await engine.start()
        # Model, window and tokenizer come from the server's /v1/models.
        assert engine.model_name == str(model_dir)
        assert engine.max_context == 4096
        assert engine.tokenizer_source == f"local:{model_dir}"

        prefix = "```python\ndef add("
        request = _ask(
            "Write a Python function add(a, b) that returns the sum of a and b. "
            "Reply with only the code.",
            64,
            assistant_prefix=prefix,
        )
        stats = GenerationStats()
        pieces = [p async for p in engine.stream(request, stats)]
        reply = "".join(pieces)
        assert len(pieces) > 1 and reply.strip()
        # The model continued the prefix (the caller prepends it); it did not start over.
        assert not reply.lstrip().startswith(("```", "def add"))
        code = (prefix + reply).removeprefix("```python\n").split("```")[0]
        tree = ast.parse(code)
        assert [f.name for f in tree.body if isinstance(f, ast.FunctionDef)] == ["add"]

        assert stats.finish_reason == "stop"
        assert 0 < stats.completion_tokens < 64
        # The prompt is the chat template's plus the prefix it continues, by the server's count.
        assert stats.prompt_tokens == engine.prompt_tokens(request.messages) + engine.count_tokens(
            prefix
        )
        assert stats.first_token_s is not None and 0 < stats.first_token_s <= stats.total_s
    finally:
        await engine.close()


@pytest.mark.model
async def test_server_tokenizer_counts_as_the_local_one(vllm_server, counter):
    """context/ gets the same counts and token starts whether the tokenizer is local or the
    server's /tokenize."""
    remote = OpenAIEngine(vllm_server.url, tokenizer="server")
    local = OpenAIEngine(vllm_server.url)
    texts = [
        'def f(x):\n    return "héllo 😀"\n\n\n',
        "  x = 1\r\n\ty = 2\n",
        "",
        "日本語のテキスト\n# コメント\n",
        "class A:\n    pass\n" * 30,
    ]
    try:
        await remote.start()
        await local.start()
        assert remote.tokenizer_source == "server" and remote.tokenizer is None
        assert local.tokenizer_source.startswith("local:")
        expected = counter.count_tokens_batch(texts)
        assert remote.count_tokens_batch(texts) == local.count_tokens_batch(texts) == expected
        assert [remote.count_tokens(t) for t in texts] == expected
        starts = [list(s) for s in counter.token_starts_batch(texts)]
        assert [list(s) for s in remote.token_starts_batch(texts)] == starts
        assert line_token_counts(remote, texts) == line_token_counts(counter, texts)
        messages = [ChatMessage("system", "Be brief."), ChatMessage("user", "Hi there")]
        assert remote.prompt_tokens(messages) == local.prompt_tokens(messages)
    finally:
        await remote.close()
        await local.close()


@pytest.mark.model
async def test_prefix_cache_hits_are_reported(vllm_server):
    engine = OpenAIEngine(vllm_server.url)
    # Unique per run, so the first request cannot hit what an earlier run left cached.
    code = f"# run {uuid.uuid4().hex}\n" + "".join(
        f"def step_{i}(value):\n    return value * {i} + {i * 7} - len(str(value))\n\n"
        for i in range(40)
    )
    try:
        first, second = GenerationStats(), GenerationStats()
        for question, stats in (("Which step adds 14?", first), ("Which step is last?", second)):
            request = _ask(f"{code}\n{question} Answer in one word.", 2)
            assert "".join([p async for p in engine.stream(request, stats)]) is not None
        assert second.prompt_tokens > 900
        assert first.cached_prompt_tokens < 100  # at most the chat template's system prompt
        # All but the question and the last, partly filled KV-cache block.
        assert second.cached_prompt_tokens > second.prompt_tokens - 300
    finally:
        await engine.close()


async def _first_pieces(engine: OpenAIEngine, request: ChatRequest, stats: GenerationStats):
    got: list[str] = []

    async def consume() -> None:
        async for piece in engine.stream(request, stats):
            got.append(piece)

    task = asyncio.create_task(consume())
    deadline = time.monotonic() + 120
    while not got and not task.done() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert got, "no text arrived"
    return task, got


async def _wait_idle(server: VllmServer, seconds: float) -> float:
    """Seconds until the server runs no request; fails after ``seconds``."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if (await server.metrics())["vllm:num_requests_running"] == 0:
            return time.monotonic() - started
        await asyncio.sleep(0.1)
    pytest.fail(f"vLLM still runs a request {seconds} s after it was cancelled")


# Long enough that a reply run to its end is far past any late stop: a CI run on two busy cores
# once saw a 400-token reply finish before the stop reached the server.
COUNT_TOKENS = 1500


@pytest.mark.model
async def test_cancelling_stops_the_generation_on_the_server(vllm_server):
    engine = OpenAIEngine(vllm_server.url)
    count = "Count from 1 to 1000, one number per line, nothing else."

    async def generated_since(before: float) -> float:
        return (await vllm_server.metrics())["vllm:generation_tokens_total"] - before

    try:
        await engine.start()
        for how in ("close the stream", "cancel the task", "abort the request"):
            before = (await vllm_server.metrics())["vllm:generation_tokens_total"]
            request, stats = _ask(count, COUNT_TOKENS), GenerationStats()
            if how == "close the stream":
                # How Fathom's own consumers leave a stream early (contextlib.aclosing). A
                # stream dropped without closing is only finalised when the garbage collector
                # gets to it, which a CI run showed can be after the whole reply was made.
                got = []
                async with contextlib.aclosing(engine.stream(request, stats)) as pieces:
                    async for piece in pieces:
                        got.append(piece)
                        at_close = await generated_since(before)
                        break
                await _wait_idle(vllm_server, 30)
                generated = await generated_since(before)
                assert generated < COUNT_TOKENS // 2, (
                    f"{how}: {generated} tokens, {at_close} when the stream was closed\n"
                    f"{vllm_server.tail()}"
                )
                continue
            task, got = await _first_pieces(engine, request, stats)
            assert (await vllm_server.metrics())["vllm:num_requests_running"] == 1
            if how == "cancel the task":
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            else:
                await engine.abort(request.request_id)
                await asyncio.wait_for(task, 60)  # the stream ends normally, not by an error
                assert stats.finish_reason == "abort"
            assert task.done()
            await _wait_idle(vllm_server, 30)
            generated = await generated_since(before)
            await asyncio.sleep(1)
            after = await generated_since(before)
            assert after == generated < COUNT_TOKENS // 2, how  # stopped, far from the end
            assert len("".join(got)) < COUNT_TOKENS
        # The server serves the next request as usual.
        assert "".join([p async for p in engine.stream(_ask("Say OK.", 4))]).strip()
    finally:
        await engine.close()


@pytest.mark.model
async def test_an_edit_runs_end_to_end_over_http(vllm_server, sample_project):
    """The edit flow on OpenAIEngine: context packed with its token counts, the reply
    continuing the diff prefix, the plan renaming the function."""
    engine = OpenAIEngine(vllm_server.url)
    report = (sample_project / "shop" / "report.py").resolve()

    def snapshot_of(path: Path) -> DocumentSnapshot:
        return DocumentSnapshot(path, read_text_file(path), None)

    try:
        await engine.start()
        outcome = await run_edit(
            engine,
            Workspace(sample_project, engine),
            snapshot_of(report),
            LineRange(3, 8),
            "Rename the function total_value to inventory_value.",
            snapshot_of=snapshot_of,
        )
    finally:
        await engine.close()
    new_text = outcome.plan.final_texts()[report]
    ast.parse(new_text)
    assert "def inventory_value(items):" in new_text and "def total_value" not in new_text
    assert outcome.stats.prompt_tokens > 0 and outcome.stats.completion_tokens > 0


# Kills the module's server (a server of its own cost CI an 80-second start), so it must run
# after every other test that uses it: checked first.
@pytest.mark.model
async def test_server_killed_mid_stream_is_a_clear_error(vllm_server, request):
    items = request.session.items
    later = items[items.index(request.node) + 1 :]
    assert not [item.name for item in later if "vllm_server" in getattr(item, "fixturenames", ())]
    doomed_server = vllm_server
    engine = OpenAIEngine(doomed_server.url, read_timeout=30, backoff_s=1.0)
    try:
        await engine.start()
        got: list[str] = []
        with pytest.raises(EngineError) as failure:
            async for piece in engine.stream(_ask("Count from 1 to 500, one per line.", 400)):
                got.append(piece)
                if len(got) == 1:
                    doomed_server.kill()
        message = str(failure.value)
        received = len("".join(got))
        assert received > 0
        assert f"The model server at {doomed_server.url} closed the stream after {received} " in (
            message
        )
        assert engine.requests_sent == 1  # the partial reply was not asked again
    finally:
        await engine.close()


# -- a tiny real HTTP server (tests/openai_stub.py) -------------------------------------------
def _engine(stub: StubServer, **kwargs) -> OpenAIEngine:
    kwargs = {"backoff_s": 0.01, "api_key": "", **kwargs}
    return OpenAIEngine(stub.url, **kwargs)


async def _reply(engine: OpenAIEngine, request: ChatRequest, stats=None) -> str:
    return "".join([p async for p in engine.stream(request, stats)])


async def test_503_and_429_are_retried_before_any_text(stub):
    stub.on(
        "/v1/chat/completions",
        json_reply(503, {"error": {"message": "overloaded"}}),
        json_reply(429, {"error": {"message": "slow down"}}, {"Retry-After": "1"}),
        sse_reply(["Hello", " world"]),
    )
    engine = _engine(stub)
    waits: list[float] = []
    chosen = engine.http.wait
    engine.http.wait = lambda state: waits.append(chosen(state)) or waits[-1]  # type: ignore[method-assign]
    request, stats = _ask("hi", 16), GenerationStats()
    assert await _reply(engine, request, stats) == "Hello world"
    assert len(waits) == 2 and waits[0] < 1.0 and waits[1] == 1.0  # Retry-After was honoured
    sent = stub.requests("/v1/chat/completions")
    assert len(sent) == engine.requests_sent == 3
    ids = [s.headers["X-Request-Id"] for s in sent]
    assert ids == [
        request.request_id,
        f"{request.request_id}-retry1",
        f"{request.request_id}-retry2",
    ]
    assert [s.body["request_id"] for s in sent] == ids
    assert (stats.prompt_tokens, stats.completion_tokens, stats.finish_reason) == (7, 2, "stop")
    await engine.close()


async def test_a_server_that_keeps_failing_is_an_error_after_max_retries(stub):
    stub.on("/v1/chat/completions", json_reply(500, {"error": {"message": "engine exploded"}}))
    engine = _engine(stub, max_retries=3)
    with pytest.raises(EngineError, match=r"answered 500: engine exploded \(after 4 tries\)"):
        await _reply(engine, _ask("hi", 16))
    assert len(stub.requests("/v1/chat/completions")) == 4
    await engine.close()


async def test_a_bad_request_is_not_retried(stub):
    message = "max_tokens=5000 cannot be greater than max_model_len=4096."
    stub.on(
        "/v1/chat/completions",
        json_reply(400, {"error": {"message": message, "type": "BadRequestError", "code": 400}}),
    )
    engine = _engine(stub)
    with pytest.raises(EngineError, match="answered 400: max_tokens=5000") as failure:
        await _reply(engine, _ask("hi", 16))
    assert "tries" not in str(failure.value)
    assert len(stub.requests("/v1/chat/completions")) == 1
    await engine.close()


async def test_no_server_at_start_says_it_is_not_reachable():
    url = f"http://127.0.0.1:{_free_port()}/v1"
    engine = OpenAIEngine(url, backoff_s=0.01, max_retries=2)
    with pytest.raises(EngineError, match=f"The model server at {url} is not reachable"):
        await engine.start()
    await engine.close()


async def test_a_stream_cut_after_text_is_an_error_not_a_retry(stub):
    stub.on(
        "/v1/chat/completions",
        sse_reply([], finish=False),  # cut before any text: asked again
        sse_reply(["partial ", "reply"], finish=False),  # cut after text: an error
    )
    engine = _engine(stub)
    got: list[str] = []
    with pytest.raises(EngineError) as failure:
        async for piece in engine.stream(_ask("hi", 16)):
            got.append(piece)
    assert got == ["partial ", "reply"]
    assert f"The model server at {stub.url} closed the stream after 13 characters" in str(
        failure.value
    )
    assert len(stub.requests("/v1/chat/completions")) == 2
    await engine.close()


async def test_a_stalled_stream_times_out(stub):
    stub.on("/v1/chat/completions", sse_reply(["one"], stall_s=5))
    engine = _engine(stub, read_timeout=1)
    with pytest.raises(EngineError, match="stopped sending after 3 characters"):
        await _reply(engine, _ask("hi", 16))
    assert len(stub.requests("/v1/chat/completions")) == 1
    await engine.close()


async def test_a_stream_without_done_or_with_an_error_event(stub):
    error = b'data: {"error": {"message": "the engine died", "code": 500}}\n\n'

    def fails(handler: BaseHTTPRequestHandler) -> None:
        sse_reply(["so far"], finish=False)(handler)
        handler.wfile.write(error)

    stub.on("/v1/chat/completions", sse_reply(["fine"], done=False), fails)
    engine = _engine(stub)
    assert await _reply(engine, _ask("hi", 16)) == "fine"  # a finish reason ends it too
    with pytest.raises(
        EngineError, match="failed after 6 characters of the reply: the engine died"
    ):
        await _reply(engine, _ask("hi", 16))
    await engine.close()


async def test_request_carries_vllm_fields_and_the_prefix(stub):
    stub.on("/v1/chat/completions", sse_reply(["a, b):"]))
    engine = _engine(stub)
    request = _ask("add", 5000, assistant_prefix="def add(", stop=["```"], temperature=0.2)
    assert await _reply(engine, request) == "a, b):"
    body = stub.requests("/v1/chat/completions")[0].body
    assert body["model"] == "stub-model"
    assert body["messages"] == [
        {"role": "user", "content": "add"},
        {"role": "assistant", "content": "def add("},
    ]
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
    assert body["max_tokens"] == 2048  # no more than the server's max_model_len
    assert (body["stop"], body["temperature"], body["stream"]) == (["```"], 0.2, True)
    assert body["stream_options"] == {"include_usage": True, "continuous_usage_stats": True}
    assert body["request_id"] == request.request_id
    await engine.close()


async def test_without_vllm_extensions_a_repeated_prefix_is_dropped(stub):
    stub.on(
        "/v1/chat/completions", sse_reply(["```di", "ff\n--- a/x.py\n"]), sse_reply(["-", "--"])
    )
    engine = _engine(stub, vllm_extensions=False)
    request = _ask("edit", 64, assistant_prefix="```diff\n")
    assert await _reply(engine, request) == "--- a/x.py\n"
    assert await _reply(engine, request) == "---"  # not the prefix: kept whole
    body = stub.requests("/v1/chat/completions")[0].body
    assert body["messages"] == [{"role": "user", "content": "edit"}]
    assert not {"continue_final_message", "request_id"} & body.keys()
    await engine.close()


async def test_api_key_from_the_environment_is_sent_and_never_shown(stub, monkeypatch):
    key = "sk-fathom-" + uuid.uuid4().hex
    monkeypatch.setenv("FATHOM_OPENAI_API_KEY", key)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-other")
    stub.on(
        "/v1/chat/completions",
        sse_reply(["ok"]),
        json_reply(401, {"error": {"message": f"Invalid API key {key}"}}),
    )
    engine = OpenAIEngine(stub.url, backoff_s=0.01)
    assert await _reply(engine, _ask("hi", 4)) == "ok"
    assert {s.headers["Authorization"] for s in stub.seen} == {f"Bearer {key}"}
    with pytest.raises(EngineError) as failure:
        await _reply(engine, _ask("hi", 4))
    message = str(failure.value)
    assert key not in message and key not in repr(engine)
    assert "refused the request (401: Invalid API key ***)" in message
    assert "FATHOM_OPENAI_API_KEY" in message
    assert len(stub.requests("/v1/chat/completions")) == 2  # a 401 is not retried
    await engine.close()

    monkeypatch.delenv("FATHOM_OPENAI_API_KEY")
    fallback = OpenAIEngine(stub.url)
    await fallback.start()
    assert stub.seen[-1].headers["Authorization"] == "Bearer sk-other"
    await fallback.close()


def test_token_starts_from_sentencepiece_strings_and_unknown_ones():
    text = "def f():\n  é"
    pieces = ["▁def", "▁f", "():", "<0x0A>", "▁▁", "é"]
    assert token_starts_from_strings(text, pieces) == [0, 3, 5, 8, 9, 11]
    # Strings that do not spell the text: spread evenly (counts stay exact).
    assert token_starts_from_strings("abcdefgh", ["??", "??", "??", "??"]) == [0, 2, 4, 6]


async def test_backoff_is_exponential_with_jitter_and_capped(stub):
    stub.on(
        "/v1/chat/completions",
        *[json_reply(503, {"error": {"message": "busy"}})] * 4,
        sse_reply(["ok"]),
    )
    engine = _engine(stub, backoff_s=0.01, max_backoff_s=0.03, max_retries=4)
    waits: list[float] = []
    chosen = engine.http.wait
    engine.http.wait = lambda state: waits.append(chosen(state)) or waits[-1]  # type: ignore[method-assign]
    assert await _reply(engine, _ask("hi", 4)) == "ok"
    # "Equal jitter": half of each step fixed, half random; steps double up to the cap.
    steps = [0.01, 0.02, 0.03, 0.03]
    assert len(waits) == len(steps)
    assert all(step / 2 <= wait <= step for wait, step in zip(waits, steps, strict=True))
    await engine.close()


async def test_plain_calls_are_retried_too(stub):
    models = {"data": [{"id": "stub-model", "max_model_len": 2048}]}
    stub.on(
        "/v1/models",
        json_reply(503, {"error": {"message": "warming up"}}),
        json_reply(502, {"error": {"message": "bad gateway"}}),
        json_reply(200, models),
    )
    engine = _engine(stub)
    await engine.start()
    assert engine.max_context == 2048
    assert len(stub.requests("/v1/models")) == 3
    await engine.close()

    stub.on("/v1/models", json_reply(500, {"error": {"message": "down"}}))
    failing = _engine(stub, max_retries=1)
    with pytest.raises(EngineError, match=r"answered 500: down \(after 2 tries\)"):
        await failing.start()
    await failing.close()

    stub.on("/v1/models", json_reply(403, {"error": {"message": "no"}}))
    refused = _engine(stub)
    with pytest.raises(EngineError, match=r"refused the request \(403: no\)") as failure:
        await refused.start()
    assert "tries" not in str(failure.value)
    assert len(stub.requests("/v1/models")) == 3 + 2 + 1  # the 403 was not asked again
    await refused.close()


async def test_a_reply_that_is_not_an_event_stream_is_a_clear_error(stub):
    stub.on("/v1/chat/completions", json_reply(200, {"choices": []}))
    engine = _engine(stub)
    with pytest.raises(EngineError, match="did not answer with an event stream") as failure:
        await _reply(engine, _ask("hi", 4))
    assert "application/json" in str(failure.value)
    assert len(stub.requests("/v1/chat/completions")) == 1  # asking again would not help
    await engine.close()


async def test_abort_ends_the_wait_before_a_retry(stub):
    stub.on(
        "/v1/chat/completions",
        json_reply(429, {"error": {"message": "later"}}, {"Retry-After": "600"}),
    )
    engine = _engine(stub, max_backoff_s=600)
    waits: list[float] = []
    chosen = engine.http.wait
    engine.http.wait = lambda state: waits.append(chosen(state)) or waits[-1]  # type: ignore[method-assign]
    request, stats = _ask("hi", 4), GenerationStats()
    task = asyncio.create_task(_reply(engine, request, stats))
    for _ in range(2000):  # until the 429 has come back and the stream waits to retry
        if waits or task.done():
            break
        await asyncio.sleep(0.01)
    assert waits == [600.0]
    await engine.abort(request.request_id)
    assert await asyncio.wait_for(task, 60) == ""  # ends normally, not after 600 s
    assert stats.finish_reason == "abort"
    assert len(stub.requests("/v1/chat/completions")) == 1
    assert engine.running_requests() == []
    await engine.close()


# -- raw-prompt completions (/v1/completions) ------------------------------------------------
FIM_PROMPT = "<|fim_prefix|>def add(a, b):\n    return <|fim_suffix|>\n<|fim_middle|>"


async def _complete(engine: OpenAIEngine, request_id: str, stats=None, **kwargs) -> str:
    stream = engine.complete_stream(
        FIM_PROMPT, 48, ["<|endoftext|>", "\n"], request_id, stats=stats, **kwargs
    )
    return "".join([p async for p in stream])


async def test_complete_stream_sends_the_raw_prompt_and_streams_the_text(stub):
    stub.on(COMPLETIONS, completion_reply(["a ", "+ ", "b"]))
    engine = _engine(stub)
    assert isinstance(engine, CompletionEngine)
    stats = GenerationStats()
    pieces = [
        p
        async for p in engine.complete_stream(
            FIM_PROMPT, 5000, ["<|endoftext|>", "\n"], "cmpl-1", stop_token_ids=[151643, 151659]
        )
    ]
    assert pieces == ["a ", "+ ", "b"]
    [seen] = stub.requests(COMPLETIONS)
    assert seen.body == {
        "model": "stub-model",
        "prompt": FIM_PROMPT,  # verbatim: no chat template, FIM tokens as written
        "max_tokens": 2048,  # no more than the server's max_model_len
        "temperature": 0.0,
        "stop": ["<|endoftext|>", "\n"],
        "stop_token_ids": [151643, 151659],
        "stream": True,
        "stream_options": {"include_usage": True, "continuous_usage_stats": True},
        "request_id": "cmpl-1",
    }
    assert seen.headers["X-Request-Id"] == "cmpl-1"
    assert not stub.requests("/v1/chat/completions")
    await _complete(engine, "cmpl-2", stats)
    assert (stats.prompt_tokens, stats.completion_tokens, stats.finish_reason) == (9, 3, "stop")
    assert stats.first_token_s is not None and engine.running_requests() == []
    await engine.close()


async def test_complete_stream_without_vllm_extensions_sends_the_openai_fields_only(stub):
    stub.on(COMPLETIONS, completion_reply(["a + b"]))
    engine = _engine(stub, vllm_extensions=False)
    assert await _complete(engine, "cmpl-1", stop_token_ids=[151643]) == "a + b"
    body = stub.requests(COMPLETIONS)[0].body
    assert not {"stop_token_ids", "request_id"} & body.keys()
    assert body["stream_options"] == {"include_usage": True}
    await engine.close()


async def test_complete_stream_records_a_reply_cut_by_max_tokens(stub):
    stub.on(COMPLETIONS, completion_reply(["a + b", " + c"], finish="length"))
    engine = _engine(stub)
    stats = GenerationStats()
    assert await _complete(engine, "cmpl-1", stats) == "a + b + c"
    assert stats.finish_reason == "length"  # completion_cut drops a partial last line
    await engine.close()


async def test_complete_stream_is_retried_only_before_its_first_text(stub):
    stub.on(
        COMPLETIONS,
        json_reply(503, {"error": {"message": "overloaded"}}),
        completion_reply([], cut=True),  # ended before any text: asked again
        completion_reply(["a + b"]),
        completion_reply(["a ", "+"], cut=True),  # cut after text: an error
    )
    engine = _engine(stub)
    assert await _complete(engine, "cmpl-1") == "a + b"
    sent = stub.requests(COMPLETIONS)
    ids = ["cmpl-1", "cmpl-1-retry1", "cmpl-1-retry2"]
    assert [s.headers["X-Request-Id"] for s in sent] == [s.body["request_id"] for s in sent] == ids
    assert {s.body["prompt"] for s in sent} == {FIM_PROMPT}

    got: list[str] = []
    with pytest.raises(EngineError) as failure:
        async for piece in engine.complete_stream(FIM_PROMPT, 48, ["\n"], "cmpl-2"):
            got.append(piece)
    assert got == ["a ", "+"]
    assert f"The model server at {stub.url} closed the stream after 3 characters" in str(
        failure.value
    )
    assert len(stub.requests(COMPLETIONS)) == 4 == engine.requests_sent  # not asked again
    await engine.close()


async def test_leaving_or_aborting_a_completion_closes_its_stream(stub):
    closed, aborted = threading.Event(), threading.Event()
    stub.on(
        COMPLETIONS,
        completion_reply(["a"], hold_s=60, gone=closed),
        completion_reply(["b"], hold_s=60, gone=aborted),
    )
    engine = _engine(stub)
    # The consumer leaves after the first piece (how pipeline/completion.py stops once the
    # unit is complete): the HTTP stream closes, which makes vLLM abort the request.
    async with contextlib.aclosing(engine.complete_stream(FIM_PROMPT, 48, [], "one")) as pieces:
        assert await anext(pieces) == "a"
    assert await asyncio.to_thread(closed.wait, 30)
    assert engine.running_requests() == []

    stats = GenerationStats()
    got: list[str] = []

    async def consume() -> None:
        async for piece in engine.complete_stream(FIM_PROMPT, 48, [], "two", stats=stats):
            got.append(piece)

    task = asyncio.create_task(consume())
    while not got and not task.done():
        await asyncio.sleep(0.01)
    assert engine.running_requests() == ["two"]
    await engine.abort("two")
    await asyncio.wait_for(task, 30)  # ends normally, long before the stub's 60 s
    assert got == ["b"] and stats.finish_reason == "abort"
    assert await asyncio.to_thread(aborted.wait, 30)
    await engine.close()


async def test_a_completion_runs_end_to_end_over_http(stub, tokenizer_dir):
    """pipeline.completion.complete on OpenAIEngine: the FIM format read from the local
    tokenizer, the prompt sent raw, the suggestion cut to the line."""
    stub.on(COMPLETIONS, completion_reply(["a + b", "\n", "print(add(1, 2))"]))
    engine = _engine(stub, tokenizer=str(tokenizer_dir))
    fim = detect_fim(engine.tokenizer).format
    assert fim is not None
    text = "def add(a, b):\n    return \n"
    result = await complete(
        engine, fim, text, 1, 11, language="python", count_tokens=engine.count_tokens
    )
    assert result.text == "a + b"
    body = stub.requests(COMPLETIONS)[0].body
    assert body["prompt"] == fim.prompt(text[:26], text[26:])
    assert "\n" in body["stop"] and body["stop_token_ids"] == list(fim.stop_token_ids)
    assert body["max_tokens"] == DEFAULT_BUDGET.single_line_tokens
    await engine.close()
