"""Which workspace files a file imports, read from its syntax tree.

For now Python (absolute and relative imports) and JavaScript/TypeScript (relative
specifiers); the context-engine issue replaces this with a symbol graph over all languages.
"""

from __future__ import annotations

import os
from pathlib import Path

from tree_sitter import Node

from fathom.context.files import IgnoreRules, prompt_refusal
from fathom.context.languages import language_of, parser_for, source_bytes

_JS_LIKE = {"javascript", "typescript", "tsx"}
_JS_SUFFIXES = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs")


def _walk(node: Node):
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def _python_module_candidates(module: str, level: int, file: Path, root: Path) -> list[Path]:
    parts = [p for p in module.split(".") if p]
    base = file.parent
    for _ in range(max(level - 1, 0)):
        base = base.parent
    bases = [base] if level else [root, file.parent]
    out = []
    for b in bases:
        stem = b.joinpath(*parts) if parts else b
        out += [stem.with_suffix(".py") if parts else b / "__init__.py", stem / "__init__.py"]
    return out


def _python_imports(tree_root: Node, file: Path, root: Path) -> list[Path]:
    found: list[Path] = []
    for node in _walk(tree_root):
        if node.type == "import_statement":
            for name in node.children_by_field_name("name"):
                target = name.child_by_field_name("name") if name.type == "aliased_import" else name
                if target is not None and target.text:
                    found += _python_module_candidates(target.text.decode(), 0, file, root)
        elif node.type == "import_from_statement":
            module = node.child_by_field_name("module_name")
            if module is None or not module.text:
                continue
            text = module.text.decode()
            level = len(text) - len(text.lstrip("."))
            dotted = text.lstrip(".")
            found += _python_module_candidates(dotted, level, file, root)
            # "from pkg import mod" may name submodules.
            for name in node.children_by_field_name("name"):
                target = name.child_by_field_name("name") if name.type == "aliased_import" else name
                if target is not None and target.text:
                    sub = f"{dotted}.{target.text.decode()}" if dotted else target.text.decode()
                    found += _python_module_candidates(sub, level, file, root)
    return found


def _js_imports(tree_root: Node, file: Path) -> list[Path]:
    found: list[Path] = []
    for node in _walk(tree_root):
        if node.type not in ("import_statement", "export_statement", "call_expression"):
            continue
        for child in node.children:
            if child.type == "string" and child.text:
                spec = child.text.decode().strip("'\"`")
                if spec.startswith("."):
                    base = Path(os.path.normpath(file.parent / spec))
                    found += [base, *(base.with_name(base.name + s) for s in _JS_SUFFIXES)]
                    found += [base / f"index{s}" for s in _JS_SUFFIXES]
    return found


def imported_files(
    file: Path, text: str, root: Path, rules: IgnoreRules | None = None
) -> list[Path]:
    """Files under ``root`` that ``file`` imports and that may be shown to a model (the
    prompt rule of context/files.py: not ignored, not secret-looking, no symlink...), in order
    of first mention."""
    language = language_of(file)
    if language is None:
        return []
    root = root.resolve()
    tree = parser_for(language).parse(source_bytes(text))
    if language == "python":
        candidates = _python_imports(tree.root_node, file, root)
    elif language in _JS_LIKE:
        candidates = _js_imports(tree.root_node, file)
    else:
        candidates = []
    rules = rules if rules is not None else IgnoreRules(root)
    seen: dict[Path, None] = {}
    for candidate in candidates:
        # Judged as written (a symlinked module is refused, not followed), absolute.
        absolute = Path(os.path.normpath(candidate))
        if absolute == file or absolute in seen or not absolute.is_file():
            continue
        if prompt_refusal(absolute, root, rules) is None:
            seen.setdefault(absolute, None)
    return list(seen)
