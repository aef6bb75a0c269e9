"""Fathom's settings as the editor sends them, read into one typed, validated value.

Sources, later ones winning: the command line (``fathom serve --model …``), the client's
``initializationOptions``, then ``workspace/configuration`` (section ``fathom``) or the
settings a ``workspace/didChangeConfiguration`` carries. Keys are camelCase as in editor
settings files; a bad value is reported and that one setting keeps its current value (the one
from an earlier source, else the default), so a typo never stops the server.

cattrs structures the section into :class:`FathomConfig`: it renames the camelCase keys,
refuses unknown ones, and runs each setting's rule (:data:`_RULES`) as that field's structure
hook, collecting every problem in one pass; :func:`merge` turns what it refused into one line
per setting for the user.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError
from cattrs.gen import make_dict_structure_fn, override
from lsprotocol import types

from fathom.backend.engine import Decoding
from fathom.edits.formats import AUTO, FORMAT_NAMES

EngineKind = Literal["embedded", "openai"]
SEVERITY_NAMES = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "information": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}


@dataclass(frozen=True, slots=True)
class FathomConfig:
    # Which engine answers: the embedded vLLM ("embedded") or an OpenAI-compatible server
    # ("openai", with serverUrl).
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
    # The edit format asked of the model (edits/formats.py); "auto" follows the model.
    edit_format: str = AUTO
    # How an edit's tokens are picked (backend/engine.py Decoding): greedy, unpenalised and
    # retried greedily by default, as bench/results/eval_decoding.md measured best.
    temperature: float = 0.0
    repetition_penalty: float = 1.0
    retry_temperature: float | None = None

    def engine_key(self) -> tuple[Any, ...]:
        """What the engine depends on: a change here means a new engine."""
        return (self.engine, self.model, self.server_url, self.server_model)

    def as_settings(self) -> dict[str, Any]:
        """The settings as an editor writes them (camelCase keys)."""
        return {key: getattr(self, name) for key, name in _KEYS.items()}

    def decoding(self) -> Decoding:
        return Decoding(self.temperature, self.repetition_penalty, self.retry_temperature)

    @property
    def min_severity(self) -> types.DiagnosticSeverity:
        return SEVERITY_NAMES[self.review_severity]


# Settings in the same "fathom" section that only the editor's client reads (how to start
# the server, how to preview edits): VS Code sends the whole section, so they arrive here.
EDITOR_ONLY_KEYS = frozenset({"serverPath", "pythonPath", "previewEdits", "nextEdits", "trace"})

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
    "editFormat": "edit_format",
    "temperature": "temperature",
    "repetitionPenalty": "repetition_penalty",
    "retryTemperature": "retry_temperature",
}


# -- each setting's rule: a cattrs structure hook that returns the value or says what's wrong -
# cattrs' own hooks convert (int("30"), bool("no") is True); a value from an editor's settings
# file is taken as it is or refused, so the user hears about the typo.
def _whole_number(low: int, high: int, what: str) -> Callable[[Any, Any], int]:
    def hook(value: Any, _: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"must be a whole number {what}")
        return value

    return hook


def _one_of(names: Iterable[str], allowed: str) -> Callable[[Any, Any], str]:
    choices = frozenset(names)

    def hook(value: Any, _: Any) -> str:
        if not isinstance(value, str) or value not in choices:
            raise ValueError(f"must be {allowed}")
        return value

    return hook


def _text_or_null(value: Any, _: Any) -> str | None:
    if value is None or (isinstance(value, str) and value.strip()):
        return value.strip() if isinstance(value, str) else None
    raise ValueError("must be a non-empty string or null")


def _number(
    low: float, high: float, what: str, *, low_open: bool = False, null: bool = False
) -> Callable[[Any, Any], float | None]:
    """A number, whole or not, from ``low`` (excluded with ``low_open``) to ``high``; or
    null where ``null`` allows it."""

    def hook(value: Any, _: Any) -> float | None:
        if value is None and null:
            return None
        number = not isinstance(value, bool) and isinstance(value, int | float)
        if not number or not (low < value if low_open else low <= value) or value > high:
            raise ValueError(f"must be a number {what}")
        return float(value)

    return hook


def _context_budget(value: Any, _: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 256:
        raise ValueError("must be a whole number of tokens, at least 256, or null")
    return value


_RULES: dict[str, Callable[[Any, Any], Any]] = {
    "engine": _one_of(("embedded", "openai"), '"embedded" or "openai"'),
    "model": _text_or_null,
    "server_url": _text_or_null,
    "server_model": _text_or_null,
    "context_budget": _context_budget,
    "max_output_tokens": _whole_number(16, 32768, "between 16 and 32768"),
    "review_severity": _one_of(SEVERITY_NAMES, f"one of {', '.join(SEVERITY_NAMES)}"),
    "journal_max_days": _whole_number(0, 3650, "of days between 0 and 3650 (0: off)"),
    "journal_max_megabytes": _whole_number(0, 100_000, "of MiB between 0 and 100000 (0: off)"),
    "edit_format": _one_of(FORMAT_NAMES, f"one of {', '.join(FORMAT_NAMES)}"),
    "temperature": _number(0, 2, "from 0 (greedy) to 2"),
    "repetition_penalty": _number(0, 2, "above 0 and at most 2 (1: none)", low_open=True),
    "retry_temperature": _number(
        0, 2, "from 0 to 2, or null (retries decode as the first reply)", null=True
    ),
}


def _converter() -> cattrs.Converter:
    """Structures an editor's ``fathom`` section (camelCase keys) into a FathomConfig: every
    key checked by its rule, an unknown key refused, and every problem reported at once."""
    converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    # Typed Any: mypy would match these field names against the _cattrs_* options' types.
    hooks: dict[str, Any] = {
        name: override(rename=key, struct_hook=_RULES[name]) for key, name in _KEYS.items()
    }
    converter.register_structure_hook(
        FathomConfig, make_dict_structure_fn(FathomConfig, converter, **hooks)
    )
    return converter


_CONVERTER = _converter()
_NAME_KEYS = {name: key for key, name in _KEYS.items()}


def _structure(given: Mapping[Any, Any]) -> tuple[FathomConfig, dict[Any, str | None]]:
    """``given`` structured by cattrs, less the keys it refused; and those keys, each with
    what is wrong with its value (None: the key is unknown)."""
    refused: dict[Any, str | None] = {}
    try:
        return _CONVERTER.structure(given, FathomConfig), refused
    except ClassValidationError as exc:
        wrong, others = exc.group_exceptions()
        for error, note in wrong:
            refused[_NAME_KEYS[note.name]] = str(error)
        for error in others:
            if not isinstance(error, ForbiddenExtraKeysError):
                raise  # no rule raises anything else: a bug, not a user's typo
            refused.update(dict.fromkeys(error.extra_fields))
    # Each rule reads its own key only, so what is left structures without a problem.
    valid = {key: value for key, value in given.items() if key not in refused}
    return _CONVERTER.structure(valid, FathomConfig), refused


def _problem(source: str, key: Any, reason: str | None, base: FathomConfig) -> str:
    if reason is None:
        return f"{source}: unknown setting fathom.{key} (known: {', '.join(_KEYS)})"
    kept = json.dumps(getattr(base, _KEYS[key]))  # as the editor's settings file writes it
    return f"{source}: fathom.{key} {reason}; keeps its current value {kept}"


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
    given = {key: value for key, value in raw.items() if key not in EDITOR_ONLY_KEYS}
    parsed, refused = _structure(given)
    # Only the keys given change: parsed's other fields are defaults, not the current values.
    changes = {_KEYS[key]: getattr(parsed, _KEYS[key]) for key in given if key not in refused}
    # One line per refused key, in the order the editor sent them.
    problems = [_problem(source, key, refused[key], base) for key in given if key in refused]
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
