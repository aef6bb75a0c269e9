"""URL slugs from titles."""

import re
import unicodedata

_NON_WORD = re.compile(r"[^a-z0-9]+")


def slugify(text: str, max_length: int | None = None) -> str:
    """'Héllo, World!' -> 'hello-world'. With ``max_length``, the slug is cut between words
    (a single word longer than that is cut itself)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = _NON_WORD.sub("-", ascii_text.lower()).strip("-")
    if max_length is None or len(slug) <= max_length:
        return slug
    head = slug[: max_length + 1]
    if "-" in head:
        return head.rsplit("-", 1)[0].strip("-")
    return slug[:max_length]


def unique_slug(text: str, taken: set[str]) -> str:
    """A slug for ``text`` that is not in ``taken``: 'post', 'post-2', 'post-3'..."""
    base = slugify(text) or "item"
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    return slug
