"""Random and adversarial diffs against a reference applier (GNU patch): Fathom's edit engine
applies exactly what the reference applies, or refuses with EditError — never a different
result, never another exception.

Files are drawn from a small alphabet of lines so that repeated lines (ambiguous places)
are common. FATHOM_FUZZ_EXAMPLES raises the number of examples for a longer run.
"""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fathom.edits.errors import EditError
from tests.in_memory_edits import apply_to_texts

EXAMPLES = int(os.environ.get("FATHOM_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=os.environ.get("CI") == "true",  # CI: the same examples every run
)
NAME = "notes.txt"  # no grammar: the syntax check stays out of the comparison

LINES = st.sampled_from(
    ["alpha", "beta", "gamma", "", "    indented", "\tx = 1", "return x", "}", "é ü 漢字", "a  b"]
)
TEXTS = st.lists(LINES, min_size=1, max_size=30)


@st.composite
def edited(draw):
    """(old lines, new lines): a few random replacements, insertions and deletions."""
    old = draw(TEXTS)
    new = list(old)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(new)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        if action == "insert" or not new:
            new[at:at] = draw(st.lists(LINES, min_size=1, max_size=3))
        elif action == "delete":
            del new[min(at, len(new) - 1)]
        else:
            new[min(at, len(new) - 1)] = draw(LINES) + " (changed)"
    return old, new


def _text(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def _unified(old: list[str], new: list[str], context: int) -> list[str]:
    return list(
        difflib.unified_diff(
            _text(old).splitlines(keepends=True),
            _text(new).splitlines(keepends=True),
            f"a/{NAME}",
            f"b/{NAME}",
            n=context,
        )
    )


def _reference(old: str, diff: str) -> str | None:
    """GNU patch, no fuzz: the patched text, or None where it refuses."""
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / NAME
        target.write_text(old, encoding="utf-8", newline="")
        done = subprocess.run(
            [
                "patch",
                "--silent",
                "--force",
                "--fuzz=0",
                "--no-backup-if-mismatch",
                "-p1",
                "-d",
                tmp,
            ],
            input=diff.encode(),
            capture_output=True,
        )
        if done.returncode != 0 or (Path(tmp) / f"{NAME}.rej").exists():
            return None
        return target.read_text(encoding="utf-8")


def _fathom(old: str, diff: str) -> str | None:
    try:
        return apply_to_texts(diff, {NAME: old}).texts[NAME]
    except EditError:
        return None


pytestmark = pytest.mark.skipif(shutil.which("patch") is None, reason="GNU patch not installed")


@FUZZ
@given(edited(), st.integers(0, 3))
def test_a_correct_diff_gives_the_reference_result(change, context):
    old, new = change
    diff = "".join(_unified(old, new, context))
    if not diff:
        return
    expected = _text(new)
    assert _reference(_text(old), diff) == expected  # the reference is right by construction
    got = _fathom(_text(old), diff)
    # With no context lines and repeated lines a hunk can fit several places: refusing is
    # allowed there; a different text never is.
    assert got is None or got == expected
    if context >= 1 and len(set(old)) == len(old):
        assert got == expected  # every place is unique: nothing to refuse over


@st.composite
def damaged(draw):
    """A diff as a model gets it wrong: line numbers off, counts wrong, a header dropped, a
    context line lost or its whitespace changed, hunks swapped."""
    old, new = draw(edited())
    lines = _unified(old, new, draw(st.integers(1, 3)))
    if not lines:
        return old, new, ""
    damage = draw(
        st.sampled_from(
            ["numbers", "counts", "no header", "drop context", "whitespace", "swap hunks"]
        )
    )
    heads = [i for i, line in enumerate(lines) if line.startswith("@@")]
    if damage == "numbers":
        shift = draw(st.integers(-20, 20))
        for i in heads:
            lines[i] = f"@@ -{max(1, 1 + shift)},3 +{max(1, 2 + shift)},3 @@\n"
    elif damage == "counts":
        for i in heads:
            lines[i] = lines[i].replace("@@ -", "@@ -1,99 +1,99 @@ ", 1).split(" @@ ")[0] + " @@\n"
    elif damage == "no header":
        lines = [line for line in lines if not line.startswith(("---", "+++"))]
    elif damage == "drop context":
        context = [i for i, line in enumerate(lines) if line.startswith(" ")]
        if context:
            del lines[draw(st.sampled_from(context))]
    elif damage == "whitespace":
        context = [i for i, line in enumerate(lines) if line.startswith(" ")]
        if context:
            i = draw(st.sampled_from(context))
            lines[i] = " " + lines[i][1:].rstrip("\n") + "  \n"
    elif damage == "swap hunks" and len(heads) >= 2:
        first = lines[heads[0] : heads[1]]
        rest = lines[heads[1] :]
        lines = lines[: heads[0]] + rest + first
    return old, new, "".join(lines)


@FUZZ
@given(damaged())
def test_a_damaged_diff_is_refused_or_applied_as_it_says(case):
    old, new, diff = case
    if not diff:
        return
    got = _fathom(_text(old), diff)
    if got is None:
        return  # refused: the buffer is untouched
    reference = _reference(_text(old), diff)
    if reference is not None:
        # Where GNU patch applies the damaged diff, Fathom agrees with it or gives the
        # intended change (the line numbers it ignored were the damage).
        assert got in {reference, _text(new)}, (diff, got, reference)
    # Always: Fathom wrote nothing the diff does not say. Per line (whitespace aside, as the
    # engine may re-indent), (times now) - (times before) == (times added) - (times removed).
    body = [line for line in diff.splitlines() if not line.startswith(("---", "+++", "@@"))]
    added = Counter(line[1:].strip() for line in body if line.startswith("+"))
    removed = Counter(line[1:].strip() for line in body if line.startswith("-"))
    now = Counter(line.strip() for line in got.splitlines())
    before = Counter(line.strip() for line in old)
    for line in set(now) | set(before) | set(added) | set(removed):
        assert now[line] - before[line] == added[line] - removed[line], (diff, got, line)


@FUZZ
@given(TEXTS, st.text(max_size=400))
def test_arbitrary_text_as_a_reply_applies_or_is_refused(old, reply):
    """Whatever a model writes (random text), the engine refuses with EditError or applies an
    edit to the one file shown; nothing else escapes."""
    got = _fathom(_text(old), f"--- a/{NAME}\n+++ b/{NAME}\n{reply}")
    assert got is None or isinstance(got, str)
