"""How context/ counts model tokens without knowing what the model is.

The engine (backend/) implements this with the served model's own tokenizer. ``token_starts``
lets the chunker count any line range of a file from one tokenizer call per file.
"""

from __future__ import annotations

import bisect
from typing import Protocol, runtime_checkable


@runtime_checkable
class TokenCounter(Protocol):
    def count_tokens(self, text: str) -> int: ...

    def token_starts(self, text: str) -> list[int]:
        """Character offset at which each token of ``text`` starts, ascending."""
        ...

    def count_tokens_batch(self, texts: list[str]) -> list[int]:
        """``count_tokens`` of each text, in one call (the tokenizer batches natively)."""
        ...


class LineTokens:
    """Tokens per line range of one text, from a single tokenisation of the whole text.

    A range's count is the number of tokens that start inside it: within a token or two of
    tokenising the range on its own (merges at its edges differ), which the chunker checks
    exactly on the final chunks.
    """

    def __init__(self, starts_of_lines: list[int], token_starts: list[int]) -> None:
        self._prefix = [bisect.bisect_left(token_starts, s) for s in starts_of_lines]

    def between(self, first_line: int, end_line: int) -> int:
        return self._prefix[end_line] - self._prefix[first_line]
