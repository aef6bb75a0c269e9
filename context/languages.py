"""File extension -> tree-sitter grammar, with parsers from tree-sitter-language-pack."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from tree_sitter import Language, Node, Parser
from tree_sitter_language_pack import get_language, get_parser

LANGUAGE_BY_SUFFIX: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".ts": "typescript",
    ".tsx": "tsx",
    ".js": "javascript",
    ".jsx": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".hpp": "cpp",
    ".hh": "cpp",
    ".cs": "csharp",
    ".rb": "ruby",
    ".lua": "lua",
    ".kt": "kotlin",
    ".kts": "kotlin",
}


def language_of(path: Path) -> str | None:
    return LANGUAGE_BY_SUFFIX.get(path.suffix.lower())


_BARE_CR = re.compile("\r(?!\n)")


def source_bytes(text: str) -> bytes:
    """``text`` as tree-sitter should read it: UTF-8, with a bare CR read as LF.

    Tree-sitter counts rows at LF only, while LSP, Python and every editor also end a line
    at a bare CR. Same length either way, so byte offsets hold and rows match Fathom's line
    numbers (a mismatch left stale symbols behind in live updates; found by fuzzing).
    """
    if "\r" in text:
        text = _BARE_CR.sub("\n", text)
    return text.encode("utf-8", "surrogatepass")


@cache
def parser_for(language: str) -> Parser:
    return get_parser(language)  # type: ignore[arg-type]


@cache
def language_for(language: str) -> Language:
    return get_language(language)  # type: ignore[arg-type]


def error_nodes(root: Node) -> list[Node]:
    """The ERROR and MISSING nodes under ``root``: only subtrees that hold an error are walked
    (tree-sitter marks both kinds, and every node above them, ``has_error``)."""
    found: list[Node] = []
    stack = [root] if root.has_error else []
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            found.append(node)
        else:
            stack.extend(child for child in node.children if child.has_error)
    return found
