"""How context/ counts model tokens without knowing what the model is.

The engine (backend/) implements this with the served model's own tokenizer.
``token_starts_batch`` lets the chunker count any line range of many files from one batched
tokenizer call: a line's count is the number of tokens that start on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate
from typing import Protocol, runtime_checkable

import numpy as np

from fathom.context.text import line_starts


@runtime_checkable
class TokenCounter(Protocol):
    def count_tokens(self, text: str) -> int: ...

    def count_tokens_batch(self, texts: list[str]) -> list[int]:
        """``count_tokens`` of each text, in one call (the tokenizer batches natively)."""
        ...

    def token_starts_batch(self, texts: list[str]) -> list[Sequence[int]]:
        """For each text, the character offset at which each of its tokens starts."""
        ...


def line_token_counts(
    counter: TokenCounter, texts: list[str], starts_of_lines: list[list[int]] | None = None
) -> list[list[int]]:
    """Tokens starting on each line of each text. ``starts_of_lines``: each text's
    ``line_starts``, when the caller keeps them already.

    A line range's sum is within a token or two of tokenising the range on its own: only the
    merges at its edges differ (a run of blank lines is one token in context). Chunks add a
    margin for that, and the chunking tests check it against exact counts.
    """
    if starts_of_lines is None:
        starts_of_lines = [line_starts(t) for t in texts]
    out = []
    for starts, lines in zip(counter.token_starts_batch(texts), starts_of_lines, strict=True):
        before = np.searchsorted(np.asarray(starts, dtype=np.int64), lines)
        out.append(np.diff(before).tolist())
    return out


class LineTokens:
    """Prefix sums of per-line token counts: any line range's count in O(1)."""

    def __init__(self, per_line: Sequence[int]) -> None:
        self.per_line = per_line
        self._prefix = [0, *accumulate(per_line)]

    def between(self, first_line: int, end_line: int) -> int:
        return self._prefix[end_line] - self._prefix[first_line]
