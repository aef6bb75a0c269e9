"""Secret-looking values never enter a prompt.

Files that look like secrets (.env, keys, credentials) are never indexed (context/files.py);
this catches the values that sit in ordinary files: cloud and API tokens, private key
blocks, passwords in assignments, configs, headers, connection strings and URLs. Each is
replaced by a marker ``«secret-N»`` on its way into a prompt, and the model's reply gets the
original back wherever it repeats a marker, so an edit of a line holding a secret still
applies exactly and keeps the secret in the file. A reply that invents a marker it was never
given is left as it is (and then cannot match the file).

A value found anywhere in a request is masked everywhere in it: a selection inside a key
block is shown twice (in its file, where the BEGIN/END lines reveal it, and on its own,
where nothing does), and both copies must hide it.

Line structure is kept: a private key block is replaced line by line.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any

from fathom.backend.engine import ChatMessage, ChatRequest
from fathom.edits.secret_rules import (
    BARE,
    CLEAN,
    CLEAN_LIMIT,
    HEADER,
    HINT,
    INLINE,
    JSON_MARKER,
    KEY_BLOCK,
    KEY_INLINE,
    LINE_CORE,
    MARKER,
    NPM,
    PEM_LINE,
    PLACEHOLDER,
    QUOTED,
    TOKEN,
    URL_PASSWORD,
    XML,
    copies_pattern,
    is_mixed,
    is_secret,
    json_string_body,
    spreads,
    value_kind,
)


@dataclasses.dataclass
class Redactor:
    """One request's secrets: the markers given out, and the values they stand for."""

    values: list[str] = dataclasses.field(default_factory=list)

    def _marker(self, value: str) -> str:
        if value not in self.values:
            self.values.append(value)
        return f"«secret-{self.values.index(value) + 1}»"

    def redact(self, text: str) -> str:
        return self._spread(self._find(text))

    def _find(self, text: str) -> str:
        """``text`` with every secret its lines show masked where it stands."""

        def block(match: re.Match[str]) -> str:
            lines = match.group(0).split("\n")
            # BEGIN and END lines stay: the model still sees that a key is there.
            inner = [self._mask_line(line) for line in lines[1:-1]]
            return "\n".join([lines[0], *inner, lines[-1]])

        if "PRIVATE KEY" in text:
            text = KEY_BLOCK.sub(block, text)
        # Line by line, remembering lines that hold nothing: a prompt repeats most of the
        # last one (the same files), and scanning 500 KB with these patterns costs ~0.1 s.
        lines = text.splitlines(keepends=True)
        for n, line in enumerate(lines):
            if line in CLEAN:
                continue
            redacted = self._redact_line(line)
            if redacted == line:
                if len(CLEAN) > CLEAN_LIMIT:
                    CLEAN.clear()
                CLEAN.add(line)
            else:
                lines[n] = redacted
        return "".join(lines)

    def _mask_line(self, line: str) -> str:
        """A key line as a marker, its indentation, quotes, ``\\n`` and line end kept (so that
        the same line quoted or indented otherwise elsewhere gets the same marker)."""
        core = LINE_CORE.fullmatch(line)
        if core is None or not core["value"] or "«secret-" in core["value"]:
            return line
        start, end = core.span("value")
        return line[:start] + self._marker(core["value"]) + line[end:]

    def _spread(self, text: str) -> str:
        """``text`` with every copy of a value found anywhere in the request masked."""
        values = tuple(v for v in self.values if spreads(v) and v in text)
        if not values:
            return text
        return copies_pattern(values).sub(
            lambda m: m.group(0) if m.group("marker") else self._marker(m.group(0)), text
        )

    def _sub(
        self,
        pattern: re.Pattern[str],
        line: str,
        ok: Callable[[re.Match[str]], bool],
        group: str | int = "value",
    ) -> str:
        """``line`` with ``group`` of each match of ``pattern`` that ``ok`` passes masked."""

        def mask(match: re.Match[str]) -> str:
            value = match.group(group)
            if value is None or "«secret-" in value or not ok(match):
                return match.group(0)
            start, end = match.span(group)
            whole = match.group(0)
            at = match.start()
            return whole[: start - at] + self._marker(value) + whole[end - at :]

        return pattern.sub(mask, line)

    def _redact_line(self, line: str) -> str:
        if MARKER.fullmatch(line.strip()):  # a key block's line, masked already
            return line
        line = TOKEN.sub(lambda m: self._marker(m.group(0)), line)
        stripped = line.strip()
        if 60 <= len(stripped) <= 82 and PEM_LINE.fullmatch(stripped) and is_mixed(stripped):
            return self._mask_line(line)
        if "PRIVATE KEY" in line:
            line = self._sub(KEY_INLINE, line, lambda m: True)
        if "://" in line:
            line = self._sub(URL_PASSWORD, line, lambda m: not PLACEHOLDER.fullmatch(m[2]), 2)
        if not HINT.search(line.lower()):
            return line
        if "=" in line or ":" in line:
            line = self._sub(QUOTED, line, _quoted_ok)
            line = self._sub(BARE, line, lambda m: is_secret(m["name"], m["value"], bare=m["sep"]))
            line = self._sub(INLINE, line, lambda m: is_secret(m["name"], m["value"]))
            line = self._sub(NPM, line, lambda m: not PLACEHOLDER.fullmatch(m["value"]))
            line = self._sub(HEADER, line, lambda m: True)
            line = self._sub(HEADER, line, lambda m: any(c.isdigit() for c in m["bare"]), "bare")
        if "</" in line:
            line = self._sub(XML, line, lambda m: is_secret(m["name"], m["value"]))
        return line

    def restore(self, text: str) -> str:
        return self._restore(MARKER, text, lambda value: value)

    def restore_json(self, text: str) -> str:
        """``restore`` for a JSON reply: markers sit inside JSON strings, so each value goes
        back JSON-escaped (a password holding ``\\`` or ``"`` would otherwise break the
        reply, or change what it says)."""
        return self._restore(JSON_MARKER, text, json_string_body)

    def _restore(self, marker: re.Pattern[str], text: str, encode: Callable[[str], str]) -> str:
        def back(match: re.Match[str]) -> str:
            n = int(match.group(1))
            return encode(self.values[n - 1]) if 1 <= n <= len(self.values) else match.group(0)

        return marker.sub(back, text)

    def request(self, request: ChatRequest) -> ChatRequest:
        """``request`` with its messages, reply prefix and JSON schema redacted (a review's
        schema lists the reviewed lines). Every part is searched before any is masked, so a
        value found in one part is masked in all."""
        found = [ChatMessage(m.role, self._find(m.content)) for m in request.messages]
        prefix = self._find(request.assistant_prefix)
        schema = request.json_schema
        schema = (
            None if schema is None else self._walk(self._walk(schema, self._find), self._spread)
        )
        return dataclasses.replace(
            request,
            messages=[ChatMessage(m.role, self._spread(m.content)) for m in found],
            assistant_prefix=self._spread(prefix),
            json_schema=schema,
        )

    def _walk(self, value: Any, redact: Callable[[str], str]) -> Any:
        if isinstance(value, str):
            return redact(value)
        if isinstance(value, Mapping):
            return {key: self._walk(item, redact) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self._walk(item, redact) for item in value]
        return value

    @property
    def count(self) -> int:
        return len(self.values)


def _quoted_ok(match: re.Match[str]) -> bool:
    value, sep = match["value"], match["sep"]
    if "f" in match["prefix"].lower() and "{" in value:
        return False  # an f-string: its braces are references
    if sep in ("==", "!=") and value_kind(match["name"]) != "password":
        return False  # `token == "EOF"` compares with a constant
    return is_secret(match["name"], value)
