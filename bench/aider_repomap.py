"""Aider's RepoMap on a tree, timed (runs inside a separate venv that has aider-chat).

    python bench/aider_repomap.py ROOT TARGET   -> prints one JSON line

Token counting is given a stand-in (len/4): Aider's own counts go through litellm/tiktoken,
which fetch encodings from the network. Everything timed here is Aider's: walking, tree-sitter
tags, its disk cache, PageRank and fitting the map.
"""

import json
import os
import shutil
import sys
import time
from pathlib import Path


class _Model:
    def token_count(self, text):
        return len(text) // 4


class _IO:
    def tool_output(self, *a, **k): ...
    def tool_warning(self, *a, **k): ...
    def tool_error(self, *a, **k): ...
    def read_text(self, path, silent=False):
        try:
            return Path(path).read_text(errors="replace")
        except OSError:
            return None


def main() -> None:
    from aider.repomap import RepoMap

    root, target = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    shutil.rmtree(root / ".aider.tags.cache.v4", ignore_errors=True)  # a cold start
    files = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        files += [str(Path(folder) / n) for n in names if n.endswith(".py")]
    out = {}
    for label in ("cold", "warm"):
        started = time.perf_counter()
        repo_map = RepoMap(map_tokens=4096, root=str(root), main_model=_Model(), io=_IO())
        text = repo_map.get_repo_map([str(target)], [f for f in files if f != str(target)])
        out[f"{label}_s"] = round(time.perf_counter() - started, 2)
        out[f"{label}_map_chars"] = len(text or "")
    out["files"] = len(files)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
