"""Generate the edit-application corpus (``corpus.jsonl``) from the real files of sources.tar.xz.

    .venv/bin/python bench/edit_corpus/generate.py

Deterministic (fixed seed). Each case starts from an intended edit of a real block that
tree-sitter picks (a function, method or class): rename a local, add a parameter, a log line or
a comment, change a constant or a condition, insert a function after the block, delete the
block, or change a few lines in the middle. The intended new text is computed exactly (and
must parse no worse than the original); then the diff is rendered the way a model writes it,
clean or with one kind of damage (see SOURCES.md for the list). Refusal cases (ambiguous,
hallucinated, missing_file) expect ``{"refuse": true}`` and are checked against the source.
Prints the number of cases per language and kind.
"""

from __future__ import annotations

import difflib
import json
import random
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tree_sitter_language_pack import get_parser

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus_io import CORPUS, apply_transforms, case_files, sha, sources_dir

SEED = 20240611

LANGS = {
    # language: (extension, id prefix, comment leader, tree-sitter name)
    "python": (".py", "py", "#"),
    "javascript": (".js", "js", "//"),
    "typescript": (".ts", "ts", "//"),
    "c": (".c", "c", "//"),
    "rust": (".rs", "rs", "//"),
    "go": (".go", "go", "//"),
}

# Kinds in the order they are generated, per language; the extra ones get a third case.
KINDS = [
    "clean",
    "whole_block",
    "wrong_counts",
    "wrong_line_numbers",
    "no_line_numbers",
    "missing_context",
    "misquoted_context",
    "extra_context",
    "indent_drift",
    "trailing_whitespace",
    "missing_prefixes",
    "fenced_prose",
    "elided",
    "out_of_order",
    "multi_file",
    "create_file",
    "delete_file",
    "rename_file",
    "crlf",
    "no_final_newline",
    "ambiguous",
    "hallucinated",
    "missing_file",
]
EXTRA = [
    "clean",
    "whole_block",
    "wrong_line_numbers",
    "no_line_numbers",
    "missing_context",
    "misquoted_context",
    "extra_context",
    "indent_drift",
    "trailing_whitespace",
    "fenced_prose",
    "elided",
    "multi_file",
    "ambiguous",
    "hallucinated",
]
REFUSAL_KINDS = {"ambiguous", "hallucinated", "missing_file"}

BLOCK_TYPES = {
    "python": {"function_definition", "class_definition"},
    "javascript": {
        "function_declaration",
        "method_definition",
        "function_expression",
        "arrow_function",
        "class_declaration",
    },
    "typescript": {
        "function_declaration",
        "method_definition",
        "function_expression",
        "arrow_function",
        "class_declaration",
    },
    "c": {"function_definition"},
    "rust": {"function_item", "impl_item", "struct_item", "enum_item"},
    "go": {"function_declaration", "method_declaration"},
}
FUNCTION_TYPES = {
    "function_definition",
    "function_declaration",
    "method_definition",
    "function_expression",
    "arrow_function",
    "function_item",
    "method_declaration",
}
# Nodes that sit on whole lines among their siblings: they can be deleted or followed by a
# new function.
STATEMENT_LEVEL = {
    "python": {"function_definition", "class_definition"},
    "javascript": {"function_declaration", "method_definition", "class_declaration"},
    "typescript": {"function_declaration", "method_definition", "class_declaration"},
    "c": {"function_definition"},
    "rust": {"function_item", "impl_item", "struct_item", "enum_item"},
    "go": {"function_declaration", "method_declaration"},
}
BODY_TYPES = {
    "block",
    "statement_block",
    "compound_statement",
    "statement_list",
    "class_body",
    "declaration_list",
}
TOP_LEVEL = {"module", "program", "translation_unit", "source_file"}
NUMBER_TYPES = {"integer", "float", "number", "number_literal", "integer_literal", "int_literal"}
CONDITION_PARENTS = {"comparison_operator", "boolean_operator", "binary_expression"}
SWAP = {
    "==": "!=",
    "!=": "==",
    "<": "<=",
    "<=": "<",
    ">": ">=",
    ">=": ">",
    "===": "!==",
    "!==": "===",
    "&&": "||",
    "||": "&&",
    "and": "or",
    "or": "and",
}
COMMENTS = [
    "Keep the fast path first.",
    "Guard against empty input before doing any work.",
    "NOTE: the order of these checks matters.",
    "Callers rely on this behaviour; see the tests.",
    "This runs once per call, so keep it cheap.",
    "TODO: revisit once the old format is gone.",
    "Validate early so errors point at the caller.",
    "Fall back to the default when nothing matches.",
]
SHORT_NAMES = {
    "i": "idx",
    "j": "jdx",
    "n": "count",
    "s": "text",
    "c": "ch",
    "k": "key",
    "v": "val",
    "x": "item",
    "b": "buf",
    "r": "res",
    "e": "exc",
    "p": "ptr",
}
INTENT_PROSE = [
    "Here is the change{where}:",
    "Sure! This diff {what}{where}.",
    "The following patch {what}.",
    "I made the requested change{where}. It {what}.",
]
AFTER_PROSE = [
    "This keeps the rest of the file unchanged.",
    "Let me know if you want the same change elsewhere.",
    "No other code needs to change.",
    "You may want to run the tests after applying it.",
]


# -- source files and blocks -------------------------------------------------------------------


@dataclass
class Source:
    lang: str
    rel: str  # workspace path (relative to sources/<lang>/)
    source: str  # path under sources/
    text: str
    lines: list[str]  # without endings; the text ends with a newline
    tree: object
    unit: str  # one level of indentation
    blocks: list | None = None

    @property
    def comment(self) -> str:
        return LANGS[self.lang][2]


@dataclass
class Block:
    src: Source
    node: object  # the function/class node
    outer: object  # the node whose lines the block covers (decorators included)
    start: int  # first row
    end: int  # last row (inclusive)
    name: str
    statement_level: bool

    @property
    def indent(self) -> str:
        return indent_of(self.src.lines[self.start])


@dataclass
class Change:
    start: int  # first replaced row
    stop: int  # one past the last replaced row
    new: list[str]


@dataclass
class Edit:
    src: Source
    changes: list[Change]
    what: str  # "renames `x` to `y` in `f`"
    block: Block | None = None
    region: tuple[int, int] | None = None  # rows [a, b) a whole-block hunk replaces

    def new_lines(self) -> list[str]:
        lines = list(self.src.lines)
        for ch in sorted(self.changes, key=lambda c: -c.start):
            lines[ch.start : ch.stop] = ch.new
        return lines

    def new_text(self) -> str:
        return "\n".join(self.new_lines()) + "\n"


PARSERS: dict[str, object] = {}


def parser(lang: str):
    if lang not in PARSERS:
        PARSERS[lang] = get_parser(lang)  # type: ignore[arg-type]
    return PARSERS[lang]


def indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def detect_unit(lines: list[str]) -> str:
    if sum(ln.startswith("\t") for ln in lines) > sum(ln.startswith("  ") for ln in lines):
        return "\t"
    steps: Counter[int] = Counter()
    prev = 0
    for ln in lines:
        if not ln.strip():
            continue
        width = len(indent_of(ln))
        if width > prev and width - prev in (2, 4):
            steps[width - prev] += 1
        prev = width
    return " " * (steps.most_common(1)[0][0] if steps else 4)


def load_sources() -> dict[str, list[Source]]:
    out: dict[str, list[Source]] = {}
    for lang, (ext, _, _) in LANGS.items():
        root = sources_dir() / lang
        files = []
        for path in sorted(root.rglob(f"*{ext}")):
            text = path.read_text(encoding="utf-8")
            assert text.endswith("\n") and "\r" not in text, path
            rel = path.relative_to(root).as_posix()
            lines = text[:-1].split("\n")
            tree = parser(lang).parse(text.encode("utf-8"))
            files.append(Source(lang, rel, f"{lang}/{rel}", text, lines, tree, detect_unit(lines)))
        out[lang] = files
    return out


def walk(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


def node_text(node) -> str:
    return node.text.decode("utf-8")


def error_count(lang: str, text: str) -> int:
    tree = parser(lang).parse(text.encode("utf-8"))
    return sum(1 for n in walk(tree.root_node) if n.is_error or n.is_missing)


def block_name(node) -> str:
    name = node.child_by_field_name("name")
    if name is not None:
        return node_text(name)
    if node.type == "function_definition":  # C: declarator chain
        decl = node.child_by_field_name("declarator")
        while decl is not None and decl.type not in ("identifier", "field_identifier"):
            decl = decl.child_by_field_name("declarator")
        if decl is not None:
            return node_text(decl)
    parent = node.parent
    if parent is not None:
        for field_name in ("name", "key", "left"):
            found = parent.child_by_field_name(field_name)
            if found is not None and found.type in (
                "identifier",
                "property_identifier",
                "member_expression",
            ):
                return node_text(found).split(".")[-1]
    return "callback"


def full_lines(src: Source, node) -> bool:
    """The node starts its first line and ends its last (but for a ``;`` or ``,``)."""
    first = src.lines[node.start_point.row].encode("utf-8")
    last = src.lines[node.end_point.row].encode("utf-8")
    return not first[: node.start_point.column].strip() and last[
        node.end_point.column :
    ].strip() in (b"", b";", b",")


def blocks_of(src: Source) -> list[Block]:
    if src.blocks is None:
        src.blocks = _blocks_of(src)
    return src.blocks


def _blocks_of(src: Source) -> list[Block]:
    out = []
    for node in walk(src.tree.root_node):
        if node.type not in BLOCK_TYPES[src.lang] or node.has_error:
            continue
        outer = node
        if node.parent is not None and node.parent.type in (
            "decorated_definition",
            "export_statement",
        ):
            outer = node.parent
        start, end = outer.start_point.row, outer.end_point.row
        if end - start < 3 or end - start > 70:
            continue
        statement = node.type in STATEMENT_LEVEL[src.lang] and full_lines(src, outer)
        out.append(Block(src, node, outer, start, end, block_name(node), statement))
    return out


def body_of(node):
    body = node.child_by_field_name("body")
    if (
        body is not None
        and body.named_children
        and body.named_children[0].type == ("statement_list")
    ):
        return body.named_children[0]
    return body


def statement_rows(block: Block, lo: int | None = None, hi: int | None = None) -> list[int]:
    """Rows inside the block where a statement starts its line (a comment may go above)."""
    src = block.src
    rows = set()
    for n in walk(block.node):
        if not n.is_named or n.parent is None or n.parent.type not in BODY_TYPES:
            continue
        if "comment" in n.type or n.start_point.row == n.parent.start_point.row:
            continue
        row = n.start_point.row
        line = src.lines[row]
        if len(line.encode("utf-8")) - len(line.lstrip(" \t").encode("utf-8")) != (
            n.start_point.column
        ):
            continue
        if block.start < row < block.end:
            rows.add(row)
    rows_list = sorted(rows)
    if lo is not None:
        rows_list = [r for r in rows_list if lo <= r <= (hi if hi is not None else r)]
    return rows_list


# -- intended edits ----------------------------------------------------------------------------


def comment_line(src: Source, indent: str, rng: random.Random) -> str:
    return f"{indent}{src.comment} {rng.choice(COMMENTS)}"


def splice_line(line: str, col_start: int, col_end: int, new: str) -> str:
    raw = line.encode("utf-8")
    return (raw[:col_start] + new.encode("utf-8") + raw[col_end:]).decode("utf-8")


def op_add_comment(block: Block, rng: random.Random) -> Edit | None:
    rows = statement_rows(block)
    if not rows:
        return None
    row = rng.choice(rows)
    src = block.src
    new = [comment_line(src, indent_of(src.lines[row]), rng), src.lines[row]]
    return Edit(src, [Change(row, row + 1, new)], f"adds a comment in `{block.name}`", block)


def log_statement(src: Source, name: str) -> str:
    return {
        "python": f'logger.debug("%s called", "{name}")',
        "javascript": f'console.debug("{name} called");',
        "typescript": f'console.debug("{name} called");',
        "c": f'fprintf(stderr, "{name} called\\n");',
        "rust": f'eprintln!("{name} called");',
        "go": f'log.Printf("{name} called")',
    }[src.lang]


def op_add_log(block: Block, rng: random.Random) -> Edit | None:
    if block.node.type not in FUNCTION_TYPES:
        return None
    body = body_of(block.node)
    if body is None or body.type not in BODY_TYPES:
        return None
    stmts = [n for n in body.named_children if "comment" not in n.type]
    if not stmts:
        return None
    first = stmts[0]
    if (
        block.src.lang == "python"
        and first.type == "expression_statement"
        and first.named_children
        and first.named_children[0].type == "string"
    ):
        if len(stmts) < 2:
            return None
        first = stmts[1]
    row = first.start_point.row
    if row <= body.start_point.row and block.src.lang != "python":
        return None
    if row == block.node.start_point.row:
        return None
    src = block.src
    new = [indent_of(src.lines[row]) + log_statement(src, block.name), src.lines[row]]
    return Edit(src, [Change(row, row + 1, new)], f"logs each call of `{block.name}`", block)


def number_candidates(block: Block) -> list:
    out = []
    for n in walk(block.node):
        if (
            n.type in NUMBER_TYPES
            and n.start_point.row == n.end_point.row
            and n.start_point.row > block.start
            and re.fullmatch(r"(0|[1-9]\d*)([a-zA-Z_]*)", node_text(n))
        ):
            out.append(n)
    return out


def condition_candidates(block: Block) -> list:
    out = []
    for n in walk(block.node):
        if n.type in CONDITION_PARENTS:
            for child in n.children:
                if not child.is_named and child.type in SWAP:
                    out.append(child)
    return out


def new_number(text: str) -> str:
    digits, suffix = re.fullmatch(r"(\d+)([a-zA-Z_]*)", text).groups()
    value = int(digits)
    value = value + 1 if value < 10 else value * 2
    return f"{value}{suffix}"


def token_change(block: Block, node, what: str) -> tuple[int, str, str]:
    row = node.start_point.row
    old = node_text(node)
    new = new_number(old) if what == "number" else SWAP[old]
    line = splice_line(block.src.lines[row], node.start_point.column, node.end_point.column, new)
    return row, line, f"`{old}` to `{new}`"


def op_change_constant(block: Block, rng: random.Random) -> Edit | None:
    nodes = number_candidates(block)
    if not nodes:
        return None
    row, line, how = token_change(block, rng.choice(nodes), "number")
    return Edit(
        block.src, [Change(row, row + 1, [line])], f"changes {how} in `{block.name}`", block
    )


def op_change_condition(block: Block, rng: random.Random) -> Edit | None:
    nodes = condition_candidates(block)
    if not nodes:
        return None
    row, line, how = token_change(block, rng.choice(nodes), "operator")
    return Edit(
        block.src,
        [Change(row, row + 1, [line])],
        f"changes the condition {how} in `{block.name}`",
        block,
    )


def op_edit_middle(block: Block, rng: random.Random) -> Edit | None:
    """Change a token on a statement line in the middle of the block and comment it."""
    span = block.end - block.start
    rows = set(statement_rows(block, block.start + span // 4, block.end - span // 4))
    tokens = [(n, "number") for n in number_candidates(block)]
    tokens += [(n, "operator") for n in condition_candidates(block)]
    tokens = [(n, w) for n, w in tokens if n.start_point.row in rows]
    if not tokens:
        return None
    node, what = rng.choice(tokens)
    row, line, how = token_change(block, node, what)
    src = block.src
    new = [comment_line(src, indent_of(line), rng), line]
    return Edit(
        src, [Change(row, row + 1, new)], f"changes {how} in `{block.name}` with a comment", block
    )


def op_rename_local(block: Block, rng: random.Random) -> Edit | None:
    src = block.src
    ids: dict[str, list] = {}
    for n in walk(block.node):
        if n.type != "identifier":
            continue
        parent = n.parent
        if (
            parent is not None
            and parent.type in ("attribute", "keyword_argument")
            and n in (parent.child_by_field_name("attribute"), parent.child_by_field_name("name"))
        ):
            continue
        ids.setdefault(node_text(n), []).append(n)
    camel = src.lang in ("javascript", "typescript", "go")
    options = []
    for name, nodes in sorted(ids.items()):
        if len(nodes) < 2 or name == block.name or name in ("self", "this", "_", "cls"):
            continue
        if any(n.start_point.row < block.start or n.end_point.row > block.end for n in nodes):
            continue
        if len(re.findall(rf"(?<![\w$]){re.escape(name)}(?![\w$])", src.text)) != len(nodes):
            continue  # used outside the block, or in strings/comments/attributes: not a local
        new = SHORT_NAMES.get(name) or (name + ("Value" if camel else "_value"))
        if re.search(rf"\b{re.escape(new)}\b", src.text):
            continue
        options.append((name, new, nodes))
    if not options:
        return None
    name, new, nodes = rng.choice(options)
    lines: dict[int, str] = {}
    for n in sorted(nodes, key=lambda n: (n.start_point.row, -n.start_point.column)):
        row = n.start_point.row
        lines.setdefault(row, src.lines[row])
    for n in sorted(nodes, key=lambda n: -n.start_point.column):
        row = n.start_point.row
        lines[row] = splice_line(lines[row], n.start_point.column, n.end_point.column, new)
    first, last = min(lines), max(lines)
    body = [lines.get(r, src.lines[r]) for r in range(first, last + 1)]
    return Edit(
        src,
        [Change(first, last + 1, body)],
        f"renames `{name}` to `{new}` in `{block.name}`",
        block,
    )


NEW_PARAM = {
    "python": "verbose=False",
    "javascript": "options = {}",
    "typescript": "options?: Record<string, unknown>",
    "c": "int flags",
    "rust": "verbose: bool",
    "go": "verbose bool",
}


def op_add_parameter(block: Block, rng: random.Random) -> Edit | None:
    node = block.node
    if node.type not in FUNCTION_TYPES:
        return None
    params = node.child_by_field_name("parameters")
    if params is None and node.type == "function_definition":  # C
        decl = node.child_by_field_name("declarator")
        while decl is not None and decl.type != "function_declarator":
            decl = decl.child_by_field_name("declarator")
        params = decl.child_by_field_name("parameters") if decl is not None else None
    if params is None or not node_text(params).startswith("("):
        return None
    text = node_text(params)
    if ("*" in text and block.src.lang == "python") or "..." in text or "/" in text:
        return None
    src = block.src
    named = [n for n in params.named_children if "comment" not in n.type]
    param = NEW_PARAM[src.lang]
    if src.lang == "c" and text.replace(" ", "") == "(void)":
        row = params.start_point.row
        if params.end_point.row != row:
            return None
        c1, c2 = params.start_point.column + 1, params.end_point.column - 1
        line = splice_line(src.lines[row], c1, c2, param)
    elif named:
        last = named[-1]
        row = last.end_point.row
        col = last.end_point.column
        line = splice_line(src.lines[row], col, col, ", " + param)
    else:
        row = params.start_point.row
        col = params.start_point.column + 1
        if params.end_point.row != row:
            return None
        line = splice_line(src.lines[row], col, col, param)
    if row > block.end:
        return None
    name = param.split("=")[0].split(":")[0].split()[-1].rstrip("?")
    return Edit(
        src, [Change(row, row + 1, [line])], f"adds a `{name}` parameter to `{block.name}`", block
    )


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def new_function(block: Block) -> tuple[str, list[str]] | None:
    """A plausible function to insert after ``block``, at its indentation."""
    src, ind, u, name = block.src, block.indent, block.src.unit, block.name
    node = block.node
    in_class = node.parent is not None and node.parent.type in ("block", "class_body")
    if node.parent is not None and node.parent.type == "decorated_definition":
        return None
    lang = src.lang
    if lang == "python":
        if node.type == "class_definition":
            snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
            body = [
                f"def make_{snake}(*args, **kwargs):",
                f'{u}"""Build a {name} from the same arguments."""',
                f"{u}return {name}(*args, **kwargs)",
            ]
        elif in_class:
            body = [
                f"def {name}_or_none(self, *args, **kwargs):",
                f"{u}try:",
                f"{u}{u}return self.{name}(*args, **kwargs)",
                f"{u}except (TypeError, ValueError):",
                f"{u}{u}return None",
            ]
        else:
            body = [
                f"def {name}_or_none(*args, **kwargs):",
                f'{u}"""Like {name}(), but None where it raises TypeError or ValueError."""',
                f"{u}try:",
                f"{u}{u}return {name}(*args, **kwargs)",
                f"{u}except (TypeError, ValueError):",
                f"{u}{u}return None",
            ]
    elif lang in ("javascript", "typescript"):
        ts = lang == "typescript"
        new = camel(name) + ("OrUndefined" if ts else "OrNull")
        empty = "undefined" if ts else "null"
        if node.type == "class_declaration":
            sig = f"function create{name}(...args{': unknown[]' if ts else ''})"
            body = [
                f"{sig} {{",
                f"{u}return new {name}(...(args as []));"
                if ts
                else f"{u}return new {name}(...args);",
                "}",
            ]
        elif node.type == "method_definition":
            if ts:
                body = [
                    f"has{name[:1].upper() + name[1:]}(): boolean {{",
                    f'{u}return typeof this.{name} === "function";',
                    "}",
                ]
            else:
                body = [
                    f"{new}(...args) {{",
                    f"{u}try {{",
                    f"{u}{u}return this.{name}(...args);",
                    f"{u}}} catch (error) {{",
                    f"{u}{u}return null;",
                    f"{u}}}",
                    "}",
                ]
        else:
            sig = (
                f"function {new}(...args: Parameters<typeof {name}>): "
                f"ReturnType<typeof {name}> | undefined"
                if ts
                else f"function {new}(...args)"
            )
            body = [
                f"{sig} {{",
                f"{u}try {{",
                f"{u}{u}return {name}(...args);",
                f"{u}}} catch {{" if ts else f"{u}}} catch (error) {{",
                f"{u}{u}return {empty};",
                f"{u}}}",
                "}",
            ]
    elif lang == "c":
        body = ["static int", f"{name}_available(void)", "{", f"{u}return 1;", "}"]
    elif lang == "rust":
        if node.type != "function_item":
            return None
        impl = node.parent.parent if node.parent is not None else None
        if impl is not None and impl.type == "impl_item" and impl.child_by_field_name("trait"):
            return None
        body = [f"fn {name}_is_supported() -> bool {{", f"{u}true", "}"]
    else:  # go
        fname = camel(name) + "Available"
        body = [
            f"// {fname} reports whether {name} can be used.",
            f"func {fname}() bool {{",
            f"{u}return true",
            "}",
        ]
    found = re.findall(r"([A-Za-z_]\w*)\(", "\n".join(body))
    return found[0], [ind + ln if ln else ln for ln in body]


def op_insert_function(block: Block, rng: random.Random) -> Edit | None:
    if not block.statement_level:
        return None
    made = new_function(block) if not block.name.startswith("__") else None
    if made is None:
        return None
    new_name, lines = made
    src = block.src
    if re.search(rf"\b{re.escape(new_name)}\b", src.text):
        return None
    gap = 2 if src.lang == "python" and not block.indent else 1
    at = block.end + 1
    new = [""] * gap + lines
    return Edit(
        src, [Change(at, at, new)], f"adds a helper after `{block.name}`", block, (block.start, at)
    )


def op_delete_block(block: Block, rng: random.Random) -> Edit | None:
    if not block.statement_level:
        return None
    src = block.src
    parent = block.outer.parent
    if src.lang == "python" and parent is not None and parent.type == "block":
        siblings = [n for n in parent.named_children if "comment" not in n.type]
        if len(siblings) < 2:
            return None
    start = block.start
    while start > 0 and src.lines[start - 1].lstrip().startswith(("//", "#", "/*", "*")):
        if src.lines[start - 1].lstrip().startswith("#!") or start - 1 == 0:
            break
        start -= 1
    stop = block.end + 1
    while stop < len(src.lines) and not src.lines[stop].strip():
        stop += 1
    if stop == len(src.lines):  # last block: take the blank lines before it instead
        stop = block.end + 1
        while start > 0 and not src.lines[start - 1].strip():
            start -= 1
    return Edit(src, [Change(start, stop, [])], f"deletes `{block.name}`", block, (start, stop))


OPS = {
    "rename_local": op_rename_local,
    "add_comment": op_add_comment,
    "add_log": op_add_log,
    "change_constant": op_change_constant,
    "change_condition": op_change_condition,
    "add_parameter": op_add_parameter,
    "insert_function": op_insert_function,
    "delete_block": op_delete_block,
    "edit_middle": op_edit_middle,
}
SMALL_OPS = [
    "add_comment",
    "add_log",
    "change_constant",
    "change_condition",
    "add_parameter",
    "edit_middle",
    "rename_local",
]


def valid(edit: Edit) -> bool:
    new = edit.new_text()
    if new == edit.src.text:
        return False
    return error_count(edit.src.lang, new) <= error_count(edit.src.lang, edit.src.text)


def pick_edit(
    src: Source, rng: random.Random, ops: list[str] | None = None, min_lines: int = 4
) -> Edit | None:
    blocks = [b for b in blocks_of(src) if b.end - b.start + 1 >= min_lines]
    if not blocks:
        return None
    for _ in range(30):
        block = rng.choice(blocks)
        op = rng.choice(ops or list(OPS))
        edit = OPS[op](block, rng)
        if edit is not None and valid(edit):
            if edit.region is None:
                a = min([block.start] + [c.start for c in edit.changes])
                b = max([block.end + 1] + [c.stop for c in edit.changes])
                edit.region = (a, b)
            return edit
    return None


# -- diffs -------------------------------------------------------------------------------------


@dataclass
class Hunk:
    old_start: int  # 1-based first old line (the line before, when the hunk removes nothing)
    new_start: int
    lines: list[tuple[str, str]]  # (" " | "-" | "+" | "\\", text)
    header: str | None = None  # overrides the computed header

    def counts(self) -> tuple[int, int]:
        old = sum(1 for k, _ in self.lines if k in " -")
        new = sum(1 for k, _ in self.lines if k in " +")
        return old, new

    def render_header(self) -> str:
        if self.header is not None:
            return self.header
        old, new = self.counts()
        return f"@@ -{_range(self.old_start, old)} +{_range(self.new_start, new)} @@"


def _range(start: int, count: int) -> str:
    return f"{start}" if count == 1 else f"{start},{count}"


@dataclass
class FilePatch:
    old: str | None  # path before; None: created
    new: str | None  # path after; None: deleted
    hunks: list[Hunk]
    prefixes: bool = True
    git: list[str] = field(default_factory=list)  # extended git header lines

    def render(self) -> str:
        out = list(self.git)
        if self.hunks or not self.git:
            old = "/dev/null" if self.old is None else ("a/" if self.prefixes else "") + self.old
            new = "/dev/null" if self.new is None else ("b/" if self.prefixes else "") + self.new
            out += [f"--- {old}", f"+++ {new}"]
        for hunk in self.hunks:
            out.append(hunk.render_header())
            out += [k + t if k != "\\" else t for k, t in hunk.lines]
        return "\n".join(out) + "\n"


def diff_hunks(old: list[str], new: list[str], context: int = 3) -> list[Hunk]:
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    hunks = []
    for group in matcher.get_grouped_opcodes(context):
        i1, j1 = group[0][1], group[0][3]
        lines: list[tuple[str, str]] = []
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                lines += [(" ", x) for x in old[a1:a2]]
                continue
            lines += [("-", x) for x in old[a1:a2]]
            lines += [("+", x) for x in new[b1:b2]]
        old_n = sum(1 for k, _ in lines if k in " -")
        new_n = sum(1 for k, _ in lines if k in " +")
        hunks.append(Hunk(i1 + 1 if old_n else i1, j1 + 1 if new_n else j1, lines))
    return hunks


def strict_apply(old: list[str], hunks: list[Hunk]) -> list[str]:
    """Apply hunks by their (correct) line numbers; raises if a line does not match."""
    out, cursor = [], 0
    for hunk in sorted(hunks, key=lambda h: h.old_start):
        old_n, _ = hunk.counts()
        start = hunk.old_start - 1 if old_n else hunk.old_start
        out += old[cursor:start]
        cursor = start
        for kind, text in hunk.lines:
            if kind in " -":
                assert old[cursor] == text, (old[cursor], text)
                cursor += 1
            if kind in " +":
                out.append(text)
    return out + old[cursor:]


def edit_hunks(edit: Edit, context: int = 3) -> list[Hunk]:
    old, new = edit.src.lines, edit.new_lines()
    hunks = diff_hunks(old, new, context)
    assert strict_apply(old, hunks) == new
    return hunks


def whole_block_hunk(edit: Edit) -> Hunk:
    a, b = edit.region
    delta = sum(len(c.new) - (c.stop - c.start) for c in edit.changes)
    old = edit.src.lines[a:b]
    new = edit.new_lines()[a : b + delta]
    assert edit.src.lines[:a] + new + edit.src.lines[b:] == edit.new_lines()
    lines = [("-", x) for x in old] + [("+", x) for x in new]
    return Hunk(a + 1, a + 1, lines, header="@@ @@")


def full_context_hunk(edit: Edit) -> Hunk:
    """The block's region as one hunk, every unchanged line as context."""
    a, b = edit.region
    delta = sum(len(c.new) - (c.stop - c.start) for c in edit.changes)
    old = edit.src.lines[a:b]
    new = edit.new_lines()[a : b + delta]
    (hunk,) = diff_hunks(old, new, context=10_000)
    return Hunk(a + 1, a + 1, hunk.lines)


# -- damage ------------------------------------------------------------------------------------


def interior_context(hunk: Hunk, nonblank: bool = True) -> list[int]:
    return [
        i
        for i, (k, t) in enumerate(hunk.lines)
        if k == " " and 0 < i < len(hunk.lines) - 1 and (t.strip() or not nonblank)
    ]


def misquote(line: str, rng: random.Random) -> str | None:
    """A realistic small misquote of ``line``, or None."""
    body = line.strip()
    if len(body) < 12:
        return None
    options = []
    words = [m for m in re.finditer(r"[A-Za-z]{4,}", line)]
    if words:
        m = rng.choice(words)
        w = m.group()
        k = rng.randrange(1, len(w) - 2)
        typo = w[:k] + w[k + 1] + w[k] + w[k + 2 :]
        options.append(line[: m.start()] + typo + line[m.end() :])
        plural = w[:-1] if w.endswith("s") else w + "s"
        options.append(line[: m.start()] + plural + line[m.end() :])
    if "'" in line and '"' not in line:
        options.append(line.replace("'", '"'))
    if '"' in line and "'" not in line:
        options.append(line.replace('"', "'"))
    if line.rstrip().endswith((";", ",")):
        options.append(line.rstrip()[:-1])
    if "(" in line and ")" in line and ", " in line:
        options.append(line.replace(", ", ",", 1))
    options = [o for o in options if o != line]
    if not options:
        return None
    out = rng.choice(options)
    ratio = difflib.SequenceMatcher(None, line.strip(), out.strip()).ratio()
    return out if ratio >= 0.85 else None


def damage_missing_context(hunks: list[Hunk], src: Source, rng: random.Random) -> str | None:
    # Only a line between two context lines: next to a change, leaving it out would also
    # leave open on which side of it the added lines go.
    cands = [
        (h, i)
        for h in hunks
        for i in interior_context(h)
        if h.lines[i - 1][0] == " " and h.lines[i + 1][0] == " "
    ]
    if not cands:
        return None
    hunk, i = rng.choice(cands)
    dropped = hunk.lines.pop(i)[1]
    return f"dropped context line {dropped.strip()!r}"


def damage_misquoted(hunks: list[Hunk], src: Source, rng: random.Random) -> str | None:
    cands = [(h, i) for h in hunks for i in interior_context(h)]
    rng.shuffle(cands)
    for hunk, i in cands:
        new = misquote(hunk.lines[i][1], rng)
        if new is not None and new not in src.lines:
            old = hunk.lines[i][1]
            hunk.lines[i] = (" ", new)
            return f"context {old.strip()!r} quoted as {new.strip()!r}"
    return None


def damage_extra_context(hunks: list[Hunk], src: Source, rng: random.Random) -> str | None:
    cands = [(h, i) for h in hunks for i in range(1, len(h.lines)) if h.lines[i - 1][0] == " "]
    if not cands:
        return None
    hunk, i = rng.choice(cands)
    prev, nxt = hunk.lines[i - 1][1], hunk.lines[i][1]
    if prev.strip() and nxt.strip() and rng.random() < 0.6:
        hunk.lines.insert(i, (" ", ""))
        return "invented a blank context line"
    indent = indent_of(nxt if nxt.strip() else prev)
    line = comment_line(src, indent, rng)
    if line in src.lines:
        return None
    hunk.lines.insert(i, (" ", line))
    return f"invented context line {line.strip()!r}"


def damage_indent(hunks: list[Hunk], src: Source, rng: random.Random) -> str | None:
    texts = [t for h in hunks for _, t in h.lines if t.strip()]
    if src.unit == "\t" and any(t.startswith("\t") for t in texts):
        for h in hunks:
            h.lines = [
                (k, re.sub(r"^\t+", lambda m: "    " * len(m.group()), t)) for k, t in h.lines
            ]
        return "tabs turned into 4 spaces"
    if all(t.startswith("    ") for t in texts) and rng.random() < 0.5:
        for h in hunks:
            h.lines = [(k, t[4:] if t.strip() else t) for k, t in h.lines]
        return "whole hunk dedented by 4 spaces"
    for h in hunks:
        h.lines = [(k, "    " + t if t.strip() else t) for k, t in h.lines]
    return "whole hunk indented by 4 more spaces"


def damage_trailing(hunks: list[Hunk], src: Source, rng: random.Random) -> str | None:
    cands = [(h, i) for h in hunks for i, (k, t) in enumerate(h.lines) if k in " -"]
    if not cands:
        return None
    picked = rng.sample(cands, min(len(cands), rng.choice([2, 3, 4])))
    for h, i in picked:
        k, t = h.lines[i]
        if t != t.rstrip():
            h.lines[i] = (k, t.rstrip())
        elif t.strip():
            h.lines[i] = (k, t + rng.choice([" ", "  ", "\t"]))
        else:
            h.lines[i] = (k, indent_of(t) or rng.choice(["    ", "  "]))
    return f"trailing whitespace changed on {len(picked)} context/removed lines"


# -- case builders -----------------------------------------------------------------------------


def files_spec(*srcs: Source, transforms: list[str] | None = None) -> dict:
    out = {}
    for s in srcs:
        spec: dict = {"source": s.source}
        if transforms:
            spec["transforms"] = transforms
        out[s.rel] = spec
    return out


def prose_wrap(reply: str, what: str, rng: random.Random, where: str = "") -> str:
    before = rng.choice(INTENT_PROSE).format(what=what, where=where)
    after = rng.choice(AFTER_PROSE)
    return f"{before}\n\n```diff\n{reply}```\n\n{after}\n"


def numbered_variant(hunks: list[Hunk], kind: str, rng: random.Random) -> str:
    notes = []
    for h in hunks:
        old, new = h.counts()
        if kind == "wrong_counts":
            dold, dnew = rng.choice([(1, 1), (-1, 0), (2, 1), (0, -1), (-1, -1), (3, 2)])
            dold = dold if old + dold > 0 else 1
            dnew = dnew if new + dnew > 0 else 1
            h.header = f"@@ -{h.old_start},{old + dold} +{h.new_start},{new + dnew} @@"
            notes.append(f"counts {old},{new} written as {old + dold},{new + dnew}")
        elif kind == "wrong_line_numbers":
            off = rng.choice([-1, 1]) * rng.choice([12, 25, 40, 80, 150, 300])
            if h.old_start + off < 1:
                off = -off
            h.header = f"@@ -{h.old_start + off},{old} +{h.new_start + off},{new} @@"
            notes.append(f"start line {h.old_start} written as {h.old_start + off}")
        else:  # no_line_numbers
            h.header = rng.choice(["@@ ... @@", "@@"])
            notes.append(f"header {h.header!r}")
    return "; ".join(notes)


def expected_for(changes: dict[str, str | None], transforms: list[str] | None = None) -> dict:
    texts = {
        p: None if t is None else sha(apply_transforms(t, transforms or []))
        for p, t in changes.items()
    }
    return {"texts": texts}


def make_case(ident: str, lang: str, kind: str, files: dict, reply: str, expected: dict, note: str):
    return {
        "id": ident,
        "language": lang,
        "kind": kind,
        "files": files,
        "reply": reply,
        "expected": expected,
        "note": note,
    }


class Generator:
    def __init__(self, sources: dict[str, list[Source]], seed: int = SEED) -> None:
        self.sources = sources
        self.rng = random.Random(seed)

    def src(self, lang: str, max_lines: int | None = None, exclude=()) -> Source:
        files = [
            s
            for s in self.sources[lang]
            if s.rel not in exclude and (max_lines is None or len(s.lines) <= max_lines)
        ]
        return self.rng.choice(files)

    def edit(self, lang: str, ops=None, min_lines: int = 4, exclude=()) -> Edit:
        for _ in range(100):
            edit = pick_edit(self.src(lang, exclude=exclude), self.rng, ops, min_lines)
            if edit is not None:
                return edit
        raise RuntimeError(f"no edit for {lang} {ops}")

    # Single-file kinds rendered from the clean diff, maybe damaged.
    def single(self, lang: str, kind: str) -> tuple[dict, str, dict, str]:
        rng = self.rng
        damage = {
            "missing_context": damage_missing_context,
            "misquoted_context": damage_misquoted,
            "extra_context": damage_extra_context,
            "indent_drift": damage_indent,
            "trailing_whitespace": damage_trailing,
        }
        for _ in range(200):
            edit = self.edit(lang)
            hunks = edit_hunks(edit)
            note = edit.what
            fp = FilePatch(edit.src.rel, edit.src.rel, hunks)
            if kind in damage:
                if kind != "indent_drift" and all(h.counts()[0] < 5 for h in hunks):
                    continue
                done = damage[kind](hunks, edit.src, rng)
                if done is None:
                    continue
                note += f"; {done}"
            elif kind in ("wrong_counts", "wrong_line_numbers", "no_line_numbers"):
                note += "; " + numbered_variant(hunks, kind, rng)
            elif kind == "missing_prefixes":
                fp.prefixes = False
            reply = fp.render()
            if kind == "fenced_prose":
                reply = prose_wrap(reply, edit.what, rng, f" in `{edit.src.rel}`")
            return files_spec(edit.src), reply, expected_for({edit.src.rel: edit.new_text()}), note
        raise RuntimeError(f"no {kind} case for {lang}")

    def whole_block(self, lang: str) -> tuple[dict, str, dict, str]:
        edit = self.edit(lang)
        fp = FilePatch(edit.src.rel, edit.src.rel, [whole_block_hunk(edit)])
        note = edit.what + "; whole block removed and added again"
        return (
            files_spec(edit.src),
            fp.render(),
            expected_for({edit.src.rel: edit.new_text()}),
            note,
        )

    def elided(self, lang: str) -> tuple[dict, str, dict, str]:
        rng = self.rng
        for _ in range(200):
            edit = self.edit(lang, SMALL_OPS, min_lines=12)
            hunk = full_context_hunk(edit)
            kinds = [k for k, _ in hunk.lines]
            runs = []  # [a, b): unchanged lines to elide, one kept on each side as an anchor
            i = 0
            while i < len(kinds):
                j = i
                while j < len(kinds) and kinds[j] == " ":
                    j += 1
                if j - i - 2 >= 3:
                    runs.append((i + 1, j - 1))
                i = j + 1
            if not runs:
                continue
            a, b = rng.choice(runs)
            first = hunk.lines[a][1]
            ind = indent_of(first) if first.strip() else indent_of(hunk.lines[b - 1][1])
            c = edit.src.comment
            marker = rng.choice(
                ["...", f"{c} ...", f"{c} ... existing code ...", f"{c} ... unchanged ...", "…"]
            )
            bare = rng.random() < 0.25
            hunk.lines[a:b] = [("", marker)] if bare else [(" ", ind + marker)]
            hunk.header = rng.choice(["@@ @@", None])
            fp = FilePatch(edit.src.rel, edit.src.rel, [hunk])
            note = f"{edit.what}; {b - a} unchanged lines elided as {marker!r}" + (
                " (bare line)" if bare else ""
            )
            return (
                files_spec(edit.src),
                fp.render(),
                expected_for({edit.src.rel: edit.new_text()}),
                note,
            )
        raise RuntimeError("no elided case")

    def out_of_order(self, lang: str) -> tuple[dict, str, dict, str]:
        for _ in range(200):
            src = self.src(lang)
            first = pick_edit(src, self.rng, SMALL_OPS)
            second = pick_edit(src, self.rng, SMALL_OPS)
            if first is None or second is None:
                continue
            a, b = sorted([first, second], key=lambda e: e.changes[0].start)
            if b.changes[0].start - a.changes[-1].stop < 8:
                continue
            both = Edit(src, a.changes + b.changes, f"{a.what}, and {b.what}")
            if not valid(both):
                continue
            hunks = edit_hunks(both)
            if len(hunks) != 2:
                continue
            fp = FilePatch(src.rel, src.rel, hunks[::-1])
            note = both.what + "; the later hunk comes first"
            return files_spec(src), fp.render(), expected_for({src.rel: both.new_text()}), note
        raise RuntimeError("no out_of_order case")

    def multi_file(self, lang: str) -> tuple[dict, str, dict, str]:
        rng = self.rng
        count = rng.choice([2, 2, 3])
        edits: list[Edit] = []
        while len(edits) < count:
            edits.append(self.edit(lang, exclude={e.src.rel for e in edits}))
        style = rng.choice(["plain", "git", "fences", "no prefixes"])
        parts = []
        for e in edits:
            fp = FilePatch(e.src.rel, e.src.rel, edit_hunks(e), prefixes=style != "no prefixes")
            if style == "git":
                fp.git = [f"diff --git a/{e.src.rel} b/{e.src.rel}"]
            parts.append(fp.render())
        if style == "fences":
            reply = "I changed these files.\n\n" + "".join(
                f"`{e.src.rel}` {e.what}:\n\n```diff\n{p}```\n\n"
                for e, p in zip(edits, parts, strict=True)
            )
        else:
            reply = "".join(parts)
        note = "; ".join(f"{e.src.rel} {e.what}" for e in edits) + f" ({style})"
        return (
            files_spec(*(e.src for e in edits)),
            reply,
            expected_for({e.src.rel: e.new_text() for e in edits}),
            note,
        )

    def create_file(self, lang: str) -> tuple[dict, str, dict, str]:
        rng = self.rng
        for _ in range(200):
            src = self.src(lang)
            # Top-level blocks (JavaScript: any function declaration; django-admin wraps
            # its files in a block or an IIFE).
            blocks = [
                b
                for b in blocks_of(src)
                if b.statement_level
                and b.node.type != "method_definition"
                and (lang == "javascript" or b.outer.parent.type in TOP_LEVEL)
            ]
            if not blocks:
                continue
            block = rng.choice(blocks)
            ind = block.indent
            body = [
                ln[len(ind) :] if ln.startswith(ind) else ln
                for ln in src.lines[block.start : block.end + 1]
            ]
            stem, ext = src.rel.rsplit(".", 1)
            slug = re.sub(r"\W+", "_", block.name).strip("_").lower() or "helpers"
            new_path = f"{stem}_{slug}.{ext}"
            if new_path in {s.rel for s in self.sources[lang]}:
                continue
            if lang == "go":
                package = next(ln for ln in src.lines if ln.startswith("package "))
                head = [package, ""]
            elif lang == "python":
                head = [f'"""{block.name}, moved out of {src.rel.rsplit("/", 1)[-1]}."""', ""]
            else:
                head = [f"// {block.name}, moved out of {src.rel.rsplit('/', 1)[-1]}.", ""]
            new_text = "\n".join(head + body) + "\n"
            if error_count(lang, new_text):
                continue
            create = FilePatch(
                None, new_path, [Hunk(0, 1, [("+", x) for x in new_text[:-1].split("\n")])]
            )
            if rng.random() < 0.4:
                create.git = [f"diff --git a/{new_path} b/{new_path}", "new file mode 100644"]
            move = rng.random() < 0.5
            changes: dict[str, str | None] = {new_path: new_text}
            reply = create.render()
            note = f"creates {new_path} with a copy of `{block.name}`"
            if move:
                edit = op_delete_block(block, rng)
                if edit is None or not valid(edit):
                    continue
                fp = FilePatch(src.rel, src.rel, edit_hunks(edit))
                reply = fp.render() + reply
                changes[src.rel] = edit.new_text()
                note = f"moves `{block.name}` from {src.rel} to a new file {new_path}"
            return files_spec(src), reply, expected_for(changes), note
        raise RuntimeError("no create_file case")

    def delete_file(self, lang: str) -> tuple[dict, str, dict, str]:
        rng = self.rng
        src = self.src(lang)
        other = self.src(lang, exclude={src.rel})
        style = rng.choice(["full", "git-full", "git-header"])
        if len(src.lines) > 300 and style != "git-header":
            style = "git-header"
        fp = FilePatch(src.rel, None, [])
        if style != "full":
            fp.git = [f"diff --git a/{src.rel} b/{src.rel}", "deleted file mode 100644"]
        if style != "git-header":
            fp.hunks = [Hunk(1, 0, [("-", x) for x in src.lines])]
        note = f"deletes {src.rel} ({style}); {other.rel} stays"
        return files_spec(src, other), fp.render(), expected_for({src.rel: None}), note

    def rename_file(self, lang: str) -> tuple[dict, str, dict, str]:
        rng = self.rng
        for _ in range(100):
            with_edit = rng.random() < 0.5
            edit = self.edit(lang, SMALL_OPS) if with_edit else None
            src = edit.src if edit else self.src(lang)
            d, _, base = src.rel.rpartition("/")
            stem, ext = base.rsplit(".", 1)
            new_base = rng.choice([f"{stem}_impl", f"legacy_{stem}", f"{stem}2", f"{stem}_util"])
            new_rel = f"{d}/{new_base}.{ext}" if d else f"{new_base}.{ext}"
            if new_rel in {s.rel for s in self.sources[lang]}:
                continue
            new_text = edit.new_text() if edit else src.text
            sim = 100 if edit is None else max(50, 100 - len(edit_hunks(edit)[0].lines))
            fp = FilePatch(src.rel, new_rel, edit_hunks(edit) if edit else [])
            fp.git = [
                f"diff --git a/{src.rel} b/{new_rel}",
                f"similarity index {sim}%",
                f"rename from {src.rel}",
                f"rename to {new_rel}",
            ]
            note = f"renames {src.rel} to {new_rel}" + (f" and {edit.what}" if edit else "")
            return (
                files_spec(src),
                fp.render(),
                expected_for({src.rel: None, new_rel: new_text}),
                note,
            )
        raise RuntimeError("no rename case")

    def crlf(self, lang: str) -> tuple[dict, str, dict, str]:
        edit = self.edit(lang)
        fp = FilePatch(edit.src.rel, edit.src.rel, edit_hunks(edit))
        return (
            files_spec(edit.src, transforms=["crlf"]),
            fp.render(),
            expected_for({edit.src.rel: edit.new_text()}, ["crlf"]),
            edit.what + "; the file has CRLF line endings, the diff LF",
        )

    def no_final_newline(self, lang: str) -> tuple[dict, str, dict, str]:
        rng = self.rng
        for _ in range(200):
            src = self.src(lang)
            last = len(src.lines) - 1
            tail = [b for b in blocks_of(src) if b.end == last and b.statement_level]
            modes = ["append", "comment", "last_line"] if tail else ["comment", "last_line"]
            mode = rng.choice(modes)
            where = f"`{tail[0].name}`" if tail else "the file's last block"
            if mode == "append":
                edit = op_insert_function(tail[0], rng)
            elif mode == "last_line":
                base = src.rel.rsplit("/", 1)[-1]
                line = f"{src.comment} End of {base}."
                edit = Edit(src, [Change(last + 1, last + 1, [line])], "adds a line at the end")
            else:
                row = last
                if not src.lines[row - 1].strip():
                    continue
                ind = indent_of(src.lines[row] if lang == "python" else src.lines[row - 1])
                new = [comment_line(src, ind, rng), src.lines[row]]
                edit = Edit(src, [Change(row, row + 1, new)], "adds a comment before the last line")
            if edit is None or not valid(edit):
                continue
            hunks = edit_hunks(edit)
            marker = mode == "comment" and rng.random() < 0.5
            if marker:
                h = hunks[-1]
                assert h.lines[-1][0] == " "
                h.lines.append(("\\", "\\ No newline at end of file"))
            fp = FilePatch(src.rel, src.rel, hunks)
            note = f"{edit.what} (end of {where}, file without final newline)"
            note += "; '\\ No newline' marker" if marker else "; no marker"
            return (
                files_spec(src, transforms=["no_final_newline"]),
                fp.render(),
                expected_for({src.rel: edit.new_text()}, ["no_final_newline"]),
                note,
            )
        raise RuntimeError("no no_final_newline case")

    # -- refusals --------------------------------------------------------------------------

    def ambiguous(self, lang: str) -> tuple[dict, str, dict, str]:
        rng = self.rng
        for _ in range(200):
            src = self.src(lang)
            lines = src.lines
            runs: dict[tuple[str, ...], list[int]] = {}
            for k in (2, 3, 4):
                for i in range(len(lines) - k + 1):
                    run = tuple(lines[i : i + k])
                    if sum(1 for x in run if x.strip()) < 2:
                        continue
                    runs.setdefault(run, []).append(i)
            repeated = sorted(
                (r for r, at in runs.items() if len(at) >= 2),
                key=lambda r: (-len("".join(r).replace(" ", "")), r),
            )
            if not repeated:
                continue
            # Half the time a substantive repeated snippet, else a generic one.
            pool = repeated[:20] if rng.random() < 0.6 else repeated[-40:]
            run = list(rng.choice(pool))
            i = rng.randrange(1, len(run))
            ind = indent_of(run[i] if run[i].strip() else run[i - 1])
            added = comment_line(src, ind, rng)
            hunk_lines = [(" ", x) for x in run[:i]] + [("+", added)] + [(" ", x) for x in run[i:]]
            nums = [m for m in re.finditer(r"\b[1-9]\d*\b", run[i - 1])]
            if nums and rng.random() < 0.5:
                m = nums[0]
                changed = run[i - 1][: m.start()] + new_number(m.group()) + run[i - 1][m.end() :]
                hunk_lines = (
                    [(" ", x) for x in run[: i - 1]]
                    + [("-", run[i - 1]), ("+", changed)]
                    + [(" ", x) for x in run[i:]]
                )
            old = [t for k, t in hunk_lines if k != "+"]
            at = [j for j in range(len(lines)) if lines[j : j + len(old)] == old]
            if len(at) < 2:
                continue
            fp = FilePatch(src.rel, src.rel, [Hunk(0, 0, hunk_lines, header="@@ @@")])
            note = f"the hunk's {len(old)} original lines occur at lines {', '.join(str(j + 1) for j in at[:6])}"
            return files_spec(src), fp.render(), {"refuse": True}, note
        raise RuntimeError("no ambiguous case")

    def hallucinated(self, lang: str) -> tuple[dict, str, dict, str]:
        rng = self.rng
        for _ in range(200):
            target = self.src(lang)
            edit = self.edit(lang, SMALL_OPS, exclude={target.rel})
            whole = rng.random() < 0.5
            hunks = [whole_block_hunk(edit)] if whole else edit_hunks(edit)
            have = {x.strip() for x in target.lines}
            old = [t for h in hunks for k, t in h.lines if k != "+" and t.strip()]
            present = sum(1 for x in old if x.strip() in have)
            if not old or present / len(old) >= 0.4:
                continue
            fp = FilePatch(target.rel, target.rel, hunks)
            note = (
                f"the hunk quotes `{edit.block.name}` of {edit.src.rel}, which is not in "
                f"{target.rel} ({present}/{len(old)} of its lines occur there)"
            )
            return files_spec(target), fp.render(), {"refuse": True}, note
        raise RuntimeError("no hallucinated case")

    def missing_file(self, lang: str) -> tuple[dict, str, dict, str]:
        rng = self.rng
        edit = self.edit(lang)
        rel = edit.src.rel
        d, _, base = rel.rpartition("/")
        stem, ext = base.rsplit(".", 1)
        options = [f"{d}/{stem}s.{ext}" if d else f"{stem}s.{ext}", base]
        if "/" in d:
            options.append(f"{d.split('/', 1)[1]}/{base}")
        options.append(f"src/{base}" if not rel.startswith("src/") else f"lib/{base}")
        wrong = rng.choice([o for o in options if o != rel])
        fp = FilePatch(wrong, wrong, edit_hunks(edit))
        note = f"{edit.what}, but names {wrong} instead of {rel}"
        return files_spec(edit.src), fp.render(), {"refuse": True}, note

    def build(self, lang: str, kind: str) -> tuple[dict, str, dict, str]:
        if kind in (
            "clean",
            "wrong_counts",
            "wrong_line_numbers",
            "no_line_numbers",
            "missing_context",
            "misquoted_context",
            "extra_context",
            "indent_drift",
            "trailing_whitespace",
            "missing_prefixes",
            "fenced_prose",
        ):
            return self.single(lang, kind)
        return getattr(self, kind)(lang)


# -- validation and output ---------------------------------------------------------------------


def check(case: dict) -> None:
    files = case_files(case)
    if case["expected"].get("refuse"):
        kind = case["kind"]
        if kind == "missing_file":
            named = re.findall(r"^\+\+\+ (?:b/)?(\S+)", case["reply"], re.M)
            assert named and all(p not in files for p in named), case["id"]
        return
    texts = case["expected"]["texts"]
    assert texts, case["id"]
    for path, digest in texts.items():
        if path in files:
            assert digest != sha(files[path]), f"{case['id']}: {path} unchanged"
        else:
            assert digest is not None, case["id"]


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="write the edit corpus")
    parser.add_argument("--seed", type=int, default=SEED, help="other seeds: held-out corpora")
    parser.add_argument("--out", type=Path, default=CORPUS)
    args = parser.parse_args()
    sources = load_sources()
    gen = Generator(sources, seed=args.seed)
    cases = []
    for lang, (_, prefix, _) in LANGS.items():
        for n, kind in enumerate(KINDS + KINDS + EXTRA, start=1):
            files, reply, expected, note = gen.build(lang, kind)
            case = make_case(f"{prefix}-{n:04d}-{kind}", lang, kind, files, reply, expected, note)
            check(case)
            cases.append(case)
    with open(args.out, "w", encoding="utf-8") as out:
        for case in cases:
            out.write(json.dumps(case, ensure_ascii=False) + "\n")
    by_lang = Counter(c["language"] for c in cases)
    by_kind = Counter(c["kind"] for c in cases)
    print(f"{len(cases)} cases -> {args.out}")
    print("per language:", ", ".join(f"{k} {v}" for k, v in by_lang.items()))
    print("per kind:", ", ".join(f"{k} {v}" for k, v in by_kind.items()))


if __name__ == "__main__":
    main()
