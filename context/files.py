"""Which files of a workspace may be indexed and shown to a model.

Never: what .gitignore ignores (at any depth), version-control and dependency folders, binary
files, files over the size limit, and files that look like secrets (.env, keys, credentials) —
a secret must not reach a prompt even when the repository forgot to ignore it.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG

import pathspec

from context.languages import language_of

MAX_FILE_BYTES = 1 << 20
ALWAYS_SKIPPED_DIRS = {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", ".tox"}
SECRET_PATTERNS = (
    ".env", ".env.*", "*.env", "*.pem", "*.key", "*.p12", "*.pfx", "*.jks", "*.keystore",
    "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", ".netrc", ".pgpass", ".npmrc", ".pypirc",
    "*credentials*", "*secret*", "*.tfstate", "*.tfvars",
)  # fmt: skip


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


def skip_reason(path: Path, size: int, rules: IgnoreRules | None = None) -> str | None:
    """Why ``path`` must not be indexed, or None."""
    if language_of(path) is None:
        return "not a supported source language"
    if looks_secret(path):
        return "looks like a secret"
    if size > MAX_FILE_BYTES:
        return f"larger than {MAX_FILE_BYTES} bytes"
    if rules is not None and rules.ignored(path, is_dir=False):
        return "ignored by .gitignore"
    try:
        with path.open("rb") as handle:
            if b"\0" in handle.read(8192):
                return "binary"
    except OSError as exc:
        return f"unreadable: {exc.strerror}"
    return None


def walk_sources(root: Path) -> Iterator[SourceFile]:
    """Indexable source files under ``root``, in a stable order."""
    root = root.resolve()
    rules = IgnoreRules(root)
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(
            d for d in dirs
            if d not in ALWAYS_SKIPPED_DIRS
            and not (here / d).is_symlink()  # a link may leave the workspace
            and not rules.ignored(here / d, is_dir=True)
        )  # fmt: skip
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
