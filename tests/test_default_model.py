"""The packaged default model: verified before use; a missing or corrupt one says what to do."""

import json
from pathlib import Path

import pytest

from backend.default_model import (
    MARKER,
    QWEN_CODER_05B,
    PackagedGguf,
    assemble_gguf,
    ensure_default_model,
    part_paths,
)
from backend.engine import ModelUnavailableError


def test_default_model_folder_is_complete(model_dir: Path):
    assert json.loads((model_dir / MARKER).read_text())["sha256"] == QWEN_CODER_05B.sha256
    config = json.loads((model_dir / "config.json").read_text())
    assert config["architectures"] == ["Qwen2ForCausalLM"]
    assert "quantization_config" not in config  # vLLM refuses a dangling "gguf" method
    assert (model_dir / "model.safetensors").stat().st_size > 500_000_000
    assert (model_dir / "chat_template.jinja").is_file() or "chat_template" in (
        model_dir / "tokenizer_config.json"
    ).read_text()


def test_corrupt_parts_are_refused_with_a_reinstall_hint(tmp_path: Path):
    parts = []
    for i in range(2):
        part = tmp_path / f"part{i}"
        part.write_bytes(b"not the model" * 10)
        parts.append(part)
    fake = PackagedGguf("fake", ("a", "b"), 260, QWEN_CODER_05B.sha256, "pip install x")
    dest = tmp_path / "fake.gguf"
    with pytest.raises(ModelUnavailableError, match=r"corrupt.*Reinstall them"):
        assemble_gguf(fake, parts, dest)
    assert not dest.exists()  # nothing half-made is left for a later run to trust


def test_missing_weight_packages_say_how_to_install_them(tmp_path: Path):
    missing = PackagedGguf(
        "nope", ("fathom_no_such_part",), 1, "0" * 64, "pip install 'fathom-lsp[model]'"
    )
    with pytest.raises(ModelUnavailableError, match=r"not installed.*fathom-lsp\[model\]"):
        part_paths(missing)
    with pytest.raises(ModelUnavailableError):
        ensure_default_model(missing, root=tmp_path)


def test_damaged_marker_is_not_trusted(tmp_path: Path):
    fake = PackagedGguf("nope", ("fathom_no_such_part",), 1, "0" * 64, "hint")
    folder = tmp_path / "models" / f"nope-{'0' * 12}"
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("{broken")
    with pytest.raises(ModelUnavailableError):  # it tries to rebuild, and the parts are missing
        ensure_default_model(fake, root=tmp_path)
