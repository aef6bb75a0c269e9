"""Fathom's settings as the editor sends them, read into one typed, validated value.

Sources, later ones winning: the command line (``fathom serve --model …``), the client's
``initializationOptions``, then ``workspace/configuration`` (section ``fathom``) or the
settings a ``workspace/didChangeConfiguration`` carries. Keys are camelCase as in editor
settings files; a bad value is reported and that one setting keeps its current value (the one
from an earlier source, else the default), so a typo never stops the server.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from lsprotocol import types

EngineKind = Literal["embedded", "openai", "replay"]
SEVERITY_NAMES = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "information": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}


@dataclass(frozen=True, slots=True)
class FathomConfig:
    # Which engine answers: the embedded vLLM ("embedded"), an OpenAI-compatible server
    # ("openai", with serverUrl), or recorded replies ("replay", tests only, CLI only).
    engine: EngineKind = "embedded"
    model: str | None = None  # embedded: model folder or name; None: the CPU default
    server_url: str | None = None
    server_model: str | None = None
    # Prompt tokens for context; None: the model's window less the reply.
    context_budget: int | None = None
    max_output_tokens: int = 2048
    # Findings below this severity are not shown.
    review_severity: str = "hint"
    # How long and how much of the edit journal (edits/journal.py) is kept; 0: no journal.
    journal_max_days: int = 30
    journal_max_megabytes: int = 50

    def engine_key(self) -> tuple[Any, ...]:
        """What the engine depends on: a change here means a new engine."""
        return (self.engine, self.model, self.server_url, self.server_model)

    def as_settings(self) -> dict[str, Any]:
        """The settings as an editor writes them (camelCase keys)."""
        return {key: getattr(self, name) for key, name in _KEYS.items()}

    @property
    def min_severity(self) -> types.DiagnosticSeverity:
        return SEVERITY_NAMES[self.review_severity]


# Settings in the same "fathom" section that only the editor's client reads (how to start
# the server, how to preview edits): VS Code sends the whole section, so they arrive here.
EDITOR_ONLY_KEYS = frozenset({"serverPath", "pythonPath", "previewEdits", "trace"})

_KEYS = {
    "engine": "engine",
    "model": "model",
    "serverUrl": "server_url",
    "serverModel": "server_model",
    "contextBudget": "context_budget",
    "maxOutputTokens": "max_output_tokens",
    "reviewSeverity": "review_severity",
    "journalMaxDays": "journal_max_days",
    "journalMaxMegabytes": "journal_max_megabytes",
}
# Whole-number settings: their (lowest, highest) value and unit.
_RANGES = {
    "journal_max_days": (0, 3650, "days"),
    "journal_max_megabytes": (0, 100_000, "MiB"),
}


def _check(name: str, value: Any) -> Any:
    """The value for field ``name``, or ValueError saying what is wrong with it."""
    if name == "engine":
        if value not in ("embedded", "openai"):
            raise ValueError('must be "embedded" or "openai"')
        return value
    if name in ("model", "server_url", "server_model"):
        if value is None or (isinstance(value, str) and value.strip()):
            return value.strip() if isinstance(value, str) else None
        raise ValueError("must be a non-empty string or null")
    if name == "context_budget":
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 256:
            raise ValueError("must be a whole number of tokens, at least 256, or null")
        return value
    if name == "max_output_tokens":
        if isinstance(value, bool) or not isinstance(value, int) or not 16 <= value <= 32768:
            raise ValueError("must be a whole number between 16 and 32768")
        return value
    if name in _RANGES:
        low, high, unit = _RANGES[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"must be a whole number of {unit} between {low} and {high} (0: off)")
        return value
    if name == "review_severity":
        if value not in SEVERITY_NAMES:
            raise ValueError(f"must be one of {', '.join(SEVERITY_NAMES)}")
        return value
    raise AssertionError(name)


def merge(base: FathomConfig, raw: Any, source: str) -> tuple[FathomConfig, list[str]]:
    """``base`` with the settings in ``raw`` applied; and one line per rejected setting.

    ``raw`` is the ``fathom`` section or an object holding it under ``"fathom"``.
    """
    if raw is None:
        return base, []
    if isinstance(raw, Mapping) and isinstance(raw.get("fathom"), Mapping):
        raw = raw["fathom"]
    if not isinstance(raw, Mapping):
        return base, [f"{source}: the Fathom settings must be an object, not {type(raw).__name__}"]
    changes: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in raw.items():
        name = _KEYS.get(key)
        if key in EDITOR_ONLY_KEYS:
            continue
        if name is None:
            known = ", ".join(_KEYS)
            problems.append(f"{source}: unknown setting fathom.{key} (known: {known})")
            continue
        try:
            changes[name] = _check(name, value)
        except ValueError as exc:
            kept = json.dumps(getattr(base, name))  # as the editor's settings file writes it
            problems.append(f"{source}: fathom.{key} {exc}; keeps its current value {kept}")
    config = dataclasses.replace(base, **changes)
    if config.engine == "openai" and not config.server_url:
        # Both go back to what they were (a valid pair, as every merge leaves them).
        config = dataclasses.replace(config, engine=base.engine, server_url=base.server_url)
        if config.engine == "openai" and not config.server_url:
            config = dataclasses.replace(config, engine="embedded")
        kept = f"{json.dumps(config.engine)} and {json.dumps(config.server_url)}"
        problems.append(
            f'{source}: fathom.engine "openai" needs fathom.serverUrl; fathom.engine and '
            f"fathom.serverUrl keep their current values {kept}"
        )
    return config, problems
