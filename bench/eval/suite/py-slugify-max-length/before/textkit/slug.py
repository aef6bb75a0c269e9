"""URL slugs from titles."""

import re
import unicodedata

_NON_WORD = re.compile(r"[^a-z0-9]+")


def slugify(text: str) -> str:
    """'Héllo, World!' -> 'hello-world'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _NON_WORD.sub("-", ascii_text.lower()).strip("-")


def unique_slug(text: str, taken: set[str]) -> str:
    """A slug for ``text`` that is not in ``taken``: 'post', 'post-2', 'post-3'..."""
    base = slugify(text) or "item"
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    return slug
