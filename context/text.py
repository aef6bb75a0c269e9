"""Line handling that agrees with LSP: lines end at ``\\n``, ``\\r\\n`` or ``\\r`` only.

``str.splitlines`` also splits at form feeds, ``\\x1c``-``\\x1e`` and U+2028, which would put
every later line number off by one against the editor's.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path
from typing import AnyStr

from fathom.errors import FathomError

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


# Texts are compared this many characters at a time (in C) before the Python loop finds the
# first differing character: a keystroke in a 1 MB file costs well under a millisecond.
_CHUNK = 4096


def common_prefix(a: AnyStr, b: AnyStr, limit: int) -> int:
    """How many leading characters (or bytes) ``a`` and ``b`` share, at most ``limit``."""
    i = 0
    while i < limit:
        j = min(i + _CHUNK, limit)
        if a[i:j] != b[i:j]:
            while a[i] == b[i]:
                i += 1
            return i
        i = j
    return limit


def common_suffix(a: AnyStr, b: AnyStr, limit: int) -> int:
    """How many trailing characters (or bytes) ``a`` and ``b`` share, at most ``limit``."""
    n = 0
    while n < limit:
        m = min(n + _CHUNK, limit)
        if a[len(a) - m : len(a) - n] != b[len(b) - m : len(b) - n]:
            while a[len(a) - 1 - n] == b[len(b) - 1 - n]:
                n += 1
            return n
        n = m
    return limit


def split_lines(text: str) -> list[str]:
    """Lines of ``text`` with their endings kept; ``"".join(result) == text``."""
    return _LINE.findall(text)


def strip_ending(line: str) -> str:
    return line.rstrip("\r\n")


def line_ending(line: str) -> str:
    if line.endswith("\r\n"):
        return "\r\n"
    if line.endswith(("\n", "\r")):
        return line[-1]
    return ""


def dominant_ending(text: str) -> str:
    """The file's own line ending, so new lines match their neighbours."""
    crlf = text.count("\r\n")
    lf = text.count("\n") - crlf
    cr = text.count("\r") - crlf
    best = max((lf, "\n"), (crlf, "\r\n"), (cr, "\r"))
    return best[1] if best[0] else "\n"


def line_starts(text: str) -> list[int]:
    """Offset of the first character of each line (plus one past the end)."""
    starts = [0]
    for line in split_lines(text):
        starts.append(starts[-1] + len(line))
    return starts


def fenced(body: str) -> str:
    """``body`` in a Markdown code fence, with exactly one newline before the closing fence."""
    newline = "" if body.endswith("\n") else "\n"
    return f"```\n{body}{newline}```\n"


class UnreadableFileError(FathomError):
    """The file is missing, binary, too large or not UTF-8; it is neither shown nor edited."""


def read_text_file(path: Path, max_bytes: int | None = None) -> str:
    """The file's text exactly as stored (no newline translation), or UnreadableFileError."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            # A device, FIFO or socket: reading it could block forever or never end.
            raise UnreadableFileError(f"{path} is not a regular file")
        if max_bytes is not None and info.st_size > max_bytes:
            raise UnreadableFileError(f"{path} is larger than {max_bytes} bytes")
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFileError(f"{path} cannot be read: {exc.strerror}") from exc
    if b"\0" in data[:8192]:
        raise UnreadableFileError(f"{path} is a binary file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFileError(f"{path} is not UTF-8 text") from exc
