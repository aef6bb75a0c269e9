"""The served model's own tokenizer, as the token counter context/ needs."""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fathom.backend.prefix_tokens import PrefixTokenCache

# Texts at least this long go through the prefix cache (prompts: a long stable prefix, a new
# tail); shorter ones cost little to encode and would only push prompts out of it.
PREFIX_CACHE_MIN_CHARS = 8000


# The files a Hugging Face tokenizer is loaded from (whichever a model folder has).
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "tokenizer.model",
    "vocab.json",
    "vocab.txt",
    "merges.txt",
    "special_tokens_map.json",
    "added_tokens.json",
)


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """What an HF tokenizer counts with, as a sha256: the serialized state of a fast one
    (vocabulary, merges, normalisation, added tokens), else the tokenizer files of its folder,
    else its vocabulary. Two model folders of the same name with different tokenizers differ;
    the same tokenizer under another folder name does not."""
    digest = hashlib.sha256()
    rust = getattr(tokenizer, "backend_tokenizer", None)
    folder = Path(str(getattr(tokenizer, "name_or_path", "") or "."))
    files = [folder / n for n in TOKENIZER_FILES if (folder / n).is_file()]
    if rust is not None:
        digest.update(b"fast\0" + rust.to_str().encode())
    elif files:
        for file in files:
            digest.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
    else:
        vocab = sorted(tokenizer.get_vocab().items())
        digest.update(b"vocab\0" + repr(vocab).encode())
    return digest.hexdigest()


def engine_fingerprint(engine: object) -> str:
    """The identity of the token counts ``engine`` makes (an index keeps its own only while
    this stays the same; slow the first time: call it off the event loop): the engine's own
    ``tokenizer_fingerprint``, else its HF counter's (the embedded vLLM engine, an OpenAI
    server counted with a local tokenizer), else the model's name (counting with a server's
    /tokenize, whose tokenizer files are out of reach)."""
    own = getattr(engine, "tokenizer_fingerprint", None)
    if isinstance(own, str):
        return own
    counter = getattr(engine, "counter", None)
    if isinstance(counter, HFTokenCounter):
        return counter.fingerprint
    return f"model:{getattr(engine, 'model_name', type(engine).__name__)}"


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

    @functools.cached_property
    def fingerprint(self) -> str:
        """:func:`tokenizer_fingerprint` of this tokenizer (computed once: it hashes the
        whole vocabulary)."""
        return tokenizer_fingerprint(self.tokenizer)

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
