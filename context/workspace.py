"""Workspace: the files of one root, and ``pack()`` that fits the relevant ones to a budget.

With a ready :class:`Repository` the pack holds a repository map (signatures of the files
that rank highest for this request), ranked chunks, the target file and the selection. Until
the repository is indexed it shows the target file and the files it imports.

Budget: the selection first (an error if even it does not fit), then the target file (whole,
or the largest window around the selection), then up to a quarter of what is left (at most
2048 tokens) for the map, then ranked chunks best first while they fit. Whatever does not
fit is named in ``ContextPack.omitted``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from fathom.context.files import MAX_FILE_BYTES, IgnoreRules, PromptRefusedError, name_refusal
from fathom.context.files import prompt_refusal as file_refusal
from fathom.context.imports import imported_files
from fathom.context.pack import ContextPack, LineRange, Section, SectionKind
from fathom.context.repository import CANDIDATE_FILES, RankedChunk, Repository
from fathom.context.text import UnreadableFileError, fenced, read_text_file, split_lines
from fathom.context.tokens import TokenCounter
from fathom.errors import FathomError

MAP_SHARE = 4  # the map takes at most 1/MAP_SHARE of what the target and selection leave
MAP_MAX_TOKENS = 2048
MAP_FILES = 60  # files whose definitions the map may list
HEADER_MARGIN = 8  # tokens: line numbers and token merges at a section's seams
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")


class ContextBudgetError(FathomError):
    """Even the selection does not fit the budget."""


def fence_header(path: Path, lines: LineRange | None = None) -> str:
    """What ``fence`` puts before the body: the file's name and lines, and the opening fence."""
    where = f" (lines {lines.start + 1}-{lines.end})" if lines else ""
    return f"File: {path.as_posix()}{where}\n```\n"


def fence(path: Path, body: str, lines: LineRange | None = None) -> str:
    return fence_header(path, lines) + fenced(body)[len("```\n") :]


