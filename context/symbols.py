"""Definitions and references of a file, read generically from its syntax tree.

One rule serves every grammar instead of a tags query per language: a node that has a
``name`` field (functions, classes, methods, structs, traits, modules…) defines that name;
every other identifier-like leaf is a reference. That is coarser than hand-written tags
queries (a parameter named like a function counts as a reference to it) and good enough to
weigh files against each other in a graph.
"""

from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Tree

_DEFINITION_HINTS = (
    "function", "method", "class", "struct", "interface", "enum", "trait",
    "impl", "module", "type", "constructor", "object", "protocol", "namespace",
)  # fmt: skip
_MIN_NAME = 2  # i, x, _ connect everything to everything


@dataclass(frozen=True, slots=True)
class Symbol:
    name: str
    kind: str  # the defining node's type, or "ref"
    line: int  # 0-based
    is_definition: bool


def extract_symbols(tree: Tree) -> list[Symbol]:
    symbols: list[Symbol] = []
    defined_at: set[tuple[int, int]] = set()
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_named and any(h in node.type for h in _DEFINITION_HINTS):
            name = node.child_by_field_name("name")
            if name is not None and name.text and len(name.text) >= _MIN_NAME:
                symbols.append(Symbol(name.text.decode(errors="replace"), node.type,
                                      name.start_point.row, True))  # fmt: skip
                defined_at.add((name.start_byte, name.end_byte))
        if node.child_count == 0 and node.type.endswith("identifier") and node.text:
            span = (node.start_byte, node.end_byte)
            if span not in defined_at and len(node.text) >= _MIN_NAME:
                symbols.append(Symbol(node.text.decode(errors="replace"), "ref",
                                      node.start_point.row, False))  # fmt: skip
        stack.extend(reversed(node.children))
    return symbols
