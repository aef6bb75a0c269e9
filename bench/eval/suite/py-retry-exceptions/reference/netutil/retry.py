"""Retrying flaky calls (the payment gateway drops one request in fifty)."""

import functools
import time
from collections.abc import Callable
from typing import Any


def retry(
    times: int = 3,
    delay: float = 0.0,
    exceptions: tuple[type[BaseException], ...] = (Exception,),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Call the decorated function again when it raises one of ``exceptions``, up to
    ``times`` attempts in all; any other exception propagates at once."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for attempt in range(times):
                try:
                    return func(*args, **kwargs)
                except exceptions:
                    if attempt == times - 1:
                        raise
                    time.sleep(delay)

        return wrapper

    return decorate
