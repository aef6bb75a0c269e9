"""Word frequencies for the weekly newsletter's 'most used words' box."""


def top_words(text: str, n: int = 10) -> list[tuple[str, int]]:
    """The ``n`` most common words of ``text`` with their counts, most common first."""
    counts: dict[str, int] = {}
    for word in text.split():
        counts[word] = counts.get(word, 0) + 1
    return sorted(counts.items(), key=lambda kv: kv[1], reverse=True)[:n]


def render_box(text: str, n: int = 5) -> str:
    return "\n".join(f"{word}: {count}" for word, count in top_words(text, n))
