"""An Engine on a model server that speaks the OpenAI API (``vllm serve`` first of all).

The GPU runs elsewhere; Fathom talks to it over HTTP with streamed chat completions.

* **Replies** stream from ``/v1/chat/completions`` as server-sent events, parsed with orjson.
  ``assistant_prefix`` goes to vLLM as a final assistant message with
  ``continue_final_message`` (a vLLM extension), so the model continues it; ``stream`` yields
  only the new text, like :class:`backend.vllm_engine.VllmEngine` (the caller prepends the
  prefix).
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
  ``token_starts_batch`` on the engine, thousands of times while indexing): a local HF
  tokenizer whenever one can be found, because it is exact, batched and needs no round trip:
  the ``tokenizer`` argument, else the served model's folder when the server reports a
  ``root`` that exists on this machine, else the model id in the local HF cache. Failing
  those, the server's ``/tokenize`` endpoint (vLLM has it): exact counts, one request per
  text, and token start offsets rebuilt from the token strings it returns.
* **The API key** (``api_key``, else ``FATHOM_OPENAI_API_KEY``, else ``OPENAI_API_KEY``) is
  sent as ``Authorization: Bearer``; it never appears in a message (it is scrubbed from what
  servers answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import os
import random
import threading
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import httpx
import orjson

from fathom.backend.engine import ChatMessage, ChatRequest, EngineError, GenerationStats
from fathom.backend.tokenizer import HFTokenCounter

API_KEY_ENV = ("FATHOM_OPENAI_API_KEY", "OPENAI_API_KEY")
# ``tokenizer=SERVER_TOKENIZER`` counts with the server's /tokenize even where a local
# tokenizer could be found.
SERVER_TOKENIZER = "server"
# Context window assumed when the server does not report ``max_model_len`` (OpenAI does not).
DEFAULT_MAX_CONTEXT = 8192


class _Counter(Protocol):
    def count_tokens(self, text: str) -> int: ...
    def count_tokens_batch(self, texts: list[str]) -> list[int]: ...
    def token_starts_batch(self, texts: list[str]) -> list[Sequence[int]]: ...
    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> int: ...


class _Broken(Exception):
    """One attempt failed; ``retryable`` says whether asking again may help.

    ``str(exc)`` is the whole story for a reply not yet begun; ``verb`` and ``detail`` tell
    it once part of the reply has reached the caller."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        detail: str | None = None,
        verb: str = "closed the stream",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.detail = detail or message
        self.verb = verb
        self.retry_after = retry_after


class _Aborted(Exception):
    """:meth:`OpenAIEngine.abort` stopped the request."""


@dataclass(slots=True, eq=False)
class _Active:
    """A request being streamed, as :meth:`OpenAIEngine.abort` reaches it."""

    aborted: bool = False
    # Set while the stream waits on the server (connect, headers, next chunk, backoff).
    deadline: asyncio.Timeout | None = None
    response: httpx.Response | None = None
    closed: asyncio.Event | None = None


def _retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


def _retry_after(headers: httpx.Headers) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date), or None."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_text(body: bytes) -> str:
    """The server's own message out of an OpenAI/vLLM error body, else the body itself."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode(errors="replace").strip()[:500] or "(empty body)"
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):
            message = error.get("message") or error.get("detail")
            if message:
                return str(message)
        elif isinstance(error, str):
            return error
        if data.get("detail"):
            return str(data["detail"])
    return body.decode(errors="replace").strip()[:500]


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _openai_messages(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


class _PrefixStripper:
    """Without vLLM's ``continue_final_message`` the model starts its reply afresh; when it
    writes the prefix the caller prepends anyway, drop that copy."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._held = ""
        self._deciding = bool(prefix)

    def feed(self, piece: str) -> str:
        if not self._deciding:
            return piece
        self._held += piece
        if len(self._held) < len(self._prefix) and self._prefix.startswith(self._held):
            return ""  # still could be the prefix: hold it back
        self._deciding = False
        held, self._held = self._held, ""
        return held.removeprefix(self._prefix)

    def flush(self) -> str:
        self._deciding = False
        held, self._held = self._held, ""
        return held


# -- token counting ---------------------------------------------------------------------------
class _LocalCounter(HFTokenCounter):
    """The served model's HF tokenizer on this machine; ``prompt_tokens`` renders its chat
    template as vLLM does."""

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        rendered = self.tokenizer.apply_chat_template(
            _openai_messages(messages), tokenize=False, add_generation_prompt=True
        )
        return len(self.tokenizer.encode(rendered, add_special_tokens=False))


