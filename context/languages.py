"""File extension -> tree-sitter grammar, with parsers from tree-sitter-language-pack."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from tree_sitter import Language, Parser
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


@cache
def parser_for(language: str) -> Parser:
    return get_parser(language)  # type: ignore[arg-type]


@cache
def language_for(language: str) -> Language:
    return get_language(language)  # type: ignore[arg-type]
