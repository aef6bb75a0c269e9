"""Writing an EditPlan to files on disk (the headless CLI; editors apply through LSP)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from context.text import read_text_file
from edits.errors import EditError
from edits.plan import EditPlan


def write_plan(plan: EditPlan) -> list[Path]:
    """Write every file of ``plan``; refuse all of them if any changed since it was read."""
    for file_edit in plan.files:
        if read_text_file(file_edit.snapshot.path) != file_edit.snapshot.text:
            raise EditError(
                f"{file_edit.snapshot.path} changed on disk while the model was writing; "
                "nothing was written."
            )
    written = []
    for file_edit in plan.files:
        path = file_edit.snapshot.path
        # Write a sibling and rename over the file: a crash leaves the old or the new file,
        # never half of one.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".fathom")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(file_edit.new_text().encode("utf-8"))
            os.chmod(tmp, path.stat().st_mode & 0o7777)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(path)
    return written
