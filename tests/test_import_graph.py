"""The product's import graph (grimp reads every import statement of package ``fathom``,
function-local ones included): no module imports itself back through others, and the rooms
import only downwards.

    cli  ->  lsp_server  ->  pipeline  ->  context, edits, backend

A cycle counts imports that run: one under ``if TYPE_CHECKING:`` is for the type checker
alone (a feature naming FathomServer, lsp_server/app.py). The arrows between rooms count
those too: a lower room must not even name a higher one's types.
"""

from __future__ import annotations

import functools

import grimp
import pytest

LOWER = ("fathom.context", "fathom.edits", "fathom.backend")
UPPER = ("fathom.lsp_server", "fathom.pipeline", "fathom.cli")
# Each room, and a room above it that it must never import.
NEVER_IMPORTS = [
    *((low, high) for low in LOWER for high in UPPER),
    ("fathom.pipeline", "fathom.lsp_server"),
    ("fathom.pipeline", "fathom.cli"),
    ("fathom.lsp_server", "fathom.cli"),
]


def _build(*, typing_imports: bool) -> grimp.ImportGraph:
    # cache_dir=None: grimp would otherwise write .grimp_cache into the working directory.
    return grimp.build_graph(
        "fathom", exclude_type_checking_imports=not typing_imports, cache_dir=None
    )


_graph = functools.cache(_build)  # read-only uses share one graph per kind


def cycles(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    """One shortest cycle through each import that is part of one, each cycle once."""
    found: dict[frozenset[str], tuple[str, ...]] = {}
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                cycle = (importer, *back)  # ends where it starts
                found.setdefault(frozenset(cycle), cycle)
    return sorted(found.values())


def test_no_module_imports_itself_back():
    found = cycles(_graph(typing_imports=False))
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_the_cycle_finder_names_a_cycle():
    # The finder itself, on a graph with one cycle added: an empty answer above means none.
    graph = _build(typing_imports=False)  # its own: the change must not leak into the others
    graph.add_import(importer="fathom.edits.errors", imported="fathom.edits.plan")
    found = cycles(graph)
    assert found and all(c[0] == c[-1] for c in found)
    assert any("fathom.edits.errors" in c and "fathom.edits.plan" in c for c in found)


def test_the_graph_holds_every_room():
    modules = _graph(typing_imports=True).modules
    for room in ("backend", "context", "edits", "pipeline", "lsp_server", "cli"):
        assert f"fathom.{room}" in modules
    assert "fathom.lsp_server.server" in modules and "fathom.pipeline.edit_flow" in modules


@pytest.mark.parametrize(("low", "high"), NEVER_IMPORTS)
def test_rooms_import_only_downwards(low: str, high: str):
    graph = _graph(typing_imports=True)
    chains = graph.find_shortest_chains(importer=low, imported=high, as_packages=True)
    assert not chains, f"{low} imports {high}:\n" + "\n".join(" -> ".join(c) for c in chains)
