"""Reading the edit corpus; standard library only (Aider's venv imports it too).

The third-party files the corpus edits are not in the source tree (opened in Fathom, they would
be ranked into its own prompts): they live in ``sources.tar.xz``, whose SHA-256 is pinned here,
and :func:`sources_dir` unpacks them on first use into the git-ignored ``unpacked/`` (the
index honours .gitignore). ``python bench/edit_corpus/corpus_io.py pack FOLDER`` rebuilds the
archive byte for byte from an unpacked folder (then pin the SHA-256 it prints).

A case's ``files`` maps a workspace path to ``{"source": PATH under sources/, "transforms": [...]}``
or ``{"text": ...}``. Transforms are applied at load time: ``no_final_newline`` drops the last
line break, then ``crlf`` turns every line break into CRLF.

A case's ``expected`` is ``{"refuse": true}`` or ``{"texts": {path: sha256 or null}}``: the
paths the edit changes, with the SHA-256 of their new UTF-8 text, or null where the file is gone.
Outcomes are compared as whole workspace states (every path -> sha), so an applier that changes
a file the edit should not touch is wrong, and one that leaves everything as it was refused.
"""

from __future__ import annotations

import hashlib
import io
import json
import lzma
import os
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus.jsonl"
ARCHIVE = HERE / "sources.tar.xz"
ARCHIVE_SHA256 = "2c14a9bafd61b0454e530ac593b293983e5b999fed9a8e6b041ce21891a3db26"
UNPACKED = HERE / "unpacked"  # git-ignored: PROVENANCE.md and sources/<language>/...
_STAMP = ".archive-sha256"  # which archive the unpacked folder came from


class ArchiveError(RuntimeError):
    """The sources archive is missing, altered, or holds something other than plain files."""


def sources_dir() -> Path:
    """The unpacked ``sources/`` folder, unpacked from the checksummed archive if needed."""
    stamp = UNPACKED / _STAMP
    if not (stamp.is_file() and stamp.read_text().strip() == ARCHIVE_SHA256):
        _unpack()
    return UNPACKED / "sources"


def _unpack() -> None:
    data = ARCHIVE.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != ARCHIVE_SHA256:
        raise ArchiveError(f"{ARCHIVE} has SHA-256 {digest}, expected {ARCHIVE_SHA256}")
    UNPACKED.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=UNPACKED.parent))
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:xz") as tar:
            for member in tar.getmembers():
                name = PurePosixPath(member.name)
                if not member.isfile() or name.is_absolute() or ".." in name.parts:
                    raise ArchiveError(f"{ARCHIVE}: unexpected member {member.name!r}")
                target = staging.joinpath(*name.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None  # a regular file
                target.write_bytes(source.read())
        (staging / _STAMP).write_text(ARCHIVE_SHA256 + "\n")
        # Replace a stale folder; another process may have unpacked the same archive meanwhile.
        shutil.rmtree(UNPACKED, ignore_errors=True)
        try:
            os.replace(staging, UNPACKED)
        except OSError:
            if (UNPACKED / _STAMP).read_text().strip() != ARCHIVE_SHA256:
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def pack(folder: Path, out: Path = ARCHIVE) -> str:
    """Write ``folder``'s files (sorted, no owners or times) as a reproducible .tar.xz."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != _STAMP):
            info = tarfile.TarInfo(path.relative_to(folder).as_posix())
            data = path.read_bytes()
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    packed = lzma.compress(buffer.getvalue(), preset=9 | lzma.PRESET_EXTREME)
    out.write_bytes(packed)
    return hashlib.sha256(packed).hexdigest()


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def apply_transforms(text: str, transforms: list[str] | tuple[str, ...]) -> str:
    if "no_final_newline" in transforms and text.endswith("\n"):
        text = text[:-1]
    if "crlf" in transforms:
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    return text


def load_corpus(path: Path | str = CORPUS) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def case_files(case: dict, sources: Path | None = None) -> dict[str, str]:
    """The case's workspace: path -> current text."""
    sources = sources or sources_dir()
    files = {}
    for path, spec in case["files"].items():
        if "text" in spec:
            files[path] = spec["text"]
        else:
            raw = (sources / spec["source"]).read_bytes().decode("utf-8")
            files[path] = apply_transforms(raw, spec.get("transforms", []))
    return files


def state_of(files: dict[str, str], changes: dict[str, str | None]) -> dict[str, str]:
    """Workspace digest (path -> sha) after ``changes`` (path -> new text, None = deleted)."""
    state = {p: sha(t) for p, t in files.items()}
    for path, text in changes.items():
        if text is None:
            state.pop(path, None)
        else:
            state[path] = sha(text)
    return state


def expected_state(case: dict, files: dict[str, str]) -> dict[str, str] | None:
    """The digest the edit should leave; None when the right answer is to refuse."""
    expected = case["expected"]
    if expected.get("refuse"):
        return None
    state = {p: sha(t) for p, t in files.items()}
    for path, digest in expected["texts"].items():
        if digest is None:
            state.pop(path, None)
        else:
            state[path] = digest
    return state


if __name__ == "__main__":
    if sys.argv[1:2] == ["pack"] and len(sys.argv) == 3:
        print(pack(Path(sys.argv[2])))
    elif sys.argv[1:] == ["unpack"]:
        print(sources_dir())
    else:
        sys.exit("usage: corpus_io.py unpack | pack FOLDER")
