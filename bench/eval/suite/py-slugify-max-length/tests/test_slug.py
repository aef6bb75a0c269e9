from datetime import date

from textkit.slug import slugify, unique_slug
from textkit.urls import article_url


def test_without_limit_nothing_changes():
    assert slugify("Héllo, World!") == "hello-world"
    assert slugify("The quick brown fox", max_length=100) == "the-quick-brown-fox"
    assert article_url("Hi there", date(2024, 5, 1)) == "/2024/05/hi-there/"


def test_cut_between_words():
    assert slugify("The quick brown fox", max_length=12) == "the-quick"
    assert slugify("The quick brown fox", max_length=15) == "the-quick-brown"
    assert slugify("ab cdefgh", max_length=5) == "ab"


def test_no_trailing_hyphen_and_within_limit():
    for n in range(3, 20):
        slug = slugify("one two three four five", max_length=n)
        assert len(slug) <= n
        assert not slug.endswith("-")


def test_a_long_single_word_is_cut():
    assert slugify("Supercalifragilistic", max_length=5) == "super"


def test_unique_slug_unchanged():
    assert unique_slug("Post", {"post"}) == "post-2"
