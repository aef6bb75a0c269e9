"""Tests never import bench/: a benchmark's code may change what it measures without changing
what a test asserts. Tests run a benchmark as a program, and share data (published model
configs, tests/data/model_configs) rather than modules."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_no_test_module_imports_a_benchmark_module():
    importers = {
        path.relative_to(TESTS).as_posix(): sorted(
            name for name in _imported_modules(path) if name.split(".")[0] == "bench"
        )
        for path in sorted(TESTS.rglob("*.py"))
    }
    assert {path: names for path, names in importers.items() if names} == {}
