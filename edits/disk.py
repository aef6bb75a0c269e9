"""Writing an EditPlan to files on disk (the headless CLI; editors apply through LSP)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from context.text import read_text_file
from edits.errors import DeleteNotAllowedError, EditError
from edits.plan import EditPlan


def _write_atomically(path: Path, text: str, mode: int | None) -> None:
    # Write a sibling and rename over the file: a crash leaves the old or the new file,
    # never half of one.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".fathom")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(text.encode("utf-8"))
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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


def write_plan(plan: EditPlan, *, allow_delete: bool = False) -> list[Path]:
    """Carry out ``plan`` on disk; refuse all of it if any file changed since it was read,
    or if it deletes a file and ``allow_delete`` is off (no editor asks first here)."""
    if plan.deletes and not allow_delete:
        names = ", ".join(str(d.snapshot.path) for d in plan.deletes)
        raise DeleteNotAllowedError(
            f"the edit deletes {names}; nothing was written. Check the diff, then run again "
            "with --allow-delete to let it delete files."
        )
    _check_unchanged(plan)
    written = []
    for file_edit in plan.files:
        path = file_edit.snapshot.path
        _write_atomically(path, file_edit.new_text(), path.stat().st_mode & 0o7777)
        written.append(path)
    for rename in plan.renames:
        rename.target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(rename.source.path, rename.target)
        written.append(rename.target)
    for create in plan.creates:
        _write_atomically(create.path, create.text, None)
        written.append(create.path)
    for delete in plan.deletes:
        delete.snapshot.path.unlink()
        written.append(delete.snapshot.path)
    return written
