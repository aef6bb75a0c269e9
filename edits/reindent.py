"""Re-indentation: the model's indentation mapped onto the document's.

A model often quotes a block at the wrong depth, or with spaces where the file has tabs. Once
the quote is matched ignoring whitespace, the lines it adds are shifted by the difference
between its copy of the matched lines and the file's own, so the added lines sit where the
file's structure puts them and keep the block's internal structure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence


def indent_of(s: str) -> str:
    """The leading spaces and tabs of ``s``."""
    return s[: len(s) - len(s.lstrip(" \t"))]


def uses_tabs(doc: list[str]) -> bool:
    """The file indents with tabs (more tab-indented lines than space-indented ones)."""
    tabs = sum(1 for line in doc if line.startswith("\t"))
    spaces = sum(1 for line in doc if line.startswith(" ") and line.strip())
    return tabs > spaces


def _space_unit(pairs: list[tuple[str, str]], model_lines: list[str]) -> int:
    """How many of the model's spaces make one of the file's tabs."""
    for model, doc in pairs:
        tabs, spaces = len(indent_of(doc)), len(indent_of(model))
        if tabs and spaces and spaces % tabs == 0 and "\t" not in indent_of(model):
            return spaces // tabs
    widths = [len(indent_of(x)) for x in model_lines if x.strip() and indent_of(x)]
    return min(widths, default=4) or 4


def _shift(pair: tuple[str, str]) -> int:
    model, doc = pair
    return len(indent_of(doc).expandtabs(4)) - len(indent_of(model).expandtabs(4))


def _winner(pairs: Sequence[tuple[str, str]]) -> tuple[str, str]:
    """The first pair with the shift most pairs agree on.

    Lines with words in them vote; brace- or punctuation-only lines only if nothing else is
    there (a dropped outer "}" lets the model's "    }" pair with the file's "}").
    """
    wordy = [pr for pr in pairs if any(c.isalnum() for c in pr[0])] or list(pairs)
    shifts = Counter(_shift(pr) for pr in wordy)
    best = max(shifts.values())
    return next(pr for pr in wordy if shifts[_shift(pr)] == best)


def _reference_indents(
    pairs: Sequence[tuple[str, str]], removed: Sequence[tuple[str, str]]
) -> tuple[str, str]:
    """The (model, file) indentation of the pair whose shift most matched lines agree on.

    One pair alone can mislead, so the matched lines vote. But a model that drops the space
    that marks its context lines (or adds one) moves them one column against its "-" and "+"
    lines, which carry a marker alike: when the removed lines' shift is one column off the
    vote's, the added lines follow the removed lines.
    """
    chosen = _winner(pairs)
    if removed:
        by_removed = _winner(removed)
        if abs(_shift(by_removed) - _shift(chosen)) == 1:
            chosen = by_removed
    return indent_of(chosen[0]), indent_of(chosen[1])


def _levels(pairs: Sequence[tuple[str, str]], shift: int) -> dict[str, str]:
    """The file's indentation for each of the model's that its matched lines agree on.

    A reply can mix two offsets (js-status-archived, 1.5B: "+const" beside "+ ARCHIVED", its
    context lines without their marker space), which one shift cannot undo; an added line at
    a depth the quote shows takes the file's depth there. An offset other than the block's
    ``shift`` needs two lines to say so: one line (a continuation aligned by hand) is no
    structure.
    """
    seen: dict[str, Counter[str]] = {}
    for model, doc in pairs:
        seen.setdefault(indent_of(model), Counter())[indent_of(doc)] += 1
    # Depths the quote puts in one place only (two places: no answer), and their offsets.
    single = {m: next(iter(docs.items())) for m, docs in seen.items() if len(docs) == 1}
    support = Counter[int]()
    for model_lead, (doc_lead, count) in single.items():
        support[_shift((model_lead, doc_lead))] += count
    return {
        model_lead: doc_lead
        for model_lead, (doc_lead, _count) in single.items()
        if (offset := _shift((model_lead, doc_lead))) == shift or support[offset] >= 2
    }


def reindenter(
    pairs: list[tuple[str, str]],
    model_lines: list[str],
    file_uses_tabs: bool,
    removed: Sequence[tuple[str, str]] = (),
) -> Callable[[str], str]:
    """Shift every line by the indentation difference between the model's copy and the file.

    ``pairs`` are (model's line, file's line) for the matched lines, ``removed`` those of them
    the model marked "-"; they vote on the shift (``_reference_indents``). Each line moves by
    the same amount, so the block's own structure is kept, and a model that wrote spaces into
    a tab-indented file gets tabs back.
    """
    model_ref, doc_ref = _reference_indents(pairs, removed)
    model_indents = [indent_of(x) for x in model_lines if x.strip()]
    spaces_for_tabs = file_uses_tabs and not any("\t" in i for i in model_indents)
    spaces_for_tabs = spaces_for_tabs and any(" " in i for i in model_indents)
    if spaces_for_tabs:
        unit = _space_unit(pairs, model_lines)
        delta = len(doc_ref.expandtabs(unit)) // unit - len(model_ref) // unit

        def to_tabs(line: str) -> str:
            if not line.strip():
                return line
            lead = indent_of(line)
            levels, rest = divmod(len(lead.expandtabs(unit)), unit)
            return "\t" * max(0, levels + delta) + " " * rest + line[len(lead) :]

        return to_tabs
    delta = len(doc_ref) - len(model_ref)
    # The "-" lines carry a marker as the "+" lines do, so their depths come first.
    block_shift = _shift((model_ref, doc_ref))
    levels = {**_levels(pairs, block_shift), **_levels(removed, block_shift)}
    if model_ref == doc_ref and all(m == d for m, d in levels.items()):
        return lambda line: line
    fill = doc_ref[:1] or model_ref[:1]

    def shift(line: str) -> str:
        if not line.strip():
            return line
        lead = indent_of(line)
        if lead in levels:
            return levels[lead] + line[len(lead) :]
        if line.startswith(model_ref):
            return doc_ref + line[len(model_ref) :]
        # Shallower than the reference line: the same shift, in the file's kind.
        return fill * max(0, len(lead) + delta) + line[len(lead) :]

    return shift
