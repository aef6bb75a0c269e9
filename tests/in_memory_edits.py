"""Apply a model reply to in-memory texts: the whole edit pipeline without an editor or disk.

A test double, so it lives here and not in the product: the server always plans against an
editor's documents or the disk (``PlanBuilder`` keeps their versions), while the tests of the
diff protocol only have a dict of texts. The texts stand in for files under a root that does
not exist, which is why the plan is built with ``resolve=False`` (nothing on disk to resolve).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fathom.edits.diff_parse import parse_diff
from fathom.edits.errors import EditError
from fathom.edits.plan import DocumentSnapshot, EditPlan, build_plan

ROOT = Path("/fathom-virtual-root")


@dataclass(frozen=True, slots=True)
class AppliedReply:
    texts: dict[str, str | None]  # relative POSIX path -> new text; None: the file is deleted
    repairs: tuple[str, ...]
    strategies: tuple[str, ...]  # how each hunk was located, in plan order


def _rel(path: Path) -> str:
    return PurePosixPath(path.relative_to(ROOT)).as_posix()


def plan_for_texts(reply: str, files: Mapping[str, str]) -> EditPlan:
    """The plan for ``reply`` against ``files`` (relative path -> text); EditError to refuse."""

    def snapshot_of(path: Path) -> DocumentSnapshot:
        rel = _rel(path)
        if rel not in files:
            raise EditError(f"The diff edits {rel}, which does not exist.")
        return DocumentSnapshot(path, files[rel], None)

    def exists(path: Path) -> bool:
        return _rel(path) in files

    return build_plan(parse_diff(reply), ROOT, snapshot_of, exists, resolve=False)


def apply_to_texts(reply: str, files: Mapping[str, str]) -> AppliedReply:
    """Apply ``reply`` to ``files`` (relative path -> text); raise EditError to refuse."""
    plan = plan_for_texts(reply, files)
    texts = {_rel(path): text for path, text in plan.final_texts().items()}
    strategies = tuple(h.strategy.value for f in plan.files for h in f.located)
    return AppliedReply(texts, plan.repairs, strategies)
