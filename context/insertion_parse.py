"""Parses of a document with one text inserted at one place, from one parse of the document.

A completion parses the buffer with a probe at the cursor (which mode: pipeline/completion.py),
the buffer as it is, and the buffer with each candidate suggestion (which errors a suggestion
brings: pipeline/completion_cut.py) — three parses of the whole file or more a keystroke.
Tree-sitter re-parses an edited tree incrementally, reusing what the insertion did not touch
(as context/live.py does for each edit): on Django's 15 KB ``utils/text.py`` a parse with an
insertion took 0.13 ms against 1.95 ms from scratch. Where the inserted text breaks the code,
the incremental parse may recover from the error in another way than a fresh one (4 of 1,440
random insertions into the edit corpus's files): both are tree-sitter's parses of the same
bytes, and the one editors keep.
"""

from __future__ import annotations

from functools import lru_cache

from tree_sitter import Tree

from fathom.context.languages import parser_for


@lru_cache(maxsize=4)
def document_tree(source: bytes, language: str) -> Tree:
    """The parse of ``source``; the last few are kept, for the steps of one request that
    parse the same buffer (the mode's probe, then the suggestions' checks)."""
    return parser_for(language).parse(source)


def _end_point(before: bytes, text: bytes) -> tuple[int, int]:
    """The (row, byte column) where ``text`` ends when it follows ``before``."""
    rows = before.count(b"\n") + text.count(b"\n")
    if b"\n" in text:
        return rows, len(text) - text.rfind(b"\n") - 1
    return rows, len(before) - before.rfind(b"\n") - 1 + len(text)


def tree_with_insertion(before: bytes, inserted: bytes, after: bytes, language: str) -> Tree:
    """The parse of ``before + inserted + after``, re-parsed from that of ``before + after``."""
    tree = document_tree(before + after, language).copy()
    at = _end_point(before, b"")
    tree.edit(
        start_byte=len(before),
        old_end_byte=len(before),
        new_end_byte=len(before) + len(inserted),
        start_point=at,
        old_end_point=at,
        new_end_point=_end_point(before, inserted),
    )
    return parser_for(language).parse(before + inserted + after, tree)
