import pytest

from batching.chunks import chunked, flatten
from batching.uploader import upload_all


def test_last_partial_batch_is_kept():
    assert list(chunked(range(5), 2)) == [[0, 1], [2, 3], [4]]


def test_exact_multiple_and_empty():
    assert list(chunked("abcd", 2)) == [["a", "b"], ["c", "d"]]
    assert list(chunked([], 3)) == []


def test_round_trip():
    items = list(range(23))
    assert flatten(chunked(items, 5)) == items


def test_uploader_sends_every_record():
    sent = []
    assert upload_all([{"n": i} for i in range(120)], sent.append) == 3
    assert sum(len(b) for b in sent) == 120


@pytest.mark.parametrize("size", [0, -1])
def test_size_below_one_is_refused(size):
    with pytest.raises(ValueError):
        list(chunked([1, 2, 3], size))
