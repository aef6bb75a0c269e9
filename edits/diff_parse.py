"""Read a model's reply as a unified diff: tolerant clean-up first, then ``unidiff``.

Models wrap diffs in fences, mix prose in, drop ``a/``/``b/`` prefixes, leave out file headers
and get hunk counts and line numbers wrong. Location (edits/locate.py) goes by content, never
by line numbers, so headers are recomputed from the hunk bodies. Every repair is recorded on
the result: nothing is guessed silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import unidiff

from fathom.edits.errors import DiffParseError, NoDiffError

# "@@ -3,4 +3,5 @@", "@@ -3 +3 @@", and the number-less forms models (and Aider) use:
# "@@ @@", "@@ ... @@", a bare "@@".
_HUNK_HEADER = re.compile(
    r"^@@ ?(?:-?(\d+)?(?:,(\d+))? ?\+?(\d+)?(?:,(\d+))?|\.\.\.|…) ?@@(.*)$|^@@\s*$"
)
_FENCE = re.compile(r"^\s*(```|~~~)")
# Lines of a git diff's extended header; unidiff reads renames, creations and deletions there.
_GIT_HEADER = (
    "diff --git",
    "index ",
    "new file mode",
    "deleted file mode",
    "old mode",
    "new mode",
    "similarity index",
    "dissimilarity index",
    "rename from",
    "rename to",
)
# A model's "unchanged lines left out here": "...", "# ...", "// ... existing code ...".
_ELISION = re.compile(
    r"^(?:#|//|/\*|--|;|<!--)?\s*(?:\.\.\.|…)\s*(?:[\w ,'()]*?(?:\.\.\.|…)?)?\s*(?:\*/|-->)?$"
)


def is_elision(line: str) -> bool:
    """``line`` stands for unchanged lines the model did not copy."""
    return bool(_ELISION.match(line.strip()))


@dataclass(frozen=True, slots=True)
class HunkLine:
    kind: str  # " " context, "-" removed, "+" added
    text: str  # without the marker and without the line ending


@dataclass(frozen=True, slots=True)
class Hunk:
    index: int  # 1-based position in its file's diff, used to name it in errors
    lines: tuple[HunkLine, ...]
    header_line: int | None = None  # the model's claimed old start line, a hint only

    @property
    def old_lines(self) -> list[str]:
        return [ln.text for ln in self.lines if ln.kind != "+"]

    @property
    def new_lines(self) -> list[str]:
        return [ln.text for ln in self.lines if ln.kind != "-"]

    @property
    def changes_something(self) -> bool:
        return self.old_lines != self.new_lines


@dataclass(frozen=True, slots=True)
class FileDiff:
    source: str | None  # path before, without a/ prefix; None for a created file
    target: str | None  # path after; None for a deleted file
    hunks: tuple[Hunk, ...]


@dataclass(frozen=True, slots=True)
class ParsedDiff:
    files: tuple[FileDiff, ...]
    repairs: tuple[str, ...] = field(default=())


def is_fence(line: str) -> bool:
    """A Markdown code fence line (``` or ~~~, with or without a language)."""
    return _FENCE.match(line) is not None


def extract_diff_lines(reply: str) -> tuple[list[str], list[str]]:
    """The lines of ``reply`` that belong to a diff, and the repairs that took."""
    repairs: list[str] = []
    lines = reply.replace("\r\n", "\n").split("\n")
    if any(is_fence(ln) for ln in lines):
        repairs.append("removed Markdown code fences")
    lines = [ln for ln in lines if not is_fence(ln)]
    start = next(
        (i for i, ln in enumerate(lines) if ln.startswith(("--- ", "@@", "diff --git"))), None
    )
    if start is None:
        raise NoDiffError(
            "The model's reply holds no unified diff (no '---' file header or '@@' hunk)."
        )
    if any(ln.strip() for ln in lines[:start]):
        repairs.append("dropped prose before the diff")
    return lines[start:], repairs


def _strip_prefix(path: str) -> str:
    path = path.strip().split("\t")[0]
    if path.startswith(("a/", "b/")):
        return path[2:]
    return path


def _is_null(path: str) -> bool:
    return path.strip().startswith("/dev/null")


def _body_kind(line: str) -> str | None:
    if line.startswith((" ", "+", "-")):
        return line[0]
    if line == "":
        return " "  # editors and models drop the space of an empty context line
    return None


def _starts_section(lines: list[str], i: int) -> bool:
    """A new hunk or file starts at ``lines[i]`` (a removed ``-- comment`` line does not)."""
    line = lines[i]
    if line.startswith(("@@", "diff --git")):
        return _HUNK_HEADER.match(line) is not None or line.startswith("diff --git")
    return line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ")


def normalise(
    lines: list[str], default_path: str | None
) -> tuple[str, list[str], list[int | None]]:
    """Rebuild a diff ``unidiff`` accepts: file headers present, hunk counts recomputed.

    Also returns each hunk's claimed original start line (None where the header has none),
    in order: unidiff needs some number, but a made-up one must not pass for a hint.
    """
    repairs: list[str] = []
    claimed_starts: list[int | None] = []
    out: list[str] = []
    i = 0
    have_header = False
    prose_after = False
    while i < len(lines):
        line = lines[i]
        if line.startswith(_GIT_HEADER):
            out.append(line)
            i += 1
            continue
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            src, dst = line[4:].strip(), lines[i + 1][4:].strip()
            if not src.startswith(("a/", "/dev/null")) or not dst.startswith(("b/", "/dev/null")):
                repairs.append(f"added a/ b/ prefixes to {dst or src}")
            src = src if src.startswith("/dev/null") else "a/" + _strip_prefix(src)
            dst = dst if dst.startswith("/dev/null") else "b/" + _strip_prefix(dst)
            out += [f"--- {src}", f"+++ {dst}"]
            have_header = True
            i += 2
            continue
        match = _HUNK_HEADER.match(line)
        if match:
            if not have_header:
                if default_path is None:
                    raise DiffParseError("The diff has a hunk but no '--- a/path' file header.")
                out += [f"--- a/{default_path}", f"+++ b/{default_path}"]
                repairs.append(f"added the missing file header for {default_path}")
                have_header = True
            body: list[str] = []
            bare_blank: set[int] = set()  # indexes of lines that were empty, not " "
            i += 1
            while i < len(lines):
                nxt = lines[i]
                if _starts_section(lines, i):
                    break
                if nxt.startswith("\\"):  # "\ No newline at end of file"
                    body.append(nxt)
                    i += 1
                    continue
                kind = _body_kind(nxt)
                if kind is None and is_elision(nxt):
                    repairs.append(f"read the bare line {nxt.strip()!r} as elided context")
                    body.append(" " + nxt)
                    i += 1
                    continue
                if kind is None:
                    prose_after = True
                    break
                if not nxt:
                    bare_blank.add(len(body))
                body.append(nxt if nxt else " ")
                i += 1
            # Trailing empty lines are the end of the reply, not context; a " " line the
            # model wrote on purpose is a blank context line and stays.
            while body and len(body) - 1 in bare_blank:
                body.pop()
            old = sum(1 for b in body if b[0] in " -")
            new = sum(1 for b in body if b[0] in " +")
            claimed_starts.append(int(match.group(1)) if match.group(1) else None)
            start_old = int(match.group(1) or 1)
            start_new = int(match.group(3) or start_old)
            header = f"@@ -{start_old},{old} +{start_new},{new} @@"
            # An omitted count means 1 ("@@ -3 +3 @@").
            claimed = (
                match.group(2) or ("1" if match.group(1) else None),
                match.group(4) or ("1" if match.group(3) else None),
            )
            # A bare "@@ @@" is the protocol's own form (edits/prompt.py); only counts that
            # were given and are wrong are a repair worth recording.
            numbered = any(match.group(k) for k in (1, 2, 3, 4))
            if numbered and claimed != (str(old), str(new)):
                repairs.append(f"recomputed hunk counts ({line.strip()} -> {header})")
            out.append(header)
            out += body
            if prose_after:
                # Skip prose until the next diff element; the rest may hold more hunks.
                while i < len(lines) and not _starts_section(lines, i):
                    i += 1
            continue
        i += 1  # prose between file diffs
    if prose_after:
        repairs.append("dropped prose after a hunk")
    return "\n".join(out) + "\n", repairs, claimed_starts


def parse_diff(
    reply: str, default_path: str | None = None, allow_no_change: bool = False
) -> ParsedDiff:
    """Parse a model reply into file diffs; ``default_path`` names the file of header-less hunks.

    A diff that changes nothing is a NoDiffError unless ``allow_no_change``."""
    lines, repairs = extract_diff_lines(reply)
    text, more, claimed_starts = normalise(lines, default_path)
    repairs += more
    try:
        patch = unidiff.PatchSet(text)
    except unidiff.UnidiffParseError as exc:
        raise DiffParseError(f"The model's diff cannot be parsed: {exc}") from exc
    if sum(len(patched) for patched in patch) != len(claimed_starts):
        claimed_starts = []  # unidiff saw other hunks than we did: no hints rather than wrong ones
    starts = iter(claimed_starts)
    files = []
    for patched in patch:
        # Only /dev/null creates or deletes a file. unidiff also reads "@@ -1,N +0,0 @@" as a
        # deletion, but a hunk removing every line leaves an empty file, as GNU patch does.
        source = None if _is_null(patched.source_file) else _strip_prefix(patched.source_file)
        target = None if _is_null(patched.target_file) else _strip_prefix(patched.target_file)
        hunks = tuple(
            Hunk(
                index=n,
                lines=tuple(
                    HunkLine(ln.line_type, ln.value.rstrip("\r\n"))
                    for ln in hunk
                    if ln.line_type in (" ", "+", "-")
                ),
                header_line=next(starts, None),
            )
            for n, hunk in enumerate(patched, start=1)
        )
        files.append(FileDiff(source=source, target=target, hunks=hunks))
    changes_text = any(h.changes_something for f in files for h in f.hunks)
    changes_files = any(f.source != f.target for f in files)  # create, delete or rename
    if not (changes_text or changes_files or allow_no_change):
        raise NoDiffError("The model's diff changes nothing.")
    return ParsedDiff(files=tuple(files), repairs=tuple(repairs))
