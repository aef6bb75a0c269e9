"""Tree-sitter chunking on real grammars, sized in the real model's tokens."""

from __future__ import annotations

import itertools

import pytest

from fathom.context.chunking import EDGE_MARGIN, chunk_text
from fathom.context.languages import parser_for

BUDGET = 160
STATEMENTS = 60  # makes the big function several times the budget

# One small and one big function (or method) per language; {body} is the big one's statements.
# fmt: off
SOURCES = {
    "python": (
        "class Shop:\n    def small(self):\n        return 1\n\n    def big(self, x):\n{body}\n        return x\n",
        "        x = x + {i}\n",
    ),
    "javascript": (
        "class Shop {{\n  small() {{ return 1; }}\n  big(x) {{\n{body}    return x;\n  }}\n}}\n",
        "    x = x + {i};\n",
    ),
    "typescript": (
        "export class Shop {{\n  small(): number {{ return 1; }}\n  big(x: number): number {{\n{body}    return x;\n  }}\n}}\n",
        "    x = x + {i};\n",
    ),
    "go": (
        "package shop\n\nfunc small() int {{ return 1 }}\n\nfunc big(x int) int {{\n{body}\treturn x\n}}\n",
        "\tx = x + {i}\n",
    ),
    "rust": (
        "fn small() -> i32 {{ 1 }}\n\nfn big(mut x: i32) -> i32 {{\n{body}    x\n}}\n",
        "    x = x + {i};\n",
    ),
    "java": (
        "class Shop {{\n  int small() {{ return 1; }}\n  int big(int x) {{\n{body}    return x;\n  }}\n}}\n",
        "    x = x + {i};\n",
    ),
    "c": (
        "int small(void) {{ return 1; }}\n\nint big(int x) {{\n{body}  return x;\n}}\n",
        "  x = x + {i};\n",
    ),
    "cpp": (
        "class Shop {{\n public:\n  int small() {{ return 1; }}\n  int big(int x) {{\n{body}    return x;\n  }}\n}};\n",
        "    x = x + {i};\n",
    ),
    "csharp": (
        "class Shop {{\n  int Small() {{ return 1; }}\n  int Big(int x) {{\n{body}    return x;\n  }}\n}}\n",
        "    x = x + {i};\n",
    ),
    "ruby": (
        "class Shop\n  def small\n    1\n  end\n\n  def big(x)\n{body}    x\n  end\nend\n",
        "    x = x + {i}\n",
    ),
    "lua": (
        "local function small()\n  return 1\nend\n\nlocal function big(x)\n{body}  return x\nend\n",
        "  x = x + {i}\n",
    ),
    "kotlin": (
        "class Shop {{\n  fun small(): Int = 1\n  fun big(x0: Int): Int {{\n    var x = x0\n{body}    return x\n  }}\n}}\n",
        "    x = x + {i}\n",
    ),
}
# fmt: on


def _source(language: str) -> str:
    template, statement = SOURCES[language]
    body = "".join(statement.format(i=i) for i in range(STATEMENTS))
    return template.format(body=body)


def _token_start_lines(text: str, language: str) -> set[int]:
    """Lines whose first non-blank character starts some syntax node."""
    tree = parser_for(language).parse(text.encode())
    lines = text.split("\n")
    starts: set[int] = set()
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        row, column = node.start_point
        if row < len(lines) and column == len(lines[row]) - len(lines[row].lstrip()):
            starts.add(row)
        stack.extend(node.children)
    return starts


@pytest.mark.parametrize("language", sorted(SOURCES))
def test_chunks_cover_the_file_on_syntax_boundaries_within_budget(language, counter):
    text = _source(language)
    assert not parser_for(language).parse(text.encode()).root_node.has_error, "bad sample"
    chunks = chunk_text(text, language, counter, BUDGET)
    assert len(chunks) > 2  # the big function had to be split
    assert "".join(c.text for c in chunks) == text  # whole lines, no gap, no overlap
    for before, after in itertools.pairwise(chunks):
        assert before.end_line == after.start_line
    boundaries = _token_start_lines(text, language)
    lines = text.split("\n")
    for chunk in chunks[1:]:
        # Blank lines before a node belong to its chunk; the first real line starts a node.
        first = next(i for i in range(chunk.start_line, chunk.end_line) if lines[i].strip())
        assert first in boundaries, (language, chunk.start_line)
    for chunk in chunks:
        exact = counter.count_tokens(chunk.rendered())
        # The stored count is an upper bound from per-line counts, within a few tokens.
        assert exact <= chunk.tokens <= exact + 2 * EDGE_MARGIN + 2, (language, chunk)
        assert chunk.tokens <= BUDGET, (language, chunk)


@pytest.mark.parametrize("language", sorted(SOURCES))
def test_pieces_of_a_split_function_carry_its_signature(language, counter):
    chunks = chunk_text(_source(language), language, counter, BUDGET)
    body_pieces = [c for c in chunks if "x = x + " in c.text and "big" not in c.text.lower()]
    assert len(body_pieces) >= 2  # the body was split
    for chunk in body_pieces:
        assert "big" in chunk.signature.lower(), chunk  # the function's header came along
    assert all(c.signature == "" for c in chunks if "small" in c.text)


def test_small_siblings_merge_and_a_small_file_stays_one_chunk(counter):
    text = "a = 1\nb = 2\n\n\ndef f():\n    return a + b\n"
    (chunk,) = chunk_text(text, "python", counter, BUDGET)
    assert chunk.text == text and chunk.signature == ""
    assert "function_definition" in chunk.kind


def test_empty_file_has_no_chunks(counter):
    assert chunk_text("", "python", counter, BUDGET) == []
