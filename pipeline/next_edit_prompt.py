"""The chat request of a next-edit suggestion (pipeline/next_edit.py): the recent edits as
small diffs, what they replaced named in words, and the window of code around the cursor,
whose rewrite the reply begins (its fence opened for the model).

The system message and the example come first and never change, so the engine's prefix cache
serves them on every request; the window comes last.
"""

from __future__ import annotations

import difflib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fathom.backend.engine import ChatMessage, ChatRequest
from fathom.context.languages import language_of

SYSTEM = """\
You are Fathom, inside a programmer's editor. You predict the edit they will make next.

You are shown their recent edits, as diffs, and the code around their cursor. Find the edit \
that follows from the recent ones: the same change made to the next place that needs it (a \
renamed name still used under its old name, a new parameter not yet passed, a change made to \
one line and not yet to the similar lines).

Reply with the code around the cursor rewritten with that edit: every line of it, in one \
fenced code block, each line you do not change copied exactly. If no edit follows from the \
recent ones, copy the code unchanged.

Example. Recent edit:
```diff
-def area(w, h):
+def surface(w, h):
```
Code around the cursor:
```
def surface(w, h):
    return w * h

print(area(2, 3))
```
Reply:
```
def surface(w, h):
    return w * h

print(surface(2, 3))
```"""


@dataclass(frozen=True, slots=True)
class RecentEdit:
    """One recent change: ``before`` lines became ``after`` lines (without line endings) at
    0-based ``line``, in ``path`` (as the prompt names it)."""

    path: str
    line: int
    before: tuple[str, ...]
    after: tuple[str, ...]

    def as_diff(self) -> str:
        old, new = len(self.before), len(self.after)
        header = f"@@ -{self.line + 1},{old} +{self.line + 1},{new} @@"
        body = [*(f"-{t}" for t in self.before), *(f"+{t}" for t in self.after)]
        return "\n".join([header, *body])


_TOKEN = re.compile(r"\w+|\S")
# Replacements named in the prompt, at most; and tokens a side of one may span.
MAX_REPLACEMENTS = 5
MAX_REPLACEMENT_TOKENS = 4


def replacements(recent: Sequence[RecentEdit]) -> list[tuple[str, str]]:
    """What the recent edits replaced within their lines (``total_value`` by
    ``inventory_value``), newest first: named in the prompt, a small model then finds the
    places still to change far more often than from the diffs alone."""
    found: dict[tuple[str, str], None] = {}
    for edit in reversed(recent):
        if len(edit.before) != len(edit.after):
            continue
        for old, new in zip(edit.before, edit.after, strict=True):
            a, b = _TOKEN.findall(old), _TOKEN.findall(new)
            matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
            for tag, i1, i2, j1, j2 in matcher.get_opcodes():
                if tag == "replace" and max(i2 - i1, j2 - j1) <= MAX_REPLACEMENT_TOKENS:
                    found.setdefault(("".join(a[i1:i2]), "".join(b[j1:j2])), None)
    return list(found)[:MAX_REPLACEMENTS]


def next_edit_request(
    rel: str,
    window_lines: Sequence[str],
    window: range,
    cursor_line: int,
    recent: Sequence[RecentEdit],
    max_tokens: int,
    request_id: str | None = None,
) -> ChatRequest:
    """The chat request: recent edits first, then the window; the reply opens its fence."""
    fence = f"```{language_of(Path(rel)) or ''}"
    by_path: dict[str, list[RecentEdit]] = {}
    for edit in recent:  # oldest first; grouped by file in the order files were first edited
        by_path.setdefault(edit.path, []).append(edit)
    parts = [
        f"Recent edits in {path}, oldest first:\n```diff\n"
        + "\n".join(e.as_diff() for e in edits)
        + "\n```\n"
        for path, edits in by_path.items()
    ] or ["No recent edits.\n"]
    if pairs := replacements(recent):
        named = "; ".join(f"`{old}` became `{new}`" for old, new in pairs)
        parts.append(f"In these edits, {named}.\n")
    code = "\n".join(window_lines)
    parts.append(
        f"The code around the cursor, lines {window.start + 1}-{window.stop} of {rel} "
        f"(the cursor is on line {cursor_line + 1}):\n{fence}\n{code}\n```\n\n"
        "Rewrite this code with the next edit: make the same change where the code still has "
        "what the recent edits changed."
    )
    return ChatRequest(
        messages=(ChatMessage("system", SYSTEM), ChatMessage("user", "\n".join(parts))),
        max_tokens=max_tokens,
        temperature=0.0,
        stop=("\n```",),
        assistant_prefix=fence + "\n",
        request_id=request_id or uuid.uuid4().hex,
    )
