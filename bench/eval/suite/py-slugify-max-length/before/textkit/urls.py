"""Article URLs."""

from datetime import date

from textkit.slug import slugify


def article_url(title: str, published: date) -> str:
    return f"/{published:%Y/%m}/{slugify(title)}/"
