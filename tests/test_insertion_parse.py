"""Parses re-parsed from an earlier one (the buffer's from the last keystroke's, a suggestion's
from the buffer's) are the parses from scratch: every node with its bytes and its (row,
column) points."""

from __future__ import annotations

import pytest
from tree_sitter import Node, Tree

from fathom.context.insertion_parse import document_tree, tree_with_insertion
from fathom.context.languages import parser_for

SOURCE = '''\
def greet(name: str) -> str:
    """Say hello — in any script: café, 東京."""
    return f"hello {name}"


class Shelf:
    def __init__(self) -> None:
        self.items = []

    def add(self, item):
        self.items.append(item)
'''


def _nodes(tree: Tree) -> list[tuple[object, ...]]:
    found, stack = [], [tree.root_node]
    while stack:
        node: Node = stack.pop()
        found.append((node.type, node.start_byte, node.end_byte, node.start_point, node.end_point))
        stack.extend(reversed(node.children))
    return found


@pytest.mark.parametrize(
    ("anchor", "inserted"),
    [
        ("    return f", "    name = name.strip()\n"),  # whole lines, mid-file
        ("東京", "、大阪"),  # mid-line, after multi-byte characters
        ("self.items.append(item)", "\n        return self"),  # ending with no line break
        ("", "import os\n\n"),  # at the very start
        (SOURCE, "\n\nSHELF = Shelf()\n"),  # at the very end
        ("    def add", "    count = 0\n"),  # a class body
        ("    return f", "    if name:\n        pass\n"),
    ],
)
def test_an_insertion_parses_as_the_whole_text_would(anchor: str, inserted: str) -> None:
    at = SOURCE.index(anchor) if anchor != SOURCE else len(SOURCE)
    before, after = SOURCE[:at].encode(), SOURCE[at:].encode()
    incremental = tree_with_insertion(before, inserted.encode(), after, "python")
    fresh = parser_for("python").parse(before + inserted.encode() + after)
    assert _nodes(incremental) == _nodes(fresh)
    # The document's own parse is untouched: the next insertion starts from it again.
    assert _nodes(document_tree(before + after, "python")) == _nodes(
        parser_for("python").parse(before + after)
    )


def test_typing_a_line_again_parses_each_buffer_as_from_scratch() -> None:
    # The completion bench's typing: a line emptied to its indentation, then typed again; at
    # each keystroke the buffer (from the last keystroke's parse) and a suggestion inserted
    # at the cursor (from the buffer's), through unclosed brackets and strings on the way.
    line = '        self.items.append({"item": item, "note": f"added {item!r}"})'
    start = SOURCE.index("        self.items.append(item)")
    end = SOURCE.index("\n", start)
    indent = "        "
    parser = parser_for("python")
    for typed in range(len(line) - len(indent) + 1):
        before = (SOURCE[:start] + line[: len(indent) + typed]).encode()
        after = SOURCE[end:].encode()
        buffer = document_tree(before + after, "python")
        assert _nodes(buffer) == _nodes(parser.parse(before + after)), typed
        suggested = tree_with_insertion(before, b"x)", after, "python")
        assert _nodes(suggested) == _nodes(parser.parse(before + b"x)" + after)), typed


def test_errors_of_the_last_keystroke_are_parsed_again_not_reused() -> None:
    # Found by retyping lines of the edit corpus (zod's errors.ts), then cut down: without the
    # old tree's errors in the edited span, an incremental parse of this buffer kept an error
    # recovery a fresh parse does not make.
    rest = (
        "\n    for (const issue of error.issues) {"
        '\n      if (issue.code === "invalid_union" && issue.errors.length) {'
        '\n      } else if (issue.code === "invalid_key") {'
    )
    line = "  const processError = (error: { issues: $ZodIssue[] }, path: PropertyKey[] = []) => {"
    parser = parser_for("typescript")
    for typed in range(len(line) - 1):
        buffer = (line[: 2 + typed] + rest).encode()
        assert _nodes(document_tree(buffer, "typescript")) == _nodes(parser.parse(buffer)), typed
