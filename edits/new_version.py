"""Replies that give only the selection's new version, read as replacing the selection.

Small models slip into writing the new code alone where the format wants the old text and
the new: in whole blocks they "quote" the selection already rewritten (the hunk removes and
adds the same new lines); in unified diffs they write it as one hunk of context lines, often
with no marker column (the 1.5B on java-int-stack of the edit suite); in search/replace
blocks they leave out the '=======' and the old text (one run of new lines between SEARCH
and REPLACE: the 1.5B on py-retry-exceptions). Where those lines are not all in the file,
the reply can only mean the selection's new version; the reading is recorded as a repair
and the editor previews it. Written as code, such a hunk often keeps its marker column on
some lines only (the 1.5B on rs-mean-option and js-cart-tax): it is read to the end of its
code block, each line's first space taken as a marker only where the file's indentation
says so.
"""

from __future__ import annotations

from fathom.context import LineRange
from fathom.context.text import split_lines, strip_ending
from fathom.edits.diff_parse import ParsedDiff, is_fence, parse_diff
from fathom.edits.errors import DiffParseError, EditError, NoDiffError
from fathom.edits.reindent import indent_of
from fathom.edits.search_replace import has_blocks, parse_search_replace, undivided_block

_BARE_FENCES = ("```", "~~~")  # a fence with no language: one that closes a block


def _replacing_selection(
    rel: str, lines: list[str], selection: LineRange, new: list[str], repairs: tuple[str, ...]
) -> ParsedDiff | None:
    """A diff of ``rel`` (its ``lines``) whose one hunk replaces ``selection`` with ``new``;
    None when ``new`` is empty or every line of it is in the file already (a quote, not new
    code)."""
    stripped = {line.strip() for line in lines}
    if not new or all(line.strip() in stripped for line in new):
        return None
    end = _rewritten_end(lines, selection.end, new)
    if end > selection.end:
        repairs = (*repairs, f"the new version also rewrites lines {selection.end + 1}-{end}")
    old = [strip_ending(line) for line in lines[selection.start : end]]
    body = "\n".join([*(f"-{line}" for line in old), *(f"+{line}" for line in new)])
    again = parse_diff(f"--- a/{rel}\n+++ b/{rel}\n@@ @@\n{body}\n", default_path=rel)
    return ParsedDiff(files=again.files, repairs=repairs)


def _rewritten_end(lines: list[str], end: int, new: list[str]) -> int:
    """Where the lines ``new`` stands for end: ``end`` (the selection's), or further when
    the model went on past the selection (asked about two functions, the 1.5B rewrote the
    third too: rs-mean-option), so keeping those lines would leave them twice. The lines
    right after the selection count as rewritten while every one with code on it is in
    ``new``, in order, and at least one of them says something ("}" alone does not: a
    selection inside a function is followed by the function's own closing brace)."""
    written = [line.strip() for line in new if line.strip()]
    at, last, telling = 0, end, False
    for i in range(end, len(lines)):
        code = lines[i].strip()
        if not code:
            continue
        at = next((j for j in range(at, len(written)) if written[j] == code), -1) + 1
        if at == 0:
            break
        last, telling = i + 1, telling or _telling(code)
    return last if telling else end


def _telling(code: str) -> bool:
    """A line that says something: enough letters or digits not to recur by chance."""
    return sum(c.isalnum() for c in code) >= 8


