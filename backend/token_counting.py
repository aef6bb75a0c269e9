"""Token counts for a model served elsewhere (:class:`backend.openai_engine.OpenAIEngine`).

context/ counts tokens thousands of times while indexing, so a local HF tokenizer is used
whenever one can be found: it is exact, batched and needs no round trip. Failing that, the
server's ``/tokenize`` endpoint (vLLM has it) gives exact counts, one request per text, and
token start offsets rebuilt from the token strings it returns
(:func:`token_starts_from_strings`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from fathom.backend.engine import ChatMessage, EngineError
from fathom.backend.openai_http import describe, openai_messages
from fathom.backend.tokenizer import HFTokenCounter


class TokenCounter(Protocol):
    def count_tokens(self, text: str) -> int: ...
    def count_tokens_batch(self, texts: list[str]) -> list[int]: ...
    def token_starts_batch(self, texts: list[str]) -> list[Sequence[int]]: ...
    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> int: ...


class LocalCounter(HFTokenCounter):
    """The served model's HF tokenizer on this machine; ``prompt_tokens`` renders its chat
    template as vLLM does."""

    def prompt_tokens(self, messages: Sequence[ChatMessage]) -> int:
        rendered = self.tokenizer.apply_chat_template(
            openai_messages(messages), tokenize=False, add_generation_prompt=True
        )
        return len(self.tokenizer.encode(rendered, add_special_tokens=False))


# -- token starts from the server's token strings ---------------------------------------------
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


class ServerCounter:
    """Counts with the server's ``/tokenize`` (vLLM): exact, but one HTTP call per text.

    ``tokenize`` posts a payload to ``/tokenize`` (the model named) and returns its JSON."""

    def __init__(self, tokenize: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self._tokenize = tokenize
        self._pool: ThreadPoolExecutor | None = None

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
        payload = {"messages": openai_messages(messages), "add_generation_prompt": True}
        return int(self._tokenize(payload)["count"])

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


# -- finding a local tokenizer --------------------------------------------------------------
def _hf_cache_has(model_id: str) -> bool:
    """Whether an HF id (``org/name``) is in the local HF cache, without importing transformers."""
    if model_id.count("/") != 1 or model_id.startswith(("/", ".", "~")):
        return False
    try:
        from huggingface_hub.constants import HF_HUB_CACHE
    except ImportError:
        return False
    return (Path(HF_HUB_CACHE) / f"models--{model_id.replace('/', '--')}").is_dir()


def _has_tokenizer_files(folder: Path) -> bool:
    return any(
        (folder / name).is_file()
        for name in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")
    )


def local_counter(source: str) -> LocalCounter:
    """The HF tokenizer at ``source`` (a folder or a cached HF id); EngineError if none."""
    try:
        from transformers import AutoTokenizer
    except ImportError as exc:
        raise EngineError(
            f"Counting tokens with the tokenizer at {source} needs transformers "
            "(pip install transformers), or pass tokenizer='server' to use the server's."
        ) from exc
    try:
        return LocalCounter(AutoTokenizer.from_pretrained(source, local_files_only=True))
    except Exception as exc:
        raise EngineError(
            f"Could not load the tokenizer {source} ({describe(exc)}): give a local HF model "
            "folder with the tokenizer files, or tokenizer='server'."
        ) from exc


def find_local_counter(candidates: Sequence[str | None]) -> tuple[LocalCounter, str] | None:
    """The first tokenizer that loads, with where it came from: model folders on this
    machine first (the served model's ``root``, then its id), then ids in the HF cache."""
    for candidate in candidates:
        if candidate and Path(candidate).is_dir() and _has_tokenizer_files(Path(candidate)):
            with contextlib.suppress(EngineError):
                return local_counter(candidate), candidate
    for candidate in candidates:
        if candidate and _hf_cache_has(candidate):
            with contextlib.suppress(EngineError):
                return local_counter(candidate), candidate
    return None
