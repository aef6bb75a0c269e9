"""Parse and format human-written durations such as "1h30m"."""

import re

_UNITS = {"h": 3600, "m": 60}
_PART = re.compile(r"(\d+)([a-z]+)")


def parse_duration(text: str) -> int:
    """Return the number of seconds in ``text``, e.g. ``"1h30m"`` -> 5400."""
    total = 0
    for amount, unit in _PART.findall(text.strip().lower()):
        total += int(amount) * _UNITS[unit]
    return total


def format_duration(seconds: int) -> str:
    """The inverse of :func:`parse_duration`: 5400 -> ``"1h30m"``."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if secs or not parts:
        parts.append(f"{secs}s")
    return "".join(parts)
