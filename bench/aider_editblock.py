"""Aider's appliers on model replies (runs in Aider's venv): search/replace, or udiff.

    /tmp/aider-venv/bin/python bench/aider_editblock.py < cases.jsonl  -> JSON lines

Each input line is {"id", "files": {path: text}, "chat": [paths added to the chat], "reply",
"format": "editblock" (default) or "udiff"}; the first output line is {"aider-chat": VERSION},
then one per case: {"id", "texts" (path -> what Aider leaves), "error" (Aider's error text, or
null)}.

Aider's own code does the work, as ``Coder.apply_updates`` calls it. Search/replace ("diff"
format): ``EditBlockCoder.get_edits`` (``find_original_update_blocks``), ``apply_edits`` as a
dry run, ``prepare_to_edit`` (with --yes-always: a missing file is created empty), then
``apply_edits`` (``do_replace`` with its whitespace and "..." tolerance, and its fallback to
the other files in the chat). Unified diffs ("udiff" format, for replies asked for as diffs):
``UnifiedDiffCoder.get_edits`` and ``apply_edits`` as bench/aider_udiff.py runs them. The
stand-in coders keep the texts in memory through bench/aider_udiff.py's ``_IO``; the files are
written to a scratch folder first, since Aider asks the disk whether a file exists.
"""

import importlib.metadata
import json
import shutil
import sys
import tempfile
from pathlib import Path

from aider_udiff import _IO, aider_reply, create_missing
from aider_udiff import _Coder as _UdiffCoder


class _Coder:
    """What EditBlockCoder.get_edits / apply_edits use of a Coder."""

    def __init__(self, root: Path, texts: dict, reply: str, chat: list):
        from aider import utils

        self.root = str(root)
        self.io = _IO(root, texts)
        self.partial_response_content = reply
        self.fence = ("```", "```")
        self.shell_commands = []
        self.chat = list(chat)
        self._safe_abs_path = utils.safe_abs_path
        self.abs_fnames = {self.abs_root_path(path) for path in self.chat}

    def abs_root_path(self, path):
        return self._safe_abs_path(Path(self.root) / path)

    def get_inchat_relative_files(self):
        return sorted(self.chat)

    def get_rel_fname(self, full_path):
        return Path(full_path).relative_to(self.root).as_posix()

    def prepare_to_edit(self, edits):
        create_missing(self, [edit[0] for edit in edits])
        return edits


def run_case(case: dict, scratch: Path) -> dict:
    from aider.coders.editblock_coder import EditBlockCoder

    root = scratch / "ws"
    shutil.rmtree(root, ignore_errors=True)
    for rel, text in case["files"].items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    root = root.resolve()
    texts = dict(case["files"])
    error = None
    try:
        if case.get("format") == "udiff":
            from aider.coders.udiff_coder import UnifiedDiffCoder

            udiff = _UdiffCoder(root, texts, aider_reply(case["reply"]))
            edits = UnifiedDiffCoder.get_edits(udiff)
            edits = udiff.prepare_to_edit(edits)
            UnifiedDiffCoder.apply_edits(udiff, edits)
        else:
            coder = _Coder(root, texts, case["reply"], case["chat"])
            edits = EditBlockCoder.get_edits(coder)
            edits = EditBlockCoder.apply_edits(coder, edits, dry_run=True)
            edits = coder.prepare_to_edit(edits)
            EditBlockCoder.apply_edits(coder, edits)
    except Exception as exc:  # Coder.apply_updates reports any exception and moves on
        error = f"{type(exc).__name__}: {exc}"
    return {"id": case["id"], "texts": texts, "error": error}


def main() -> None:
    print(json.dumps({"aider-chat": importlib.metadata.version("aider-chat")}), flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        for line in sys.stdin:
            if line.strip():
                print(json.dumps(run_case(json.loads(line), Path(scratch))), flush=True)


if __name__ == "__main__":
    main()
