"""The served model's own tokenizer, as the token counter context/ needs."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from backend.prefix_tokens import PrefixTokenCache

# Texts at least this long go through the prefix cache (prompts: a long stable prefix, a new
# tail); shorter ones cost little to encode and would only push prompts out of it.
PREFIX_CACHE_MIN_CHARS = 8000


class HFTokenCounter:
    """Counts with a Hugging Face tokenizer (the same files vLLM loads for the model)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self._prefix_cache: PrefixTokenCache | None = None
        self._prefix_cache_lock = threading.Lock()

    @classmethod
    def from_model(cls, model_path: str) -> HFTokenCounter:
        from transformers import AutoTokenizer

        return cls(AutoTokenizer.from_pretrained(model_path))

    @property
    def _rust(self) -> Any:
        """The Rust tokenizer under a transformers "fast" tokenizer, or None: called directly
        it encodes batches on every core with the GIL released, without the Python-side
        padding and conversion machinery of ``__call__``."""
        return getattr(self.tokenizer, "backend_tokenizer", None)

    @property
    def prefix_cache(self) -> PrefixTokenCache | None:
        """The prefix cache of long texts' ids (None without a Rust tokenizer), made on first
        use."""
        rust = self._rust
        if rust is None:
            return None
        with self._prefix_cache_lock:
            if self._prefix_cache is None or self._prefix_cache.tokenizer is not rust:
                self._prefix_cache = PrefixTokenCache(rust)
            return self._prefix_cache

    def ids(self, text: str) -> list[int]:
        """The token ids of ``text`` (special tokens written in it are recognised).

        A long text (a prompt) reuses the ids of the prefix it shares with a recent one: the
        same ids as encoding it whole (see backend/prefix_tokens.py)."""
        if len(text) >= PREFIX_CACHE_MIN_CHARS and (cache := self.prefix_cache) is not None:
            return cache.ids(text)
        return self._encode_ids(text)

    def _encode_ids(self, text: str) -> list[int]:
        if self._rust is not None:
            return self._rust.encode(text, add_special_tokens=False).ids
        return self.tokenizer.encode(text, add_special_tokens=False)

    def count_tokens(self, text: str) -> int:
        # Not through the prefix cache: the indexer counts many long files, which would push
        # the prompts out of it.
        return len(self._encode_ids(text))

    def count_tokens_batch(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        if self._rust is not None:
            return [len(e) for e in self._rust.encode_batch_fast(texts, add_special_tokens=False)]
        encoded = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def token_starts_batch(self, texts: list[str]) -> list[Sequence[int]]:
        if self._rust is None:
            encoded = self.tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
            return [[start for start, _end in o] for o in encoded["offset_mapping"]]
        return [
            [start for start, _end in e.offsets]
            for e in self._rust.encode_batch(texts, add_special_tokens=False)
        ]
