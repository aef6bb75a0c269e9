"""Ranking: the symbol graph leads to what the target depends on; BM25 to what the user said."""

import pytest

from context.ranking import BM25, SymbolGraph, combined, normalise, proximity, terms
from context.symbols import Symbol


def _defs(*names: str) -> list[Symbol]:
    return [Symbol(n, "function_definition", 0, True) for n in names]


def _refs(*names: str) -> list[Symbol]:
    return [Symbol(n, "ref", 0, False) for n in names]


@pytest.fixture
def graph() -> SymbolGraph:
    return SymbolGraph.build(
        {
            "app/views.py": _defs("render_cart") + _refs("cart_total", "cart_total", "log"),
            "app/pricing.py": _defs("cart_total") + _refs("tax_rate", "log"),
            "app/tax.py": _defs("tax_rate"),
            "app/logging.py": _defs("log"),
            "app/unrelated.py": _defs("parse_csv") + _refs("log"),
            "app/other.py": _defs("parse_csv"),  # a name defined twice connects less
        }
    )


def test_pagerank_from_the_target_reaches_its_dependencies_first(graph):
    rank = graph.pagerank(graph.restart_weights("app/views.py", [], []))
    order = sorted(rank, key=rank.get, reverse=True)
    assert order[0] == "app/views.py"
    assert order.index("app/pricing.py") < order.index("app/unrelated.py")
    assert order.index("app/tax.py") < order.index("app/unrelated.py")  # two hops away
    assert rank["app/other.py"] < rank["app/pricing.py"]


def test_selection_identifiers_and_open_files_personalise_the_walk(graph):
    plain = graph.pagerank(graph.restart_weights("app/views.py", [], []))
    asked = graph.pagerank(graph.restart_weights("app/views.py", ["parse_csv"], ["app/tax.py"]))
    assert asked["app/unrelated.py"] > plain["app/unrelated.py"]
    assert asked["app/tax.py"] > plain["app/tax.py"]


def test_pagerank_sums_to_one(graph):
    rank = graph.pagerank(graph.restart_weights("app/tax.py", [], []))
    assert sum(rank.values()) == pytest.approx(1.0, abs=1e-6)


def test_terms_split_identifiers():
    assert terms("parseHTTPResponse_v2 x") == [
        "parsehttpresponse_v2",
        "parse",
        "http",
        "response",
        "v2",
        "x",
    ]


def test_bm25_prefers_the_document_about_the_query():
    docs = [terms("def total(items): return sum(i.price for i in items)"),
            terms("def parse_csv(path): return open(path).read().split(',')"),
            terms("class Item: price: float; quantity: int")]  # fmt: skip
    scores = BM25(docs).scores(terms("price of items"))
    assert scores[0] == max(scores) and scores[1] == 0.0


def test_proximity_and_combination():
    assert proximity(10, 20, 15) == 1.0
    assert proximity(100, 120, 15) < proximity(30, 40, 15) < 1.0
    assert normalise([0.0, 2.0, 1.0]) == [0.0, 1.0, 0.5]
    assert combined(1.0, 1.0, 1.0) == pytest.approx(1.0)


def test_updating_one_file_relinks_only_what_its_names_touch(graph):
    before = dict(graph.edges["app/views.py"])
    # pricing.py stops defining cart_total; tax.py starts defining it.
    graph.update_file("app/pricing.py", _refs("tax_rate", "log"))
    graph.update_file("app/tax.py", _defs("tax_rate", "cart_total"))
    assert "app/pricing.py" not in graph.edges["app/views.py"]
    assert graph.edges["app/views.py"]["app/tax.py"] > 0
    assert graph.edges["app/views.py"]["app/logging.py"] == before["app/logging.py"]
    symbols = {
        p: _defs(*graph.defs_of[p]) + _refs(*graph.refs_of[p].elements()) for p in graph.defs_of
    }
    assert SymbolGraph.build(symbols).edges == graph.edges  # incremental equals from scratch


def test_removed_file_leaves_the_graph(graph):
    graph.remove_file("app/tax.py")
    assert "app/tax.py" not in graph.edges
    assert "app/tax.py" not in graph.edges["app/pricing.py"]
    assert "app/tax.py" not in graph.pagerank({"app/views.py": 1})
