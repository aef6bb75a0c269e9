"""Workspace: the files of one root, and ``pack()`` that fits the relevant ones to a budget.

This first version shows the target file and the files it imports; the context-engine issue
fills the same interface with chunks, a symbol graph and ranking.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from context.imports import imported_files
from context.pack import ContextPack, LineRange, Section, SectionKind
from context.text import UnreadableFileError, fenced, read_text_file, split_lines

TokenCounter = Callable[[str], int]
MAX_FILE_BYTES = 1 << 20  # larger files are data or generated, not context


class ContextBudgetError(ValueError):
    """Even the selection does not fit the budget."""


def fence(path: Path, body: str, lines: LineRange | None = None) -> str:
    where = f" (lines {lines.start + 1}-{lines.end})" if lines else ""
    return f"File: {path.as_posix()}{where}\n{fenced(body)}"


class Workspace:
    def __init__(
        self,
        root: Path,
        count_tokens: TokenCounter,
        open_text: Callable[[Path], str | None] = lambda _p: None,
    ) -> None:
        self.root = root.resolve()
        self.count_tokens = count_tokens
        # The editor's unsaved text wins over the disk.
        self._open_text = open_text

    def read(self, path: Path) -> str:
        path = path.resolve()
        text = self._open_text(path)
        if text is not None:
            return text
        return read_text_file(path, MAX_FILE_BYTES)

    def relative(self, path: Path) -> Path:
        return path.resolve().relative_to(self.root)

    def _section(
        self, kind: SectionKind, path: Path, body: str, lines: LineRange | None
    ) -> Section:
        text = fence(self.relative(path), body, lines)
        return Section(kind, self.relative(path), text, self.count_tokens(text), body, lines)

    def _window(self, path: Path, lines: list[str], sel: LineRange, budget: int) -> Section | None:
        """The largest run of lines around the selection that fits ``budget``."""
        lo, hi = sel.start, sel.end
        best = None
        while True:
            section = self._section(
                SectionKind.TARGET, path, "".join(lines[lo:hi]), LineRange(lo, hi)
            )
            if section.tokens > budget:
                return best
            best = section
            if lo == 0 and hi == len(lines):
                return best
            # Grow by whole blocks of lines on both sides: fewer tokenizer calls.
            step = max(8, (hi - lo) // 2)
            lo, hi = max(0, lo - step), min(len(lines), hi + step)

    def pack(
        self, target: Path, selection: LineRange, instruction: str, budget: int
    ) -> ContextPack:
        """Sections for an edit of ``selection`` in ``target``, never more than ``budget``."""
        del instruction  # ranking by the instruction arrives with the context engine
        target = target.resolve()
        text = self.read(target)
        lines = split_lines(text)
        selection = LineRange(min(selection.start, len(lines)), min(selection.end, len(lines)))
        omitted: list[str] = []

        chosen = self._section(
            SectionKind.SELECTION,
            target,
            "".join(lines[selection.start : selection.end]),
            selection,
        )
        if chosen.tokens > budget:
            raise ContextBudgetError(
                f"The selection alone is {chosen.tokens} tokens; the budget is {budget}. "
                "Select less, or raise the context budget."
            )
        left = budget - chosen.tokens

        whole = self._section(SectionKind.TARGET, target, text, None)
        if whole.tokens <= left:
            target_section = whole
        else:
            target_section = self._window(target, lines, selection, left)
            shown = target_section.lines if target_section else None
            omitted.append(
                f"{self.relative(target)}: only lines {shown.start + 1}-{shown.end} of "
                f"{len(lines)} fit"
                if shown
                else f"{self.relative(target)}: did not fit"
            )
        if target_section:
            left -= target_section.tokens

        related: list[Section] = []
        for path in imported_files(target, text, self.root):
            try:
                section = self._section(SectionKind.RELATED, path, self.read(path), None)
            except UnreadableFileError as exc:
                omitted.append(f"{self.relative(path)}: {exc}")
                continue
            if section.tokens <= left:
                related.append(section)
                left -= section.tokens
            else:
                omitted.append(f"{self.relative(path)}: {section.tokens} tokens, over the budget")
        related.sort(key=lambda s: s.path.as_posix())
        sections = (*related, *((target_section,) if target_section else ()), chosen)
        return ContextPack(sections=sections, budget=budget, omitted=tuple(omitted))
