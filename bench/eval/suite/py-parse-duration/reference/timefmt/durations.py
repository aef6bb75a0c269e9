"""Parse and format human-written durations such as "1h30m"."""

import re

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)\s*([a-z]+)")


def parse_duration(text: str) -> int:
    """Return the number of seconds in ``text``, e.g. ``"1h30m"`` -> 5400."""
    cleaned = text.strip().lower()
    parts = _PART.findall(cleaned)
    if not parts or _PART.sub("", cleaned).strip():
        raise ValueError(f"not a duration: {text!r}")
    total = 0
    for amount, unit in parts:
        if unit not in _UNITS:
            raise ValueError(f"unknown unit {unit!r} in {text!r}")
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
