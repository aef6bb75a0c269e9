"""docs/ARCHITECTURE.md and the README's layout name the rooms and modules that exist, and
nothing that does not: a newcomer's map stays true as the code moves."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOMS = ("context", "edits", "backend", "pipeline", "lsp_server", "cli")


def _modules(room: str) -> set[str]:
    return {p.name for p in (REPO / room).glob("*.py") if not p.name.startswith("__")}


def _section(doc: str, room: str) -> str:
    """The code map's section of ``room``: from its heading to the next one."""
    start = doc.index(f"### `{room}/`")
    following = doc.find("\n### ", start + 1)
    return doc[start : following if following != -1 else len(doc)]


def test_the_architecture_code_map_names_every_module_in_its_room():
    doc = (REPO / "docs" / "ARCHITECTURE.md").read_text()
    for room in ROOMS:
        named = set(re.findall(r"`([\w]+\.py)`", _section(doc, room)))
        assert named == _modules(room), (
            room,
            sorted(_modules(room) - named),
            sorted(named - _modules(room)),
        )


def test_the_readme_layout_lists_the_top_folders():
    readme = (REPO / "README.md").read_text()
    layout = readme[readme.index("## Layout") :]
    layout = layout[: layout.index("```", layout.index("```") + 3)]
    listed = set(re.findall(r"^(\w+)/ ", layout, re.M))
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    folders = {name.split("/")[0] for name in tracked if "/" in name and name[0] != "."}
    assert listed == folders, (sorted(listed - folders), sorted(folders - listed))
