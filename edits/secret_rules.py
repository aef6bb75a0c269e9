"""What counts as a secret in an ordinary file, for the redactor (edits/secrets.py).

Whole-match token patterns (facts from gitleaks' and detect-secrets' rule lists), private key
blocks, and assignments, configs, headers, connection strings and URLs whose value is judged:
by its name (password, token, key...), by looking random rather than like code or prose, and
never when it is a placeholder. Tuned on the cases in tests/test_secrets.py.
"""

from __future__ import annotations

import functools
import json
import re

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
TOKEN = re.compile("|".join(f"(?:{p})" for p in _TOKENS))
KEY_BLOCK = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?:(?!-----END)[^\n])*\n[\s\S]*?"
    r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
)
# A key on one line, as in a service-account JSON ("-----BEGIN ...-----\nMIIE...\n-----END").
KEY_INLINE = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?P<value>.+?)"
    r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
)
# A PEM body line on its own (a part of a key block shown without its BEGIN line).
PEM_LINE = re.compile(r"[\"']?[A-Za-z0-9+/]{60,76}={0,2}(?:\\n)?[\"']?,?")
# A key line's own text, without indentation, quotes, an escaped line end or a `,`/`+`.
LINE_CORE = re.compile(r"\s*[\"']?(?P<value>.*?)(?:\\n)?[\"']?[ \t]*[,+]?\s*", re.S)
_NAME = r"(?<![\w.-])(?P<name>[A-Za-z_][\w.-]*)"
# A quoted literal given to a name: `name = "v"`, `"name": "v"`, `env["NAME"] = "v"`,
# `name: str = "v"`, `name := "v"`, `'name' => 'v'`, `name == "v"`.
QUOTED = re.compile(
    _NAME
    + r"""["'`]?\]?(?:[ \t]*:[ \t]*[\w.\[\], |]+?)?[ \t]*(?P<sep>:=|=>|==|!=|=|:)[ \t]*
    (?P<prefix>[rRbBuUfF]{0,2})(?P<q>["'`])(?P<value>(?:\\.|(?!(?P=q))[^\\\n])*)(?P=q)""",
    re.X,
)
# A bare value that ends its line: .env, YAML, ini, properties, Dockerfile, shell.
BARE = re.compile(
    r"^[ \t]*(?:-[ \t]+)?(?:(?:export|set|setenv|ENV|ARG)[ \t]+)?"
    + _NAME
    + r"(?P<sep>[ \t]+=[ \t]*|=[ \t]+|:[ \t]+)(?P<value>[^\s\"'`#][^\r\n]*?)"
    + r"(?:[ \t]+#.*)?[ \t]*\r?\n?$"
)
# `--password=v`, `?api_key=v&`, `;Password=v;` (connection strings), `<password>v</`.
INLINE = re.compile(
    r"(?:--|-D|[?&;]\s*|^[ \t]*(?:(?:export|set|setenv|ENV|ARG)[ \t]+)?|[\"'])"
    + _NAME.replace("(?<![\\w.-])", "")
    + r"=(?P<value>[^\s;&\"'`()]+)"
)
XML = re.compile(r"<(?P<name>[\w.:-]+)>(?P<value>[^<\n]+)</(?P=name)>")
NPM = re.compile(r"(?<![\w-])_(?:authToken|auth|password)\s*=\s*(?P<value>[^\s\"'`;]+)")
HEADER = re.compile(
    r"(?i:authorization)[\"']?\s*[:=,]\s*[\"']?(?:Bearer|Basic|Token|Bot|Digest|bearer|basic"
    r"|token)\s+(?P<value>[A-Za-z0-9._~+/=:-]{6,})|\bBearer\s+(?P<bare>[A-Za-z0-9._~+/-]{16,}=*)"
)
URL_PASSWORD = re.compile(r"([a-z][a-z0-9+.-]*://[^:/@\s]*:)([^@/\s]+)(@)", re.I)
MARKER = re.compile(r"«secret-(\d+)»")
# In a JSON reply the marker's quotes may come escaped.
JSON_MARKER = re.compile(r"(?:«|\\u00[aA][bB])secret-(\d+)(?:»|\\u00[bB][bB])")
# A line worth the name-based patterns names a secret.
HINT = re.compile(r"pass|pw|secret|token|key|cred|auth|<")  # on the lower-cased line
# Lines seen to hold no secret (the patterns are per line, so a line's verdict never changes;
# values found elsewhere in a request are masked afterwards, whatever the verdict).
CLEAN: set[str] = set()
CLEAN_LIMIT = 500_000

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
PLACEHOLDER = re.compile(
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
def value_kind(name: str) -> str | None:
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


def is_secret(name: str, value: str, *, bare: str | None = None) -> bool:
    """Whether ``value`` given to ``name`` is a secret. Any non-empty literal given to a
    password-like name is one, however short ("hunter2") or spaced (a passphrase): a leak
    costs more than a masked non-secret, which the reply gets back anyway. Empty values,
    references (``$VAR``, ``{{ var }}``, ``<your-token>``), ``xxxx`` and ``password`` itself
    are placeholders, never secrets. ``bare`` is the separator of an unquoted value."""
    kind = value_kind(name)
    value = value.strip()
    if kind is None or not value or PLACEHOLDER.fullmatch(value) or value == name:
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


def is_mixed(value: str) -> bool:
    """Upper case, lower case and digits: base64, not hex or a word."""
    return not value.isupper() and not value.islower() and any(c.isdigit() for c in value)


def json_string_body(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)[1:-1]


def spreads(value: str) -> bool:
    """Whether a value is distinctive enough to mask wherever it appears: `admin` or `1234`
    would mangle ordinary code, `hunter2` or a key line would not."""
    if len(value) >= 8:
        return True
    return len(value) >= 4 and any(c.isalpha() for c in value) and not value.isalpha()


@functools.lru_cache(maxsize=256)
def copies_pattern(values: tuple[str, ...]) -> re.Pattern[str]:
    # Markers first, so that a value inside a marker (`secret-1`) is never replaced.
    alternatives = "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))
    return re.compile(f"(?P<marker>«secret-\\d+»)|{alternatives}")
