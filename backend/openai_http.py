"""The HTTP side of talking to an OpenAI-compatible model server (``vllm serve``).

One :class:`ServerConnection` per server holds what every call to it shares: its URLs, the
API key (sent as ``Authorization: Bearer`` and scrubbed from every message), the timeouts,
the HTTP clients and the retry policy. Plain calls (``/v1/models``, ``/tokenize``) go through
:meth:`ServerConnection.send_sync`; the streamed chat completion lives in
:mod:`backend.openai_sse` and its retries in :class:`backend.openai_engine.OpenAIEngine`,
because only the engine knows whether text has reached the caller yet.

The retries use tenacity rather than stamina: Fathom needs its own retry predicate, a wait
that honours ``Retry-After`` and an abortable async sleep, which tenacity takes as plain
arguments while stamina would wrap tenacity only to hide them.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Sequence
from typing import Any

import httpx
import orjson
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random_exponential,
)

from fathom.backend.engine import ChatMessage, EngineError

API_KEY_ENV = ("FATHOM_OPENAI_API_KEY", "OPENAI_API_KEY")


class Broken(Exception):
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


def retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


def is_retryable(exc: BaseException) -> bool:
    """What tenacity retries: an attempt that failed in a way asking again may mend."""
    return isinstance(exc, Broken) and exc.retryable


def retry_after(headers: httpx.Headers) -> float | None:
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


def error_text(body: bytes) -> str:
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


def describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def openai_messages(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def tries_suffix(tries: int) -> str:
    """What an error adds once it has been asked more than once."""
    return f" (after {tries} tries)" if tries > 1 else ""


class ServerConnection:
    """URLs, key, clients, timeouts and retry policy of one OpenAI-compatible server."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        connect_timeout: float,
        read_timeout: float,
        first_token_timeout: float,
        max_retries: int,
        backoff_s: float,
        max_backoff_s: float,
    ) -> None:
        if "://" not in base_url:
            base_url = f"http://{base_url}"
        url = httpx.URL(base_url.rstrip("/"))
        root_path = url.path.rstrip("/").removesuffix("/v1")
        root = url.copy_with(path=root_path or "/")
        self.root = str(root).rstrip("/")
        self.api = f"{self.root}/v1"
        # What messages name: no user:password part.
        self.base_url = str(root.copy_with(username=None, password=None)).rstrip("/") + "/v1"
        self._secret = api_key or None
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.first_token_timeout = first_token_timeout
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._sync: httpx.Client | None = None
        self._aclient: httpx.AsyncClient | None = None
        self._aclient_loop: asyncio.AbstractEventLoop | None = None

    # -- messages ---------------------------------------------------------------------------
    def scrub(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text

    def http_error(self, response: httpx.Response) -> str:
        status = response.status_code
        message = self.scrub(error_text(response.content))
        where = f"The model server at {self.base_url}"
        if status in (401, 403):
            return (
                f"{where} refused the request ({status}: {message}). Set its API key in "
                f"{API_KEY_ENV[0]} (or {API_KEY_ENV[1]})."
            )
        return f"{where} answered {status}: {message}"

    def unreachable(self, reason: str) -> str:
        return (
            f"The model server at {self.base_url} is not reachable ({self.scrub(reason)}). "
            "Start it (for example `vllm serve MODEL --port 8000`) or fix the URL."
        )

    # -- retry policy -----------------------------------------------------------------------
    def wait(self, state: RetryCallState) -> float:
        """Seconds before the next try: the server's ``Retry-After`` when it sent one, else
        exponential backoff with "equal jitter" (half the step fixed, half random)."""
        failure = state.outcome.exception() if state.outcome is not None else None
        after = getattr(failure, "retry_after", None)
        if after is not None:
            return min(float(after), self.max_backoff_s)
        half, half_max = self.backoff_s / 2, self.max_backoff_s / 2
        backoff = wait_exponential(multiplier=half, max=half_max) + wait_random_exponential(
            multiplier=half, max=half_max
        )
        return float(backoff(state))

    def retry_policy(self) -> dict[str, Any]:
        """tenacity's arguments for Fathom's rule: retry what :func:`is_retryable` says, at
        most ``max_retries`` times, waiting :meth:`wait`; the last failure is raised."""
        return {
            "retry": retry_if_exception(is_retryable),
            "stop": stop_after_attempt(self.max_retries + 1),
            "wait": self.wait,
            "reraise": True,
        }

    # -- clients ----------------------------------------------------------------------------
    def sync_client(self) -> httpx.Client:
        if self._sync is None:
            timeout = httpx.Timeout(self.read_timeout, connect=self.connect_timeout)
            self._sync = httpx.Client(headers=self._headers, timeout=timeout)
        return self._sync

    def client(self) -> httpx.AsyncClient:
        """One async client per event loop (a client cannot move between loops)."""
        loop = asyncio.get_running_loop()
        if self._aclient is None or self._aclient_loop is not loop or self._aclient.is_closed:
            # Read and write limits are enforced per step by asyncio.timeout
            # (backend.openai_sse.guard).
            timeout = httpx.Timeout(None, connect=self.connect_timeout)
            self._aclient = httpx.AsyncClient(headers=self._headers, timeout=timeout)
            self._aclient_loop = loop
        return self._aclient

    async def close(self) -> None:
        client, self._aclient = self._aclient, None
        if client is not None and self._aclient_loop is asyncio.get_running_loop():
            await client.aclose()
        sync, self._sync = self._sync, None
        if sync is not None:
            sync.close()

    # -- plain calls ------------------------------------------------------------------------
    def _send_once(
        self, method: str, url: str, payload: Any, allow: tuple[int, ...]
    ) -> httpx.Response:
        client = self.sync_client()
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
            raise Broken(self.unreachable(describe(exc)), retryable=True) from exc
        except httpx.TransportError as exc:
            raise Broken(self.unreachable(describe(exc)), retryable=True) from exc
        if response.status_code < 400 or response.status_code in allow:
            return response
        failure = self.http_error(response)
        if not retryable_status(response.status_code):
            raise EngineError(failure)
        raise Broken(failure, retryable=True, retry_after=retry_after(response.headers))

    def send_sync(
        self, method: str, url: str, payload: Any = None, allow: tuple[int, ...] = ()
    ) -> httpx.Response:
        """One call with retries (connect errors, 429, 5xx); raises EngineError. A status in
        ``allow`` is returned, not raised."""
        retrying = Retrying(**self.retry_policy())
        try:
            return retrying(self._send_once, method, url, payload, allow)
        except Broken as exc:
            tries = retrying.statistics.get("attempt_number", 1)
            raise EngineError(f"{exc}{tries_suffix(tries)}") from exc

    def post_sync(self, url: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = self.send_sync("POST", url, payload)
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise EngineError(f"{url} answered something that is not JSON") from exc
