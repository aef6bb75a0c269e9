"""Fill-in-the-middle completion at a cursor: the site, the prompt's budget, the engine call.

Protocol-free: the language server and the command line both call :func:`complete`. What
the model writes is shaped into a suggestion by pipeline/completion_cut.py.

The prompt is ordered for the engine's prefix cache: related files first (chosen by rank,
shown in path order, so the same set gives the same text), then the current file's path and
the text before the cursor, whose window starts on a line aligned to :data:`WINDOW_STEP`
(typing on moves the window rarely), then the text after it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from tree_sitter import Node

from fathom.backend.engine import GenerationStats
from fathom.backend.fim import FimFormat
from fathom.context.insertion_parse import document_tree, tree_with_insertion
from fathom.context.languages import source_bytes
from fathom.context.text import split_lines, strip_ending
from fathom.errors import FathomError
from fathom.pipeline.completion_cut import (
    Mode,
    Suggestion,
    cut_block,
    heal_indentation,
    postprocess,
)

__all__ = [
    "DEFAULT_BUDGET",
    "PROBE",
    "WINDOW_STEP",
    "Completion",
    "CompletionBudget",
    "CompletionEngine",
    "CompletionError",
    "Mode",
    "Site",
    "Suggestion",
    "complete",
    "completion_mode",
    "completion_site",
    "postprocess",
    "prompt_window",
    "select_related",
]

# The text before the cursor starts on a multiple of this many lines: a window that moved
# with every new line would change the prompt's head, and the engine would recompute it all.
WINDOW_STEP = 16


class CompletionError(FathomError):
    """The request cannot be answered (a position outside the document)."""


@runtime_checkable
class CompletionEngine(Protocol):
    """An engine that continues a raw prompt (no chat template), as completion needs."""

    def complete_stream(
        self,
        prompt: str,
        max_tokens: int,
        stop: Sequence[str],
        request_id: str,
        *,
        stop_token_ids: Sequence[int] = (),
        stats: GenerationStats | None = None,
    ) -> AsyncGenerator[str, None]:
        """Yield the continuation of ``prompt`` in pieces, greedy, ending at any of ``stop``
        or ``stop_token_ids``. Closing the generator early aborts the request."""
        ...


@dataclass(frozen=True, slots=True)
class CompletionBudget:
    """How much of the repository and the file a completion prompt shows, in model tokens
    and lines, and how long an answer may be. Small: a completion must come in well under a
    second, and every prompt token is prefill the user waits for."""

    context_tokens: int = 1024  # related files' chunks
    prefix_lines: int = 96
    prefix_tokens: int = 1536
    suffix_lines: int = 32
    suffix_tokens: int = 512
    single_line_tokens: int = 48
    multi_line_tokens: int = 256


DEFAULT_BUDGET = CompletionBudget()


@dataclass(frozen=True, slots=True)
class Site:
    """Where a completion goes: the document, the cursor and what the syntax tree makes of
    it. ``offset`` counts code points, like ``character``."""

    text: str
    line: int
    character: int
    offset: int
    language: str | None
    mode: Mode
    line_before: str  # the cursor's line up to the cursor
    line_after: str  # the rest of that line, without its ending

    @property
    def prefix(self) -> str:
        return self.text[: self.offset]

    @property
    def suffix(self) -> str:
        return self.text[self.offset :]


@dataclass(frozen=True, slots=True)
class Completion:
    """What to insert at the cursor (``text`` empty: nothing to show, ``reason`` says why)."""

    text: str
    mode: Mode
    line: int
    character: int  # the cursor, clamped to its line as LSP asks
    reason: str = ""
    raw: str = ""  # what the model wrote, before shaping
    stats: GenerationStats = field(default_factory=GenerationStats)


def _document_lines(text: str) -> list[str]:
    """The document's lines with their endings, the empty last line an editor shows after a
    final line break included."""
    lines = split_lines(text)
    if not text or text.endswith(("\n", "\r")):
        lines.append("")
    return lines


def completion_site(text: str, line: int, character: int, language: str | None) -> Site:
    """The site at (``line``, ``character``); a character past the line's end means its end
    (as LSP says); a line past the document's end is an error."""
    lines = _document_lines(text)
    if line < 0 or character < 0 or line >= len(lines):
        raise CompletionError(
            f"Line {line + 1} is outside the document, which has {len(lines)} lines."
        )
    content = strip_ending(lines[line])
    character = min(character, len(content))
    offset = sum(len(x) for x in lines[:line]) + character
    mode = completion_mode(text, offset, language)
    return Site(
        text, line, character, offset, language, mode, content[:character], content[character:]
    )


# ---- single or multi-line: ask the syntax tree -------------------------------------------

