"""Holes punched in real code nobody here wrote, for the completion benchmarks.

The code is the edit corpus's (bench/edit_corpus: unmodified files of Django, MarkupSafe,
ujson and psutil from their PyPI sdists, Rust crates and Go modules from Debian; licences
beside them). A hole is one of two kinds, the two modes of pipeline/completion.py:

- ``line``: a statement line inside a function body, cut at a word boundary in its first
  half (at its indentation one time in three): the rest of the line is the answer, the cursor
  sits where the cut is, the lines around are untouched (single-line mode);
- ``block``: the whole body of a function of 2 to 12 lines taken out, the cursor on an empty
  line at the body's indentation (the cursor opens an empty block: multi-line mode).

Picked by tree-sitter (a function's ``body`` field), with a fixed seed.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from tree_sitter import Node

from bench.edit_corpus.corpus_io import sources_dir
from fathom.context.languages import language_of, parser_for, source_bytes

# Workspace roots (under sources/<language>/) and the node types that are functions there.
PROJECTS: dict[str, list[str]] = {
    "python": ["django"],
    "javascript": ["django-admin"],
    "c": ["ujson", "psutil", "markupsafe"],
    "rust": ["semver", "bytes", "indexmap"],
    "go": ["gojq", "blackfriday"],
}
FUNCTIONS = {
    "function_definition",  # Python, C
    "function_declaration",  # JavaScript, Go
    "method_definition",  # JavaScript
    "function_expression",  # JavaScript
    "function_item",  # Rust
    "method_declaration",  # Go
}
_WORD_END = re.compile(r"\b")


@dataclass(frozen=True, slots=True)
class Hole:
    """``text`` with a hole at (``line``, ``character``), 0-based; ``expected`` fills it."""

    name: str
    kind: str  # "line" or "block"
    language: str
    root: Path
    relative: str
    text: str
    line: int
    character: int
    expected: str


def project_roots(language: str) -> list[Path]:
    base = sources_dir() / language
    return [base / name for name in PROJECTS[language]]


def _functions(node: Node) -> list[Node]:
    found, stack = [], [node]
    while stack:
        current = stack.pop()
        if current.type in FUNCTIONS and current.child_by_field_name("body") is not None:
            found.append(current)
        stack.extend(current.children)
    return sorted(found, key=lambda n: n.start_byte)


def _body_lines(body: Node, brace: bool) -> tuple[int, int]:
    """The body's lines [first, last] (0-based, inclusive), braces left out."""
    first, last = body.start_point[0], body.end_point[0]
    return (first + 1, last - 1) if brace else (first, last)


def _code_line(line: str) -> bool:
    stripped = line.strip()
    comment = stripped.startswith(("#", "//", "/*", "*"))
    return len(stripped) >= 8 and not comment and stripped not in ("{", "}", "};")


def holes_in(path: Path, root: Path, language: str, rng: random.Random) -> list[Hole]:
    """Every candidate hole of ``path`` (both kinds), in file order."""
    text = path.read_text(encoding="utf-8")
    tree = parser_for(language).parse(source_bytes(text))
    lines = text.splitlines(keepends=True)
    relative = path.relative_to(root).as_posix()
    found: list[Hole] = []
    for function in _functions(tree.root_node):
        body = function.child_by_field_name("body")
        assert body is not None
        brace = language != "python"
        first, last = _body_lines(body, brace)
        if brace and body.start_point[0] == body.end_point[0]:
            continue  # a one-line body: no lines to take out
        if brace and not lines[body.start_point[0]].rstrip().endswith("{"):
            continue  # the body opens on a line with code after the brace
        count = last - first + 1
        name = f"{relative}:{first + 1}"
        if 2 <= count <= 12 and (not brace or _closing_alone(lines, last + 1)):
            block = _block_hole(name, language, root, relative, lines, first, last)
            if block is not None:
                found.append(block)
        for number in range(first, last + 1):
            if _code_line(lines[number]):
                found.append(_line_hole(name, language, root, relative, lines, number, rng))
    return found


def _closing_alone(lines: list[str], number: int) -> bool:
    return number < len(lines) and lines[number].strip() in ("}", "};", "},", "})", "});")


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _block_hole(
    name: str, language: str, root: Path, relative: str, lines: list[str], first: int, last: int
) -> Hole | None:
    if language == "python":
        # Python's body starts on the line after the colon; a docstring stays (it is the
        # request), the statements go.
        header_end = first
        if lines[first].strip().startswith(('"""', "'''", 'r"""')):
            while header_end <= last and not _closes_docstring(lines, first, header_end):
                header_end += 1
            header_end += 1
        first = header_end
        if first > last:
            return None  # nothing but the docstring
    indent = _indent(lines[first]) if first <= last else ""
    expected = "".join(lines[first : last + 1]).rstrip("\n")
    text = "".join(lines[:first]) + indent + "\n" + "".join(lines[last + 1 :])
    return Hole(
        f"{name}:block", "block", language, root, relative, text, first, len(indent),
        expected[len(indent) :],
    )  # fmt: skip


def _closes_docstring(lines: list[str], first: int, number: int) -> bool:
    line = lines[number].strip()
    quote = '"""' if '"""' in lines[first] else "'''"
    return line.count(quote) >= (2 if number == first else 1)


def _line_hole(
    name: str,
    language: str,
    root: Path,
    relative: str,
    lines: list[str],
    number: int,
    rng: random.Random,
) -> Hole:
    line = lines[number]
    content = line.rstrip("\r\n")
    indent = len(_indent(content))
    cut = indent
    if rng.random() >= 1 / 3:
        half = indent + (len(content) - indent) // 2
        bounds = [m.start() for m in _WORD_END.finditer(content, indent + 1, half + 1)]
        cut = rng.choice(bounds) if bounds else indent
    ending = line[len(content) :]
    kept = content[:cut] + ending
    text = "".join(lines[:number]) + kept + "".join(lines[number + 1 :])
    return Hole(
        f"{name}:line{number + 1}", "line", language, root, relative, text, number, cut,
        content[cut:],
    )  # fmt: skip


def pick_holes(language: str, per_kind: int, seed: int) -> list[Hole]:
    """``per_kind`` holes of each kind in ``language``'s projects, drawn with ``seed``."""
    rng = random.Random(seed)
    candidates: list[Hole] = []
    for root in project_roots(language):
        for path in sorted(root.rglob("*")):
            if path.is_file() and language_of(path) == language:
                candidates.extend(holes_in(path, root, language, rng))
    chosen: list[Hole] = []
    for kind in ("line", "block"):
        of_kind = [hole for hole in candidates if hole.kind == kind and hole.expected.strip()]
        chosen.extend(rng.sample(of_kind, min(per_kind, len(of_kind))))
    return chosen
