"""Live documents: edit-by-edit upkeep gives what analysing the new text from scratch gives,
and the index being built is usable before it is finished."""

from __future__ import annotations

from pathlib import Path

import pytest

from fathom.context import LineRange, SectionKind, Workspace
from fathom.context.chunking import chunk_text
from fathom.context.index import RepoIndex
from fathom.context.languages import parser_for
from fathom.context.live import LiveDocument
from fathom.context.ranking import SymbolGraph
from fathom.context.repository import Repository
from fathom.context.symbols import extract_symbols
from fathom.context.tokens import LineTokens, line_token_counts

BUDGET = 120


def _source() -> str:
    methods = "".join(
        f"    def method_{i}(self, value):\n"
        f"        total = helper_{i % 3}(value)\n"
        f"        return total + {i}\n\n"
        for i in range(40)
    )
    helpers = "".join(f"def helper_{i}(x):\n    return x * {i}\n\n\n" for i in range(3))
    return f'"""A module."""\n\nimport os\n\n\n{helpers}class Service:\n{methods}'


RETURN_3 = "        return total + 3\n"
METHOD_5 = (
    "    def method_5(self, value):\n        total = helper_2(value)\n        return total + 5\n\n"
)
EDITS = [
    ("insert a character in a name", lambda t: t.replace("method_7", "method_7x", 1)),
    ("type it away again", lambda t: t.replace("method_7x", "method_7", 1)),
    ("break the syntax", lambda t: t.replace("    def method_20", "    xdef method_20", 1)),
    ("mend it", lambda t: t.replace("    xdef method_20", "    def method_20", 1)),
    ("add lines", lambda t: t.replace(RETURN_3, "        total += 1\n" + RETURN_3, 1)),
    ("remove a method", lambda t: t.replace(METHOD_5, "", 1)),
    ("open a string to the end", lambda t: t.replace("return total + 30", 'return "total + 30', 1)),
    ("close it", lambda t: t.replace('return "total + 30', "return total + 30", 1)),
    ("CRLF line ending", lambda t: t.replace("import os\n", "import os\r\n", 1)),
    ("edit at the very end", lambda t: t + "x = 1\n"),
    ("empty the file", lambda _t: ""),
    ("write it again", lambda _t: _source()),
]


def test_each_edit_gives_what_analysing_from_scratch_gives(counter):
    text = _source()
    live = LiveDocument(text, "python", counter, BUDGET)
    for name, edit in EDITS:
        text = edit(text)
        live.update(text)
        tree = parser_for("python").parse(text.encode())
        assert live.text == text
        assert "".join(live.lines) == text, name
        assert live.symbols == extract_symbols(tree, "python"), name
        (fresh_counts,) = line_token_counts(counter, [text])
        assert live.per_line == fresh_counts, name  # re-tokenising the changed lines suffices
        expected = chunk_text(
            text, "python", counter, BUDGET, tree=tree, tokens=LineTokens(live.per_line)
        )
        assert live.chunks == expected, name


def test_live_edits_move_the_graph_like_a_rebuild(tmp_path, counter):
    root = tmp_path / "repo"
    root.mkdir()
    (root / "service.py").write_text(_source())
    (root / "helpers.py").write_text("def helper_0(x):\n    return x\n")
    (root / "other.py").write_text("def method_7():\n    return helper_0(1)\n")
    repository = Repository(RepoIndex(root, counter, tmp_path / "i.sqlite", tokenizer_id="t"))
    repository.refresh()
    text = _source()
    for _name, edit in EDITS:
        text = edit(text)
        repository.update_document("service.py", text)
    symbols = {p: repository.symbols(p) for p in ("service.py", "helpers.py", "other.py")}
    rebuilt = SymbolGraph.build(symbols)
    for path, targets in rebuilt.edges.items():
        assert repository.graph.edges[path] == pytest.approx(targets), path
    assert repository.file_text("service.py") == text


def test_saving_a_live_document_persists_it(tmp_path, counter):
    root = tmp_path / "repo"
    root.mkdir()
    (root / "a.py").write_text("def alpha():\n    return 1\n")
    db = tmp_path / "i.sqlite"
    repository = Repository(RepoIndex(root, counter, db, tokenizer_id="t"))
    repository.refresh()
    repository.update_document("a.py", "def alpha():\n    return 2\n")
    assert repository.index.chunks_of("a.py")[0].text.endswith("return 1\n")  # not yet saved
    (root / "a.py").write_text("def alpha():\n    return 2\n")
    repository.save_document("a.py")
    again = RepoIndex(root, counter, db, tokenizer_id="t")
    assert again.chunks_of("a.py")[0].text.endswith("return 2\n")
    assert again.refresh().indexed == 0  # the saved content was already analysed


def test_a_request_during_the_first_indexing_uses_what_is_ready(tmp_path, counter):
    root = tmp_path / "repo"
    (root / "shop").mkdir(parents=True)
    (root / "shop" / "cart.py").write_text(
        "from shop.pricing import cart_total\n\n\ndef checkout(cart):\n"
        "    return cart_total(cart)\n"
    )
    (root / "shop" / "pricing.py").write_text("def cart_total(cart):\n    return 42\n")
    db = tmp_path / "i.sqlite"
    repository = Repository(RepoIndex(root, counter, db, tokenizer_id="t"))  # the server's
    workspace = Workspace(root, counter, repository=repository)
    indexer = RepoIndex(root, counter, db, tokenizer_id="t")  # the background thread's
    indexer.update_text("shop/pricing.py", (root / "shop/pricing.py").read_text(), "python")
    assert not repository.ready  # the first indexing has not finished
    pack = workspace.pack(root / "shop/cart.py", LineRange(3, 5), "add a docstring", 2000)
    kinds = {s.kind for s in pack.sections}
    assert SectionKind.REPO_MAP in kinds and SectionKind.CHUNK in kinds
    assert any(s.path == Path("shop/pricing.py") for s in pack.sections)