# An identifier no code holds, put at the cursor as a statement of its own: if it lands alone
# in a block (a body, a statement block), the cursor opens an empty block.
PROBE = "__fathom_completion_probe__"

_BLOCK_TYPES = frozenset(
    {
        "block",
        "statement_block",
        "compound_statement",
        "declaration_list",
        "body_statement",
        "field_declaration_list",
        "statement_list",
        "do_block",
        "suite",
    }
)


def _is_block(node: Node) -> bool:
    if node.type in _BLOCK_TYPES or node.type.endswith("_body"):
        return True
    parent = node.parent
    return parent is not None and parent.child_by_field_name("body") == node


def _is_filler(node: Node) -> bool:
    """A comment or a docstring: a block holding only these is still empty of code."""
    if "comment" in node.type or node.type == "string":
        return True
    named = [c for c in node.named_children if "comment" not in c.type]
    return node.type == "expression_statement" and len(named) == 1 and named[0].type == "string"


def _enclosing_block(node: Node | None) -> tuple[Node | None, Node | None]:
    """The nearest block above ``node``, and its child on the way there."""
    child = node
    node = node.parent if node is not None else None
    while node is not None and not _is_block(node):
        child, node = node, node.parent
    return node, child


def _empty(block: Node, besides: Node | None = None) -> bool:
    return not any(c != besides and not _is_filler(c) for c in block.named_children)


def _probe_verdict(before: bytes, after: bytes, language: str) -> Mode | None:
    """The mode the probe shows, or None where it fits no block (where only items go, say,
    or where the tree recovers from an error around it)."""
    root = tree_with_insertion(before, f"{PROBE};".encode(), after, language).root_node
    node = root.descendant_for_byte_range(len(before), len(before) + len(PROBE))
    if node is None or node.text != PROBE.encode():
        return "single"  # the cursor is inside a word: the probe is not a name of its own
    block, child = _enclosing_block(node)
    if block is None or child is None or any(c.is_error for c in block.children):
        return None
    if (child.text or b"").strip().rstrip(b";").strip() != PROBE.encode():
        return "single"  # the probe is part of a larger statement: the cursor is mid-line
    return "multi" if _empty(block, besides=child) else "single"


_CLOSERS = frozenset({"", "}", ")", "]", "end", "};", "});"})


def completion_mode(text: str, offset: int, language: str | None) -> Mode:
    """Multi-line where the cursor opens an empty block (a body with nothing but the cursor
    in it, comments and docstrings aside), single-line elsewhere, and for languages Fathom
    cannot parse."""
    if language is None:
        return "single"
    before, after = source_bytes(text[:offset]), source_bytes(text[offset:])
    verdict = _probe_verdict(before, after, language)
    if verdict is not None:
        return verdict
    # No statement fits here: the tree as it is, for a blank line in an empty block (an
    # impl or class body that holds only items).
    line_start = max(before.rfind(b"\n"), before.rfind(b"\r")) + 1
    line_end = min(i for i in (after.find(b"\n"), after.find(b"\r"), len(after)) if i >= 0)
    if before[line_start:].strip() or after[:line_end].strip().decode() not in _CLOSERS:
        return "single"
    root = document_tree(before + after, language).root_node
    node = root.descendant_for_byte_range(len(before), len(before))
    block = node if node is not None and _is_block(node) else _enclosing_block(node)[0]
    inside = block is not None and block.start_byte < len(before) < block.end_byte
    return "multi" if inside and block is not None and _empty(block) else "single"


# ---- the prompt's budget ------------------------------------------------------------------


