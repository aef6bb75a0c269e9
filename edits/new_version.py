"""Replies that give only the selection's new version, read as replacing the selection.

Small models slip into writing the new code alone where the format wants the old text and
the new: in whole blocks they "quote" the selection already rewritten (the hunk removes and
adds the same new lines); in unified diffs they write it as one hunk of context lines, often
with no marker column (the 1.5B on java-int-stack of the edit suite); in search/replace
blocks they leave out the '=======' and the old text (one run of new lines between SEARCH
and REPLACE: the 1.5B on py-retry-exceptions). Where those lines are not all in the file,
the reply can only mean the selection's new version; the reading is recorded as a repair
and the editor previews it.
"""

from __future__ import annotations

from fathom.context import LineRange
from fathom.context.text import split_lines, strip_ending
from fathom.edits.diff_parse import ParsedDiff, parse_diff
from fathom.edits.errors import DiffParseError, EditError, NoDiffError
from fathom.edits.reindent import indent_of
from fathom.edits.search_replace import undivided_block


def _replacing_selection(
    rel: str, text: str, selection: LineRange, new: list[str], repairs: tuple[str, ...]
) -> ParsedDiff | None:
    """A diff of ``rel`` whose one hunk replaces ``selection`` with ``new``; None when
    ``new`` is empty or every line of it is in the file already (a quote, not new code)."""
    lines = split_lines(text)
    stripped = {line.strip() for line in lines}
    if not new or all(line.strip() in stripped for line in new):
        return None
    old = [strip_ending(line) for line in lines[selection.start : selection.end]]
    body = "\n".join([*(f"-{line}" for line in old), *(f"+{line}" for line in new)])
    again = parse_diff(f"--- a/{rel}\n+++ b/{rel}\n@@ @@\n{body}\n", default_path=rel)
    return ParsedDiff(files=again.files, repairs=repairs)


def unchanged_hunk_as_new_version(
    reply: str, rel: str, text: str, selection: LineRange
) -> ParsedDiff | None:
    """A small model's slip: it "quotes" the selection already rewritten, so its one hunk
    marks no change (it removes and adds the same new lines, or holds only context lines)
    and its lines are nowhere in the file. Read that as the new version of the selection
    (recorded as a repair; the editor previews it). None when the reply is anything else, or
    its lines are really in the file (a true no-op)."""
    parsed = parse_diff(reply, default_path=rel, allow_no_change=True)
    if len(parsed.files) != 1 or len(parsed.files[0].hunks) != 1:
        return None
    (file_diff,) = parsed.files
    (hunk,) = file_diff.hunks
    if file_diff.source != rel or file_diff.target != rel or hunk.changes_something:
        return None
    note = "the model's one hunk marks no change but its lines are new: they replace the selection"
    new = _unprefixed(hunk.new_lines, split_lines(text)[selection.start : selection.end])
    return _replacing_selection(rel, text, selection, new, (*parsed.repairs, note))


def _first_indent(lines: list[str]) -> int | None:
    """The indentation of the first line with code on it; None when there is none."""
    first = next((line for line in lines if line.strip()), None)
    return None if first is None else len(indent_of(first))


def _unprefixed(new: list[str], selected: list[str]) -> list[str]:
    """``new`` as the model wrote it. In a unified diff a model often writes its new code
    with no marker column at all; the parser then takes each line's first space for the
    context marker and the code lands one column to the left. Where that happened (one
    more space puts the first line at the selection's indentation, as written it is not),
    the space is given back."""
    want, got = _first_indent(selected), _first_indent(new)
    if want is None or got is None or got + 1 != want:
        return new
    return [" " + line if line.strip() else line for line in new]


def undivided_block_as_new_version(
    reply: str, rel: str, text: str, selection: LineRange
) -> ParsedDiff | None:
    """The reply's one search/replace block without '=======', for the selected file ``rel``
    (named so, by the end of its path, or not at all), read as the selection's new version;
    None for any other reply, or one whose lines are all in the file."""
    found = undivided_block(reply)
    if found is None:
        return None
    path, new = found
    if path is not None and path != rel and not rel.endswith("/" + path):
        return None
    note = "the search/replace block has no '=======' (only new lines): it replaces the selection"
    return _replacing_selection(rel, text, selection, new, (note,))


def refused_reply_as_new_version(
    error: EditError,
    reply: str,
    rel: str,
    text: str,
    selection: LineRange,
    *,
    unchanged_hunk: bool = True,
) -> ParsedDiff | None:
    """What a reply the parser refused with ``error`` still means, knowing the selection
    ``rel`` ``text`` was asked about: an unreadable one, its undivided search/replace block;
    one that changes nothing, a hunk that quotes the new version (unless not
    ``unchanged_hunk``: a model asked for search/replace blocks writes no hunks). None: no
    repair.
    The one dispatch for ``fathom edit`` and ``fathom apply``."""
    if isinstance(error, DiffParseError):
        return undivided_block_as_new_version(reply, rel, text, selection)
    if isinstance(error, NoDiffError) and unchanged_hunk:
        return unchanged_hunk_as_new_version(reply, rel, text, selection)
    return None
