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
import functools
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from fathom.backend.engine import ChatMessage, ChatRequest

# Whole-match patterns: the match is the secret (facts from gitleaks' and detect-secrets'
# rule lists). Each starts with a literal: a leading `\b` or class makes the scan 6x slower.
_TOKENS = [
    r"(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[0-9A-Z]{16}\b",  # AWS key ids
    r"gh[pousr]_[A-Za-z0-9]{36,255}",  # GitHub tokens
    r"github_pat_[A-Za-z0-9_]{22,255}",
    r"gl(?:pat|ptt|rt|dt)-[A-Za-z0-9_-]{20,}",  # GitLab
    r"xox[abposre]-[A-Za-z0-9-]{10,}|xapp-[0-9]-[A-Za-z0-9-]{10,}",  # Slack
    r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/+-]{20,}",
    r"https://discord(?:app)?\.com/api/webhooks/[0-9]+/[A-Za-z0-9_-]{20,}",
    r"sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}",  # OpenAI / Anthropic style
    r"AIza[0-9A-Za-z_-]{35}|ya29\.[0-9A-Za-z_-]{20,}|GOCSPX-[0-9A-Za-z_-]{20,}",  # Google
    r"(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{16,}",  # Stripe
    r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}",  # JWT
    r"hf_[A-Za-z0-9]{30,}",  # Hugging Face
    r"SK[0-9a-fA-F]{32}\b",  # Twilio API key
    r"SG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16,64}",  # SendGrid
    r"npm_[A-Za-z0-9]{36}\b",  # npm
    r"pypi-Ag[A-Za-z0-9_-]{50,}",  # PyPI upload token
    r"key-[0-9a-zA-Z]{32}\b",  # Mailgun
    r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b|do[opr]_v1_[a-f0-9]{64}\b",  # Shopify, DO
    r"dapi[a-f0-9]{32}\b|sq0(?:atp|csp)-[0-9A-Za-z_-]{22,43}",  # Databricks, Square
]
_TOKEN = re.compile("|".join(f"(?:{p})" for p in _TOKENS))
_KEY_BLOCK = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?:(?!-----END)[^\n])*\n[\s\S]*?"
    r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
)
# A key on one line, as in a service-account JSON ("-----BEGIN ...-----\nMIIE...\n-----END").
_KEY_INLINE = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?P<value>.+?)"
    r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
)
# A PEM body line on its own (a part of a key block shown without its BEGIN line).
_PEM_LINE = re.compile(r"[\"']?[A-Za-z0-9+/]{60,76}={0,2}(?:\\n)?[\"']?,?")
# A key line's own text, without indentation, quotes, an escaped line end or a `,`/`+`.
_LINE_CORE = re.compile(r"\s*[\"']?(?P<value>.*?)(?:\\n)?[\"']?[ \t]*[,+]?\s*", re.S)
_NAME = r"(?<![\w.-])(?P<name>[A-Za-z_][\w.-]*)"
# A quoted literal given to a name: `name = "v"`, `"name": "v"`, `env["NAME"] = "v"`,
# `name: str = "v"`, `name := "v"`, `'name' => 'v'`, `name == "v"`.
_QUOTED = re.compile(
    _NAME
    + r"""["'`]?\]?(?:[ \t]*:[ \t]*[\w.\[\], |]+?)?[ \t]*(?P<sep>:=|=>|==|!=|=|:)[ \t]*
    (?P<prefix>[rRbBuUfF]{0,2})(?P<q>["'`])(?P<value>(?:\\.|(?!(?P=q))[^\\\n])*)(?P=q)""",
    re.X,
)
# A bare value that ends its line: .env, YAML, ini, properties, Dockerfile, shell.
_BARE = re.compile(
    r"^[ \t]*(?:-[ \t]+)?(?:(?:export|set|setenv|ENV|ARG)[ \t]+)?"
    + _NAME
    + r"(?P<sep>[ \t]+=[ \t]*|=[ \t]+|:[ \t]+)(?P<value>[^\s\"'`#][^\r\n]*?)"
    + r"(?:[ \t]+#.*)?[ \t]*\r?\n?$"
)
# `--password=v`, `?api_key=v&`, `;Password=v;` (connection strings), `<password>v</`.
_INLINE = re.compile(
    r"(?:--|-D|[?&;]\s*|^[ \t]*(?:(?:export|set|setenv|ENV|ARG)[ \t]+)?|[\"'])"
    + _NAME.replace("(?<![\\w.-])", "")
    + r"=(?P<value>[^\s;&\"'`()]+)"
)
_XML = re.compile(r"<(?P<name>[\w.:-]+)>(?P<value>[^<\n]+)</(?P=name)>")
_NPM = re.compile(r"(?<![\w-])_(?:authToken|auth|password)\s*=\s*(?P<value>[^\s\"'`;]+)")
_HEADER = re.compile(
    r"(?i:authorization)[\"']?\s*[:=,]\s*[\"']?(?:Bearer|Basic|Token|Bot|Digest|bearer|basic"
    r"|token)\s+(?P<value>[A-Za-z0-9._~+/=:-]{6,})|\bBearer\s+(?P<bare>[A-Za-z0-9._~+/-]{16,}=*)"
)
_URL_PASSWORD = re.compile(r"([a-z][a-z0-9+.-]*://[^:/@\s]*:)([^@/\s]+)(@)", re.I)
_MARKER = re.compile(r"«secret-(\d+)»")
# In a JSON reply the marker's quotes may come escaped.
_JSON_MARKER = re.compile(r"(?:«|\\u00[aA][bB])secret-(\d+)(?:»|\\u00[bB][bB])")
# A line worth the name-based patterns names a secret.
_HINT = re.compile(r"pass|pw|secret|token|key|cred|auth|<")  # on the lower-cased line
# Lines seen to hold no secret (the patterns are per line, so a line's verdict never changes;
# values found elsewhere in a request are masked afterwards, whatever the verdict).
_CLEAN: set[str] = set()
_CLEAN_LIMIT = 500_000

