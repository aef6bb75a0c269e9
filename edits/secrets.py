"""Secret-looking values never enter a prompt.

Files that look like secrets (.env, keys, credentials) are never indexed (context/files.py);
this catches the values that sit in ordinary files: cloud and API tokens, private key
blocks, passwords in assignments and URLs. Each is replaced by a marker ``«secret-N»`` on
its way into a prompt, and the model's reply gets the original back wherever it repeats a
marker, so an edit of a line holding a secret still applies exactly and keeps the secret
in the file. A reply that invents a marker it was never given is left as it is (and then
cannot match the file).

Line structure is kept: a private key block is replaced line by line.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from backend.engine import ChatMessage, ChatRequest

# Whole-match patterns: the match is the secret.
_TOKENS = [
    r"AKIA[0-9A-Z]{16}",  # AWS access key id
    r"ASIA[0-9A-Z]{16}",  # AWS temporary key id
    r"gh[pousr]_[A-Za-z0-9]{36,255}",  # GitHub tokens
    r"github_pat_[A-Za-z0-9_]{22,255}",
    r"glpat-[A-Za-z0-9_-]{20,}",  # GitLab
    r"xox[abposr]-[A-Za-z0-9-]{10,}",  # Slack
    r"sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}",  # OpenAI / Anthropic style
    r"AIza[0-9A-Za-z_-]{35}",  # Google API key
    r"(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{16,}",  # Stripe
    r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}",  # JWT
    r"hf_[A-Za-z0-9]{30,}",  # Hugging Face
]
# Group 2 is the secret: the name before it says what it is.
_ASSIGNED = re.compile(
    r"""(?ix)
    ((?:password|passwd|pwd|secret|api[_-]?key|access[_-]?key|auth[_-]?token|token|
        client[_-]?secret|private[_-]?key)["']?\s*[:=]\s*["'])
    (?!«secret-)([^"'\s]{8,})
    (?=["'])
    """
)
_URL_PASSWORD = re.compile(r"([a-z][a-z0-9+.-]*://[^:/@\s]+:)(?!«secret-)([^@/\s]{4,})(@)", re.I)
_KEY_BLOCK = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----"
)
_TOKEN = re.compile("|".join(f"(?:{p})" for p in _TOKENS))
_MARKER = re.compile(r"«secret-(\d+)»")
# In a JSON reply the marker's quotes may come escaped.
_JSON_MARKER = re.compile(r"(?:«|\\u00[aA][bB])secret-(\d+)(?:»|\\u00[bB][bB])")
# Lines seen to hold no secret (the patterns are per line, so a line's verdict never changes).
_CLEAN: set[str] = set()
_CLEAN_LIMIT = 500_000


def _json_string_body(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)[1:-1]


@dataclasses.dataclass
class Redactor:
    """One request's secrets: the markers given out, and the values they stand for."""

    values: list[str] = dataclasses.field(default_factory=list)

    def _marker(self, value: str) -> str:
        if value not in self.values:
            self.values.append(value)
        return f"«secret-{self.values.index(value) + 1}»"

    def redact(self, text: str) -> str:
        def block(match: re.Match[str]) -> str:
            lines = match.group(0).split("\n")
            # BEGIN and END lines stay: the model still sees that a key is there.
            inner = [self._marker(line) if line.strip() else line for line in lines[1:-1]]
            return "\n".join([lines[0], *inner, lines[-1]])

        if "PRIVATE KEY-----" in text:
            text = _KEY_BLOCK.sub(block, text)
        # Line by line, remembering lines that hold nothing: a prompt repeats most of the
        # last one (the same files), and scanning 500 KB with these patterns costs ~0.1 s.
        lines = text.splitlines(keepends=True)
        for n, line in enumerate(lines):
            if line in _CLEAN:
                continue
            redacted = self._redact_line(line)
            if redacted == line:
                if len(_CLEAN) > _CLEAN_LIMIT:
                    _CLEAN.clear()
                _CLEAN.add(line)
            else:
                lines[n] = redacted
        return "".join(lines)

    def _redact_line(self, line: str) -> str:
        line = _TOKEN.sub(lambda m: self._marker(m.group(0)), line)
        if "=" in line or ":" in line:
            line = _ASSIGNED.sub(lambda m: m.group(1) + self._marker(m.group(2)), line)
        if "://" in line:
            line = _URL_PASSWORD.sub(
                lambda m: m.group(1) + self._marker(m.group(2)) + m.group(3), line
            )
        return line

    def restore(self, text: str) -> str:
        return self._restore(_MARKER, text, lambda value: value)

    def restore_json(self, text: str) -> str:
        """``restore`` for a JSON reply: markers sit inside JSON strings, so each value goes
        back JSON-escaped (a password holding ``\\`` or ``"`` would otherwise break the
        reply, or change what it says)."""
        return self._restore(_JSON_MARKER, text, _json_string_body)

    def _restore(self, marker: re.Pattern[str], text: str, encode: Callable[[str], str]) -> str:
        def back(match: re.Match[str]) -> str:
            n = int(match.group(1))
            return encode(self.values[n - 1]) if 1 <= n <= len(self.values) else match.group(0)

        return marker.sub(back, text)

    def request(self, request: ChatRequest) -> ChatRequest:
        """``request`` with its messages, reply prefix and JSON schema redacted (a review's
        schema lists the reviewed lines)."""
        messages = [ChatMessage(m.role, self.redact(m.content)) for m in request.messages]
        schema = None if request.json_schema is None else self._redact_json(request.json_schema)
        return dataclasses.replace(
            request,
            messages=messages,
            assistant_prefix=self.redact(request.assistant_prefix),
            json_schema=schema,
        )

    def _redact_json(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {key: self._redact_json(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self._redact_json(item) for item in value]
        return value

    @property
    def count(self) -> int:
        return len(self.values)
