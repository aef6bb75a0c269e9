"""Fill-in-the-middle completion without a protocol (pipeline/completion.py and
pipeline/completion_cut.py): single or multi-line by the syntax tree, the unit cut, drops,
the prompt's budget, and the engine call with its cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from fathom.backend.engine import GenerationStats
from fathom.backend.fim import FimFormat, detect_fim
from fathom.lsp_server.completion_context import cached_counter
from fathom.pipeline.completion import (
    WINDOW_STEP,
    CompletionBudget,
    CompletionEngine,
    CompletionError,
    complete,
    completion_mode,
    completion_site,
    prompt_window,
    select_related,
)
from fathom.pipeline.completion_cut import (
    BREAKS,
    EMPTY,
    REPEATS,
    heal_indentation,
    postprocess,
)


def at_cursor(marked: str) -> tuple[str, int]:
    """The text without its "|" and the cursor's offset."""
    offset = marked.index("|")
    return marked[:offset] + marked[offset + 1 :], offset


def position(marked: str) -> tuple[str, int, int]:
    text, offset = at_cursor(marked)
    line = text.count("\n", 0, offset)
    return text, line, offset - (text.rfind("\n", 0, offset) + 1)


def words(text: str) -> int:
    return len(text.split())


@pytest.mark.parametrize(
    ("language", "marked", "mode"),
    [
        ("python", "def f(x):\n    |\n", "multi"),
        ("python", "def f(x):|\n", "multi"),
        ("python", 'def f(x):\n    """Doc."""\n    # note\n    |\n', "multi"),
        (
            "python",
            "class A:\n    def f(self):\n        |\n\n    def g(self):\n        pass\n",
            "multi",
        ),
        ("python", "def f(x):\n    |\n    return x\n", "single"),
        ("python", "x = foo(|)\n", "single"),
        ("python", "x = |\n", "single"),
        ("python", "retu|\n", "single"),
        ("python", "import os\n|\n", "single"),
        ("javascript", "function f(a) {|}\n", "multi"),
        ("javascript", "function f(a) {\n  |\n}\n", "multi"),
        ("javascript", "if (a) {\n  |", "multi"),
        ("javascript", "function f(a) {\n  |\n  return a;\n}\n", "single"),
        ("javascript", "const x = f(|);\n", "single"),
        ("rust", "fn f(x: i32) -> i32 {\n    |\n}\n", "multi"),
        ("rust", "impl A {\n    |\n}\n", "multi"),
        ("rust", "fn f() {\n    // later\n    |\n}\n", "multi"),
        ("rust", "fn f(x: i32) -> i32 {\n    let y = |\n}\n", "single"),
        ("rust", "impl A {\n    |\n    fn g() {}\n}\n", "single"),
        (None, "def f(x):\n    |\n", "single"),
    ],
)
def test_single_or_multi_line(language: str | None, marked: str, mode: str) -> None:
    text, offset = at_cursor(marked)
    assert completion_mode(text, offset, language) == mode


def test_site_positions_count_code_points_and_clamp_to_the_line() -> None:
    text = "s = '😀'\nt = 1\n"
    site = completion_site(text, 0, 7, "python")
    assert site.prefix == "s = '😀'"
    assert site.line_after == ""
    clamped = completion_site(text, 1, 99, "python")
    assert (clamped.character, clamped.prefix) == (5, "s = '😀'\nt = 1")
    assert completion_site(text, 2, 0, "python").offset == len(text)  # the last, empty line
    with pytest.raises(CompletionError):
        completion_site(text, 3, 0, "python")


def shaped(marked: str, language: str | None, raw: str, truncated: bool = False) -> Any:
    text, offset = at_cursor(marked)
    mode = completion_mode(text, offset, language)
    return postprocess(raw, text, offset, mode, language, ("<|endoftext|>",), truncated)


def test_single_line_ends_at_the_end_of_the_line() -> None:
    got = shaped("x = |\n", "python", "compute(1, 2)   \ny = 3\n")
    assert (got.text, got.reason) == ("compute(1, 2)", "")


def test_single_line_that_starts_on_the_next_line_is_nothing() -> None:
    assert shaped("x = foo()|\n", "python", "\nbar()").reason == EMPTY


def test_multi_line_ends_where_python_dedents() -> None:
    raw = "if x:\n        return 1\n    return 2\n\ndef g():\n    pass\n"
    got = shaped("def f(x):\n    |\n", "python", raw)
    assert got.text == "if x:\n        return 1\n    return 2"


def test_multi_line_ends_where_the_block_closes() -> None:
    js = shaped("function f(a) {\n  |\n}\n", "javascript", "return a + 1;\n}\nfunction g() {}")
    assert js.text == "return a + 1;"
    rust = shaped(
        "fn f(x: i32) -> i32 {\n    |\n}\n", "rust", "let y = x * 2;\n    y + 1\n}\n\nfn main() {}"
    )
    assert rust.text == "let y = x * 2;\n    y + 1"


