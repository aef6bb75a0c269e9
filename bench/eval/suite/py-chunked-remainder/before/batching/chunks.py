"""Split work into batches for the uploader."""

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Yield lists of ``size`` items from ``items``, in order."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []


def flatten(batches: Iterable[list[T]]) -> list[T]:
    """The items of ``batches`` in one list (the inverse of :func:`chunked`)."""
    return [item for batch in batches for item in batch]
