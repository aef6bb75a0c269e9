"""Carry a file's edits over to a newer text of the document (the user typed meanwhile).

The old and new texts are compared line by line; an edit moves with the lines it replaces if
those lines are unchanged and still together. If the user changed any of them, applying the
model's edit would overwrite that work, so it is refused instead.
"""

from __future__ import annotations

import bisect
from dataclasses import replace
from difflib import SequenceMatcher

from fathom.context.text import line_starts, split_lines
from fathom.edits.errors import StaleEditError
from fathom.edits.locate import OffsetEdit
from fathom.edits.plan import DocumentSnapshot, FileEdit


def _line_map(old: list[str], new: list[str]) -> dict[int, int]:
    """Old line -> new line, for lines the change left alone."""
    prefix = 0
    while prefix < min(len(old), len(new)) and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while (
        suffix < min(len(old), len(new)) - prefix
        and old[len(old) - 1 - suffix] == new[len(new) - 1 - suffix]
    ):
        suffix += 1
    mapping = {i: i for i in range(prefix)}
    mapping.update({len(old) - 1 - k: len(new) - 1 - k for k in range(suffix)})
    middle_old, middle_new = old[prefix : len(old) - suffix], new[prefix : len(new) - suffix]
    if middle_old and middle_new:
        matcher = SequenceMatcher(None, middle_old, middle_new, autojunk=False)
        for block in matcher.get_matching_blocks():
            for k in range(block.size):
                mapping[prefix + block.a + k] = prefix + block.b + k
    return mapping


def relocate(file_edit: FileEdit, current: DocumentSnapshot) -> FileEdit:
    """``file_edit``'s edits against ``current``; StaleEditError if the user touched them."""
    old_text, new_text = file_edit.snapshot.text, current.text
    if old_text == new_text:
        return replace(file_edit, snapshot=current)
    old_lines, new_lines = split_lines(old_text), split_lines(new_text)
    old_starts, new_starts = line_starts(old_text), line_starts(new_text)
    mapping = _line_map(old_lines, new_lines)
    name = current.path.name
    located = []
    for hunk in file_edit.located:
        edit = hunk.edit
        first = bisect.bisect_right(old_starts, edit.start) - 1
        stop = bisect.bisect_left(old_starts, edit.end)
        span = range(first, stop)
        moved = [mapping.get(i) for i in span]
        new_first = moved[0] if moved else None
        # Every replaced line still there, still one after another.
        if new_first is None or moved != list(range(new_first, new_first + len(moved))):
            raise StaleEditError(
                f"{name} changed while the model was writing, in lines {first + 1}-{stop} "
                f"that hunk {hunk.hunk.index} replaces (version {file_edit.snapshot.version} -> "
                f"{current.version}); nothing was applied, so your changes are safe. "
                "Run the edit again."
            )
        start, end = new_starts[new_first], new_starts[new_first + len(span)]
        if new_text[start:end] != old_text[edit.start : edit.end]:
            raise StaleEditError(
                f"{name} changed while the model was writing, around hunk {hunk.hunk.index}; "
                "nothing was applied. Run the edit again."
            )
        moved_edit = OffsetEdit(start, end, edit.new_text)
        located.append(replace(hunk, first_line=new_first, edit=moved_edit))
    return FileEdit(current, tuple(located))
