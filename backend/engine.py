"""The Engine interface every backend implements, and the values it speaks in."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from fathom.errors import FathomError

Role = Literal["system", "user", "assistant"]


class EngineError(FathomError):
    """The engine failed to start or to generate; the message says what to do."""


class ModelUnavailableError(EngineError):
    """The model is missing or corrupt (for example a sha256 mismatch)."""


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One chat completion. ``request_id`` is what :meth:`Engine.abort` takes."""

    messages: Sequence[ChatMessage]
    max_tokens: int = 1024
    # Greedy by default: an edit should be reproducible, not creative.
    temperature: float = 0.0
    # Above 1, tokens already in the prompt or the reply are made less likely (vLLM's
    # repetition_penalty): a cure for loops, and a cost to a diff that copies its block.
    repetition_penalty: float = 1.0
    # With a temperature above 0: the same seed samples the same reply (a rerun reproduces).
    seed: int | None = None
    stop: Sequence[str] = ()
    # The reply is made to start with this text (the model continues it). Steering a small
    # model into the diff format this way costs nothing and is visible in the reply.
    assistant_prefix: str = ""
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # A JSON schema the reply must follow, enforced by the engine while it samples (vLLM's
    # structured outputs): a small model cannot then break the format of a review.
    json_schema: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Decoding:
    """How an edit's tokens are picked: greedy and unpenalised unless a user says otherwise
    (bench/results/eval_decoding.md measures the alternatives on the edit suite)."""

    temperature: float = 0.0
    repetition_penalty: float = 1.0
    # A reply asked again (it changed nothing, did not land, looped) in the same conversation,
    # decoded greedily, mostly repeats the reply it was asked to fix: 12 of the 1.5B's 13
    # retries on the edit suite did. None: retries as the first reply.
    retry_temperature: float | None = None

    def for_retry(self, round_number: int) -> tuple[float, int | None]:
        """(temperature, seed) of the ``round_number``-th retry: seeded by its round, so a
        rerun of the same edit samples the same replies."""
        if self.retry_temperature is None:
            return self.temperature, None
        return self.retry_temperature, round_number

    def problem(self) -> str | None:
        """What is wrong with these values, said for a user, or None."""
        for name, value in (("", self.temperature), ("retry ", self.retry_temperature)):
            if value is not None and not 0.0 <= value <= 2.0:
                return f"the {name}temperature is {value}; it takes 0 (greedy) to 2"
        if not 0.0 < self.repetition_penalty <= 2.0:
            return (
                f"the repetition penalty is {self.repetition_penalty}; it takes more than 0 "
                "and at most 2 (1 is none)"
            )
        return None


GREEDY = Decoding()


@dataclass(slots=True)
class GenerationStats:
    """Filled in while a request streams; read it after the stream ends."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    first_token_s: float | None = None
    total_s: float = 0.0
    finish_reason: str | None = None


@runtime_checkable
class Engine(Protocol):
    """A chat model that streams text and can be cancelled mid-generation."""

    @property
    def model_name(self) -> str: ...

    @property
    def max_context(self) -> int:
        """Prompt plus output tokens the engine accepts for one request."""
        ...

    async def start(self) -> None:
        """Load the model. Idempotent; callers may also rely on ``stream`` starting it."""
        ...

    def stream(
        self, request: ChatRequest, stats: GenerationStats | None = None
    ) -> AsyncGenerator[str, None]:
        """Yield the reply's text in pieces as the model writes it."""
        ...

    async def abort(self, request_id: str) -> None:
        """Stop a running request; a finished or unknown id is not an error."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in the served model's own tokenizer."""
        ...

    def token_starts_batch(self, texts: list[str]) -> list[Sequence[int]]:
        """Character offset where each token of each text starts (context/ counts lines)."""
        ...

    def count_tokens_batch(self, texts: list[str]) -> list[int]:
        """``count_tokens`` of each text in one call."""
        ...

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Tokens the chat template turns ``messages`` into (what the window is spent on)."""
        ...

    async def close(self) -> None: ...
