"""Word frequencies for the weekly newsletter's 'most used words' box."""

import re
from collections import Counter

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")


def top_words(text: str, n: int = 10) -> list[tuple[str, int]]:
    """The ``n`` most common words of ``text`` with their counts, most common first."""
    counts = Counter(_WORD.findall(text.lower()))
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def render_box(text: str, n: int = 5) -> str:
    return "\n".join(f"{word}: {count}" for word, count in top_words(text, n))
