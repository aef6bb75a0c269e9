"""Where a model's reply may write: never where Fathom does not show files.

A reply may not create, change, rename (from or to) or delete a path that

- has a component in ``ALWAYS_SKIPPED_DIRS``: ``.git/hooks/post-checkout`` runs on the next
  checkout, ``.git/config`` can name a program git runs, and ``node_modules``/``.venv`` hold
  code that is run but never reviewed;
- looks like a secret (``.env``, keys, credentials): the model never sees their values;
- is ignored by .gitignore (or lies below an ignored folder).

The last is the strict one: a model may not even create ``build/notes.py`` where ``build/`` is
ignored. That is deliberate: ``git status`` and ``git diff`` never show an ignored file, so a
review would not see it, and Fathom never shows ignored files to the model either, so it
cannot know what it would be overwriting or feeding. The cost is that a user who wants a
generated or local file written must write it, or un-ignore it, first.
"""

from __future__ import annotations

from pathlib import Path

from fathom.context.files import IgnoreRules, name_refusal
from fathom.edits.errors import PathOutsideWorkspaceError, ProtectedPathError


def write_refusal(root: Path, relative: Path) -> str | None:
    """Why a reply may not write ``root / relative``, or None when it may: the rule of what
    Fathom never shows (context/files.py), applied to writes.

    ``relative`` is normalised (no ``..``); callers judge both the path as the reply names it
    and where it resolves to, so a symlink inside the workspace cannot lead into ``.git``.
    """
    reason = name_refusal(relative, IgnoreRules(root))
    return None if reason is None else f"{reason}, and Fathom never writes there"


def resolve_in_workspace(root: Path, relative: str, resolve: bool = True) -> Path:
    """``relative`` as an absolute path inside ``root``; refuse anything that leaves it, or
    that lands where Fathom never writes (edits/confine.py)."""
    candidate = Path(relative)
    if candidate.is_absolute() or ".." in candidate.parts or relative.startswith("~"):
        raise PathOutsideWorkspaceError(f"The diff names {relative!r}, outside the workspace.")
    reasons = [write_refusal(root, candidate)]
    resolved = root / candidate
    if resolve:
        resolved = (root / candidate).resolve()
        if not resolved.is_relative_to(root.resolve()):
            raise PathOutsideWorkspaceError(
                f"The diff names {relative!r}, which resolves outside the workspace ({resolved})."
            )
        reasons.append(write_refusal(root.resolve(), resolved.relative_to(root.resolve())))
    reason = next((r for r in reasons if r is not None), None)
    if reason is not None:
        raise ProtectedPathError(f"The diff writes {relative}: {reason}; nothing was applied.")
    return resolved
