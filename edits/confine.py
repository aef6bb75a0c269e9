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

from context.files import ALWAYS_SKIPPED_DIRS, IgnoreRules, looks_secret


def _fold(name: str) -> str:
    # Case-insensitive file systems (macOS, Windows) open ".GIT" as ".git", and Windows drops
    # trailing dots and spaces (".git." is ".git"): compare names as such a system would.
    return name.rstrip(". ").casefold() or name


_NEVER_WRITTEN = {_fold(name) for name in ALWAYS_SKIPPED_DIRS}


def write_refusal(root: Path, relative: Path) -> str | None:
    """Why a reply may not write ``root / relative``, or None when it may.

    ``relative`` is normalised (no ``..``); callers judge both the path as the reply names it
    and where it resolves to, so a symlink inside the workspace cannot lead into ``.git``.
    """
    parts = relative.parts
    if not parts:
        return None
    hidden = next((part for part in parts if _fold(part) in _NEVER_WRITTEN), None)
    if hidden is not None:
        return f"it is inside {hidden}/, where Fathom never writes"
    if looks_secret(Path(_fold(parts[-1]))):
        return "it looks like a secret file (.env, keys, credentials), which Fathom never writes"
    rules = IgnoreRules(root)
    folders = [root.joinpath(*parts[:n]) for n in range(1, len(parts))]
    # git ignores everything below an ignored folder, whatever later patterns say.
    if any(rules.ignored(folder, is_dir=True) for folder in folders) or rules.ignored(
        root / relative, is_dir=False
    ):
        return "it is ignored by .gitignore, so no review would show it"
    return None
