"""Retrying flaky calls (the payment gateway drops one request in fifty)."""

import functools
import time
from collections.abc import Callable
from typing import Any


def retry(times: int = 3, delay: float = 0.0) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Call the decorated function again when it raises, up to ``times`` attempts in all."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for attempt in range(times):
                try:
                    return func(*args, **kwargs)
                except Exception:
                    if attempt == times - 1:
                        raise
                    time.sleep(delay)

        return wrapper

    return decorate
