"""Definitions and references of a file, read from its syntax tree with tree-sitter queries.

One rule serves every grammar instead of a hand-written tags query per language: a node kind
that looks like a definition (function, class, struct, trait, module…) and has a ``name``
field defines that name; every other identifier-like leaf is a reference. That is coarser
than tags queries (a parameter named like a function counts as a reference to it) and good
enough to weigh files against each other in a graph.

The query for each language is generated from the grammar's own node kinds and runs in C:
walking the tree in Python cost a quarter of a second per 5,000 lines, the query about a
tenth of that, and it can be limited to the rows an edit touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from tree_sitter import Language, Query, QueryCursor, QueryError, Tree

from fathom.context.languages import language_for

_DEFINITION_HINTS = (
    "function",
    "method",
    "class",
    "struct",
    "interface",
    "enum",
    "trait",
    "impl",
    "module",
    "type",
    "constructor",
    "object",
    "protocol",
    "namespace",
)
_COMPOSITE = ("qualified", "scoped", "namespaced")  # identifier kinds that hold identifiers
_MIN_NAME = 2  # i, x, _ connect everything to everything

Definition = tuple[str, str, int]  # name, defining node kind, 0-based line of the name
Reference = tuple[str, int]  # name, 0-based line


@dataclass(slots=True)
class FileSymbols:
    """A file's definitions and references, each sorted by line."""

    defs: list[Definition] = field(default_factory=list)
    refs: list[Reference] = field(default_factory=list)

    def def_names(self) -> set[str]:
        return {name for name, _kind, _line in self.defs}


@dataclass(frozen=True, slots=True)
class _Queries:
    definitions: Query | None
    references: Query | None


def _kinds(language: Language) -> list[str]:
    kinds = (
        language.node_kind_for_id(i)
        for i in range(language.node_kind_count)
        if language.node_kind_is_named(i) and language.node_kind_is_visible(i)
    )
    return sorted({kind for kind in kinds if kind is not None})


@cache
def _queries(language_name: str) -> _Queries:
    language = language_for(language_name)
    kinds = _kinds(language)
    patterns = []
    for kind in kinds:
        if any(h in kind for h in _DEFINITION_HINTS):
            pattern = f"({kind} name: (_) @def)"
            try:
                Query(language, pattern)
            except QueryError:
                continue  # this kind has no "name" field
            patterns.append(pattern)
    identifiers = [
        k for k in kinds if k.endswith("identifier") and not any(c in k for c in _COMPOSITE)
    ]
    refs = f"[{' '.join(f'({k})' for k in identifiers)}] @ref" if identifiers else None
    return _Queries(
        Query(language, "\n".join(patterns)) if patterns else None,
        Query(language, refs) if refs else None,
    )


def extract_symbols(tree: Tree, language: str, rows: tuple[int, int] | None = None) -> FileSymbols:
    """Symbols of ``tree``; with ``rows`` (first, end exclusive) only those on those lines."""
    queries = _queries(language)
    out = FileSymbols()
    defined_at: set[int] = set()
    root = tree.root_node

    def captures(query: Query | None, name: str) -> list:
        if query is None:
            return []
        cursor = QueryCursor(query)
        if rows is not None:
            cursor.set_point_range((rows[0], 0), (rows[1], 0))
        return cursor.captures(root).get(name, [])

    for node in captures(queries.definitions, "def"):
        row = node.start_point.row
        text = node.text
        if text and len(text) >= _MIN_NAME and (rows is None or rows[0] <= row < rows[1]):
            kind = node.parent.type if node.parent is not None else "definition"
            out.defs.append((text.decode(errors="replace"), kind, row))
            defined_at.add(node.start_byte)
    for node in captures(queries.references, "ref"):
        row = node.start_point.row
        if node.start_byte in defined_at or node.child_count:
            continue
        in_rows = rows is None or rows[0] <= row < rows[1]
        if node.end_byte - node.start_byte >= _MIN_NAME and in_rows:
            out.refs.append((node.text.decode(errors="replace"), row))
    out.defs.sort(key=lambda d: (d[2], d[0], d[1]))
    out.refs.sort(key=lambda r: (r[1], r[0]))
    return out