@cache
def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level BPE alphabet (Qwen, Llama 3, Mistral NeMo...): char -> byte."""
    visible = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    chars = list(visible)
    extra = 0
    for b in range(256):
        if b not in visible:
            visible.append(b)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(visible, chars, strict=True)}


def _byte_level(tokens: Sequence[str]) -> list[bytes] | None:
    decoder = _byte_decoder()
    try:
        return [bytes(decoder[c] for c in token) for token in tokens]
    except KeyError:
        return None


def _sentencepiece(tokens: Sequence[str]) -> list[bytes]:
    """ "▁" is a space, "<0xNN>" a byte fallback; anything else (special tokens) is itself."""
    out = []
    for token in tokens:
        if len(token) == 6 and token.startswith("<0x") and token.endswith(">"):
            with contextlib.suppress(ValueError):
                out.append(bytes([int(token[3:5], 16)]))
                continue
        out.append(token.replace("\u2581", " ").encode())
    return out


def token_starts_from_strings(text: str, tokens: Sequence[str]) -> list[int]:
    """Character offset where each token starts, rebuilt from the tokenizer's token strings
    (byte-level BPE as in GPT-2, Qwen and Llama 3, or SentencePiece).

    Falls back to spreading the tokens evenly over the text when the strings do not spell
    the text: counts stay exact, only their split over lines is approximate."""
    if not tokens:
        return []
    raw = text.encode()
    for spell in (_byte_level, _sentencepiece):
        pieces = spell(tokens)
        if pieces is None:
            continue
        if pieces[0].startswith(b" ") and not raw.startswith(b" "):
            joined = b"".join(pieces)
            if joined != raw and joined[1:] == raw:
                pieces[0] = pieces[0][1:]  # SentencePiece's dummy prefix space
        if b"".join(pieces) == raw:
            break
    else:
        return [len(text) * i // len(tokens) for i in range(len(tokens))]
    if len(raw) == len(text):  # ASCII: bytes are characters
        char_of_byte: Sequence[int] = range(len(text) + 1)
    else:
        mapping: list[int] = []
        for i, ch in enumerate(text):
            mapping.extend([i] * len(ch.encode()))
        mapping.append(len(text))
        char_of_byte = mapping
    starts, at = [], 0
    for piece in pieces:
        starts.append(char_of_byte[at])
        at += len(piece)
    return starts


class _ServerCounter:
    """Counts with the server's ``/tokenize`` (vLLM): exact, but one HTTP call per text."""

    def __init__(self, engine: OpenAIEngine) -> None:
        self._engine = engine
        self._pool: ThreadPoolExecutor | None = None

    def _tokenize(self, payload: dict[str, Any]) -> dict[str, Any]:
        payload = {"model": self._engine.model_name, **payload}
        return self._engine._post_sync(f"{self._engine._root}/tokenize", payload)

    def _map(self, fn: Callable[[str], Any], texts: list[str]) -> list[Any]:
        if len(texts) < 2:
            return [fn(t) for t in texts]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(4, thread_name_prefix="fathom-tokenize")
        return list(self._pool.map(fn, texts))

    def count_tokens(self, text: str) -> int:
        if not text:
            return 0
        return int(self._tokenize({"prompt": text, "add_special_tokens": False})["count"])

    def count_tokens_batch(self, texts: list[str]) -> list[int]:
        return self._map(self.count_tokens, texts)

    def _starts(self, text: str) -> list[int]:
        if not text:
            return []
        got = self._tokenize(
            {"prompt": text, "add_special_tokens": False, "return_token_strs": True}
        )
        return token_starts_from_strings(text, got.get("token_strs") or [])

    def token_starts_batch(self, texts: list[str]) -> list[Sequence[int]]:
        return self._map(self._starts, texts)

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        payload = {"messages": _openai_messages(messages), "add_generation_prompt": True}
        return int(self._tokenize(payload)["count"])

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


def _hf_cache_has(model_id: str) -> bool:
    """Whether an HF id (``org/name``) is in the local HF cache, without importing transformers."""
    if model_id.count("/") != 1 or model_id.startswith(("/", ".", "~")):
        return False
    try:
        from huggingface_hub.constants import HF_HUB_CACHE
    except ImportError:
        return False
    return (Path(HF_HUB_CACHE) / f"models--{model_id.replace('/', '--')}").is_dir()


