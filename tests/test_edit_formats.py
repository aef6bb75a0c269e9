"""Each edit format asks for its own shape, lets other shown files change, and the default
follows the model's size."""

from __future__ import annotations

from pathlib import Path

from fathom.context.pack import ContextPack, LineRange, Section, SectionKind
from fathom.edits.formats import EditFormat, choose_format, default_format
from fathom.edits.prompt import diff_prefix, edit_request


def _pack() -> ContextPack:
    related = Section(
        SectionKind.RELATED, Path("use.py"), "use.py\n```\nbill()\n```", 9, body="bill()"
    )
    selection = Section(
        SectionKind.SELECTION,
        Path("cart.py"),
        "def total(items):",
        6,
        body="def total(items):",
        lines=LineRange(0, 1),
    )
    return ContextPack(sections=(related, selection), budget=1000, omitted=())


def test_the_default_follows_the_model():
    assert default_format(896, is_moe=False) is EditFormat.WHOLE_BLOCK  # Qwen2.5-Coder-0.5B
    assert default_format(1536, is_moe=False) is EditFormat.WHOLE_BLOCK  # 1.5B
    assert default_format(None, is_moe=False) is EditFormat.WHOLE_BLOCK  # unknown: safe shape
    assert default_format(3584, is_moe=False) is EditFormat.SEARCH_REPLACE  # 7B
    assert default_format(2048, is_moe=True) is EditFormat.SEARCH_REPLACE  # Qwen3-Coder-30B-A3B
    assert choose_format("udiff", 896, is_moe=False) is EditFormat.UDIFF
    assert choose_format("auto", 7168, is_moe=True) is EditFormat.SEARCH_REPLACE


def test_whole_blocks_are_begun_for_the_model_and_others_are_not():
    small = edit_request(_pack(), "add tax", 256)
    assert small.assistant_prefix == diff_prefix("cart.py") and small.stop
    for fmt in (EditFormat.SEARCH_REPLACE, EditFormat.UDIFF):
        big = edit_request(_pack(), "add tax", 256, fmt)
        assert big.assistant_prefix == "" and not big.stop


def test_every_format_lets_the_model_change_other_shown_files():
    for fmt, shape in (
        (EditFormat.WHOLE_BLOCK, "unified diff"),
        (EditFormat.SEARCH_REPLACE, "SEARCH/REPLACE"),
        (EditFormat.UDIFF, "unified diff"),
    ):
        system, user = edit_request(_pack(), "add tax", 256, fmt).messages
        assert shape in system.content and shape in user.content
        assert "must change with" in user.content
        assert "bill()" in user.content  # the other file is shown


class _Engine:
    def __init__(self, model_name: str) -> None:
        self.model_name = model_name


def test_auto_reads_the_served_models_config(tmp_path):
    import json

    from fathom.pipeline.edit_flow import engine_edit_format

    def model(name: str, config: dict) -> str:
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(json.dumps(config))
        return str(tmp_path / name)

    small = model("small", {"model_type": "qwen2", "hidden_size": 896})
    dense = model("dense", {"model_type": "qwen2", "hidden_size": 3584})
    moe = model("moe", {"model_type": "qwen3_moe", "hidden_size": 2048, "num_experts": 128})
    assert engine_edit_format(_Engine(small)) is EditFormat.WHOLE_BLOCK
    assert engine_edit_format(_Engine(dense)) is EditFormat.SEARCH_REPLACE
    assert engine_edit_format(_Engine(moe)) is EditFormat.SEARCH_REPLACE
    # A remote model's folder is not here: whole blocks, which every model can write.
    assert engine_edit_format(_Engine("deepseek-ai/DeepSeek-V3")) is EditFormat.WHOLE_BLOCK
    assert engine_edit_format(_Engine(small), "udiff") is EditFormat.UDIFF


def test_the_edit_format_is_a_setting_checked_like_the_others():
    from fathom.lsp_server.config import FathomConfig, merge

    config, problems = merge(FathomConfig(), {"editFormat": "search-replace"}, "settings")
    assert config.edit_format == "search-replace" and problems == []
    config, problems = merge(config, {"editFormat": "patch"}, "settings")
    assert config.edit_format == "search-replace"
    assert problems and "fathom.editFormat must be one of auto, whole-block" in problems[0]
