"""Search/replace blocks, the edit format capable models follow best, read into hunks.

Aider measured 98 to 99.6% well-formed replies for the DeepSeek-V3 family with this format::

    path/to/file.py
    ```python
    <<<<<<< SEARCH
    old lines, copied exactly
    =======
    new lines
    >>>>>>> REPLACE
    ```

Each block becomes a hunk whose old lines are the SEARCH text and whose new lines are the
REPLACE text, so the same locator (exact, then whitespace-insensitive, elided, fuzzy), syntax
check and plan carry it: the format changes how the model writes, not what Fathom trusts.
An empty SEARCH in a file that does not exist yet creates it.
"""

from __future__ import annotations

import re

from fathom.edits.diff_parse import FileDiff, Hunk, HunkLine, ParsedDiff, is_fence, parse_diff
from fathom.edits.errors import DiffParseError, NoDiffError

# Models write five to nine markers; Aider's own prompt uses seven.
_SEARCH = re.compile(r"^\s*<{5,9} ?SEARCH\s*$")
_DIVIDER = re.compile(r"^\s*={5,9}\s*$")
_REPLACE = re.compile(r"^\s*>{5,9} ?REPLACE\s*$")
# A path line: no spaces inside, not prose, typically with a dot or a slash.
_PATH = re.compile(r"^[`*#\s]*([\w./\\-]+[./][\w./\\-]+)[`*:\s]*$")


def has_blocks(reply: str) -> bool:
    return any(_SEARCH.match(line) for line in reply.splitlines())


def _path_before(lines: list[str], start: int) -> str | None:
    """The file a block names: the nearest path line above it, fences skipped."""
    for line in reversed(lines[max(0, start - 3) : start]):
        if is_fence(line) or not line.strip():
            continue
        found = _PATH.match(line)
        return found.group(1) if found else None
    return None


def _block_bounds(lines: list[str], start: int) -> tuple[int | None, int | None, bool]:
    """(the divider's line, the end's line, whether the end is a code fence) of the block
    whose SEARCH marker is at ``start``; None where the block lacks one.

    A block ends before the next SEARCH marker, so a block missing its end never takes the
    next block's lines as its new text. Without '>>>>>>> REPLACE' the block's closing code
    fence ends it (small models drop the marker and close the fence); a fence does not end a
    block that has the marker, as the new text of a Markdown file may hold fences."""
    stop = next((j for j in range(start + 1, len(lines)) if _SEARCH.match(lines[j])), len(lines))
    divider = next((j for j in range(start + 1, stop) if _DIVIDER.match(lines[j])), None)
    if divider is None:
        return None, None, False
    end = next((j for j in range(divider + 1, stop) if _REPLACE.match(lines[j])), None)
    if end is not None:
        return divider, end, False
    fence = next((j for j in range(divider + 1, stop) if is_fence(lines[j])), None)
    return divider, fence, fence is not None


def undivided_block(reply: str) -> tuple[str | None, list[str]] | None:
    """The reply's only block when it has its SEARCH and REPLACE markers but no '=======':
    (the path above it, its lines); None for any other reply."""
    lines = reply.replace("\r\n", "\n").split("\n")
    starts = [i for i, line in enumerate(lines) if _SEARCH.match(line)]
    if len(starts) != 1 or _block_bounds(lines, starts[0])[0] is not None:
        return None
    start = starts[0]
    end = next((j for j in range(start + 1, len(lines)) if _REPLACE.match(lines[j])), None)
    if end is None:
        return None
    return _path_before(lines, start), lines[start + 1 : end]


def parse_search_replace(
    reply: str, default_path: str | None = None, allow_no_change: bool = False
) -> ParsedDiff:
    """The blocks of ``reply`` as file diffs, in the order written; one file's blocks stay in
    one FileDiff. Unclosed or path-less blocks are a DiffParseError saying which; blocks that
    change nothing, a NoDiffError unless ``allow_no_change``."""
    lines = reply.replace("\r\n", "\n").split("\n")
    by_path: dict[str, list[Hunk]] = {}
    created: set[str] = set()
    repairs: list[str] = []
    i = 0
    while i < len(lines):
        if not _SEARCH.match(lines[i]):
            i += 1
            continue
        number = sum(len(h) for h in by_path.values()) + 1
        path = _path_before(lines, i)
        if path is None:
            if default_path is None:
                raise DiffParseError(f"Search/replace block {number} names no file above it.")
            path = default_path
            repairs.append(f"block {number} names no file: it edits {default_path}")
        divider, end, fenced = _block_bounds(lines, i)
        if divider is None or end is None:
            raise DiffParseError(
                f"Search/replace block {number} ({path}) is not closed: it needs '=======' "
                "and '>>>>>>> REPLACE'."
            )
        if fenced:
            repairs.append(f"block {number} ends at its code fence, without '>>>>>>> REPLACE'")
        old, new = lines[i + 1 : divider], lines[divider + 1 : end]
        hunks = by_path.setdefault(path, [])
        if not old:
            created.add(path)
        hunk_lines = tuple(HunkLine("-", t) for t in old) + tuple(HunkLine("+", t) for t in new)
        hunks.append(Hunk(index=len(hunks) + 1, lines=hunk_lines))
        i = end + 1
    files = tuple(
        FileDiff(source=None if p in created and len(h) == 1 else p, target=p, hunks=tuple(h))
        for p, h in by_path.items()
    )
    if not files:
        raise NoDiffError("The reply holds no search/replace block.")
    if not allow_no_change and not any(h.changes_something for f in files for h in f.hunks):
        raise NoDiffError("The model's search/replace blocks change nothing.")
    return ParsedDiff(files=files, repairs=tuple(repairs))


def parse_reply(reply: str, default_path: str | None = None) -> ParsedDiff:
    """A reply in either format: search/replace blocks where it has them, else a diff."""
    if has_blocks(reply):
        return parse_search_replace(reply, default_path)
    return parse_diff(reply, default_path)
