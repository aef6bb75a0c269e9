"""An Engine on a model server that speaks the OpenAI API (``vllm serve`` first of all).

The GPU runs elsewhere; Fathom talks to it over HTTP with streamed chat completions. This
module is the engine itself: the model, its window and its tokenizer, the request body, and
when a failed reply is asked again. Beside it: :mod:`backend.openai_http` (URLs, key,
clients, timeouts, error texts, retry policy), :mod:`backend.openai_sse` (one streamed
request, its server-sent events) and :mod:`backend.token_counting`.

* **Replies** stream from ``/v1/chat/completions`` as server-sent events.
  ``assistant_prefix`` goes to vLLM as a final assistant message with
  ``continue_final_message`` (a vLLM extension), so the model continues it; ``stream`` yields
  only the new text, like :class:`backend.vllm_engine.VllmEngine` (the caller prepends the
  prefix). **Completions** of a raw prompt (fill-in-the-middle, no chat template) stream
  from ``/v1/completions`` the same way (``complete_stream``): same retries, timeouts and
  cancellation; vLLM also gets the stop token ids.
* **Cancellation** reaches the server's engine by closing the HTTP stream: vLLM aborts a
  request whose client disconnects and frees its KV-cache slots. That happens when the
  consumer stops iterating, when its task is cancelled, and on :meth:`OpenAIEngine.abort`
  (the stream then ends normally with ``finish_reason == "abort"``). The request id is sent
  as ``X-Request-Id`` and as the body's ``request_id``, so the server's logs name it.
* **Retries**: connection failures, 429 and 5xx are retried ``max_retries`` times with
  exponential backoff and jitter (``Retry-After`` honoured) only while no text has been
  yielded; once the caller holds part of a reply, a broken stream is an :class:`EngineError`
  that says how much arrived, never a silent restart. Other 4xx are not retried.
* **Timeouts**: ``connect_timeout`` for the TCP connect, ``first_token_timeout`` until the
  first text (prefill of a long prompt on a busy server), ``read_timeout`` between chunks
  after that. Nothing waits forever.
* **Token counting** (context/ calls ``count_tokens``, ``count_tokens_batch`` and
  ``token_starts_batch`` on the engine): a local HF tokenizer whenever one can be found: the
  ``tokenizer`` argument, else the served model's folder when the server reports a ``root``
  that exists on this machine, else the model id in the local HF cache. Failing those, the
  server's ``/tokenize`` endpoint.
* **The API key** (``api_key``, else ``FATHOM_OPENAI_API_KEY``, else ``OPENAI_API_KEY``) is
  sent as ``Authorization: Bearer``; it never appears in a message (it is scrubbed from what
  servers answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncGenerator, Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from fathom.backend.engine import ChatMessage, ChatRequest, EngineError, GenerationStats
from fathom.backend.openai_http import (
    API_KEY_ENV,
    ServerConnection,
    openai_messages,
)
from fathom.backend.openai_sse import CHAT, COMPLETIONS, Active, Endpoint
from fathom.backend.openai_stream import stream_reply
from fathom.backend.token_counting import (
    ServerCounter,
    TokenCounter,
    find_local_counter,
    local_counter,
    token_starts_from_strings,
)
from fathom.backend.tokenizer import HFTokenCounter

__all__ = [
    "API_KEY_ENV",
    "DEFAULT_MAX_CONTEXT",
    "SERVER_TOKENIZER",
    "OpenAIEngine",
    "token_starts_from_strings",
]

# ``tokenizer=SERVER_TOKENIZER`` counts with the server's /tokenize even where a local
# tokenizer could be found.
SERVER_TOKENIZER = "server"
# Context window assumed when the server does not report ``max_model_len`` (OpenAI does not).
DEFAULT_MAX_CONTEXT = 8192


class OpenAIEngine:
    """:class:`backend.engine.Engine` on an OpenAI-compatible server (``vllm serve``)."""

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        *,
        api_key: str | None = None,
        tokenizer: str | None = None,
        max_context: int | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        first_token_timeout: float = 300.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        vllm_extensions: bool = True,
        progress: Callable[[str], None] = lambda _msg: None,
    ) -> None:
        """``base_url``: the API root (``http://host:8000/v1``; ``/v1`` is added if missing).
        ``model``: the served model's id; None asks ``/v1/models`` and takes the first one.
        ``tokenizer``: a local HF folder or cached HF id to count tokens with, ``"server"``
        for the server's ``/tokenize``, None to choose (see the module docstring).
        ``max_context``: the window when the server does not report ``max_model_len``, and
        an upper bound when it does. ``vllm_extensions``: send vLLM's request fields
        (``continue_final_message``, ``request_id``, continuous usage); off for other servers,
        which then start the reply afresh (a repeated prefix is dropped)."""
        if api_key is None:
            api_key = next((os.environ[n] for n in API_KEY_ENV if os.environ.get(n)), None)
        self.http = ServerConnection(
            base_url,
            api_key,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            first_token_timeout=first_token_timeout,
            max_retries=max_retries,
            backoff_s=backoff_s,
            max_backoff_s=max_backoff_s,
        )
        self.base_url = self.http.base_url
        self._model = model
        self._tokenizer_setting = tokenizer
        self._max_context_setting = max_context
        self._server_max_context: int | None = None
        self._model_root: str | None = None
        self.vllm_extensions = vllm_extensions
        self._progress = progress
        # Where token counts come from: "local:<path or id>" or "server" (once resolved).
        self.tokenizer_source: str | None = None
        # Chat and completion requests sent, retries included (diagnostics; the tests read
        # it).
        self.requests_sent = 0
        self._counter: TokenCounter | None = None
        self._counter_lock = threading.Lock()
        self._started = False
        self._start_lock = asyncio.Lock()
        self._active: dict[str, Active] = {}

    def __repr__(self) -> str:
        return f"OpenAIEngine({self.base_url!r}, model={self._model!r})"

    # -- model, window and tokenizer -------------------------------------------------------
    @property
    def model_name(self) -> str:
        return self._model or f"openai:{self.base_url}"

    @property
    def max_context(self) -> int:
        setting = self._max_context_setting
        if self._server_max_context is not None:
            return min(self._server_max_context, setting or self._server_max_context)
        return setting or DEFAULT_MAX_CONTEXT

    @property
    def counter(self) -> TokenCounter:
        """What counts tokens (see the module docstring); resolved once, thread-safe."""
        if self._counter is None:
            with self._counter_lock:
                if self._counter is None:
                    self._counter = self._resolve_counter()
        return self._counter

    @property
    def tokenizer(self) -> Any:
        """The local HF tokenizer, or None when counting with the server's."""
        counter = self.counter
        return counter.tokenizer if isinstance(counter, HFTokenCounter) else None

    def _tokenize(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self.http.post_sync(
            f"{self.http.root}/tokenize", {"model": self.model_name, **payload}
        )

    def _resolve_counter(self) -> TokenCounter:
        setting = self._tokenizer_setting
        if setting == SERVER_TOKENIZER:
            self.tokenizer_source = "server"
            return ServerCounter(self._tokenize)
        if setting is not None:
            path = Path(setting).expanduser()
            source = str(path.resolve()) if path.exists() else setting
            counter = local_counter(source)
            self.tokenizer_source = f"local:{source}"
            return counter
        if not self._started and self._model_root is None:
            self._fetch_models_sync()
        found = find_local_counter((self._model_root, self._model))
        if found is not None:
            self.tokenizer_source = f"local:{found[1]}"
            return found[0]
        self.tokenizer_source = "server"
        return ServerCounter(self._tokenize)

    def count_tokens(self, text: str) -> int:
        return self.counter.count_tokens(text)

    def count_tokens_batch(self, texts: list[str]) -> list[int]:
        return self.counter.count_tokens_batch(texts)

    def token_starts_batch(self, texts: list[str]) -> list[Sequence[int]]:
        return self.counter.token_starts_batch(texts)

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return self.counter.prompt_tokens(messages)

    def _fetch_models_sync(self) -> None:
        """Ask ``/v1/models`` for the model id, its folder (``root``) and ``max_model_len``."""
        api = self.http.api
        response = self.http.send_sync("GET", f"{api}/models", allow=(404,))
        if response.status_code == 404:
            if self._model is None:
                raise EngineError(
                    f"The model server at {self.base_url} has no /v1/models: name the model."
                )
            return  # take the settings as they are
        try:
            models = orjson.loads(response.content).get("data") or []
        except (orjson.JSONDecodeError, AttributeError) as exc:
            raise EngineError(f"{api}/models answered something that is not a list") from exc
        if not models:
            raise EngineError(f"The model server at {self.base_url} serves no model.")
        ids = [m.get("id") for m in models]
        if self._model is None:
            entry = models[0]
            self._model = str(entry["id"])
            if len(models) > 1:
                self._progress(f"The server serves {ids}; using {self._model}.")
        else:
            entry = next((m for m in models if m.get("id") == self._model), None)
            if entry is None:
                raise EngineError(
                    f"The model server at {self.base_url} serves {', '.join(map(str, ids))}, "
                    f"not {self._model}."
                )
        if isinstance(entry.get("max_model_len"), int):
            self._server_max_context = entry["max_model_len"]
        if isinstance(entry.get("root"), str):
            self._model_root = entry["root"]

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Check the server answers, resolve the model, its window and the tokenizer."""
        async with self._start_lock:
            if self._started:
                return
            self._progress(f"Connecting to the model server at {self.base_url}…")
            await asyncio.to_thread(self._fetch_models_sync)
            self._started = True
            await asyncio.to_thread(lambda: self.counter)

    async def close(self) -> None:
        await self.http.close()
        if isinstance(self._counter, ServerCounter):
            self._counter.close()

    # -- generation ------------------------------------------------------------------------
    def _body(
        self, max_tokens: int, temperature: float, stop: Sequence[str], request_id: str
    ) -> dict[str, Any]:
        """What a chat and a completion request both say."""
        body: dict[str, Any] = {
            "model": self._model,
            "max_tokens": min(max_tokens, self.max_context),
            "temperature": temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if stop:
            body["stop"] = list(stop)
        if self.vllm_extensions:
            body["request_id"] = request_id
            # Usage in every chunk: completion_tokens stays right when the stream is cut.
            body["stream_options"]["continuous_usage_stats"] = True
        return body

    def _chat_body(self, request: ChatRequest) -> dict[str, Any]:
        messages = openai_messages(request.messages)
        body = self._body(request.max_tokens, request.temperature, request.stop, request.request_id)
        body["messages"] = messages
        if request.repetition_penalty != 1.0:
            # Not OpenAI's field but vLLM's, SGLang's, TGI's and llama.cpp's; sent only when
            # asked for, so a server without it is never sent what it may reject.
            body["repetition_penalty"] = request.repetition_penalty
        if request.seed is not None:
            body["seed"] = request.seed
        if request.json_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "reply", "schema": dict(request.json_schema)},
            }
        if self.vllm_extensions and request.assistant_prefix:
            messages.append({"role": "assistant", "content": request.assistant_prefix})
            body["continue_final_message"] = True
            body["add_generation_prompt"] = False
        return body

    async def stream(
        self, request: ChatRequest, stats: GenerationStats | None = None
    ) -> AsyncGenerator[str, None]:
        await self.start()
        # Without continue_final_message the model starts afresh and may write the prefix.
        prefix = "" if self.vllm_extensions else request.assistant_prefix
        pieces = self._generate(CHAT, self._chat_body(request), request.request_id, stats, prefix)
        async with contextlib.aclosing(pieces):
            async for piece in pieces:
                yield piece

    async def complete_stream(
        self,
        prompt: str,
        max_tokens: int,
        stop: Sequence[str],
        request_id: str,
        *,
        stop_token_ids: Sequence[int] = (),
        stats: GenerationStats | None = None,
    ) -> AsyncGenerator[str, None]:
        """:class:`pipeline.completion.CompletionEngine`: continue the raw ``prompt`` (no chat
        template), greedy, ending at any of ``stop`` or (vLLM) ``stop_token_ids``."""
        await self.start()
        body = self._body(max_tokens, 0.0, stop, request_id)
        body["prompt"] = prompt
        if self.vllm_extensions and stop_token_ids:
            # vLLM skips special tokens when it detokenizes: a stop string that is one never
            # shows up in the text, its id does.
            body["stop_token_ids"] = list(stop_token_ids)
        pieces = self._generate(COMPLETIONS, body, request_id, stats)
        async with contextlib.aclosing(pieces):
            async for piece in pieces:
                yield piece

    def _generate(
        self,
        endpoint: Endpoint,
        body: dict[str, Any],
        request_id: str,
        stats: GenerationStats | None,
        prefix: str = "",
    ) -> AsyncGenerator[str, None]:
        """The reply to ``body`` at ``endpoint``, abortable by ``request_id`` meanwhile."""
        return stream_reply(
            self.http,
            endpoint,
            body,
            request_id,
            stats if stats is not None else GenerationStats(),
            self._active,
            prefix=prefix,
            on_send=self._count_request,
        )

    def _count_request(self) -> None:
        self.requests_sent += 1

    def running_requests(self) -> list[str]:
        """Requests with an open stream to the server."""
        return sorted(self._active)

    async def abort(self, request_id: str) -> None:
        """Stop ``request_id``: its HTTP stream closes (vLLM then aborts it) and ``stream``
        ends normally with ``finish_reason == "abort"``."""
        active = self._active.get(request_id)
        if active is not None:
            await active.abort()
