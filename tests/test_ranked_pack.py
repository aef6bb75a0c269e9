"""pack() with a ready repository: map and ranked chunks first, never over budget, nothing
ignored or secret ever shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from fathom.context import LineRange, SectionKind, Workspace
from fathom.context.index import RepoIndex
from fathom.context.repository import Repository


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "shop").mkdir(parents=True)
    (root / "shop" / "cart.py").write_text(
        "from shop.pricing import cart_total\n\n\n"
        "def checkout(cart):\n    total = cart_total(cart)\n    return round(total, 2)\n"
    )
    (root / "shop" / "pricing.py").write_text(
        "from shop.tax import tax_rate\n\n\n"
        "def cart_total(cart):\n    return sum(i.price for i in cart) * (1 + tax_rate())\n"
    )
    (root / "shop" / "tax.py").write_text("def tax_rate():\n    return 0.2\n")
    for i in range(30):  # unrelated code competing for the budget
        (root / "shop" / f"misc{i}.py").write_text(
            "".join(f"def helper_{i}_{j}(value):\n    return value * {j}\n\n" for j in range(20))
        )
    # Must never reach a prompt:
    (root / ".gitignore").write_text("generated/\n")
    (root / "generated").mkdir()
    (root / "generated" / "leak.py").write_text("def cart_total_generated(): pass\n")
    (root / "shop" / "secrets.py").write_text("STRIPE_KEY = 'sk_live_cart_total'\n")
    (root / ".env").write_text("CART_TOTAL_TOKEN=abc\n")
    (root / "shop" / "blob.py").write_bytes(b"def cart_total_binary():\x00\x00" * 10)
    (root / "shop" / "huge.py").write_text("def cart_total_huge(): pass\n" * 50_000)  # 1.4 MB
    return root


@pytest.fixture
def workspace(repo: Path, counter, tmp_path: Path) -> Workspace:
    repository = Repository(RepoIndex(repo, counter, tmp_path / "i.sqlite", tokenizer_id="t"))
    repository.refresh()
    return Workspace(repo, counter, repository=repository)


def test_pack_leads_with_the_map_and_the_definitions_the_selection_uses(workspace, repo):
    pack = workspace.pack(repo / "shop/cart.py", LineRange(3, 6), "round the total", 4000)
    kinds = [s.kind for s in pack.sections]
    assert kinds[0] is SectionKind.REPO_MAP
    assert kinds[-2:] == [SectionKind.TARGET, SectionKind.SELECTION]
    assert "shop/pricing.py:" in pack.sections[0].text
    assert "def cart_total(cart):" in pack.sections[0].text
    chunks = [s for s in pack.sections if s.kind is SectionKind.CHUNK]
    assert chunks[0].path.as_posix() == "shop/pricing.py"  # what checkout() calls comes first
    assert pack.tokens <= pack.budget


@pytest.mark.parametrize("budget", [150, 300, 600, 1200, 5000])
def test_pack_never_exceeds_its_budget_and_names_what_it_left_out(workspace, repo, budget):
    pack = workspace.pack(repo / "shop/cart.py", LineRange(3, 6), "round the total", budget)
    assert pack.tokens <= budget
    for section in pack.sections:
        exact = workspace.count_tokens(section.text)
        if section.kind is SectionKind.CHUNK:  # counted from per-line counts: an upper bound
            assert exact <= section.tokens <= exact + 6
        else:
            assert section.tokens == exact
    assert workspace.count_tokens("".join(s.text for s in pack.sections)) <= budget
    if budget < 5000:
        assert pack.omitted  # 30 helper files cannot all fit


def test_ignored_secret_binary_and_huge_files_never_appear_in_a_pack(workspace, repo):
    pack = workspace.pack(repo / "shop/cart.py", LineRange(3, 6), "cart_total token key", 100_000)
    text = "".join(s.text for s in pack.sections)
    leaks = (
        "cart_total_generated",
        "sk_live",
        "CART_TOTAL_TOKEN",
        "generated/leak.py",
        "cart_total_binary",
        "cart_total_huge",
    )
    for leaked in leaks:
        assert leaked not in text


def test_pack_is_deterministic(workspace, repo):
    first = workspace.pack(repo / "shop/cart.py", LineRange(3, 6), "round the total", 2000)
    second = workspace.pack(repo / "shop/cart.py", LineRange(3, 6), "round the total", 2000)
    assert [s.text for s in first.sections] == [s.text for s in second.sections]


def test_an_edit_in_the_editor_updates_one_file_and_the_ranking(workspace, repo):
    repository = workspace.repository
    assert repository.update_document(
        "shop/tax.py", "def tax_rate():\n    return 0.2\n\n\ndef vat_rate():\n    return 0.1\n"
    )
    assert "shop/tax.py" in repository.graph.definers["vat_rate"]
    assert not repository.update_document("shop/tax.py", repository.file_text("shop/tax.py"))


def test_a_file_ignored_after_indexing_leaves_the_pack(workspace, repo):
    """The index applied the rule when it stored the chunks; a .gitignore written since still
    keeps them out of prompts (the same rule is asked again at pack time)."""
    selection = LineRange(3, 6)
    before = workspace.pack(repo / "shop" / "cart.py", selection, "Round to cents", 4000)
    assert any(s.path.as_posix() == "shop/pricing.py" for s in before.sections)
    (repo / ".gitignore").write_text("generated/\nshop/pricing.py\n")
    fresh = Workspace(repo, workspace.counter, repository=workspace.repository)
    after = fresh.pack(repo / "shop" / "cart.py", selection, "Round to cents", 4000)
    assert not any(s.path.as_posix() == "shop/pricing.py" for s in after.sections)
    assert "pricing.py" not in "".join(s.text for s in after.sections)
