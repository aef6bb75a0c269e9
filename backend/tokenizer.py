"""The served model's own tokenizer, as the token counter context/ needs."""

from __future__ import annotations

from typing import Any


class HFTokenCounter:
    """Counts with a Hugging Face tokenizer (the same files vLLM loads for the model)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    @classmethod
    def from_model(cls, model_path: str) -> HFTokenCounter:
        from transformers import AutoTokenizer

        return cls(AutoTokenizer.from_pretrained(model_path))

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def count_tokens_batch(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        encoded = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def token_starts(self, text: str) -> list[int]:
        encoded = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return [start for start, _end in encoded["offset_mapping"]]
