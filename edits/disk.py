"""Writing an EditPlan to files on disk (the headless CLI; editors apply through LSP).

All or nothing: every new text is first written to a temporary sibling (nothing visible
changes yet), then the files are swapped in by renames, each one undoable: an original is
kept as a hard-linked (or copied) backup until the end. If any step fails, the steps already
taken are undone newest first, so a plan lands whole or not at all.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from fathom.context.text import read_text_file
from fathom.edits.errors import DeleteNotAllowedError, EditError
from fathom.edits.plan import EditPlan


def _check_unchanged(plan: EditPlan) -> None:
    """Refuse the whole plan if any file it reads changed, or any file it makes exists."""
    for snapshot in plan.snapshots():
        if read_text_file(snapshot.path) != snapshot.text:
            raise EditError(
                f"{snapshot.path} changed on disk while the model was writing; nothing was written."
            )
    for path in [*(c.path for c in plan.creates), *(r.target for r in plan.renames)]:
        if path.exists():
            raise EditError(f"{path} appeared while the model was writing; nothing was written.")


class _Transaction:
    """The steps taken so far and how to undo each; the files to remove at the end."""

    def __init__(self) -> None:
        self.undo: list[tuple[Callable[[], object], Path]] = []
        self.temps: list[Path] = []  # new texts not yet renamed into place
        self.backups: list[Path] = []  # originals kept until the plan has landed
        self.made_dirs: list[Path] = []

    def make_parents(self, path: Path) -> None:
        for folder in [p for p in reversed(path.parents) if not p.exists()]:
            folder.mkdir()
            self.made_dirs.append(folder)

    def stage(self, path: Path, text: str, mode: int | None) -> Path:
        """The new text in a temporary sibling of ``path``."""
        self.make_parents(path)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".fathom")
        self.temps.append(Path(name))
        with os.fdopen(fd, "wb") as out:
            out.write(text.encode("utf-8"))
        if mode is not None:
            os.chmod(name, mode)
        return Path(name)

    def backup(self, path: Path) -> Path:
        """A second name for ``path``'s current file (a hard link, else a copy)."""
        spare = path.with_name(f".{path.name}.{secrets.token_hex(4)}.fathom-old")
        try:
            os.link(path, spare)
        except OSError:
            shutil.copy2(path, spare)
        self.backups.append(spare)
        return spare

    def rollback(self) -> list[str]:
        """Undo every step, newest first; what could not be put back."""
        lost = []
        for undo, path in reversed(self.undo):
            try:
                undo()
            except OSError as exc:
                lost.append(f"{path} ({exc.strerror})")
        # A backup still there is an original not put back: it stays, and the error says so.
        self.finish(keep_backups=bool(lost))
        for folder in reversed(self.made_dirs):
            with contextlib.suppress(OSError):  # not empty: something else is in it now
                folder.rmdir()
        return lost

    def finish(self, keep_backups: bool = False) -> None:
        for spare in [*self.temps, *([] if keep_backups else self.backups)]:
            spare.unlink(missing_ok=True)


def write_plan(plan: EditPlan, *, allow_delete: bool = False) -> list[Path]:
    """Carry out ``plan`` on disk, all of it or none of it; refuse all of it if any file
    changed since it was read, or if it deletes a file and ``allow_delete`` is off (no editor
    asks first here)."""
    if plan.deletes and not allow_delete:
        names = ", ".join(str(d.snapshot.path) for d in plan.deletes)
        raise DeleteNotAllowedError(
            f"the edit deletes {names}; nothing was written. Check the diff, then run again "
            "with --allow-delete to let it delete files."
        )
    _check_unchanged(plan)
    tx = _Transaction()
    written: list[Path] = []
    step: Path | None = None
    try:
        # Nothing visible changes until every new text is on disk beside its file.
        edits, creates = [], []
        for file_edit in plan.files:
            step = path = file_edit.snapshot.path
            mode = path.stat().st_mode & 0o7777
            edits.append((path, tx.stage(path, file_edit.new_text(), mode)))
        for create in plan.creates:
            step = create.path
            creates.append((create.path, tx.stage(create.path, create.text, None)))
        for path, tmp in edits:
            step = path
            spare = tx.backup(path)
            os.replace(tmp, path)
            tx.undo.append((functools.partial(os.replace, spare, path), path))
            written.append(path)
        for rename in plan.renames:
            step = source = rename.source.path
            tx.make_parents(rename.target)
            os.rename(source, rename.target)
            tx.undo.append((functools.partial(os.rename, rename.target, source), source))
            written.append(rename.target)
        for path, tmp in creates:
            step = path
            os.replace(tmp, path)
            tx.undo.append((path.unlink, path))
            written.append(path)
        for delete in plan.deletes:
            step = path = delete.snapshot.path
            spare = tx.backup(path)
            path.unlink()
            tx.undo.append((functools.partial(os.replace, spare, path), path))
            written.append(path)
    except OSError as exc:
        lost = tx.rollback()
        why = f"{step} could not be written ({exc.strerror or exc})"
        if lost:
            raise EditError(
                f"{why}; these could not be put back (each one's old file is beside it, named "
                f".NAME.*.fathom-old): {', '.join(lost)}"
            ) from exc
        raise EditError(f"{why}; nothing was written.") from exc
    except BaseException:
        tx.rollback()
        raise
    tx.finish()
    return written
