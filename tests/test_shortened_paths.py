"""A reply that shortens a shown file's path ("money.py" for shop/money.py, as the 1.5B did on
py-price-currency of the edit suite) edits the one shown file it can only mean, recorded as a
repair; an ambiguous or additions-only one is not guessed at."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

import pytest

from fathom.cli.main import main
from fathom.edits.errors import EditError
from fathom.edits.plan import DocumentSnapshot, PlanBuilder
from fathom.edits.search_replace import parse_search_replace
from fathom.edits.shortened_path import shown_path_meant
from tests.openai_stub import CHAT
from tests.test_cli_apply import fathom

MONEY = 'def format_price(cents: int) -> str:\n    return f"${cents / 100:.2f}"\n'
# The 1.5B's reply, cut to its one block.
REPLY = """money.py
```python
<<<<<<< SEARCH
def format_price(cents: int) -> str:
    return f"${cents / 100:.2f}"
=======
def format_price(cents: int, currency: str) -> str:
    return f"{currency}{cents / 100:.2f}"
>>>>>>> REPLACE
```
"""


def _builder(root: Path, shown: list[str]) -> PlanBuilder:
    def snapshot(path: Path) -> DocumentSnapshot:
        return DocumentSnapshot(path, path.read_text(), 1)

    return PlanBuilder(root, snapshot, Path.is_file, shown=shown)


def test_the_path_meant_ends_with_every_component_named():
    shown = [PurePosixPath("shop/money.py"), PurePosixPath("shop/invoice.py")]
    assert shown_path_meant("money.py", shown) == "shop/money.py"
    assert shown_path_meant("shop/money.py", shown) is None  # in full: simply missing
    assert shown_path_meant("oney.py", shown) is None  # components, not characters
    assert shown_path_meant("money.py", [*shown, PurePosixPath("old/money.py")]) is None


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "money.py").write_text(MONEY)
    (tmp_path / "shop" / "invoice.py").write_text("from shop.money import format_price\n")
    return tmp_path


def test_a_shortened_path_edits_the_one_shown_file_it_means(shop: Path):
    builder = _builder(shop, ["shop/money.py", "shop/invoice.py"])
    assert builder.add(parse_search_replace(REPLY)) == []
    (changed,) = builder.plan().files
    assert changed.snapshot.path == shop / "shop" / "money.py"
    assert "{currency}" in changed.new_text()
    assert builder.repairs == ["the reply names money.py: taken as shop/money.py, the shown file"]


def test_two_shown_files_it_could_mean_are_not_guessed_at(shop: Path):
    (shop / "admin").mkdir()
    (shop / "admin" / "money.py").write_text(MONEY)
    builder = _builder(shop, ["shop/money.py", "admin/money.py"])
    (failure,) = builder.add(parse_search_replace(REPLY))
    assert "money.py does not exist" in failure.reason
    with pytest.raises(EditError):
        builder.plan()


def test_a_file_it_only_adds_to_is_created_not_mapped(shop: Path):
    creating = "money.py\n<<<<<<< SEARCH\n=======\nRATE = 1\n>>>>>>> REPLACE\n"
    builder = _builder(shop, ["shop/money.py"])
    assert builder.add(parse_search_replace(creating)) == []
    (created,) = builder.plan().creates
    assert created.path == shop / "money.py"
    assert builder.repairs == []


def test_fathom_edit_applies_the_recorded_reply_to_the_selected_file(
    shop: Path, stub, tokenizer_dir: Path, capsys
):
    (shop / ".git").mkdir()
    stub.replay([REPLY])
    code = main(
        [
            "edit",
            str(shop / "shop" / "money.py"),
            "--range",
            "1:2",
            "--instruction",
            "take the currency symbol as a parameter",
            "--edit-format",
            "search-replace",
            "--json",
            "--apply",
            *stub.serve_args(tokenizer_dir),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert len(stub.requests(CHAT)) == 1
    assert "{currency}" in (shop / "shop" / "money.py").read_text()
    assert any("taken as shop/money.py" in r for r in json.loads(out)["repairs"])


def test_fathom_apply_reads_it_as_the_file_named_by_file(shop: Path):
    (shop / ".git").mkdir()
    done = fathom("apply", "--file", "shop/money.py", stdin=REPLY, cwd=shop)
    assert done.returncode == 0, done.stderr
    assert "{currency}" in (shop / "shop" / "money.py").read_text()
    refused = fathom("apply", stdin=REPLY.replace("{currency}", "{currency}!"), cwd=shop)
    assert refused.returncode == 1 and "money.py does not exist" in refused.stderr
