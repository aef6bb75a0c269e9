"""Repetition loops are seen while a reply streams; replies out of proportion are named."""

from __future__ import annotations

from fathom.edits.degenerate import RepetitionWatch, disproportion, find_loop, reply_loop

# The shape of a loop a 0.5B model really wrote on the eval suite: one added block, again and
# again, inside a diff.
LOOP_BLOCK = [
    "+    if not items:",
    "+        return 0",
    "+    total = sum(item.price for item in items)",
]
HEAD = ["--- a/shop/cart.py", "+++ b/shop/cart.py", "@@ -3,4 +3,200 @@", " def total(items):"]

# Real code with near-repeats: parametrized cases differ in their values; closing brackets
# differ in indentation; a literal table has a few equal rows.
LEGIT = """\
def test_cases():
    assert add(1, 2) == 3
    assert add(2, 2) == 4
    assert add(3, 2) == 5
    assert add(4, 2) == 6
    assert add(5, 2) == 7
    assert add(6, 2) == 8
    assert add(7, 2) == 9
GRID = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
]
def nested():
    return f(
        g(
            h(
                1,
            )
        )
    )
"""


def test_a_loop_is_seen_long_before_the_token_limit():
    watch = RepetitionWatch()
    lines = HEAD + LOOP_BLOCK * 57
    seen_at = None
    for number, line in enumerate(lines, 1):
        # Pieces smaller than lines, as tokens arrive.
        for piece in (line[:5], line[5:] + "\n"):
            if watch.feed(piece) is not None and seen_at is None:
                seen_at = number
    assert watch.loop is not None
    assert watch.loop.period == 3
    assert seen_at is not None and seen_at <= len(HEAD) + 3 * 6
    assert "repetition loop" in watch.loop.describe()


def test_real_code_with_near_repeats_is_not_a_loop():
    assert reply_loop(LEGIT) is None
    # Twelve equal rows of a table are not yet a loop; a line written over and over is.
    assert find_loop(["    [0, 0, 0],"] * 12) is None
    assert find_loop(["+        return 0"] * 16) is not None


def test_blank_and_punctuation_runs_are_not_loops():
    assert find_loop([""] * 40) is None
    assert find_loop(["+", "+    )"] * 20) is None


def test_a_runaway_line_is_a_loop():
    watch = RepetitionWatch()
    for _ in range(1200):
        watch.feed("foo(")
    assert watch.loop is not None


def test_a_deleted_selection_is_suspect_unless_removal_was_asked():
    reason = disproportion("use a generator", selection_lines=27, removed=27, added=0)
    assert reason is not None and "deletes 27" in reason
    assert disproportion("remove the logging", selection_lines=27, removed=27, added=0) is None
    assert disproportion("use a generator", selection_lines=27, removed=27, added=20) is None


def test_a_reply_far_larger_than_the_selection_is_suspect():
    reason = disproportion("add a docstring", selection_lines=5, removed=1, added=230)
    assert reason is not None and "230" in reason
    assert disproportion("add a docstring", selection_lines=5, removed=1, added=12) is None
    loop = reply_loop("\n".join(HEAD + LOOP_BLOCK * 20))
    assert disproportion("x", 5, 0, 3, loop) == loop.describe() if loop else False
