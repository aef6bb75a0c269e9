"""Next-edit suggestions, protocol-free: the edit the user will make next, from the edits they
just made and the code around the cursor.

The model is shown the recent edits (small diffs, oldest first) and a window of lines around
the cursor (pipeline/next_edit_prompt.py), and rewrites the window with the next edit made:
whole lines copied, a shape every model keeps to, the 0.5B CPU default included, and which
prompt-lookup (n-gram) speculation decodes fast, since the rewrite copies the window. Fathom,
not the model, turns the rewrite into hunks (a line diff against the window, with its line
numbers), so the hunks' original lines are Fathom's own copy of the text. A reply in a diff
or SEARCH/REPLACE shape is read by the edit parser instead.

Then the same machinery as an edit: the hunks are located and syntax-checked (a plan, all or
nothing), carried over to the document's current text (edits/relocate.py: refused when the
user has since typed in the lines an edit replaces), and cut down to the lines that change.
A reply that loops, was cut off by the token limit, rewrites most of the window, drops the
window's last lines (a rewrite that stopped early), undoes one of the recent edits, only
moves blank lines or spaces, or changes nothing gives no suggestion: a next edit is shown
unasked, so a doubtful one is worse than none.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from fathom.backend.engine import Engine, GenerationStats
from fathom.context.text import split_lines, strip_ending
from fathom.edits.degenerate import RepetitionWatch, reply_loop
from fathom.edits.diff_parse import FileDiff, Hunk, HunkLine, ParsedDiff
from fathom.edits.errors import EditError
from fathom.edits.locate import OffsetEdit, Strategy
from fathom.edits.plan import DocumentSnapshot, FileEdit, build_plan
from fathom.edits.relocate import relocate
from fathom.edits.search_replace import has_blocks, parse_reply
from fathom.pipeline.next_edit_prompt import RecentEdit, next_edit_request
from fathom.pipeline.streaming import RedactedChat

# The window: lines above and below the cursor's line (clamped to the document).
LINES_ABOVE = 10
LINES_BELOW = 20
# Unchanged lines kept around each change of the rewrite: they place the hunk.
CONTEXT_LINES = 2
# Recent edits shown, newest kept when the prompt must shrink.
MAX_RECENT = 10
# The rewrite's tokens: the window's, and room for the edit to add some.
REPLY_SLACK_TOKENS = 64


@dataclass(frozen=True, slots=True)
class NextEdit:
    """The suggestion: ``edits`` (whole lines, sorted) against ``snapshot``, the version they
    apply to; none, with ``reason`` saying why, when there is nothing worth showing."""

    snapshot: DocumentSnapshot
    edits: tuple[OffsetEdit, ...] = ()
    reason: str = ""
    reply: str = ""
    stats: GenerationStats | None = None


def cursor_window(
    text: str, cursor_line: int, above: int = LINES_ABOVE, below: int = LINES_BELOW
) -> range:
    """The lines of the window around ``cursor_line``, clamped to the document."""
    count = len(split_lines(text))
    line = min(max(cursor_line, 0), max(count - 1, 0))
    return range(max(0, line - above), min(count, line + below + 1))


def rewritten_lines(reply: str) -> list[str]:
    """The window as the reply rewrote it: the fenced block's lines (the fence Fathom opened
    or one the model wrote), without a closing fence or text after it."""
    lines = reply.replace("\r\n", "\n").split("\n")
    if lines and lines[0].lstrip().startswith("```"):
        lines = lines[1:]
    end = next((i for i, line in enumerate(lines) if line.lstrip().startswith("```")), None)
    return lines if end is None else lines[:end]


def _changes(old: Sequence[str], new: Sequence[str]) -> int:
    """Lines removed plus lines added to turn ``old`` into ``new``."""
    matcher = difflib.SequenceMatcher(None, list(old), list(new), autojunk=False)
    return sum(
        (i2 - i1) + (j2 - j1) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"
    )


def _echo_run(lines: list[str], outside: Sequence[str], at_end: bool) -> int:
    """How many of ``lines``' last lines repeat the lines after the window (``at_end``), or
    of its first lines the lines before it."""
    for k in range(min(len(lines), len(outside)), 0, -1):
        if (lines[-k:] == list(outside[:k])) if at_end else (lines[:k] == list(outside[-k:])):
            return k
    return 0


def _trim_echo(
    window: Sequence[str], new: list[str], before: Sequence[str], after: Sequence[str]
) -> list[str]:
    """The rewrite without what is not the window's: lines the model copied from outside it
    (it began early or wrote on past its end), or an empty last line (a reply that ended
    without its fence), wherever dropping them brings the rewrite closer to the window."""
    candidates = []
    for base in [new, new[:-1]] if new and new[-1] == "" else [new]:
        tail, head = _echo_run(base, after, True), _echo_run(base, before, False)
        candidates += [base, base[: len(base) - tail], base[head:], base[head : len(base) - tail]]
    return min(candidates, key=lambda c: _changes(window, c))  # the first of equals wins


def rewrite_hunks(
    window_lines: Sequence[str], new_lines: Sequence[str], first_line: int
) -> tuple[Hunk, ...]:
    """The rewrite as hunks against the window: each change with ``CONTEXT_LINES`` around,
    headed with its 1-based line in the document (it decides between equal places)."""
    matcher = difflib.SequenceMatcher(None, list(window_lines), list(new_lines), autojunk=False)
    hunks: list[Hunk] = []
    for group in matcher.get_grouped_opcodes(CONTEXT_LINES):
        lines: list[HunkLine] = []
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines += [HunkLine(" ", t) for t in window_lines[i1:i2]]
                continue
            lines += [HunkLine("-", t) for t in window_lines[i1:i2]]
            lines += [HunkLine("+", t) for t in new_lines[j1:j2]]
        start = first_line + group[0][1] + 1
        hunks.append(Hunk(index=len(hunks) + 1, lines=tuple(lines), header_line=start))
    return tuple(hunks)


def _suspect(hunks: Sequence[Hunk], window_size: int) -> str | None:
    """Why hunks of a window rewrite are not a next edit, or None."""
    removed = sum(1 for h in hunks for ln in h.lines if ln.kind == "-")
    added = sum(1 for h in hunks for ln in h.lines if ln.kind == "+")
    if removed > max(window_size // 2, 3):
        return f"the reply rewrote {removed} of the window's {window_size} lines"
    if added > removed + window_size:
        return f"the reply added {added} lines to a {window_size}-line window"
    # The last change reaches the window's end (no context after it) and only removes: the
    # rewrite stopped early, rather than the user's next edit being to delete those lines.
    last = [ln.kind for ln in hunks[-1].lines] if hunks else []
    final_change = last[len(last) - last[::-1].index(" ") :] if " " in last else last
    if last and last[-1] == "-" and "+" not in final_change:
        return "the reply stopped before the window's last lines"
    return None


def _changed_lines(text: str, edit: OffsetEdit) -> OffsetEdit | None:
    """``edit`` cut down to the whole lines it changes; None when it changes nothing."""
    old, new = split_lines(text[edit.start : edit.end]), split_lines(edit.new_text)
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    if head == len(old) == len(new):
        return None
    start = edit.start + sum(map(len, old[:head]))
    end = edit.end - sum(map(len, old[len(old) - tail :]))
    return OffsetEdit(start, end, "".join(new[head : len(new) - tail]))


def _unwanted(text: str, edit: OffsetEdit, recent: Sequence[RecentEdit]) -> bool:
    """The edit only adds or drops blank lines or spaces (a slip in copying the window, not an
    edit anyone asked for), or turns a recent edit's new lines back into its old ones."""
    old = tuple(strip_ending(x) for x in split_lines(text[edit.start : edit.end]))
    new = tuple(strip_ending(x) for x in split_lines(edit.new_text))
    if [x.split() for x in old if x.strip()] == [x.split() for x in new if x.strip()]:
        return True
    return any(r.after == old and r.before == new for r in recent)


