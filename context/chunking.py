"""Split a file into chunks along its syntax tree, each within a budget of model tokens.

A node that fits the budget stays whole. A larger one is split along its children, and its
signature (the lines before its body: ``class A(B):``, ``def f(self, x):``) travels with each
piece so a piece still says where it lives. Small neighbours then merge up to the budget.
Chunks are whole lines and cover the file without gaps: the space before a node (comments,
blank lines) belongs to the chunk of that node.
"""

from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Node, Tree

from fathom.context.languages import parser_for, source_bytes
from fathom.context.text import split_lines
from fathom.context.tokens import LineTokens, TokenCounter, line_token_counts

# Tokens a line range may gain when tokenised on its own rather than inside its file (a run
# of blank lines is one token in context, several at a range's edge).
EDGE_MARGIN = 2


@dataclass(frozen=True, slots=True)
class Chunk:
    start_line: int  # 0-based
    end_line: int  # exclusive
    kind: str  # syntax node type(s) the chunk holds, "+"-joined when merged
    signature: str  # header lines of the enclosing nodes that were split; "" if none
    text: str
    # Of signature + text, in model tokens: per-line counts plus EDGE_MARGIN, an upper bound
    # within a few tokens of the exact count (tests check it against the real tokenizer).
    tokens: int

    def rendered(self) -> str:
        return f"{self.signature}\n…\n{self.text}" if self.signature else self.text


@dataclass(slots=True)
class _Piece:
    start: int
    end: int
    kind: str
    signature: str
    # Where the innermost header of ``signature`` starts, and the signature around it: a piece
    # that merges with the chunk showing that header line needs only the outer signature.
    header_row: int | None = None
    outer: str = ""


def _end_row(node: Node) -> int:
    """Exclusive end line of ``node`` (a node ending at column 0 ends before that line)."""
    end = node.end_point
    return end.row if end.column == 0 and end.row > node.start_point.row else end.row + 1


_BODY_TYPES = {"block", "body", "compound_statement", "declaration_list", "statement_block"}


def _body(node: Node) -> Node | None:
    """The body of a definition: a "body" field in most grammars, a *_body child in others
    (Kotlin's class_body and function_body)."""
    field = node.child_by_field_name("body") or node.child_by_field_name("block")
    if field is not None:
        return field
    return next(
        (c for c in node.children if c.type in _BODY_TYPES or c.type.endswith("_body")), None
    )


def _header_rows(node: Node) -> tuple[int, int]:
    """Lines of a definition before its body (at least its first line)."""
    body = _body(node)
    start = node.start_point.row
    if body is not None and body.start_point.row > start:
        return start, body.start_point.row
    return start, start + 1


