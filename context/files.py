"""Which files of a workspace may be indexed and shown to a model.

Never: what .gitignore ignores (at any depth), version-control and dependency folders, binary
files, files over the size limit, files that look like secrets (.env, keys, credentials) — a
secret must not reach a prompt even when the repository forgot to ignore it — symlinks (they
may leave the workspace), devices and FIFOs.

:func:`prompt_refusal` is the one rule for every way a file's text reaches a model (the
target, imports, ranked chunks, open documents, a review); the index applies the same rule
(:func:`skip_reason`) plus "is a language Fathom parses".
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG

import pathspec

from fathom.context.languages import language_of
from fathom.context.text import UnreadableFileError

MAX_FILE_BYTES = 1 << 20
ALWAYS_SKIPPED_DIRS = {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", ".tox"}
SECRET_PATTERNS = (
    ".env",
    ".env.*",
    "*.env",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".netrc",
    ".pgpass",
    ".npmrc",
    ".pypirc",
    "*credentials*",
    "*secret*",
    "*.tfstate",
    "*.tfvars",
)


class PromptRefusedError(UnreadableFileError):
    """A file whose text may not enter a prompt (ignored, secret-looking, a symlink...)."""


def looks_secret(path: Path) -> bool:
    name = path.name.lower()
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in SECRET_PATTERNS)


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: Path  # absolute
    relative: str  # posix, relative to the root
    language: str
    size: int
    mtime_ns: int


class IgnoreRules:
    """.gitignore files of a tree, each applying below its own folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._specs: dict[Path, pathspec.GitIgnoreSpec | None] = {}

    def _spec(self, folder: Path) -> pathspec.GitIgnoreSpec | None:
        if folder not in self._specs:
            ignore = folder / ".gitignore"
            lines = ignore.read_text(errors="replace").splitlines() if ignore.is_file() else []
            spec = pathspec.GitIgnoreSpec.from_lines(lines)
            self._specs[folder] = spec if lines else None
        return self._specs[folder]

    def ignored(self, path: Path, is_dir: bool) -> bool:
        for folder in [path.parent, *path.parent.parents]:
            spec = self._spec(folder)
            if spec is not None:
                rel = path.relative_to(folder).as_posix() + ("/" if is_dir else "")
                if spec.match_file(rel):
                    return True
            if folder == self.root:
                break
        return False


def _fold(name: str) -> str:
    # Case-insensitive file systems (macOS, Windows) open ".GIT" as ".git", and Windows drops
    # trailing dots and spaces (".git." is ".git"): compare names as such a system would.
    return name.rstrip(". ").casefold() or name


_NEVER_SHOWN_DIRS = {_fold(name) for name in ALWAYS_SKIPPED_DIRS}


def name_refusal(relative: Path, rules: IgnoreRules | None) -> str | None:
    """Why a file at ``relative`` (normalised, to the rules' root) is never shown to a model
    nor written by one, judged by its name and the ignore rules alone (no disk access beyond
    reading .gitignore files)."""
    parts = relative.parts
    skipped = next((part for part in parts if _fold(part) in _NEVER_SHOWN_DIRS), None)
    if skipped is not None:
        return f"it is inside {skipped}/, which Fathom never shows"
    if parts and looks_secret(Path(_fold(parts[-1]))):
        return "it looks like a secret file (.env, keys, credentials)"
    if rules is not None and parts:
        folders = [rules.root.joinpath(*parts[:n]) for n in range(1, len(parts))]
        # A file below an ignored folder is ignored, whatever later patterns say (git's rule).
        if any(rules.ignored(folder, is_dir=True) for folder in folders) or rules.ignored(
            rules.root / relative, is_dir=False
        ):
            return "it is ignored by .gitignore"
    return None


def content_refusal(data: bytes, size: int) -> str | None:
    """Why a file with these first bytes and this size is never shown."""
    if size > MAX_FILE_BYTES:
        return f"it is larger than {MAX_FILE_BYTES} bytes"
    if b"\0" in data[:8192]:
        return "it is a binary file"
    return None


def prompt_refusal(
    path: Path, root: Path, rules: IgnoreRules | None = None, text: str | None = None
) -> str | None:
    """Why the text of ``path`` must not enter a prompt, or None when it may.

    ``path`` is absolute and not resolved (a symlink is judged as the link); ``text`` is the
    editor's text when the document is open, else the disk is read. ``rules`` defaults to
    ``root``'s .gitignore files.
    """
    root = root.resolve()
    if not path.is_absolute() or not path.is_relative_to(root):
        return "it is outside the workspace"
    relative = path.relative_to(root)
    if ".." in relative.parts:
        return "it is outside the workspace"
    reason = name_refusal(relative, rules if rules is not None else IgnoreRules(root))
    if reason is not None:
        return reason
    for step in [*reversed(path.parents[: len(relative.parts) - 1]), path]:
        if step.is_symlink():
            return "it is reached through a symlink, which may leave the workspace"
    if text is not None:
        data = text.encode("utf-8", "surrogatepass")
        return content_refusal(data[:8192], len(data))
    try:
        info = path.stat()
        if not S_ISREG(info.st_mode):
            return "it is not a regular file (a device, FIFO or folder)"
        with path.open("rb") as handle:
            return content_refusal(handle.read(8192), info.st_size)
    except OSError as exc:
        return f"it cannot be read: {exc.strerror}"


def skip_reason(path: Path, size: int, rules: IgnoreRules | None = None) -> str | None:
    """Why ``path`` must not be indexed, or None (the indexer has checked it is a regular
    file, not a symlink)."""
    if language_of(path) is None:
        return "not a supported source language"
    root = rules.root if rules is not None else path.parent
    reason = name_refusal(path.relative_to(root), rules)
    if reason is not None:
        return reason
    try:
        with path.open("rb") as handle:
            return content_refusal(handle.read(8192), size)
    except OSError as exc:
        return f"unreadable: {exc.strerror}"


def walk_sources(root: Path) -> Iterator[SourceFile]:
    """Indexable source files under ``root``, in a stable order."""
    root = root.resolve()
    rules = IgnoreRules(root)
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in ALWAYS_SKIPPED_DIRS
            and not (here / d).is_symlink()  # a link may leave the workspace
            and not rules.ignored(here / d, is_dir=True)
        )
        for name in sorted(files):
            path = here / name
            if path.is_symlink() or (language := language_of(path)) is None:
                continue
            stat = path.stat()
            if not S_ISREG(stat.st_mode):
                continue  # a device or FIFO: opening it could block the indexer
            if skip_reason(path, stat.st_size, rules) is None:
                yield SourceFile(
                    path,
                    path.relative_to(root).as_posix(),
                    language,
                    stat.st_size,
                    stat.st_mtime_ns,
                )
