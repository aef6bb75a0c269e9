"""Replies that must not become edits: repetition loops, and replies out of all proportion.

Small models decoding greedily fall into loops: the same block of lines written again and
again until the token limit (seen on Fathom's own eval: one block repeated 20 to 57 times,
100 to 230 added lines). :class:`RepetitionWatch` reads the reply while it streams and says so
as soon as a loop is unmistakable, so the engine request is aborted early instead of running
to the limit, and the reply is never applied.

:func:`disproportion` judges a finished plan against what was asked: a selection deleted with
nothing in its place, or far more lines written than the selection and the instruction can
explain, is suspect; the edit loop asks the model again with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# A block of up to this many lines is looked for when a line ends.
MAX_PERIOD = 40
# This many back-to-back copies of one block is a loop. Real code does not repeat an identical
# block (same text, same indentation) six times in a row; test tables and enum arms differ in
# their values.
MIN_REPEATS = 6
# ... and the copies together hold at least this many lines; and one line repeated needs more
# copies (a literal table may hold a dozen equal rows).
MIN_LOOP_LINES = 12
MIN_SINGLE_LINE_REPEATS = 16
# A single line growing past this many characters while repeating one short piece
# ("foo(foo(foo(") is a loop inside a line.
MAX_LINE_CHARS = 4000

# Words that ask for code to go away: a reply that deletes the selection is then expected.
_REMOVAL_WORDS = re.compile(
    r"\b(delete|remove|drop|strip|erase|clear|eliminate|get rid|take out|cut)\b", re.IGNORECASE
)
# Added lines the instruction can ask for beyond the selection's own size.
_GROWTH_ALLOWANCE = 80
# ... and how many times the selection's size a rewrite may reach before it is suspect.
_GROWTH_FACTOR = 8


@dataclass(frozen=True, slots=True)
class Loop:
    """A repetition loop: ``repeats`` copies of a ``period``-line block."""

    period: int
    repeats: int
    sample: str

    def describe(self) -> str:
        first = self.sample.strip().splitlines()[0] if self.sample.strip() else "(blank lines)"
        return (
            f"the reply repeats one block of {self.period} line(s) {self.repeats} times in a row "
            f"(it begins {first[:60]!r}): a repetition loop"
        )


_WORD = re.compile(r"\w")


def _repeats_shorter(block: list[str]) -> bool:
    """The block is itself copies of a shorter one: that shorter period is the loop's."""
    p = len(block)
    return any(p % d == 0 and block[d:] == block[:-d] for d in range(1, p))


def _line_loop(tail: str, length: int) -> Loop | None:
    """A runaway line (``length`` characters, ending in ``tail``) of one short piece repeated."""
    if length < MAX_LINE_CHARS:
        return None
    for size in range(1, 200):
        piece = tail[-size:]
        if piece.strip() and tail.count(piece) * size >= len(tail) * 0.9:
            return Loop(period=1, repeats=length // size, sample=piece)
    return None


@dataclass(slots=True)
class RepetitionWatch:
    """Fed a streaming reply piece by piece; :attr:`loop` is set once a loop shows.

    It runs on the event loop while a reply streams, so each line costs a fixed amount of
    work: for every period ``p`` up to MAX_PERIOD it keeps how many lines in a row equal the
    line ``p`` before them; a block is looked at only once that run is long enough to be a
    loop. A line is joined once, when it ends; a very long line is judged by its tail."""

    loop: Loop | None = None
    _lines: list[str] = field(default_factory=list)
    _wordy: list[bool] = field(default_factory=list)
    _runs: list[int] = field(default_factory=lambda: [0] * (MAX_PERIOD + 1))
    _pending: list[str] = field(default_factory=list)  # pieces of the line being written
    _pending_chars: int = 0
    _tail: str = ""  # the last characters of that line
    _checked_chars: int = 0

    def _line_ended(self, line: str) -> Loop | None:
        lines, runs = self._lines, self._runs
        lines.append(line.rstrip())
        self._wordy.append(_WORD.search(line) is not None)
        n = len(lines)
        for period in range(1, min(MAX_PERIOD, n - 1) + 1):
            runs[period] = runs[period] + 1 if lines[-1] == lines[-1 - period] else 0
            repeats = runs[period] // period + 1
            wanted = MIN_SINGLE_LINE_REPEATS if period == 1 else MIN_REPEATS
            if repeats < wanted or repeats * period < MIN_LOOP_LINES:
                continue
            block = lines[n - period :]
            if any(self._wordy[n - period :]) and not _repeats_shorter(block):
                return Loop(period=period, repeats=repeats, sample="\n".join(block))
        return None

    def feed(self, piece: str) -> Loop | None:
        if self.loop is not None:
            return self.loop
        *ends, rest = piece.split("\n")
        for end in ends:
            self._pending.append(end)
            line = "".join(self._pending)
            self._pending, self._pending_chars, self._tail = [], 0, ""
            self._checked_chars = 0
            if (found := self._line_ended(line)) is not None:
                self.loop = found
                return found
        if rest:
            self._pending.append(rest)
            self._pending_chars += len(rest)
            self._tail = (self._tail + rest)[-1200:]
        # A long line is looked at again only after another thousand characters.
        if self._pending_chars - self._checked_chars >= 1000:
            self._checked_chars = self._pending_chars
            self.loop = _line_loop(self._tail, self._pending_chars)
        return self.loop


def find_loop(lines: list[str]) -> Loop | None:
    """The first loop in ``lines``, or None."""
    watch = RepetitionWatch()
    for line in lines:
        if (found := watch.feed(line + "\n")) is not None:
            return found
    return None


def reply_loop(text: str) -> Loop | None:
    """The first loop in a whole reply, or None."""
    watch = RepetitionWatch()
    watch.feed(text)
    return watch.feed("\n")


def disproportion(
    instruction: str, selection_lines: int, removed: int, added: int, loop: Loop | None = None
) -> str | None:
    """Why an edit of ``selection_lines`` lines that removes ``removed`` and adds ``added``
    lines is suspect for ``instruction``, or None when it is in proportion."""
    if loop is not None:
        return loop.describe()
    asks_removal = _REMOVAL_WORDS.search(instruction) is not None
    if added == 0 and removed >= max(3, selection_lines // 2) and not asks_removal:
        return (
            f"the reply deletes {removed} line(s) of the selection and writes nothing in their "
            "place, but the instruction does not ask to remove code"
        )
    limit = _GROWTH_ALLOWANCE + _GROWTH_FACTOR * max(selection_lines, 1)
    if added > limit:
        return (
            f"the reply adds {added} lines for a {selection_lines}-line selection, far more "
            f"than the instruction explains (at most {limit} expected)"
        )
    return None