def unchanged_hunk_as_new_version(
    reply: str, rel: str, text: str, selection: LineRange
) -> ParsedDiff | None:
    """A small model's slip: it "quotes" the selection already rewritten, so its one hunk
    marks no change (it removes and adds the same new lines, or holds only context lines),
    or its one search/replace block has the same new lines as SEARCH and REPLACE (the 1.5B
    on java-int-stack), and its lines are nowhere in the file. Read that as the new version
    of the selection (recorded as a repair; the editor previews it). None when the reply is
    anything else, or its lines are really in the file (a true no-op)."""
    blocks = has_blocks(reply)
    parse = parse_search_replace if blocks else parse_diff
    try:
        parsed = parse(reply, rel, allow_no_change=True)
    except EditError:  # the reply's own refusal stands, not this reading's
        return None
    if len(parsed.files) != 1 or len(parsed.files[0].hunks) != 1:
        return None
    (file_diff,) = parsed.files
    (hunk,) = file_diff.hunks
    if file_diff.source != rel or file_diff.target != rel or hunk.changes_something:
        return None
    what = "search/replace block changes nothing" if blocks else "hunk marks no change"
    note = f"the model's one {what} but its lines are new: they replace the selection"
    lines = split_lines(text)
    if blocks:  # no marker column to misread
        return _replacing_selection(rel, lines, selection, hunk.new_lines, (note,))
    selected = lines[selection.start : selection.end]
    fenced = _fenced_context_hunk(reply)
    # The model writes such a hunk as code, a marker column on some lines and not on others:
    # the parser reads a line with no marker ("}" at column 0) as the end of the hunk and
    # drops the rest as prose. Inside its code block the rest is code too.
    if fenced is None:
        written = hunk.new_lines
    else:
        written = _closers_trimmed(_markers_dropped(fenced, _space_unit(lines)), selected)
    new = _unprefixed(written, selected)
    return _replacing_selection(rel, lines, selection, new, (*parsed.repairs, note))


def _fenced_context_hunk(reply: str) -> list[str] | None:
    """The lines of the reply's one hunk from its '@@' header to the fence that closes its
    code block, as written; None when the hunk is not in a code block, or that span holds
    anything but context (a changed line, another hunk or file). A reply that opens no block
    before the hunk may have started inside one (the request's reply prefix opens it): a
    bare fence after the hunk closes that one."""
    lines = reply.replace("\r\n", "\n").split("\n")
    header = next((i for i, line in enumerate(lines) if line.startswith("@@")), None)
    if header is None:
        return None
    opened = sum(map(is_fence, lines[:header]))
    close = next((i for i in range(header + 1, len(lines)) if is_fence(lines[i])), None)
    if close is None or (opened % 2 == 0 and (opened or lines[close].strip() not in _BARE_FENCES)):
        return None
    body = lines[header + 1 : close]
    while body and not body[-1].strip():
        body.pop()
    if any(line.startswith(("+", "-", "@@")) for line in body):
        return None
    return body


def _closers_trimmed(new: list[str], selected: list[str]) -> list[str]:
    """``new`` without the closing braces it ends with beyond those the selection closes: a
    model writing to the end of its code block often closes the class around the selection
    too (the 1.5B on java-int-stack), which the file closes already."""
    new = list(new)
    while new and new[-1].strip() in ("}", "};") and _depth(new) < _depth(selected):
        new.pop()
        while new and not new[-1].strip():
            new.pop()
    return new


def _depth(lines: list[str]) -> int:
    return sum(line.count("{") - line.count("}") for line in lines)


def _space_unit(lines: list[str]) -> int | None:
    """The file's indentation step in spaces (its narrowest space indentation, when most
    indented lines are multiples of it); None for a file indented otherwise."""
    widths = [_spaces(line) for line in lines if line.strip() and _spaces(line)]
    unit = min(widths, default=0)
    if unit < 2 or sum(width % unit == 0 for width in widths) < 0.8 * len(widths):
        return None
    return unit


def _spaces(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _markers_dropped(written: list[str], unit: int | None) -> list[str]:
    """Context lines as the model wrote them, each without its marker column where it has
    one: a line's first space is a marker when without it the line sits on the file's
    indentation steps and with it it does not (a line at column 0 has none). Lines neither
    reading settles, or all of them where the file has no steps, lose the space as the
    parser takes it."""
    out = []
    for line in written:
        if not line.startswith(" "):
            out.append(line)  # no marker column ("}" at column 0), or an empty line
        elif unit is not None and _spaces(line) % unit == 0 and (_spaces(line) - 1) % unit:
            out.append(line)
        else:
            out.append(line[1:])
    return out


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
    return _replacing_selection(rel, split_lines(text), selection, new, (note,))


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
    one that changes nothing, a hunk or search/replace block that quotes the new version
    (hunks only where ``unchanged_hunk``: a model asked for search/replace blocks writes no
    hunks). None: no repair.
    The one dispatch for ``fathom edit`` and ``fathom apply``."""
    if isinstance(error, DiffParseError):
        return undivided_block_as_new_version(reply, rel, text, selection)
    if isinstance(error, NoDiffError) and (unchanged_hunk or has_blocks(reply)):
        return unchanged_hunk_as_new_version(reply, rel, text, selection)
    return None