def test_multi_line_from_the_opening_brace_leaves_the_closing_one_on_its_own_line() -> None:
    got = shaped("  function f(a) {|}\n", "javascript", "\n    return a + 1;\n  }\n")
    assert got.text == "\n    return a + 1;\n  "


def test_an_answer_cut_by_the_token_limit_loses_its_partial_line() -> None:
    raw = "let y = x * 2;\n    y + 1\n    let z = y."
    got = shaped("fn f(x: i32) -> i32 {\n    |\n}\n", "rust", raw, truncated=True)
    assert got.text == "let y = x * 2;\n    y + 1"


def test_stop_strings_end_the_answer() -> None:
    got = shaped("def f(x):\n    |\n", "python", "return x<|endoftext|>junk")
    assert got.text == "return x"


def test_a_repeat_of_the_text_after_the_cursor_is_dropped() -> None:
    assert shaped("def f(x):\n    |\n    return x\n", "python", "return x").reason == REPEATS
    assert shaped("x = foo(|)\n", "python", ")").reason == REPEATS


def test_a_bracket_repeated_from_after_the_cursor_is_trimmed() -> None:
    assert shaped("x = foo(|)\n", "python", '"a")').text == '"a"'
    # Unless the bracket is the answer's own.
    assert shaped("x = foo(|)\n", "python", "bar(1)").text == "bar(1)"


def test_a_completion_that_breaks_the_parse_is_dropped() -> None:
    assert shaped("x = foo(|)\n", "python", "a]").reason == BREAKS
    assert shaped("x = 1|\n", "python", " +").reason == BREAKS
    assert shaped("let a = [1, |];\n", "javascript", "2)").reason == BREAKS


def test_a_completion_where_the_buffer_was_already_broken_is_kept() -> None:
    # "x = " alone does not parse; what completes it is welcome.
    assert shaped("x = |\n", "python", "1").text == "1"


def test_the_document_line_ending_is_kept() -> None:
    got = shaped("def f(x):\r\n    |\r\n", "python", "y = x\n    return y\n")
    assert got.text == "y = x\r\n    return y"


def test_prompt_window_is_aligned_so_new_lines_keep_its_start() -> None:
    budget = CompletionBudget(prefix_lines=40, prefix_tokens=10_000, suffix_lines=3)
    lines = [f"v{i} = {i}\n" for i in range(100)]
    starts = set()
    for cursor in range(60, 60 + WINDOW_STEP - 3):
        site = completion_site("".join(lines), cursor, 0, "python")
        prefix, suffix = prompt_window(site, words, budget)
        assert prefix.count("\n") <= budget.prefix_lines
        assert suffix == "".join(lines[cursor : cursor + 1 + budget.suffix_lines])
        starts.add(prefix.split("\n", 1)[0])
    assert len(starts) <= 2  # moves at most once over a stretch of WINDOW_STEP lines


def test_prompt_window_starts_where_the_related_code_query_moves_on() -> None:
    """The window's start changes on the first line of a block, where the related code's
    query changes too: a start that moved a line later cost the engine a second prompt."""
    lines = [f"v{i} = {i}\n" for i in range(300)]
    for prefix_lines in (40, 96, 100):
        budget = CompletionBudget(prefix_lines=prefix_lines, prefix_tokens=10_000)
        starts = {}
        for cursor in range(150, 260):
            site = completion_site("".join(lines), cursor, 0, "python")
            prefix, _ = prompt_window(site, words, budget)
            assert prefix.count("\n") <= prefix_lines
            starts[cursor] = prefix.split("\n", 1)[0]
        moved = [c for c in range(151, 260) if starts[c] != starts[c - 1]]
        assert moved and all(c % WINDOW_STEP == 0 for c in moved), (prefix_lines, moved)


def test_prompt_window_keeps_to_the_token_budget(counter: Any) -> None:
    text = "".join(f"value_{i} = compute({i}, 'x' * {i})\n" for i in range(300))
    site = completion_site(text, 250, 0, "python")
    budget = CompletionBudget(prefix_tokens=200, suffix_tokens=60)
    prefix, suffix = prompt_window(site, counter.count_tokens, budget)
    assert 0 < counter.count_tokens(prefix) <= 200
    assert 0 < counter.count_tokens(suffix) <= 60
    assert text[: site.offset].endswith(prefix)
    assert text[site.offset :].startswith(suffix)


