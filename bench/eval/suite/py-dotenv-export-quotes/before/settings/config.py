"""The service's settings: defaults, overridden by .env, overridden by the environment."""

import os
from pathlib import Path

from settings.dotenv import load_env

DEFAULTS = {"PORT": "8080", "LOG_LEVEL": "info"}


def settings(env_file: Path | None = None) -> dict[str, str]:
    merged = dict(DEFAULTS)
    if env_file is not None and env_file.exists():
        merged.update(load_env(env_file))
    merged.update({k: v for k, v in os.environ.items() if k in merged})
    return merged
