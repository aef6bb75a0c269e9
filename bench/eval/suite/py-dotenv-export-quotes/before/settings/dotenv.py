"""Read ``.env`` files: one ``KEY=value`` per line, ``#`` comments."""

from pathlib import Path


def parse_env(text: str) -> dict[str, str]:
    """The variables set by the lines of a .env file."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, value = line.split("=", 1)
        values[key.strip()] = value.strip()
    return values


def load_env(path: Path) -> dict[str, str]:
    return parse_env(path.read_text(encoding="utf-8"))
