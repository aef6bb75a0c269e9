"""Read ``.env`` files: one ``KEY=value`` per line, ``#`` comments."""

from pathlib import Path


def parse_env(text: str) -> dict[str, str]:
    """The variables set by the lines of a .env file."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key.strip()] = value
    return values


def load_env(path: Path) -> dict[str, str]:
    return parse_env(path.read_text(encoding="utf-8"))
