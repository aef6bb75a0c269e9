"""ContextPack: what the model is shown, in order, each part with its token count."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class SectionKind(StrEnum):
    # Declared in prompt order: stable parts first so the engine's prefix cache is reused
    # while the user keeps editing the target.
    REPO_MAP = "repository map"
    RELATED = "related file"
    CHUNK = "ranked chunk"
    TARGET = "target file"
    SELECTION = "selection"


@dataclass(frozen=True, slots=True)
class LineRange:
    """0-based, end-exclusive lines of a document."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start < 0 or self.end < self.start:
            raise ValueError(f"bad line range {self.start}:{self.end}")


@dataclass(frozen=True, slots=True)
class Section:
    kind: SectionKind
    path: Path  # relative to the workspace root
    text: str  # exactly what goes into the prompt (a header and the fenced body)
    tokens: int
    body: str  # the file's own text shown in this section
    lines: LineRange | None = None  # the part of the file shown, when not all of it


@dataclass(frozen=True, slots=True)
class ContextPack:
    sections: tuple[Section, ...]
    budget: int
    omitted: tuple[str, ...]  # what did not fit, said plainly

    @property
    def tokens(self) -> int:
        return sum(s.tokens for s in self.sections)

    def section(self, kind: SectionKind) -> Section | None:
        return next((s for s in self.sections if s.kind is kind), None)
