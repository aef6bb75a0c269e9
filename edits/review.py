"""Review: ask the model for findings as schema-checked JSON and place each on a real line.

A finding names its line by quoting it, and the JSON schema handed to the engine allows only
the lines of the reviewed code there (an ``enum``): the engine's structured-output sampling
then cannot invent a line, misquote one or get a line number wrong, which small models do
all the time. Each finding may carry the corrected line(s); the fix becomes a whole-block
diff that the edit engine locates and syntax-checks like any other edit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fathom.backend.engine import ChatMessage, ChatRequest
from fathom.context.pack import ContextPack, LineRange, SectionKind
from fathom.context.text import fenced, split_lines
from fathom.errors import FathomError

SEVERITIES = ("error", "warning", "information", "hint")
MAX_FINDINGS = 12
# Past this many distinct lines the schema's enum grows large for the grammar compiler; the
# quote is then free text and located by its content (a miss drops the finding).
MAX_ENUM_LINES = 2000

REVIEW_SYSTEM = """\
You are Fathom, a careful code reviewer inside the user's editor. Find real problems in \
the code you are asked to review: crashes, wrong results, off-by-one errors, unhandled \
cases, security holes, resource leaks; then risky or misleading code. No style nits. \
Reply with JSON only.
For each problem: "code" is the line where it is; "problem" says what goes wrong and \
when, in one or two sentences; "severity" is "error" for a bug, "warning" for risky code, \
"information" or "hint" for the rest; "fixed_code" is that line corrected (several lines \
if needed, same indentation), or "" when there is no simple fix. Report nothing that is \
not a problem; an empty list is a fine answer."""


class ReviewFormatError(FathomError):
    """The reply is not the findings JSON (cut off, or an engine without schema support)."""


@dataclass(frozen=True, slots=True)
class ReviewFinding:
    """One problem, placed: ``line`` is 0-based; ``start``/``end`` index into that line."""

    line: int
    start: int
    end: int
    severity: str
    message: str
    fixed: str | None  # the replacement for the whole line, or None

    def fix_diff(self, path: str, text: str) -> str | None:
        """The fix as a whole-block unified diff of ``path`` (the edit engine's format)."""
        if self.fixed is None:
            return None
        old = split_lines(text)[self.line].rstrip("\r\n")
        new = self.fixed.rstrip("\n").split("\n")
        body = [f"-{old}", *(f"+{line.rstrip(chr(13))}" for line in new)]
        return f"--- a/{path}\n+++ b/{path}\n@@ @@\n" + "\n".join(body) + "\n"


def _quotable(text: str, scope: LineRange) -> list[str]:
    lines = split_lines(text)[scope.start : scope.end]
    return sorted({line.strip() for line in lines if line.strip()})


def review_schema(text: str, scope: LineRange) -> dict[str, Any]:
    quotes = _quotable(text, scope)
    code: dict[str, Any] = (
        {"enum": quotes} if quotes and len(quotes) <= MAX_ENUM_LINES else {"type": "string"}
    )
    finding = {
        "type": "object",
        "properties": {
            "code": code,
            "problem": {"type": "string"},
            "severity": {"enum": list(SEVERITIES)},
            "fixed_code": {"type": "string"},
        },
        "required": ["code", "problem", "severity", "fixed_code"],
    }
    return {
        "type": "object",
        "properties": {"findings": {"type": "array", "maxItems": MAX_FINDINGS, "items": finding}},
        "required": ["findings"],
    }


def review_request(pack: ContextPack, text: str, max_tokens: int) -> ChatRequest:
    """Review the pack's selection (the file, or the lines the user selected) of ``text``."""
    selection = pack.section(SectionKind.SELECTION)
    if selection is None or selection.lines is None:
        raise ValueError("a review pack needs a selection section")
    context = "".join(s.text + "\n" for s in pack.sections if s.kind is not SectionKind.SELECTION)
    path = selection.path.as_posix()
    task = (
        f"Review lines {selection.lines.start + 1}-{selection.lines.end} of {path}:\n"
        f"{fenced(selection.body)}\n"
        "Reply with the problems you find in these lines as JSON."
    )
    return ChatRequest(
        messages=[ChatMessage("system", REVIEW_SYSTEM), ChatMessage("user", context + task)],
        max_tokens=max_tokens,
        json_schema=review_schema(text, selection.lines),
    )


def _entries(reply: str) -> list[Mapping[str, Any]]:
    try:
        data = json.loads(reply)
    except json.JSONDecodeError as exc:
        raise ReviewFormatError(
            f"The model's review is not valid JSON ({exc.msg} at character {exc.pos}); "
            "it may have been cut off: review fewer lines or raise the output limit."
        ) from exc
    findings = data.get("findings") if isinstance(data, dict) else None
    if not isinstance(findings, list):
        raise ReviewFormatError('The model\'s review has no "findings" list.')
    return [f for f in findings if isinstance(f, Mapping)]


def parse_findings(reply: str, text: str, scope: LineRange) -> tuple[list[ReviewFinding], int]:
    """Findings placed on lines of ``scope``, and how many could not be placed (dropped).

    A quote that appears on several lines goes to the first not yet taken by an equal
    finding; repeats of one finding (small models loop) are dropped.
    """
    lines = split_lines(text)
    where: dict[str, list[int]] = {}
    for number in range(scope.start, min(scope.end, len(lines))):
        stripped = lines[number].strip()
        if stripped:
            where.setdefault(stripped, []).append(number)
    placed: list[ReviewFinding] = []
    seen: set[tuple[int, str]] = set()
    dropped = 0
    for entry in _entries(reply):
        quote, message = str(entry.get("code", "")).strip(), str(entry.get("problem", "")).strip()
        severity = str(entry.get("severity", "warning"))
        candidates = [n for n in where.get(quote, []) if (n, message) not in seen]
        if not message or not candidates:
            dropped += 1
            continue
        number = candidates[0]
        seen.add((number, message))
        line = lines[number].rstrip("\r\n")
        start = len(line) - len(line.lstrip())
        fixed = entry.get("fixed_code")
        fixed = fixed if isinstance(fixed, str) and fixed.strip() else None
        if fixed is not None and fixed.strip() == line.strip():
            fixed = None  # "corrected" to itself: no fix to offer
        placed.append(
            ReviewFinding(
                line=number,
                start=start,
                end=len(line),
                severity=severity if severity in SEVERITIES else "warning",
                message=message,
                fixed=fixed,
            )
        )
    return placed, dropped
