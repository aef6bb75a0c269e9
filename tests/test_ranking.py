"""Ranking: the symbol graph leads to what the target depends on; BM25 to what the user said."""

import pytest

from fathom.context import ranking
from fathom.context.index import RepoIndex
from fathom.context.ranking import BM25, SymbolGraph, combined, normalise, proximity, terms
from fathom.context.repository import Repository
from fathom.context.symbols import FileSymbols


def _symbols(defs: tuple[str, ...] = (), refs: tuple[str, ...] = ()) -> FileSymbols:
    return FileSymbols([(n, "function_definition", 0) for n in defs], [(n, 0) for n in refs])


@pytest.fixture
def graph() -> SymbolGraph:
    return SymbolGraph.build(
        {
            "app/views.py": _symbols(("render_cart",), ("cart_total", "cart_total", "log")),
            "app/pricing.py": _symbols(("cart_total",), ("tax_rate", "log")),
            "app/tax.py": _symbols(("tax_rate",)),
            "app/logging.py": _symbols(("log",)),
            "app/unrelated.py": _symbols(("parse_csv",), ("log",)),
            "app/other.py": _symbols(("parse_csv",)),  # a name defined twice connects less
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
    assert terms("parseHTTPResponse_v2 x parse") == {
        "parsehttpresponse_v2": 1,
        "parse": 2,
        "http": 1,
        "response": 1,
        "v2": 1,
        "x": 1,
    }


def test_bm25_prefers_the_document_about_the_query():
    docs = [
        terms("def total(items): return sum(i.price for i in items)"),
        terms("def parse_csv(path): return open(path).read().split(',')"),
        terms("class Item: price: float; quantity: int"),
    ]
    scores = BM25(docs).scores(terms("price of items"))
    assert scores[0] == max(scores) and scores[1] == 0.0


def test_proximity_and_combination():
    assert proximity("app/a.py", "app/b.py") == 1.0  # the same folder
    assert proximity("app/sub/a.py", "app/b.py") == 0.5  # a child folder
    assert proximity("a.py", "app/b.py") == 0.5  # the parent folder
    assert proximity("lib/x/a.py", "app/b.py") == 0.25  # three folder steps away
    assert normalise([0.0, 2.0, 1.0]) == [0.0, 1.0, 0.5]
    assert combined(1.0, 1.0, 1.0) == pytest.approx(1.0)


def test_updating_one_file_relinks_only_what_its_names_touch(graph):
    before = dict(graph.edges["app/views.py"])
    # pricing.py stops defining cart_total; tax.py starts defining it.
    graph.update_file("app/pricing.py", _symbols((), ("tax_rate", "log")))
    graph.update_file("app/tax.py", _symbols(("tax_rate", "cart_total")))
    graph.change_file("app/unrelated.py", {"parse_csv"}, {"log": 0, "tax_rate": 3})
    assert "app/pricing.py" not in graph.edges["app/views.py"]
    assert graph.edges["app/views.py"]["app/tax.py"] > 0
    assert graph.edges["app/views.py"]["app/logging.py"] == before["app/logging.py"]
    assert "app/logging.py" not in graph.edges["app/unrelated.py"]
    symbols = {
        p: _symbols(tuple(graph.defs_of[p]), tuple(graph.refs_of[p].elements()))
        for p in graph.defs_of
    }
    rebuilt = SymbolGraph.build(symbols).edges  # incremental equals from scratch
    assert rebuilt.keys() == graph.edges.keys()
    for path, targets in rebuilt.items():
        assert targets == pytest.approx(graph.edges[path]), path


def test_a_name_defined_everywhere_adds_no_edges():
    files = {f"m{i}.py": _symbols(("get",)) for i in range(25)}
    files["user.py"] = _symbols((), ("get",))
    assert SymbolGraph.build(files).edges["user.py"] == {}


def test_removed_file_leaves_the_graph(graph):
    graph.remove_file("app/tax.py")
    assert "app/tax.py" not in graph.edges
    assert "app/tax.py" not in graph.edges["app/pricing.py"]
    assert "app/tax.py" not in graph.pagerank({"app/views.py": 1})


@pytest.mark.parametrize("weight", ["WEIGHT_PAGERANK", "WEIGHT_BM25", "WEIGHT_PROXIMITY"])
def test_every_weight_the_readme_names_moves_the_ranking(weight, tmp_path, counter, monkeypatch):
    """Each signal decides some order alone: what the selection calls (PageRank), what the
    instruction names (BM25), what sits beside the target (proximity). Without its weight
    that order changes, so a weight that took no part would fail here."""
    files = {
        "app/target.py": "from lib.core import compute\n\n\ndef run():\n    return compute()\n",
        "lib/core.py": "def compute():\n    return 1\n",  # called by the selection
        "app/zz_price.py": "def price_near():\n    return 2\n",  # named, and beside it
        "aa/far/price.py": "def price_far():\n    return 3\n",  # named, and far away
        "app/helper.py": "def helper():\n    return 4\n",  # only beside it
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    repository = Repository(RepoIndex(tmp_path, counter, tmp_path / "i.sqlite", tokenizer_id="t"))
    repository.refresh()

    def order() -> list[str]:
        ranks = repository.page_rank("app/target.py", {"compute"}, [])
        return [r.path for r in repository.ranked_chunks(ranks, "app/target.py", "price")]

    before = order()
    assert before == ["lib/core.py", "app/zz_price.py", "aa/far/price.py", "app/helper.py"]
    monkeypatch.setattr(ranking, weight, 0.0)
    assert order() != before
