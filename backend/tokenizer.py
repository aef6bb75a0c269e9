"""The served model's own tokenizer, as the token counter context/ needs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class HFTokenCounter:
    """Counts with a Hugging Face tokenizer (the same files vLLM loads for the model)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

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

    def ids(self, text: str) -> list[int]:
        """The token ids of ``text`` (special tokens written in it are recognised)."""
        if self._rust is not None:
            return self._rust.encode(text, add_special_tokens=False).ids
        return self.tokenizer.encode(text, add_special_tokens=False)

    def count_tokens(self, text: str) -> int:
        return len(self.ids(text))

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
