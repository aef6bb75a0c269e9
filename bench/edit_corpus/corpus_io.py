"""Reading the edit corpus; standard library only (Aider's venv imports it too).

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
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"
CORPUS = HERE / "corpus.jsonl"


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


def case_files(case: dict, sources: Path = SOURCES) -> dict[str, str]:
    """The case's workspace: path -> current text."""
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
