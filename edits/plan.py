"""EditPlan: what the model asked for, as offset edits against known document versions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edits.diff_parse import ParsedDiff
from edits.errors import EditError, PathOutsideWorkspaceError
from edits.locate import LocatedHunk, OffsetEdit, locate_all


@dataclass(frozen=True, slots=True)
class DocumentSnapshot:
    """A document's text as it was when the request started."""

    path: Path  # absolute
    text: str
    version: int | None  # the editor's version; None for a file read from disk


@dataclass(frozen=True, slots=True)
class FileEdit:
    snapshot: DocumentSnapshot
    edits: tuple[OffsetEdit, ...]  # sorted, non-overlapping
    located: tuple[LocatedHunk, ...]

    def new_text(self) -> str:
        return apply_edits(self.snapshot.text, self.edits)


@dataclass(frozen=True, slots=True)
class EditPlan:
    files: tuple[FileEdit, ...]
    repairs: tuple[str, ...]

    @property
    def hunk_count(self) -> int:
        return sum(len(f.edits) for f in self.files)


def apply_edits(text: str, edits: tuple[OffsetEdit, ...] | list[OffsetEdit]) -> str:
    out, cursor = [], 0
    for edit in sorted(edits, key=lambda e: e.start):
        out += [text[cursor : edit.start], edit.new_text]
        cursor = edit.end
    out.append(text[cursor:])
    return "".join(out)


def resolve_in_workspace(root: Path, relative: str) -> Path:
    """``relative`` as an absolute path inside ``root``; refuse anything that leaves it."""
    candidate = Path(relative)
    if candidate.is_absolute() or ".." in candidate.parts:
        raise PathOutsideWorkspaceError(f"The diff names {relative!r}, outside the workspace.")
    resolved = (root / candidate).resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise PathOutsideWorkspaceError(
            f"The diff names {relative!r}, which resolves outside the workspace ({resolved})."
        )
    return resolved


def build_plan(
    parsed: ParsedDiff,
    root: Path,
    snapshot_of: Callable[[Path], DocumentSnapshot],
) -> EditPlan:
    """Locate every hunk of every file; any failure refuses the whole plan."""
    files = []
    for file_diff in parsed.files:
        if (
            file_diff.source is None
            or file_diff.target is None
            or (file_diff.source != file_diff.target)
        ):
            raise EditError(
                "The reply creates, deletes or renames a file "
                f"({file_diff.source or '/dev/null'} -> {file_diff.target or '/dev/null'}); "
                "only edits of existing files are supported so far."
            )
        path = resolve_in_workspace(root, file_diff.target)
        snapshot = snapshot_of(path)
        located = locate_all(file_diff.hunks, snapshot.text, file_diff.target)
        files.append(FileEdit(snapshot, tuple(h.edit for h in located), tuple(located)))
    return EditPlan(files=tuple(files), repairs=parsed.repairs)
