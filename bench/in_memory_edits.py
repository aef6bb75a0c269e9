"""Apply a model reply to in-memory texts with Fathom's edit pipeline, for the edit benchmarks.

The corpus cases are dicts of texts, not an editor or a disk, so the texts stand in for files
under a root that does not exist (hence ``resolve=False``). This is the benchmark's own copy
of the test double in tests/in_memory_edits.py: the product has no use for it, and tests and
benchmarks share no modules (tests/test_no_bench_imports.py), so what a benchmark measures
can change without changing what a test asserts. Both go through the product's real
``parse_diff`` and ``build_plan``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fathom.edits.diff_parse import parse_diff
from fathom.edits.errors import EditError
from fathom.edits.plan import DocumentSnapshot, build_plan

ROOT = Path("/fathom-virtual-root")


@dataclass(frozen=True, slots=True)
class AppliedReply:
    texts: dict[str, str | None]  # relative POSIX path -> new text; None: the file is deleted
    repairs: tuple[str, ...]
    strategies: tuple[str, ...]  # how each hunk was located, in plan order


def _rel(path: Path) -> str:
    return PurePosixPath(path.relative_to(ROOT)).as_posix()


def apply_to_texts(reply: str, files: Mapping[str, str]) -> AppliedReply:
    """Apply ``reply`` to ``files`` (relative path -> text); raise EditError to refuse."""

    def snapshot_of(path: Path) -> DocumentSnapshot:
        rel = _rel(path)
        if rel not in files:
            raise EditError(f"The diff edits {rel}, which does not exist.")
        return DocumentSnapshot(path, files[rel], None)

    def exists(path: Path) -> bool:
        return _rel(path) in files

    plan = build_plan(parse_diff(reply), ROOT, snapshot_of, exists, resolve=False)
    texts = {_rel(path): text for path, text in plan.final_texts().items()}
    strategies = tuple(h.strategy.value for f in plan.files for h in f.located)
    return AppliedReply(texts, plan.repairs, strategies)