async def next_edit(
    engine: Engine,
    snapshot: DocumentSnapshot,
    root: Path,
    cursor_line: int,
    recent: Sequence[RecentEdit] = (),
    *,
    current: Callable[[], DocumentSnapshot | None] | None = None,
    request_id: str | None = None,
    on_request: Callable[[str], None] = lambda _r: None,
    above: int = LINES_ABOVE,
    below: int = LINES_BELOW,
) -> NextEdit:
    """The next edit of ``snapshot`` (a file under ``root``) for a cursor on ``cursor_line``.

    ``current()`` gives the document as it is once the model has answered (None: closed); the
    edits come back against that version, or not at all. Closing the engine's stream on
    cancellation aborts its request."""
    rel = snapshot.path.relative_to(root).as_posix()
    lines = [strip_ending(x) for x in split_lines(snapshot.text)]
    window = cursor_window(snapshot.text, cursor_line, above, below)
    if not lines:
        return NextEdit(snapshot, reason="the document is empty")
    cursor_line = min(max(cursor_line, 0), len(lines) - 1)
    window_lines = lines[window.start : window.stop]
    reply_tokens = engine.count_tokens("\n".join(window_lines)) + REPLY_SLACK_TOKENS
    shown = list(recent)[-MAX_RECENT:]
    while True:
        request = next_edit_request(
            rel, window_lines, window, cursor_line, shown, reply_tokens, request_id
        )
        if engine.prompt_tokens(request.messages) + reply_tokens <= engine.max_context:
            break
        if not shown:
            return NextEdit(snapshot, reason="the window does not fit the model's context")
        shown = shown[1:]  # the oldest edit goes first
    chat = RedactedChat(engine)
    watch = RepetitionWatch()
    held: list[str] = []

    def text(piece: str, _tokens: int) -> None:
        if watch.feed(piece) is not None:
            raise _LoopSeen

    on_request(request.request_id)
    try:
        reply = await chat.reply(request, on_text=text, on_partial=held.append)
    except _LoopSeen:
        reply = held[-1] if held else ""
        return NextEdit(snapshot, reason="the reply fell into a loop", reply=reply)
    stats = chat.stats

    def none(reason: str) -> NextEdit:
        return NextEdit(snapshot, reason=reason, reply=reply, stats=stats)

    if (loop := reply_loop(reply)) is not None:
        return none(loop.describe())
    if stats.completion_tokens >= request.max_tokens:
        return none("the reply reached its token limit before the window's end")
    body = reply.removeprefix(request.assistant_prefix)
    if has_blocks(body):
        try:
            parsed = parse_reply(body, default_path=rel)
        except EditError as exc:
            return none(str(exc))
        if any(f.source != rel or f.target != rel for f in parsed.files):
            return none("the reply edits another file")
    else:
        new = _trim_echo(
            window_lines, rewritten_lines(body), lines[: window.start], lines[window.stop :]
        )
        hunks = rewrite_hunks(window_lines, new, window.start)
        if not hunks:
            return none("the reply leaves the window as it is")
        reason = _suspect(hunks, len(window_lines))
        if reason is not None:
            return none(reason)
        parsed = ParsedDiff(files=(FileDiff(rel, rel, hunks),))
    return _placed(snapshot, root, parsed, recent, current, none, reply, stats)