def prompt_window(
    site: Site, count_tokens: Callable[[str], int], budget: CompletionBudget = DEFAULT_BUDGET
) -> tuple[str, str]:
    """The text before and after the cursor the prompt shows: whole lines within the
    budget's lines and tokens (measured with the model's ``count_tokens``)."""
    lines = _document_lines(site.text)
    # Before: starts on a multiple of WINDOW_STEP, at most prefix_lines above the cursor, and
    # the same for every line of the cursor's block of WINDOW_STEP lines. The related code's
    # query moves with that block (lsp_server/completion_context.py), so the prompt's head
    # changes on the block's first line only; a start that moved one line later made the
    # engine compute the prompt again on the next line too
    # (bench/results/completion_consecutive_cpu.md).
    last_of_block = (site.line // WINDOW_STEP + 1) * WINDOW_STEP - 1
    start = max(0, last_of_block - budget.prefix_lines)
    start = -(-start // WINDOW_STEP) * WINDOW_STEP
    start = min(start, site.line)
    prefix = "".join(lines[start : site.line]) + site.line_before
    while start < site.line and count_tokens(prefix) > budget.prefix_tokens:
        # Aligned steps while one leaves a line above the cursor, then line by line: the
        # most context that fits.
        start += WINDOW_STEP if start + WINDOW_STEP < site.line else 1
        prefix = "".join(lines[start : site.line]) + site.line_before
    if count_tokens(prefix) > budget.prefix_tokens:
        # One enormous line (minified code): keep its end, about 3 characters a token.
        prefix = prefix[-3 * budget.prefix_tokens :]
    # After: the rest of the line, then whole lines up to suffix_lines.
    rest = site.text[site.offset : site.offset + len(site.line_after)]
    ending = lines[site.line][len(site.line_before) + len(site.line_after) :]
    below = lines[site.line + 1 : site.line + 1 + budget.suffix_lines]
    suffix = rest + ending + "".join(below)
    while below and count_tokens(suffix) > budget.suffix_tokens:
        below = below[: max(0, len(below) - max(1, len(below) // 4))]
        suffix = rest + ending + "".join(below)
    if count_tokens(suffix) > budget.suffix_tokens:
        suffix = suffix[: 3 * budget.suffix_tokens]
    return prefix, suffix


def select_related(
    related: Sequence[tuple[str, str]],
    count_tokens: Callable[[str], int],
    budget_tokens: int,
    exclude: str | None = None,
) -> list[tuple[str, str]]:
    """Related files' chunks (``(path, text)``, best first) within ``budget_tokens``: taken
    in rank order, a chunk that does not fit skipped for smaller later ones, then one entry
    per path in path order (chunks of a path in the order given). Ranks shuffle as the user
    types; the same set must give the same prompt head. Chunks of ``exclude`` (the current
    file, which the window shows as it is now) are left out."""
    spent = 0
    chosen: dict[str, list[str]] = {}
    for path, text in related:
        if path == exclude or not text.strip():
            continue
        cost = count_tokens(f"{path}\n{text}") + 2  # the file header's special tokens
        if spent + cost > budget_tokens:
            continue
        spent += cost
        chosen.setdefault(path, []).append(text if text.endswith("\n") else text + "\n")
    return [(path, "".join(chosen[path])) for path in sorted(chosen)]


# ---- the request --------------------------------------------------------------------------


async def complete(
    engine: CompletionEngine,
    fim: FimFormat,
    text: str,
    line: int,
    character: int,
    *,
    language: str | None,
    count_tokens: Callable[[str], int],
    path: str | None = None,
    related: Sequence[tuple[str, str]] = (),
    repo_name: str | None = None,
    budget: CompletionBudget = DEFAULT_BUDGET,
    request_id: str | None = None,
    stats: GenerationStats | None = None,
) -> Completion:
    """The completion at (``line``, ``character``) of ``text``: prompt in the model's own
    FIM format, stream, stop as soon as the syntactic unit is complete (the rest of the
    request is aborted), shape the answer.

    Cancelling the task closes the engine's stream, which aborts the engine request.
    """
    site = completion_site(text, line, character, language)
    prefix, suffix = prompt_window(site, count_tokens, budget)
    chosen = select_related(related, count_tokens, budget.context_tokens, exclude=path)
    # The cursor after spaces only: the prompt stops at the line's start and the model writes
    # the indentation itself (completion_cut.heal_indentation says why; a tab is a token of
    # its own, and Go's completions after tabs were no better for it).
    indent = "" if site.line_before.strip(" ") else site.line_before
    head = prefix[: len(prefix) - len(indent)]
    prompt = fim.prompt(head, suffix, chosen, path=path, repo_name=repo_name)
    single = site.mode == "single"
    max_tokens = budget.single_line_tokens if single else budget.multi_line_tokens
    # A single line ends at the first line break: the engine need not write the next one.
    stop = [*fim.stop, "\n"] if single else list(fim.stop)
    stats = stats if stats is not None else GenerationStats()
    written = ""
    stream = engine.complete_stream(
        prompt,
        max_tokens,
        stop,
        request_id or uuid.uuid4().hex,
        stop_token_ids=fim.stop_token_ids,
        stats=stats,
    )
    async with contextlib.aclosing(stream):
        async for piece in stream:
            written += piece
            healed = heal_indentation(written, indent)
            if healed is not None and _unit_complete(healed, site, fim.stop):
                break  # closing the stream aborts the rest of the request
    raw = heal_indentation(written, indent, final=True) or ""
    truncated = stats.finish_reason == "length"
    shaped = postprocess(raw, site.text, site.offset, site.mode, language, fim.stop, truncated)
    return Completion(
        shaped.text, site.mode, site.line, site.character, shaped.reason, written, stats
    )


def _unit_complete(raw: str, site: Site, stop: Sequence[str]) -> bool:
    """Whether what streamed so far already holds the whole unit (what comes next would be
    cut anyway)."""
    if any(s in raw for s in stop):
        return True
    if site.mode == "single":
        return "\n" in raw or "\r" in raw
    return cut_block(raw, site.line_before)[1]
