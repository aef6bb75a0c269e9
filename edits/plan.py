"""EditPlan: what the model asked for, as offset edits against known document versions.

``PlanBuilder`` takes one parsed reply at a time. Hunks that land are kept; the ones that do
not (no match, ambiguous, overlapping, breaking the syntax) come back as ``HunkFailure``s with
the reason and the text around, so the feedback loop (edits/feedback.py) can ask the model for
just those. ``plan()`` refuses unless every hunk of every file landed: a half-applied file is
how buffers get corrupted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from fathom.context.text import UnreadableFileError
from fathom.edits.confine import resolve_in_workspace
from fathom.edits.diff_parse import FileDiff, Hunk, ParsedDiff
from fathom.edits.errors import (
    EditError,
    HunkLocationError,
)
from fathom.edits.hunk_failures import (
    HunkFailure,
    created_file_failure,
    syntax_failures,
    unlocated,
)
from fathom.edits.locate import LocatedHunk, OffsetEdit, check_overlaps, locate_hunk
from fathom.edits.shortened_path import shown_path_meant
from fathom.edits.syntax_check import check_syntax


@dataclass(frozen=True, slots=True)
class DocumentSnapshot:
    """A document's text as it was when the request started."""

    path: Path  # absolute
    text: str
    version: int | None  # the editor's version; None for a file read from disk


@dataclass(frozen=True, slots=True)
class FileEdit:
    snapshot: DocumentSnapshot
    located: tuple[LocatedHunk, ...]  # sorted by position, non-overlapping

    @property
    def edits(self) -> tuple[OffsetEdit, ...]:
        return tuple(h.edit for h in self.located)

    def new_text(self) -> str:
        return apply_edits(self.snapshot.text, self.edits)


@dataclass(frozen=True, slots=True)
class CreateFile:
    path: Path
    text: str


@dataclass(frozen=True, slots=True)
class RenameFile:
    """Move ``source`` to ``target``; its text edits (if any) are in ``EditPlan.files``."""

    source: DocumentSnapshot
    target: Path


@dataclass(frozen=True, slots=True)
class DeleteFile:
    snapshot: DocumentSnapshot


@dataclass(frozen=True, slots=True)
class EditPlan:
    files: tuple[FileEdit, ...]  # text edits of existing files (a renamed one under its old path)
    repairs: tuple[str, ...]
    creates: tuple[CreateFile, ...] = ()
    renames: tuple[RenameFile, ...] = ()
    deletes: tuple[DeleteFile, ...] = ()

    @property
    def hunk_count(self) -> int:
        return sum(len(f.edits) for f in self.files)

    def snapshots(self) -> tuple[DocumentSnapshot, ...]:
        """Every existing file the plan reads: edited, renamed or deleted."""
        return (
            *(f.snapshot for f in self.files),
            *(r.source for r in self.renames),
            *(d.snapshot for d in self.deletes),
        )

    def final_texts(self) -> dict[Path, str | None]:
        """Every touched path's text once the plan is applied; None where a file is gone."""
        out: dict[Path, str | None] = {f.snapshot.path: f.new_text() for f in self.files}
        for rename in self.renames:
            out[rename.target] = out.pop(rename.source.path, rename.source.text)
            out[rename.source.path] = None
        for create in self.creates:
            out[create.path] = create.text
        for delete in self.deletes:
            out[delete.snapshot.path] = None
        return out


def apply_edits(text: str, edits: tuple[OffsetEdit, ...] | list[OffsetEdit]) -> str:
    out, cursor = [], 0
    for edit in sorted(edits, key=lambda e: e.start):
        out += [text[cursor : edit.start], edit.new_text]
        cursor = edit.end
    out.append(text[cursor:])
    return "".join(out)


@dataclass(slots=True)
class _FileState:
    snapshot: DocumentSnapshot
    name: str  # as the diff names it
    located: list[LocatedHunk] = field(default_factory=list)