class Workspace:
    def __init__(
        self,
        root: Path,
        counter: TokenCounter,
        open_text: Callable[[Path], str | None] = lambda _p: None,
        repository: Repository | None = None,
        open_files: Callable[[], list[str]] = list,
    ) -> None:
        self.root = root.resolve()
        self.rules = IgnoreRules(self.root)
        self.counter = counter
        # The editor's unsaved text wins over the disk.
        self._open_text = open_text
        self.repository = repository
        self._open_files = open_files
        self._closing_cache: dict[str, int] = {}
        self._counted: dict[str, int] = {}  # long text -> tokens, oldest first
        self._header_cache: dict[str, int] = {}
        self._wrapper_cache: dict[str, int] = {}  # path -> tokens of an empty fence for it

    def count_tokens(self, text: str) -> int:
        """Exact count; long texts (a target file asked about again) are remembered."""
        if len(text) < 2048:
            return self.counter.count_tokens(text)
        if text not in self._counted:
            if len(self._counted) >= 16:
                self._counted.pop(next(iter(self._counted)))
            self._counted[text] = self.counter.count_tokens(text)
        return self._counted[text]

    def read(self, path: Path) -> str:
        path = path.resolve()
        text = self._open_text(path)
        if text is not None:
            return text
        return read_text_file(path, MAX_FILE_BYTES)

    def check_shown(self, path: Path) -> None:
        """PromptRefusedError unless ``path``'s text (the editor's, when open) may enter a
        prompt: context/files.py's rule, the same for every way text reaches the model."""
        text = self._open_text(path.resolve())
        reason = file_refusal(path, self.root, self.rules, text)
        if reason is not None:
            where = path.relative_to(self.root) if path.is_relative_to(self.root) else path
            raise PromptRefusedError(
                f"Fathom does not send {where.as_posix()} to the model: {reason}. Nothing "
                "of it was sent; edit it by hand."
            )

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
        self.check_shown(target)
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
        target_section: Section | None
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

        if self.repository is not None and (self.repository.ready or self.repository.catch_up()):
            related = self._ranked(target, selection, chosen.body, instruction, left, omitted)
        else:
            related = self._imported(target, text, left, omitted)
        sections = (*related, *((target_section,) if target_section else ()), chosen)
        return ContextPack(sections=sections, budget=budget, omitted=tuple(omitted))

    def _imported(self, target: Path, text: str, left: int, omitted: list[str]) -> list[Section]:
        """Files the target imports, whole, while they fit (before the index is ready)."""
        related: list[Section] = []
        for path in imported_files(target, text, self.root, self.rules):
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
        return sorted(related, key=lambda s: s.path.as_posix())

    def _ranked(
        self,
        target: Path,
        selection: LineRange,
        selected: str,
        instruction: str,
        left: int,
        omitted: list[str],
    ) -> list[Section]:
        """Repository map and ranked chunks, best first, within ``left`` tokens."""
        assert self.repository is not None
        rel = self.relative(target).as_posix()
        names = set(_IDENTIFIER.findall(selected))
        ranks = self.repository.page_rank(rel, names, self._open_files())
        ranks = self._still_shown(ranks, rel)
        sections: list[Section] = []
        repo_map = self._repo_map(ranks, rel, min(left // MAP_SHARE, MAP_MAX_TOKENS))
        if repo_map is not None:
            sections.append(repo_map)
            left -= repo_map.tokens
        query = f"{instruction}\n{selected}"
        ranked = self.repository.ranked_chunks(ranks, rel, query)
        # Choose by the chunk's stored count plus its path's header (with a margin for the
        # line numbers); counting every candidate cost most of a pack's time on a large
        # repository.
        wrapper = self._wrapper_cache
        chosen: list[tuple[RankedChunk, LineRange]] = []
        room = left
        for item in ranked:
            if item.path not in wrapper:
                wrapper[item.path] = self.count_tokens(fence(Path(item.path), "", LineRange(0, 0)))
            estimate = item.chunk.tokens + wrapper[item.path] + HEADER_MARGIN
            if estimate <= room:
                chosen.append((item, LineRange(item.chunk.start_line, item.chunk.end_line)))
                room -= estimate
        # A chunk's stored count is an upper bound of its rendered text (see chunking), so a
        # section's count is its header's, exactly, plus that, plus the closing fence: no
        # need to tokenise the ~100K tokens of chosen chunks again.
        headers = [fence_header(Path(item.path), lines) for item, lines in chosen]
        header_tokens = self._count_headers(headers)
        added = 0
        for (item, lines), tokens in zip(chosen, header_tokens, strict=True):
            body = item.chunk.rendered()
            text = fence(Path(item.path), body, lines)
            tokens += item.chunk.tokens + self._closing_tokens(body)
            if tokens <= left:  # always true within the margin; checked, not assumed
                section = Section(
                    SectionKind.CHUNK, Path(item.path), text, tokens, item.chunk.text, lines
                )
                sections.append(section)
                left -= tokens
                added += 1
        skipped = len(ranked) - added
        if skipped:
            omitted.append(f"{skipped} of {len(ranked)} ranked chunks did not fit the budget")
        return sections

    def _still_shown(self, ranks: dict[str, float], target: str) -> dict[str, float]:
        """The best-ranked files that the prompt rule still allows, as many as the map and the
        chunks can use: the index applied the rule when it stored each file, but a .gitignore
        written since may have changed the verdict. Asked only for the files at the top, so a
        50,000-file repository costs no more than a small one."""
        wanted = CANDIDATE_FILES + MAP_FILES + 1
        kept: dict[str, float] = {}
        for path in sorted(ranks, key=lambda p: (-ranks[p], p)):
            if path == target or name_refusal(Path(path), self.rules) is None:
                kept[path] = ranks[path]
                if len(kept) >= wanted:
                    break
        return kept

    def _count_headers(self, headers: list[str]) -> list[int]:
        """Counts of section headers; the same chunks come back request after request, so
        each header is counted once (new ones in one batch)."""
        new = sorted({h for h in headers if h not in self._header_cache})
        if len(self._header_cache) + len(new) > 100_000:
            self._header_cache.clear()
        self._header_cache.update(zip(new, self.counter.count_tokens_batch(new), strict=True))
        return [self._header_cache[h] for h in headers]

    def _closing_tokens(self, body: str) -> int:
        """Tokens ``fenced`` adds after ``body``: the closing fence, and a newline if needed."""
        closing = fenced(body)[len("```\n") + len(body) :]
        if closing not in self._closing_cache:
            self._closing_cache[closing] = self.count_tokens(closing)
        return self._closing_cache[closing]

    def _repo_map(self, ranks: dict[str, float], target: str, budget: int) -> Section | None:
        assert self.repository is not None
        header = "Repository map (definitions in the files most related to this request):\n"
        lines = self.repository.repo_map_lines(ranks, target, limit=MAP_FILES)
        # Take lines by their own counts (cached per file), then count the text once; a line
        # or two of margin covers merges at the seams, and the loop trims if it was not enough.
        room = budget - self.count_tokens(header + fenced("")) - HEADER_MARGIN
        taken = 0
        for _line, tokens in lines:
            if tokens > room:
                break
            room -= tokens
            taken += 1
        while taken:
            body = "\n".join(line for line, _tokens in lines[:taken])
            text = header + fenced(body)
            tokens = self.count_tokens(text)
            if tokens <= budget:
                return Section(SectionKind.REPO_MAP, Path("."), text, tokens, body)
            taken = taken * 9 // 10
        return None