_PASSWORD_WORDS = {"pwd", "pw", "pass", "secret", "credential", "credentials", "creds"}
_STRONG_KEYS = {
    "api",
    "secret",
    "private",
    "access",
    "client",
    "master",
    "encryption",
    "signing",
    "sign",
    "app",
    "consumer",
    "account",
    "storage",
    "service",
    "subscription",
    "license",
    "auth",
    "session",
    "hmac",
    "jwt",
    "webhook",
    "shared",
    "crypto",
    "aes",
    "deploy",
    "ssh",
    "admin",
}
# `pad_token = "<pad>"` and friends are a tokenizer's, not a credential.
_PLAIN_TOKENS = {
    "pad",
    "eos",
    "bos",
    "unk",
    "sep",
    "cls",
    "mask",
    "start",
    "end",
    "stop",
    "next",
    "prev",
    "special",
    "first",
    "last",
    "current",
    "cur",
    "page",
    "continuation",
    "eot",
    "split",
    "fim",
}
_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")
_PLACEHOLDER = re.compile(
    r"\$.*|\{\{.*\}\}|\{[\w.]*\}|%\(\w+\)s|<[^>]*>|#\{.*\}|(.)\1*|\.\.\.|\*+|«secret-.*|"
    r"(?i:password|passwd|secret|token|api[_-]?key|none|null|nil|true|false|undefined)",
    re.S,
)
_CODE_WORDS = {
    "none",
    "null",
    "nil",
    "true",
    "false",
    "undefined",
    "str",
    "string",
    "int",
    "bytes",
    "bool",
    "boolean",
    "any",
    "secretstr",
    "object",
    "number",
    "text",
    "optional",
    "~",
    "|",
    ">",
    "|-",
}
_PROSE = {"the", "a", "an", "to", "of", "for", "is", "if", "or", "and", "with", "be", "in"}


@functools.lru_cache(maxsize=4096)
def _kind(name: str) -> str | None:
    """What a name promises: "password" (any literal is a secret, spaces too), "token" (any
    literal without spaces), "random" (only a random-looking literal), or None."""
    words = [w.lower() for w in _SPLIT.split(name) if w]
    if not words:
        return None
    last, prev = words[-1], (words[-2] if len(words) > 1 else "")
    if last.endswith(("password", "passwd", "passphrase")) or last in _PASSWORD_WORDS:
        return "password"
    if last.endswith(("apikey", "secretkey", "privatekey", "accesskey", "authtoken")):
        return "token"
    if last == "key":
        return "token" if prev in _STRONG_KEYS else "random"
    if last.endswith("token"):
        if prev in _PLAIN_TOKENS:
            return None
        return "token" if prev or last != "token" else "random"
    return None


def _random_looking(value: str) -> bool:
    return (
        len(value) >= 16
        and not any(c.isspace() for c in value)
        and any(c.isdigit() for c in value)
        and any(c.isalpha() for c in value)
    )