def _local_counter(source: str) -> _LocalCounter:
    try:
        from transformers import AutoTokenizer
    except ImportError as exc:
        raise EngineError(
            f"Counting tokens with the tokenizer at {source} needs transformers "
            "(pip install transformers), or pass tokenizer='server' to use the server's."
        ) from exc
    try:
        return _LocalCounter(AutoTokenizer.from_pretrained(source, local_files_only=True))
    except Exception as exc:
        raise EngineError(
            f"Could not load the tokenizer {source} ({_describe(exc)}): give a local HF model "
            "folder with the tokenizer files, or tokenizer='server'."
        ) from exc


def _has_tokenizer_files(folder: Path) -> bool:
    return any(
        (folder / name).is_file()
        for name in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")
    )


# -- the engine ---------------------------------------------------------------------------------
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
        if "://" not in base_url:
            base_url = f"http://{base_url}"
        url = httpx.URL(base_url.rstrip("/"))
        root_path = url.path.rstrip("/").removesuffix("/v1")
        root = url.copy_with(path=root_path or "/")
        self._root = str(root).rstrip("/")
        self._api = f"{self._root}/v1"
        # What messages name: no user:password part.
        self.base_url = str(root.copy_with(username=None, password=None)).rstrip("/") + "/v1"
        if api_key is None:
            api_key = next((os.environ[n] for n in API_KEY_ENV if os.environ.get(n)), None)
        self._secret = api_key or None
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._model = model
        self._tokenizer_setting = tokenizer
        self._max_context_setting = max_context
        self._server_max_context: int | None = None
        self._model_root: str | None = None
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.first_token_timeout = first_token_timeout
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.vllm_extensions = vllm_extensions
        self._progress = progress
        # Where token counts come from: "local:<path or id>" or "server" (once resolved).
        self.tokenizer_source: str | None = None
        # Chat requests sent, retries included (diagnostics; the tests read it).
        self.requests_sent = 0
        self._counter: _Counter | None = None
        self._counter_lock = threading.Lock()
        self._started = False
        self._start_lock = asyncio.Lock()
        self._sync: httpx.Client | None = None
        self._aclient: httpx.AsyncClient | None = None
        self._aclient_loop: asyncio.AbstractEventLoop | None = None
        self._active: dict[str, _Active] = {}

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
    def counter(self) -> _Counter:
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

    def _resolve_counter(self) -> _Counter:
        setting = self._tokenizer_setting
        if setting == SERVER_TOKENIZER:
            self.tokenizer_source = "server"
            return _ServerCounter(self)
        if setting is not None:
            path = Path(setting).expanduser()
            source = str(path.resolve()) if path.exists() else setting
            counter = _local_counter(source)
            self.tokenizer_source = f"local:{source}"
            return counter
        if not self._started and self._model_root is None:
            self._fetch_models_sync()
        for candidate in (self._model_root, self._model):
            if candidate and Path(candidate).is_dir() and _has_tokenizer_files(Path(candidate)):
                with contextlib.suppress(EngineError):
                    counter = _local_counter(candidate)
                    self.tokenizer_source = f"local:{candidate}"
                    return counter
        for candidate in (self._model_root, self._model):
            if candidate and _hf_cache_has(candidate):
                with contextlib.suppress(EngineError):
                    counter = _local_counter(candidate)
                    self.tokenizer_source = f"local:{candidate}"
                    return counter
        self.tokenizer_source = "server"
        return _ServerCounter(self)

    def count_tokens(self, text: str) -> int:
        return self.counter.count_tokens(text)

    def count_tokens_batch(self, texts: list[str]) -> list[int]:
        return self.counter.count_tokens_batch(texts)

    def token_starts_batch(self, texts: list[str]) -> list[Sequence[int]]:
        return self.counter.token_starts_batch(texts)

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return self.counter.prompt_tokens(messages)

    # -- HTTP plumbing ---------------------------------------------------------------------
    def _scrub(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text

    def _http_error(self, response: httpx.Response) -> str:
        status = response.status_code
        message = self._scrub(_error_text(response.content))
        where = f"The model server at {self.base_url}"
        if status in (401, 403):
            return (
                f"{where} refused the request ({status}: {message}). Set its API key in "
                f"{API_KEY_ENV[0]} (or {API_KEY_ENV[1]})."
            )
        return f"{where} answered {status}: {message}"

    def _unreachable(self, reason: str) -> str:
        return (
            f"The model server at {self.base_url} is not reachable ({self._scrub(reason)}). "
            "Start it (for example `vllm serve MODEL --port 8000`) or fix the URL."
        )

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_backoff_s)
        base = min(self.backoff_s * 2**attempt, self.max_backoff_s)
        return base / 2 + random.uniform(0, base / 2)  # "equal jitter"

    def _sync_client(self) -> httpx.Client:
        if self._sync is None:
            timeout = httpx.Timeout(self.read_timeout, connect=self.connect_timeout)
            self._sync = httpx.Client(headers=self._headers, timeout=timeout)
        return self._sync

    def _client(self) -> httpx.AsyncClient:
        """One async client per event loop (a client cannot move between loops)."""
        loop = asyncio.get_running_loop()
        if self._aclient is None or self._aclient_loop is not loop or self._aclient.is_closed:
            # Read and write limits are enforced per step by asyncio.timeout (see _guard).
            timeout = httpx.Timeout(None, connect=self.connect_timeout)
            self._aclient = httpx.AsyncClient(headers=self._headers, timeout=timeout)
            self._aclient_loop = loop
        return self._aclient

    def _send_sync(
        self, method: str, url: str, payload: Any = None, allow: tuple[int, ...] = ()
    ) -> httpx.Response:
        """One call with retries (connect errors, 429, 5xx); raises EngineError. A status in
        ``allow`` is returned, not raised."""
        client = self._sync_client()
        for attempt in range(self.max_retries + 1):
            retry_after = None
            try:
                if payload is None:
                    response = client.request(method, url)
                else:
                    response = client.request(
                        method,
                        url,
                        content=orjson.dumps(payload),
                        headers={"Content-Type": "application/json"},
                    )
            except httpx.TimeoutException as exc:
                if not isinstance(exc, httpx.ConnectTimeout):
                    raise EngineError(
                        f"The model server at {self.base_url} did not answer {url} within "
                        f"{self.read_timeout:.0f} s."
                    ) from exc
                failure = self._unreachable(_describe(exc))
            except httpx.TransportError as exc:
                failure = self._unreachable(_describe(exc))
            else:
                if response.status_code < 400 or response.status_code in allow:
                    return response
                failure = self._http_error(response)
                if not _retryable_status(response.status_code):
                    raise EngineError(failure)
                retry_after = _retry_after(response.headers)
            if attempt == self.max_retries:
                raise EngineError(f"{failure} (after {attempt + 1} tries)" if attempt else failure)
            time.sleep(self._delay(attempt, retry_after))
        raise AssertionError("unreachable")

    def _post_sync(self, url: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = self._send_sync("POST", url, payload)
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise EngineError(f"{url} answered something that is not JSON") from exc

    def _fetch_models_sync(self) -> None:
        """Ask ``/v1/models`` for the model id, its folder (``root``) and ``max_model_len``."""
        response = self._send_sync("GET", f"{self._api}/models", allow=(404,))
        if response.status_code == 404:
            if self._model is None:
                raise EngineError(
                    f"The model server at {self.base_url} has no /v1/models: name the model."
                )
            return  # take the settings as they are
        try:
            models = orjson.loads(response.content).get("data") or []
        except (orjson.JSONDecodeError, AttributeError) as exc:
            raise EngineError(f"{self._api}/models answered something that is not a list") from exc
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
        client, self._aclient = self._aclient, None
        if client is not None and self._aclient_loop is asyncio.get_running_loop():
            await client.aclose()
        sync, self._sync = self._sync, None
        if sync is not None:
            sync.close()
        if isinstance(self._counter, _ServerCounter):
            self._counter.close()

    # -- generation ------------------------------------------------------------------------
    def _chat_body(self, request: ChatRequest, max_tokens: int) -> dict[str, Any]:
        messages = _openai_messages(request.messages)
        body: dict[str, Any] = {
            "model": self._model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": request.temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.stop:
            body["stop"] = list(request.stop)
        if request.json_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "reply", "schema": dict(request.json_schema)},
            }
        if self.vllm_extensions:
            body["request_id"] = request.request_id
            # Usage in every chunk: completion_tokens stays right when the stream is cut.
            body["stream_options"]["continuous_usage_stats"] = True
            if request.assistant_prefix:
                messages.append({"role": "assistant", "content": request.assistant_prefix})
                body["continue_final_message"] = True
                body["add_generation_prompt"] = False
        return body

    async def _guard(
        self, active: _Active, make: Callable[[], Awaitable[Any]], limit: float, waiting: str
    ) -> Any:
        """Await ``make()`` for at most ``limit`` seconds; :meth:`abort` ends the wait at once."""
        if active.aborted:
            raise _Aborted
        try:
            async with asyncio.timeout(limit) as deadline:
                active.deadline = deadline
                return await make()
        except TimeoutError:
            if active.aborted:
                raise _Aborted from None
            raise _Broken(
                f"The model server at {self.base_url} sent nothing for {limit:.0f} s while "
                f"Fathom waited for {waiting}.",
                retryable=False,
                detail=f"nothing arrived for {limit:.0f} s",
                verb="stopped sending",
            ) from None
        finally:
            active.deadline = None

    async def stream(
        self, request: ChatRequest, stats: GenerationStats | None = None
    ) -> AsyncGenerator[str, None]:
        await self.start()
        stats = stats if stats is not None else GenerationStats()
        body = self._chat_body(request, min(request.max_tokens, self.max_context))
        active = _Active(closed=asyncio.Event())
        self._active[request.request_id] = active
        started = time.perf_counter()
        emitted = 0
        try:
            for attempt in range(self.max_retries + 1):
                strip = _PrefixStripper("" if self.vllm_extensions else request.assistant_prefix)
                stats.completion_tokens = 0
                # A retry gets an id of its own: the server may still hold the first request.
                request_id = request.request_id + (f"-retry{attempt}" if attempt else "")
                if self.vllm_extensions:
                    body["request_id"] = request_id
                try:
                    pieces = self._attempt(body, request_id, stats, active)
                    async with contextlib.aclosing(pieces):
                        async for piece in pieces:
                            text = strip.feed(piece)
                            if text:
                                if stats.first_token_s is None:
                                    stats.first_token_s = time.perf_counter() - started
                                emitted += len(text)
                                yield text
                    tail = strip.flush()
                    if tail:
                        yield tail
                    return
                except _Aborted:
                    stats.finish_reason = "abort"
                    return
                except _Broken as exc:
                    if emitted:
                        # Never asked again: the caller already holds part of this reply.
                        raise EngineError(
                            f"The model server at {self.base_url} {exc.verb} after {emitted} "
                            f"characters of the reply: {exc.detail}. The reply is incomplete; "
                            "ask again."
                        ) from exc
                    if not exc.retryable or attempt == self.max_retries:
                        tries = f" (after {attempt + 1} tries)" if attempt else ""
                        raise EngineError(f"{exc}{tries}") from exc
                    delay = self._delay(attempt, exc.retry_after)
                    try:
                        await self._guard(
                            active, functools.partial(asyncio.sleep, delay), delay + 5, "a retry"
                        )
                    except _Aborted:
                        stats.finish_reason = "abort"
                        return
        finally:
            stats.total_s = time.perf_counter() - started
            self._active.pop(request.request_id, None)
            if active.closed is not None:
                active.closed.set()

    async def _attempt(
        self, body: dict[str, Any], request_id: str, stats: GenerationStats, active: _Active
    ) -> AsyncGenerator[str, None]:
        """One HTTP request: yield its text; raise _Broken (or _Aborted) when it fails."""
        client = self._client()
        http_request = client.build_request(
            "POST",
            f"{self._api}/chat/completions",
            content=orjson.dumps(body),
            headers={
                "Content-Type": "application/json",
                "Accept": "text/event-stream",
                "X-Request-Id": request_id,
            },
        )
        self.requests_sent += 1
        try:
            response = await self._guard(
                active,
                lambda: client.send(http_request, stream=True),
                self.first_token_timeout,
                "the reply to start",
            )
        except httpx.TransportError as exc:
            raise _Broken(
                self._unreachable(_describe(exc)), retryable=True, detail=_describe(exc)
            ) from exc
        active.response = response
        try:
            if response.status_code >= 400:
                with contextlib.suppress(httpx.TransportError, _Broken):
                    await self._guard(active, response.aread, self.read_timeout, "the error")
                raise _Broken(
                    self._http_error(response),
                    retryable=_retryable_status(response.status_code),
                    retry_after=_retry_after(response.headers),
                )
            async with contextlib.aclosing(self._read_events(response, stats, active)) as text:
                async for piece in text:
                    yield piece
        finally:
            active.response = None
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    # Closing the connection is what tells vLLM to abort the request.
                    await response.aclose()

    async def _read_events(
        self, response: httpx.Response, stats: GenerationStats, active: _Active
    ) -> AsyncGenerator[str, None]:
        got_text = finished = False
        data: list[str] = []
        # httpx types aiter_lines as an iterator; it is an async generator, which aclosing needs.
        async with contextlib.aclosing(response.aiter_lines()) as lines:  # type: ignore[type-var]
            while True:
                limit = self.read_timeout if got_text else self.first_token_timeout
                waiting = "the next piece" if got_text else "the first token"
                try:
                    line = await self._guard(active, lambda: anext(lines, None), limit, waiting)
                except httpx.TransportError as exc:
                    raise _Broken(
                        f"The model server at {self.base_url} broke the connection before the "
                        f"reply began ({_describe(exc)}).",
                        retryable=True,
                        detail=_describe(exc),
                    ) from exc
                if line is None or (not line and data):
                    # A blank line ends an event; the end of the body ends the last one.
                    if data:
                        payload, data = "\n".join(data), []
                        if payload.strip() == "[DONE]":
                            return
                        for text, reason in self._event(payload, stats):
                            if reason is not None:
                                stats.finish_reason = reason
                                finished = True
                            if text:
                                got_text = True
                                yield text
                    if line is None:
                        if finished:
                            return  # a server that ends without [DONE]
                        raise _Broken(
                            f"The model server at {self.base_url} ended the reply before it "
                            "finished.",
                            retryable=True,
                            detail="the body ended without a finish reason or [DONE]",
                        )
                    continue
                if not line or line.startswith(":"):
                    continue  # keep-alive comment
                name, _, value = line.partition(":")
                if name == "data":
                    data.append(value.removeprefix(" "))

    def _event(self, payload: str, stats: GenerationStats) -> list[tuple[str, str | None]]:
        """One SSE event: its (text, finish_reason) per choice; usage goes into ``stats``."""
        try:
            event = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise _Broken(
                f"The model server at {self.base_url} sent an event that is not JSON: "
                f"{payload[:200]!r}",
                retryable=False,
                detail=f"an event that is not JSON: {payload[:200]!r}",
                verb="broke the stream",
            ) from exc
        if not isinstance(event, dict):
            return []
        if event.get("error"):
            message = self._scrub(_error_text(orjson.dumps(event)))
            raise _Broken(
                f"The model server at {self.base_url} failed: {message}",
                retryable=False,
                detail=message,
                verb="failed",
            )
        out = []
        for choice in event.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            text = (choice.get("delta") or {}).get("content") or ""
            if text:
                stats.completion_tokens += 1  # until usage says exactly
            out.append((text, choice.get("finish_reason")))
        usage = event.get("usage")
        if isinstance(usage, dict):
            if usage.get("prompt_tokens") is not None:
                stats.prompt_tokens = int(usage["prompt_tokens"])
            if usage.get("completion_tokens") is not None:
                stats.completion_tokens = int(usage["completion_tokens"])
            details = usage.get("prompt_tokens_details") or {}
            if details.get("cached_tokens") is not None:
                stats.cached_prompt_tokens = int(details["cached_tokens"])
        return out

    def running_requests(self) -> list[str]:
        """Requests with an open stream to the server."""
        return sorted(self._active)

    async def abort(self, request_id: str) -> None:
        """Stop ``request_id``: its HTTP stream closes (vLLM then aborts it) and ``stream``
        ends normally with ``finish_reason == "abort"``."""
        active = self._active.get(request_id)
        if active is None or active.aborted:
            return
        active.aborted = True
        if active.deadline is not None:
            # The stream waits on the server: end that wait now; the stream then closes the
            # connection, and this returns once it has.
            with contextlib.suppress(RuntimeError):  # that wait is ending already
                active.deadline.reschedule(asyncio.get_running_loop().time())
            if active.closed is not None:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(5):
                        await active.closed.wait()
        elif active.response is not None:
            # The consumer holds a piece and is busy elsewhere: close the connection here.
            with contextlib.suppress(Exception):
                await active.response.aclose()