def test_related_chunks_fit_the_budget_in_a_stable_order(counter: Any) -> None:
    chunks = [
        ("z.py", "def zed():\n    return 'z' * 40\n"),
        ("a.py", "def alpha():\n    return 1\n"),
        ("main.py", "stale copy of the current file\n"),
        ("big.py", "x = 1\n" * 400),
        ("m.py", "def em():\n    return 2\n"),
    ]
    chosen = select_related(chunks, counter.count_tokens, 100, exclude="main.py")
    assert [p for p, _ in chosen] == ["a.py", "m.py", "z.py"]  # big.py does not fit
    assert sum(counter.count_tokens(f"{p}\n{t}") + 2 for p, t in chosen) <= 100
    # Another ranking of the same chunks: the same prompt head.
    assert select_related(chunks[::-1], counter.count_tokens, 100, exclude="main.py") == chosen


@dataclass
class FakeEngine:
    """Streams canned pieces; with ``hold``, waits for ``release`` after the first one."""

    pieces: Sequence[str]
    finish_reason: str = "stop"
    hold: bool = False
    calls: list[dict[str, Any]] = field(default_factory=list)
    yielded: int = 0
    closed: bool = False
    first: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def complete_stream(
        self,
        prompt: str,
        max_tokens: int,
        stop: Sequence[str],
        request_id: str,
        *,
        stop_token_ids: Sequence[int] = (),
        stats: GenerationStats | None = None,
    ) -> AsyncGenerator[str, None]:
        self.calls.append(
            {
                "prompt": prompt,
                "max_tokens": max_tokens,
                "stop": list(stop),
                "request_id": request_id,
                "stop_token_ids": list(stop_token_ids),
            }
        )
        try:
            for piece in self.pieces:
                if self.hold and self.yielded:
                    await self.release.wait()
                self.yielded += 1
                self.first.set()
                yield piece
            if stats is not None:
                stats.finish_reason = self.finish_reason
        finally:
            self.closed = True


@pytest.fixture(scope="module")
def qwen(tokenizer: Any) -> FimFormat:
    fim = detect_fim(tokenizer).format
    assert fim is not None
    return fim


def test_the_fake_is_a_completion_engine() -> None:
    assert isinstance(FakeEngine([]), CompletionEngine)


async def test_complete_single_line_stops_the_stream_at_the_line_end(
    qwen: FimFormat, counter: Any
) -> None:
    engine = FakeEngine(["comp", "ute(1, ", "2)\n", "y = 3\n", "z = 4\n"])
    text, line, character = position("import os\n\nx = |\n")
    got = await complete(
        engine,
        qwen,
        text,
        line,
        character,
        language="python",
        count_tokens=counter.count_tokens,
        path="main.py",
        request_id="r1",
    )
    assert (got.text, got.mode, got.reason) == ("compute(1, 2)", "single", "")
    call = engine.calls[0]
    assert call["prompt"] == (
        "<|file_sep|>main.py\n<|fim_prefix|>import os\n\nx = <|fim_suffix|>\n<|fim_middle|>"
    )
    assert "\n" in call["stop"]
    assert "<|file_sep|>" in call["stop"]
    assert call["stop_token_ids"] == list(qwen.stop_token_ids)
    assert call["request_id"] == "r1"
    assert call["max_tokens"] == CompletionBudget().single_line_tokens
    assert engine.yielded == 3  # the line was complete: nothing more was read
    assert engine.closed


async def test_complete_multi_line_with_repository_context(qwen: FimFormat, counter: Any) -> None:
    engine = FakeEngine(["if x < 0:\n", "        return -x\n", "    return x\n", "\ndef g", "():"])
    text, line, character = position("def absolute(x):\n    |\n")
    got = await complete(
        engine,
        qwen,
        text,
        line,
        character,
        language="python",
        count_tokens=counter.count_tokens,
        path="m.py",
        repo_name="demo",
        related=[("util.py", "def sign(x):\n    return x > 0\n")],
    )
    assert got.mode == "multi"
    assert got.text == "if x < 0:\n        return -x\n    return x"
    prompt = engine.calls[0]["prompt"]
    assert prompt.startswith("<|repo_name|>demo\n<|file_sep|>util.py\ndef sign(x):")
    # The cursor sits after indentation only: the prompt stops at the line's start.
    assert "<|fim_prefix|>def absolute(x):\n<|fim_suffix|>" in prompt
    assert prompt.index("<|file_sep|>m.py\n") < prompt.index("<|fim_prefix|>def absolute")
    assert engine.calls[0]["max_tokens"] == CompletionBudget().multi_line_tokens
    assert engine.yielded == 4  # the dedented "def g" ended the block
    assert engine.closed


async def test_complete_reports_a_drop(qwen: FimFormat, counter: Any) -> None:
    engine = FakeEngine(["a]"])
    text, line, character = position("x = foo(|)\n")
    got = await complete(
        engine, qwen, text, line, character, language="python", count_tokens=counter.count_tokens
    )
    assert (got.text, got.reason, got.raw) == ("", BREAKS, "a]")


