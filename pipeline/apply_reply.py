"""A model reply from anywhere, applied to a working tree with Fathom's tolerant machinery.

``fathom apply`` reads a reply (any model's, any tool's: a unified diff or search/replace
blocks) and carries it out the way an edit's own reply is: the tolerant parse (fences, prose,
wrong counts and line numbers), hunks located by content, every edited file re-parsed, paths
confined to the root — and then written all at once or not at all. A reply that changes
nothing or repeats itself in a loop is refused: a script must not apply those blindly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fathom.context import LineRange
from fathom.context.text import read_text_file
from fathom.edits.degenerate import reply_loop
from fathom.edits.diff_parse import ParsedDiff
from fathom.edits.disk import write_plan
from fathom.edits.errors import DiffParseError, EditError, NoDiffError
from fathom.edits.new_version import refused_reply_as_new_version
from fathom.edits.plan import DocumentSnapshot, EditPlan, build_plan
from fathom.edits.prompt import reply_diff
from fathom.edits.search_replace import parse_reply
from fathom.pipeline.edit_flow import plan_diff


@dataclass(frozen=True, slots=True)
class AppliedReply:
    plan: EditPlan
    diff: str  # the plan as a unified diff against the files as they were read
    written: tuple[Path, ...]  # empty for a dry run


def _snapshot(path: Path) -> DocumentSnapshot:
    return DocumentSnapshot(path, read_text_file(path), None)


def _parsed(
    reply: str, root: Path, default_path: str | None, selection: LineRange | None
) -> ParsedDiff:
    try:
        return parse_reply(reply, default_path)
    except (NoDiffError, DiffParseError) as exc:
        # A hunk or block that quotes the selection already rewritten (a whole block's, a
        # unified diff's, a search/replace block's) changes nothing as written, a
        # search/replace block without '=======' is unreadable; knowing the selection,
        # ``fathom edit`` reads either as its new version (edits/new_version.py).
        if default_path is None or selection is None:
            raise
        text = read_text_file(root / default_path)
        repaired = refused_reply_as_new_version(
            exc, reply_diff(reply), default_path, text, selection
        )
        if repaired is None:
            raise
        return repaired


def plan_reply(
    reply: str,
    root: Path,
    default_path: str | None = None,
    selection: LineRange | None = None,
) -> EditPlan:
    """The plan ``reply`` makes of the files under ``root``; an EditError says why there is
    none (no diff, a hunk that lands nowhere or twice, broken syntax, a path outside).
    ``default_path`` (relative to ``root``) is the file of blocks or hunks that name none;
    ``selection``, its lines the reply was asked to change (for the whole-block repair)."""
    if (loop := reply_loop(reply)) is not None:
        raise EditError(f"Not applied: {loop.describe()}.")
    root = root.resolve()
    # The file of blocks that name none is also the one a shortened path can mean.
    shown = [default_path] if default_path else []
    plan = build_plan(_parsed(reply, root, default_path, selection), root, _snapshot, shown=shown)
    moves_files = plan.creates or plan.renames or plan.deletes
    if not moves_files and all(f.new_text() == f.snapshot.text for f in plan.files):
        raise EditError("Not applied: the reply leaves every file as it was.")
    return plan


def apply_reply(
    reply: str,
    root: Path,
    *,
    dry_run: bool = False,
    allow_delete: bool = False,
    default_path: str | None = None,
    selection: LineRange | None = None,
) -> AppliedReply:
    """Plan ``reply`` against ``root`` and, unless ``dry_run``, write the whole plan."""
    root = root.resolve()
    plan = plan_reply(reply, root, default_path, selection)
    diff = plan_diff(plan, root)
    written = () if dry_run else tuple(write_plan(plan, allow_delete=allow_delete))
    return AppliedReply(plan=plan, diff=diff, written=written)
