"""An Engine that replays recorded model replies, for tests of the edit plumbing.

It never stands in for the real model in an end-to-end test; it lets the LSP layer be driven
through replies a real model is known to give (or to get wrong) without minutes of CPU time.
It counts tokens with a real model's tokenizer when given one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from fathom.backend.engine import ChatMessage, ChatRequest, EngineError, GenerationStats
from fathom.backend.tokenizer import HFTokenCounter


@dataclass(frozen=True, slots=True)
class RecordedReply:
    text: str
    # Pace of the replay; a slow reply leaves time for the editor to act mid-generation.
    seconds_per_chunk: float = 0.0


class ReplayEngine:
    def __init__(
        self,
        replies: Sequence[RecordedReply | str],
        tokenizer_path: str | None = None,
        max_context: int = 32768,
    ) -> None:
        self._replies = [r if isinstance(r, RecordedReply) else RecordedReply(r) for r in replies]
        self._tokenizer_path = tokenizer_path
        self._counter: HFTokenCounter | None = None
        self._max_context = max_context
        self.requests: list[ChatRequest] = []
        self._aborted: set[str] = set()
        self._running: set[str] = set()

    @classmethod
    def from_file(cls, path: Path, tokenizer_path: str | None = None) -> ReplayEngine:
        """``path`` holds a JSON list, in order, of replies: strings or
        ``{"text": ..., "seconds_per_chunk": ...}`` objects."""
        raw = orjson.loads(path.read_bytes())
        try:
            replies = [r if isinstance(r, str) else RecordedReply(**r) for r in raw]
        except TypeError as exc:
            raise EngineError(f"{path} must hold a JSON list of strings or reply objects") from exc
        return cls(replies, tokenizer_path)

    @property
    def model_name(self) -> str:
        return "replay"

    @property
    def max_context(self) -> int:
        return self._max_context

    @property
    def tokenizer_fingerprint(self) -> str:
        """The given tokenizer's content, or the estimate's name without one."""
        return self._counter.fingerprint if self._counter is not None else "chars/4"

    async def start(self) -> None:
        if self._tokenizer_path and self._counter is None:
            self._counter = await asyncio.to_thread(HFTokenCounter.from_model, self._tokenizer_path)

    def count_tokens(self, text: str) -> int:
        if self._counter is not None:
            return self._counter.count_tokens(text)
        return max(1, len(text) // 4)  # no tokenizer given: a rough, stable estimate

    def count_tokens_batch(self, texts: list[str]) -> list[int]:
        if self._counter is not None:
            return self._counter.count_tokens_batch(texts)
        return [self.count_tokens(t) for t in texts]

    def token_starts_batch(self, texts: list[str]) -> list[Sequence[int]]:
        if self._counter is not None:
            return self._counter.token_starts_batch(texts)
        return [range(0, len(t), 4) for t in texts]

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return sum(self.count_tokens(m.content) for m in messages)

    async def stream(
        self, request: ChatRequest, stats: GenerationStats | None = None
    ) -> AsyncGenerator[str, None]:
        if not self._replies:
            raise EngineError("the replay engine has no recorded reply left")
        self.requests.append(request)
        recorded = self._replies.pop(0)
        # A recorded reply continues the request's prefix, as the real model's would.
        reply = recorded.text.removeprefix(request.assistant_prefix)
        if stats is not None:
            stats.prompt_tokens = self.prompt_tokens(request.messages)
        self._running.add(request.request_id)
        try:
            for start in range(0, len(reply), 16):
                if request.request_id in self._aborted:
                    return
                await asyncio.sleep(recorded.seconds_per_chunk)
                if stats is not None:
                    stats.completion_tokens += 1
                yield reply[start : start + 16]
        finally:
            self._running.discard(request.request_id)

    def running_requests(self) -> list[str]:
        """The requests streaming now, as ``fathom.status`` lists them."""
        return sorted(self._running)

    async def abort(self, request_id: str) -> None:
        self._aborted.add(request_id)

    async def close(self) -> None:
        return None
