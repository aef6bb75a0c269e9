"""Workspace.pack: the target, its imports and the selection, in model tokens, within budget."""

from pathlib import Path

import pytest

from fathom.backend.tokenizer import HFTokenCounter
from fathom.context import ContextBudgetError, LineRange, SectionKind, Workspace
from fathom.context.imports import imported_files


@pytest.fixture
def workspace(sample_project: Path, tokenizer) -> Workspace:
    return Workspace(sample_project, HFTokenCounter(tokenizer))


def test_python_imports_resolve_to_workspace_files(sample_project: Path):
    report = sample_project / "shop" / "report.py"
    found = imported_files(report, report.read_text(), sample_project)
    assert found == [(sample_project / "shop" / "models.py").resolve()]


def test_typescript_relative_imports_resolve(tmp_path: Path):
    (tmp_path / "util.ts").write_text("export const x = 1;\n")
    main = tmp_path / "main.ts"
    main.write_text("import { x } from './util';\nimport React from 'react';\n")
    assert imported_files(main, main.read_text(), tmp_path) == [(tmp_path / "util.ts").resolve()]


def test_pack_orders_stable_sections_first_and_counts_real_tokens(
    workspace, tokenizer, sample_project
):
    pack = workspace.pack(sample_project / "shop/report.py", LineRange(3, 8), "edit", 4000)
    kinds = [s.kind for s in pack.sections]
    assert kinds == [SectionKind.RELATED, SectionKind.TARGET, SectionKind.SELECTION]
    assert pack.sections[0].path.as_posix() == "shop/models.py"
    for section in pack.sections:
        assert section.tokens == len(tokenizer.encode(section.text, add_special_tokens=False))
    assert "def total_value(items):" in pack.section(SectionKind.SELECTION).body
    assert pack.tokens <= pack.budget
    assert pack.omitted == ()


def test_pack_never_exceeds_a_tight_budget_and_says_what_it_left_out(workspace, sample_project):
    full = workspace.pack(sample_project / "shop/report.py", LineRange(3, 8), "edit", 4000)
    selection = full.section(SectionKind.SELECTION).tokens
    target = full.section(SectionKind.TARGET).tokens
    budget = selection + target  # no room for the imported file
    pack = workspace.pack(sample_project / "shop/report.py", LineRange(3, 8), "edit", budget)
    assert pack.tokens <= budget
    assert pack.section(SectionKind.RELATED) is None
    assert any("shop/models.py" in o for o in pack.omitted)


def test_large_target_is_cut_to_a_window_around_the_selection(workspace, sample_project):
    big = sample_project / "big.py"
    big.write_text("".join(f"def f{i}():\n    return {i}\n\n" for i in range(400)))
    pack = workspace.pack(big, LineRange(600, 602), "edit", 600)
    target = pack.section(SectionKind.TARGET)
    assert pack.tokens <= 600
    assert target.lines is not None and target.lines.start <= 600 < 602 <= target.lines.end
    assert any("only lines" in o for o in pack.omitted)


def test_selection_over_the_budget_is_a_clear_error(workspace, sample_project):
    with pytest.raises(ContextBudgetError, match="selection alone"):
        workspace.pack(sample_project / "shop/report.py", LineRange(0, 12), "edit", 10)


def test_open_editor_text_wins_over_the_disk(sample_project, tokenizer):
    report = (sample_project / "shop/report.py").resolve()
    unsaved = "def unsaved():\n    pass\n"
    workspace = Workspace(
        sample_project, HFTokenCounter(tokenizer), lambda p: unsaved if p == report else None
    )
    pack = workspace.pack(report, LineRange(0, 1), "edit", 4000)
    assert pack.section(SectionKind.TARGET).body == unsaved