class _LoopSeen(Exception):
    """Raised from inside the stream to cut a looping reply off (never leaves next_edit)."""


def _placed(
    snapshot: DocumentSnapshot,
    root: Path,
    parsed: ParsedDiff,
    recent: Sequence[RecentEdit],
    current: Callable[[], DocumentSnapshot | None] | None,
    none: Callable[[str], NextEdit],
    reply: str,
    stats: GenerationStats,
) -> NextEdit:
    """Locate and check the hunks in ``snapshot``, carry them to the current text, and cut
    them down to the lines they change."""

    def snapshot_of(path: Path) -> DocumentSnapshot:
        if path != snapshot.path:
            raise EditError(f"{path.name} is not the document of the suggestion")
        return snapshot

    try:
        plan = build_plan(parsed, root, snapshot_of, lambda p: p == snapshot.path, resolve=False)
    except EditError as exc:
        return none(str(exc))
    if plan.creates or plan.renames or plan.deletes or len(plan.files) != 1:
        return none("the reply does more than edit this document")
    (file_edit,) = plan.files
    loose = [
        h for h in file_edit.located if h.strategy not in (Strategy.EXACT, Strategy.WHITESPACE)
    ]
    if loose:
        return none(f"a hunk matched only {loose[0].strategy.value}")
    now = current() if current is not None else snapshot
    if now is None:
        return none("the document was closed")
    try:
        moved: FileEdit = relocate(file_edit, now)
    except EditError as exc:  # StaleEditError: the user typed in those lines meanwhile
        return none(str(exc))
    edits = []
    for located in moved.located:
        edit = _changed_lines(now.text, located.edit)
        if edit is not None and not _unwanted(now.text, edit, recent):
            edits.append(edit)
    if not edits:
        return NextEdit(now, reason="the reply changes nothing", reply=reply, stats=stats)
    return NextEdit(now, tuple(sorted(edits, key=lambda e: e.start)), reply=reply, stats=stats)