class PlanBuilder:
    """Collects the hunks that land across one or more model replies."""

    def __init__(
        self,
        root: Path,
        snapshot_of: Callable[[Path], DocumentSnapshot],
        exists: Callable[[Path], bool],
        *,
        resolve: bool = True,
        shown: Sequence[str] = (),
    ) -> None:
        self.root = root
        # The files the model was shown (workspace-relative): a path it shortens is read as
        # the one shown file it can only mean.
        self._shown = tuple(dict.fromkeys(PurePosixPath(name) for name in shown))
        self._snapshot_of = snapshot_of
        self._exists = exists
        self._resolve = resolve
        self._files: dict[Path, _FileState] = {}
        self._creates: dict[Path, CreateFile] = {}
        self._renames: dict[Path, RenameFile] = {}
        self._deletes: dict[Path, DeleteFile] = {}
        self.repairs: list[str] = []
        self.failures: list[HunkFailure] = []

    # -- taking replies -------------------------------------------------------------------

    def add(self, parsed: ParsedDiff) -> list[HunkFailure]:
        """Locate the reply's hunks; keep those that land, return (and remember) the rest.

        A file's earlier failures are replaced when the reply names the file again: the reply
        is the model's answer to them. Failures of files it leaves out stand.
        """
        self.repairs += parsed.repairs
        files = [self._shown_as(f) or f for f in parsed.files]
        named = {name for f in files for name in (f.source, f.target) if name}
        failures = [f for f in self.failures if f.path not in named]
        for file_diff in files:
            failures += self._add_file(file_diff)
        failures += self._check_syntax()
        self.failures = failures
        return failures

    def _path(self, name: str) -> Path:
        return resolve_in_workspace(self.root, name, self._resolve)

    def _present(self, path: Path) -> bool:
        """Whether ``path`` is there to change: on disk (or open), or created by this plan."""
        return self._exists(path) or path in self._files

    def _state(self, path: Path, name: str) -> _FileState:
        if path not in self._files:
            self._files[path] = _FileState(self._snapshot_of(path), name)
        return self._files[path]

    def _add_file(self, diff: FileDiff) -> list[HunkFailure]:
        if diff.source is None and diff.target is None:
            return [HunkFailure("/dev/null", None, "The diff names no file on either side.")]
        if diff.source is None:
            return self._add_create(diff)
        source = self._path(diff.source)
        if not self._present(source):
            if diff.target == diff.source and all(
                line.kind == "+" for hunk in diff.hunks for line in hunk.lines
            ):
                # "--- a/new.py" with only added lines: a new file written without /dev/null.
                return self._add_create(dataclasses.replace(diff, source=None))
            return [
                HunkFailure(
                    diff.source,
                    None,
                    f"{diff.source} does not exist; edit an existing file "
                    "or create it with '--- /dev/null'.",
                )
            ]
        try:
            state = self._state(source, diff.source)
        except (EditError, UnreadableFileError) as exc:  # binary, unreadable, too large
            return [HunkFailure(diff.source, None, str(exc))]
        failures = self._add_hunks(state, diff.hunks)
        if diff.target is None:
            self._deletes[source] = DeleteFile(state.snapshot)
            return failures
        if diff.target != diff.source:
            target = self._path(diff.target)
            if self._exists(target) or target in self._creates:
                return [*failures, HunkFailure(diff.target, None, f"{diff.target} already exists.")]
            self._renames[source] = RenameFile(state.snapshot, target)
        return failures

    def _shown_as(self, diff: FileDiff) -> FileDiff | None:
        """``diff`` naming the one shown file whose path ends with the missing path it names
        ("money.py" for shop/money.py, as a model shortens it), or None. Only for changes
        to existing lines: a diff that only adds may be creating the file it names."""
        if diff.source is None or not any(hunk.old_lines for hunk in diff.hunks):
            return None
        meant = shown_path_meant(diff.source, self._shown)
        if meant is None or self._present(self._path(diff.source)):
            return None
        self.repairs.append(f"the reply names {diff.source}: taken as {meant}, the shown file")
        target = meant if diff.target == diff.source else diff.target
        return dataclasses.replace(diff, source=meant, target=target)

    def _add_create(self, diff: FileDiff) -> list[HunkFailure]:
        assert diff.target is not None
        target = self._path(diff.target)
        if self._exists(target):
            return [
                HunkFailure(
                    diff.target,
                    None,
                    f"{diff.target} already exists; to change it, send a diff "
                    "of the existing file instead of creating it.",
                )
            ]
        if any(h.old_lines for h in diff.hunks):
            return [HunkFailure(diff.target, None, "A created file cannot remove lines.")]
        lines = [line for h in diff.hunks for line in h.new_lines]
        self._creates[target] = CreateFile(target, "".join(line + "\n" for line in lines))
        return []

    def _add_hunks(self, state: _FileState, hunks: tuple[Hunk, ...]) -> list[HunkFailure]:
        failures = []
        text = state.snapshot.text
        for hunk in hunks:
            if not hunk.changes_something:
                continue  # nothing to do; a deletion may quote the file this way
            try:
                located = locate_hunk(hunk, text, state.name)
                check_overlaps([*state.located, located], state.name)
            except HunkLocationError as exc:
                failures.append(unlocated(state.name, hunk, text, str(exc)))
                continue
            state.located.append(located)
            if located.chosen_by_header:
                self.repairs.append(located.chosen_by_header)
        return failures

    def _check_syntax(self) -> list[HunkFailure]:
        """Drop hunks that break the syntax, and report them."""
        failures = []
        for path, state in self._files.items():
            if path in self._deletes or not state.located:
                continue
            edits = tuple(h.edit for h in state.located)
            new_text = apply_edits(state.snapshot.text, edits)
            problems = check_syntax(path, state.snapshot.text, new_text, state.located)
            failures += syntax_failures(state.name, new_text, state.located, problems)
            blamed = {problem.hunk_index for problem in problems}
            state.located = [h for h in state.located if h.hunk.index not in blamed]
        for path, create in list(self._creates.items()):
            problems = check_syntax(path, None, create.text, ())
            if problems:
                del self._creates[path]
                failures.append(created_file_failure(path.name, create.text, problems[0]))
        return failures

    # -- the result -----------------------------------------------------------------------

    @property
    def kept_hunks(self) -> int:
        return sum(len(state.located) for state in self._files.values())

    @property
    def has_content(self) -> bool:
        return bool(self.kept_hunks or self._creates or self._renames or self._deletes)

    def plan(self) -> EditPlan:
        """The plan, or an EditError naming every hunk that did not land."""
        if self.failures:
            raise _refusal(self.failures)
        files = []
        for path, state in self._files.items():
            if path in self._deletes:
                continue
            located = sorted(state.located, key=lambda h: h.edit.start)
            if located:
                files.append(FileEdit(state.snapshot, tuple(located)))
        return EditPlan(
            files=tuple(files),
            repairs=tuple(dict.fromkeys(self.repairs)),
            creates=tuple(self._creates.values()),
            renames=tuple(self._renames.values()),
            deletes=tuple(self._deletes.values()),
        )


def _refusal(failures: list[HunkFailure]) -> EditError:
    first = failures[0]
    more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
    error_type = HunkLocationError if first.hunk is not None else EditError
    return error_type(first.reason + more)


def exists_via_snapshot(snapshot_of: Callable[[Path], DocumentSnapshot]) -> Callable[[Path], bool]:
    """A file exists if it is on disk or ``snapshot_of`` knows it (an editor buffer)."""

    def exists(path: Path) -> bool:
        if path.exists():
            return True
        try:
            snapshot_of(path)
        except (EditError, UnreadableFileError, OSError):
            return False
        return True

    return exists


def build_plan(
    parsed: ParsedDiff,
    root: Path,
    snapshot_of: Callable[[Path], DocumentSnapshot],
    exists: Callable[[Path], bool] | None = None,
    resolve: bool = True,
    shown: Sequence[str] = (),
) -> EditPlan:
    """Locate and check every hunk of every file; any failure refuses the whole plan.
    ``shown``: the files a shortened path in the reply may mean (see PlanBuilder)."""
    builder = PlanBuilder(
        root, snapshot_of, exists or exists_via_snapshot(snapshot_of), resolve=resolve, shown=shown
    )
    builder.add(parsed)
    return builder.plan()