def _is_secret(name: str, value: str, *, bare: str | None = None) -> bool:
    """Whether ``value`` given to ``name`` is a secret. Any non-empty literal given to a
    password-like name is one, however short ("hunter2") or spaced (a passphrase): a leak
    costs more than a masked non-secret, which the reply gets back anyway. Empty values,
    references (``$VAR``, ``{{ var }}``, ``<your-token>``), ``xxxx`` and ``password`` itself
    are placeholders, never secrets. ``bare`` is the separator of an unquoted value."""
    kind = _kind(name)
    value = value.strip()
    if kind is None or not value or _PLACEHOLDER.fullmatch(value) or value == name:
        return False
    if bare is not None and _looks_like_code(value, bare.strip() == "="):
        return False
    if kind == "random":
        return _random_looking(value)
    return kind == "password" or not any(c.isspace() for c in value)


def _looks_like_code(value: str, assigned: bool) -> bool:
    """An unquoted value that is code or a type, not a literal (`None`, `str`, `get()`,
    `tokens[0]`, `self.token`, `pw,`) or a docstring's prose."""
    words = value.split()
    if any(c in value for c in "()[]{}") or value.endswith((",", ";", ".")) or " = " in value:
        return True
    if words[0].lower() in _CODE_WORDS or any(w.lower() in _PROSE for w in words):
        return True
    if assigned and re.fullmatch(r"[A-Za-z_]+", value):
        return True  # `password = hashed`: a variable (an ini file's `= hunter` goes too)
    # `token: self.token`, `password: userPassword`
    return bool(re.fullmatch(r"[A-Za-z_]+(?:\.[A-Za-z_]\w*)+|[a-z]+[A-Z]\w*", value))


def _mixed(value: str) -> bool:
    """Upper case, lower case and digits: base64, not hex or a word."""
    return not value.isupper() and not value.islower() and any(c.isdigit() for c in value)


def _json_string_body(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)[1:-1]


def _spreads(value: str) -> bool:
    """Whether a value is distinctive enough to mask wherever it appears: `admin` or `1234`
    would mangle ordinary code, `hunter2` or a key line would not."""
    if len(value) >= 8:
        return True
    return len(value) >= 4 and any(c.isalpha() for c in value) and not value.isalpha()


@functools.lru_cache(maxsize=256)
def _copies(values: tuple[str, ...]) -> re.Pattern[str]:
    # Markers first, so that a value inside a marker (`secret-1`) is never replaced.
    alternatives = "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))
    return re.compile(f"(?P<marker>«secret-\\d+»)|{alternatives}")


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

    def _mask_line(self, line: str) -> str:
        """A key line as a marker, its indentation, quotes, ``\\n`` and line end kept (so that
        the same line quoted or indented otherwise elsewhere gets the same marker)."""
        core = _LINE_CORE.fullmatch(line)
        if core is None or not core["value"] or "«secret-" in core["value"]:
            return line
        start, end = core.span("value")
        return line[:start] + self._marker(core["value"]) + line[end:]

    def _spread(self, text: str) -> str:
        """``text`` with every copy of a value found anywhere in the request masked."""
        values = tuple(v for v in self.values if _spreads(v) and v in text)
        if not values:
            return text
        return _copies(values).sub(
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
        if _MARKER.fullmatch(line.strip()):  # a key block's line, masked already
            return line
        line = _TOKEN.sub(lambda m: self._marker(m.group(0)), line)
        stripped = line.strip()
        if 60 <= len(stripped) <= 82 and _PEM_LINE.fullmatch(stripped) and _mixed(stripped):
            return self._mask_line(line)
        if "PRIVATE KEY" in line:
            line = self._sub(_KEY_INLINE, line, lambda m: True)
        if "://" in line:
            line = self._sub(_URL_PASSWORD, line, lambda m: not _PLACEHOLDER.fullmatch(m[2]), 2)
        if not _HINT.search(line.lower()):
            return line
        if "=" in line or ":" in line:
            line = self._sub(_QUOTED, line, _quoted_ok)
            line = self._sub(
                _BARE, line, lambda m: _is_secret(m["name"], m["value"], bare=m["sep"])
            )
            line = self._sub(_INLINE, line, lambda m: _is_secret(m["name"], m["value"]))
            line = self._sub(_NPM, line, lambda m: not _PLACEHOLDER.fullmatch(m["value"]))
            line = self._sub(_HEADER, line, lambda m: True)
            line = self._sub(_HEADER, line, lambda m: any(c.isdigit() for c in m["bare"]), "bare")
        if "</" in line:
            line = self._sub(_XML, line, lambda m: _is_secret(m["name"], m["value"]))
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
    if sep in ("==", "!=") and _kind(match["name"]) != "password":
        return False  # `token == "EOF"` compares with a constant
    return _is_secret(match["name"], value)
