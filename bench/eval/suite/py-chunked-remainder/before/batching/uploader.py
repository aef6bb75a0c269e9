"""Upload records in batches so one request never carries too many."""

from collections.abc import Callable, Sequence

from batching.chunks import chunked

MAX_BATCH = 50


def upload_all(records: Sequence[dict], send: Callable[[list[dict]], None]) -> int:
    """Send every record through ``send``; return how many requests were made."""
    requests = 0
    for batch in chunked(records, MAX_BATCH):
        send(batch)
        requests += 1
    return requests