class _Chunker:
    def __init__(
        self,
        lines: list[str],
        tokens: LineTokens,
        counter: TokenCounter,
        budget: int,
        signature_tokens: dict[str, int] | None = None,
    ) -> None:
        self.lines = lines
        self.counter = counter
        self.budget = budget
        self.tokens = tokens
        self._signature_tokens = signature_tokens if signature_tokens is not None else {}

    def signature_size(self, signature: str) -> int:
        if not signature:
            return 0
        if signature not in self._signature_tokens:
            # With the "…" line that joins a signature to its piece.
            self._signature_tokens[signature] = self.counter.count_tokens(f"{signature}\n…\n")
        return self._signature_tokens[signature]

    def size(self, start: int, end: int, signature: str) -> int:
        return self.tokens.between(start, end) + self.signature_size(signature) + EDGE_MARGIN

    def header(self, node: Node, outer: str) -> str:
        start, end = _header_rows(node)
        own = "".join(self.lines[start:end]).rstrip("\n")
        if not outer:
            return own
        if outer.endswith(own.splitlines()[0]):  # a body opening on its parent's header line
            return outer
        return f"{outer}\n{own}"

    def by_lines(self, start: int, end: int, kind: str, signature: str) -> list[_Piece]:
        """Last resort for one oversized leaf (a huge string or comment): whole lines."""
        pieces, cursor = [], start
        while cursor < end:
            stop = cursor + 1
            while stop < end and self.size(cursor, stop + 1, signature) <= self.budget:
                stop += 1
            pieces.append(_Piece(cursor, stop, kind, signature))
            cursor = stop
        return pieces

    def split(self, node: Node, start: int, end: int, signature: str) -> list[_Piece]:
        """Pieces covering lines [start, end) of ``node``'s span."""
        pieces: list[_Piece] = []
        cursor = start
        for child in node.children:
            child_end = min(_end_row(child), end)
            if child_end <= cursor:
                continue  # on a line an earlier piece already holds
            if self.size(cursor, child_end, signature) <= self.budget:
                pieces.append(_Piece(cursor, child_end, child.type, signature))
            elif child.child_count:
                # Definitions (nodes with a body) lend their header to the pieces; plain
                # containers (blocks, declaration lists) pass the signature through.
                inner = self.header(child, signature) if _body(child) is not None else signature
                if self.size(cursor, cursor, inner) >= self.budget:
                    inner = signature  # a header too long to carry along
                header_end = _header_rows(child)[1]
                for piece in self.split(child, cursor, child_end, inner):
                    if piece.start < header_end:
                        piece.signature = signature  # it shows the header itself
                    elif piece.signature == inner != signature:
                        piece.header_row, piece.outer = child.start_point.row, signature
                    pieces.append(piece)
            else:
                pieces += self.by_lines(cursor, child_end, child.type, signature)
            cursor = child_end
        if cursor < end:  # trailing blank lines or comments after the last child
            if pieces and self.size(pieces[-1].start, end, signature) <= self.budget:
                pieces[-1].end = end
            else:
                pieces += self.by_lines(cursor, end, "trailing", signature)
        return pieces

    def merge(self, pieces: list[_Piece]) -> list[_Piece]:
        merged: list[_Piece] = []
        for piece in pieces:
            last = merged[-1] if merged else None
            if last is None:
                merged.append(piece)
                continue
            signature = piece.signature
            shows_header = piece.header_row is not None and last.start <= piece.header_row
            if shows_header and piece.outer == last.signature:
                signature = last.signature  # the merged chunk holds the header line itself
            if (
                signature == last.signature
                and self.size(last.start, piece.end, signature) <= self.budget
            ):
                last.end = piece.end
                last.kind = last.kind if last.kind == piece.kind else f"{last.kind}+{piece.kind}"
            else:
                merged.append(piece)
        return merged

    def finish(self, pieces: list[_Piece]) -> list[Chunk]:
        return [
            Chunk(
                p.start,
                p.end,
                p.kind,
                p.signature,
                "".join(self.lines[p.start : p.end]),
                self.size(p.start, p.end, p.signature),
            )
            for p in pieces
        ]


def chunk_text(
    text: str,
    language: str,
    counter: TokenCounter,
    budget: int,
    *,
    tree: Tree | None = None,
    tokens: LineTokens | None = None,
    lines: list[str] | None = None,
    signature_tokens: dict[str, int] | None = None,
) -> list[Chunk]:
    """Chunks of ``text`` (in ``language``), each at most ``budget`` tokens when possible.

    ``tree``, ``tokens`` (per-line counts) and ``lines`` save a parse, a tokenisation and a
    split when the caller has them: the indexer batches tokenisation over many files, and a
    live document keeps all three up to date edit by edit. Only a single line longer than
    the budget can exceed it; it is kept whole rather than cut mid-line.
    """
    if not text:
        return []
    lines = lines if lines is not None else split_lines(text)
    if tokens is None:
        (per_line,) = line_token_counts(counter, [text])
        tokens = LineTokens(per_line)
    if tree is None:
        tree = parser_for(language).parse(source_bytes(text))
    chunker = _Chunker(lines, tokens, counter, budget, signature_tokens)
    pieces = chunker.merge(chunker.split(tree.root_node, 0, len(lines), ""))
    return chunker.finish(pieces)
