"""VllmEngine with the real CPU default model: stream, count tokens, abort, complete code,
bad models. The model tests share one engine (a start costs about a minute)."""

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from fathom.backend.engine import (
    ChatMessage,
    ChatRequest,
    Engine,
    GenerationStats,
    ModelUnavailableError,
)
from fathom.backend.fim import detect_fim
from fathom.backend.vllm_engine import VllmEngine, resolve_model
from fathom.backend.vllm_settings import VllmSettings
from fathom.pipeline.completion import CompletionEngine, complete


def _ask(text: str, max_tokens: int) -> ChatRequest:
    return ChatRequest([ChatMessage("user", text)], max_tokens=max_tokens)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def engine(model_dir: Path) -> AsyncIterator[VllmEngine]:
    started = VllmEngine(VllmSettings(model=str(model_dir), max_model_len=4096))
    try:
        await started.start()
        yield started
    finally:
        await started.close()


@pytest.mark.model
@pytest.mark.asyncio(loop_scope="module")
async def test_engine_streams_counts_and_aborts(engine, tokenizer):
    assert isinstance(engine, Engine)
    assert engine.max_context == 4096

    # A short greedy generation: real text, stats filled in.
    stats = GenerationStats()
    pieces = [
        p async for p in engine.stream(_ask("What is 2 + 3? Answer with a number.", 16), stats)
    ]
    reply = "".join(pieces)
    assert "5" in reply
    assert 0 < stats.completion_tokens <= 16
    assert stats.prompt_tokens > 10 and stats.first_token_s is not None

    # Token counts are the model's own tokenizer's.
    text = "def total_value(items): return sum(i.price for i in items) 😀"
    assert engine.count_tokens(text) == len(tokenizer.encode(text, add_special_tokens=False))

    # Abort mid-stream: the stream ends early, well before max_tokens.
    request = _ask("Count from 1 to 500, one number per line.", 400)
    got: list[str] = []

    async def consume() -> None:
        async for piece in engine.stream(request):
            got.append(piece)

    task = asyncio.create_task(consume())
    while not got:
        await asyncio.sleep(0.05)
    started = time.monotonic()
    await engine.abort(request.request_id)
    await asyncio.wait_for(task, timeout=10)
    assert time.monotonic() - started < 5
    assert len("".join(got)) < 400  # far from 400 tokens of numbers

    # The engine still serves after an abort.
    again = "".join([p async for p in engine.stream(_ask("Say OK.", 4))])
    assert again.strip()


@pytest.mark.model
@pytest.mark.asyncio(loop_scope="module")
async def test_completion_fills_in_the_middle(engine):
    """pipeline.completion.complete on the embedded engine: the raw FIM prompt of the
    model's own format, a one-line suggestion without its special tokens."""
    assert isinstance(engine, CompletionEngine)
    fim = detect_fim(engine.tokenizer).format
    assert fim is not None and fim.family == "qwen"
    text = 'def greet(name):\n    return "Hello, " + \n\n\nprint(greet("world"))\n'
    cursor = len('    return "Hello, " + ')
    stats = GenerationStats()
    result = await complete(
        engine,
        fim,
        text,
        1,
        cursor,
        language="python",
        count_tokens=engine.count_tokens,
        path="greet.py",
        stats=stats,
    )
    assert result.mode == "single"
    assert result.text.strip(), result.reason
    assert "\n" not in result.text
    assert not any(token in result.raw for token in fim.special_tokens)
    assert stats.finish_reason in ("stop", "length")
    assert stats.prompt_tokens > 10 and stats.completion_tokens > 0
    assert engine.running_requests() == []


def test_missing_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ModelUnavailableError, match="does not exist"):
        resolve_model(str(tmp_path / "nowhere"), print)
    with pytest.raises(ModelUnavailableError, match=r"no config\.json"):
        resolve_model(str(tmp_path), print)