async def test_complete_drops_the_partial_line_of_an_answer_out_of_tokens(
    qwen: FimFormat, counter: Any
) -> None:
    engine = FakeEngine(["let y = x * 2;\n", "    y + 1\n", "    let z = y."], "length")
    text, line, character = position("fn f(x: i32) -> i32 {\n    |\n}\n")
    got = await complete(
        engine, qwen, text, line, character, language="rust", count_tokens=counter.count_tokens
    )
    assert got.stats.finish_reason == "length"
    assert got.text == "let y = x * 2;\n    y + 1"


async def test_cancelling_the_task_stops_the_stream(qwen: FimFormat, counter: Any) -> None:
    engine = FakeEngine(["compute(", "1", ", 2)\n"], hold=True)
    text, line, character = position("x = |\n")
    count = counter.count_tokens
    task = asyncio.create_task(
        complete(engine, qwen, text, line, character, language="python", count_tokens=count)
    )
    await engine.first.wait()
    assert not engine.closed
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert engine.closed  # the engine's stream was closed: its request is aborted
    engine.release.set()
    await asyncio.sleep(0)
    assert engine.yielded == 1


async def test_a_position_outside_the_document_is_an_error(qwen: FimFormat, counter: Any) -> None:
    engine = FakeEngine(["x"])
    with pytest.raises(CompletionError):
        await complete(
            engine, qwen, "x = 1\n", 5, 0, language="python", count_tokens=counter.count_tokens
        )
    assert engine.calls == []


async def test_typing_on_counts_the_same_related_chunks_once(qwen: FimFormat, counter: Any) -> None:
    counted: list[str] = []

    def count(text: str) -> int:
        counted.append(text)
        return int(counter.count_tokens(text))

    cached = cached_counter(count)
    related = [
        ("util.py", "def sign(x):\n    return x > 0\n"),
        ("io.py", "def read():\n    pass\n"),
    ]
    prompts = []
    for typed in ("x = ", "x = s"):
        engine = FakeEngine(["ign(1)\n"])
        text, line, character = position(f"import util\n\n{typed}|\n")
        await complete(
            engine, qwen, text, line, character, language="python", count_tokens=cached,
            path="m.py", related=related,
        )  # fmt: skip
        prompts.append(engine.calls[0]["prompt"])
    chunk_counts = [text for text in counted if text.startswith(("util.py\n", "io.py\n"))]
    assert sorted(chunk_counts) == [
        "io.py\ndef read():\n    pass\n",
        "util.py\ndef sign(x):\n    return x > 0\n",
    ]
    assert all("def sign" in prompt and "def read" in prompt for prompt in prompts)


@pytest.mark.parametrize(
    ("written", "indent", "final", "healed"),
    [
        ("    if x:\n        y", "    ", False, "if x:\n        y"),  # the cursor's indentation
        ("        y", "    ", False, "    y"),  # deeper: the extra stays
        ("  y", "    ", False, "y"),  # shallower: the cursor's stands
        ("\tif x {", "\t", False, "if x {"),
        ("if x:", "    ", False, "if x:"),  # no indentation written: nothing taken
        ("\n    y", "    ", False, "\n    y"),  # a line break first: nothing taken
        ("    ", "    ", False, None),  # only whitespace so far: wait for more
        ("    ", "    ", True, ""),  # ... and at the end it is nothing
        ("  x", "", False, "  x"),  # code before the cursor: untouched
    ],
)
def test_indentation_the_model_writes_is_taken_off_once(written, indent, final, healed) -> None:
    assert heal_indentation(written, indent, final=final) == healed


async def test_a_completion_after_indentation_has_no_second_indentation(
    qwen: FimFormat, counter: Any
) -> None:
    engine = FakeEngine(["   ", " if x < 0:\n", "        return -x\n", "    return x\n", "def g"])
    text, line, character = position("def absolute(x):\n    |\n")
    got = await complete(
        engine, qwen, text, line, character, language="python", count_tokens=counter.count_tokens
    )
    assert (got.mode, got.text) == ("multi", "if x < 0:\n        return -x\n    return x")
    assert got.raw.startswith("    if x < 0:")  # what the model wrote, as it wrote it
    assert engine.calls[0]["prompt"].startswith("<|fim_prefix|>def absolute(x):\n<|fim_suffix|>")


async def test_a_completion_after_tabs_is_prompted_with_them(qwen: FimFormat, counter: Any) -> None:
    engine = FakeEngine(["return x\n", "}\n"])
    text, line, character = position("func f(x int) int {\n\t|\n}\n")
    got = await complete(
        engine, qwen, text, line, character, language="go", count_tokens=counter.count_tokens
    )
    assert got.text == "return x"
    assert "<|fim_prefix|>func f(x int) int {\n\t<|fim_suffix|>" in engine.calls[0]["prompt"]
