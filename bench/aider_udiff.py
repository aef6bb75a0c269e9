"""Aider's udiff edit format on the edit corpus (runs in a separate venv that has aider-chat).

    python bench/aider_udiff.py [CORPUS] [--repeats N]   -> JSON lines on stdout

The first line is {"aider-chat": VERSION}; then one line per case: {"id", "state" (path ->
sha256 of what Aider leaves), "error" (Aider's error text, or null), "seconds"}.

Aider's own code does the work: ``UnifiedDiffCoder.get_edits`` (``find_diffs``) and
``UnifiedDiffCoder.apply_edits`` (``normalize_hunk``, ``do_replace``, its flexible
search-and-replace) run unchanged, bound to a stand-in coder whose I/O keeps the texts in
memory. What the stand-in does in Aider's place, as Aider 0.86.2 would on Linux:

- reading a file goes through universal newlines (``open(..., "r")``), so CRLF reaches the
  applier as LF, and a written file keeps what the applier returns (``line_endings`` defaults
  to "platform": LF);
- ``prepare_to_edit`` with ``--yes-always``: a path that does not exist is created empty
  (``touch_file``) before the hunks apply, and it stays even if they then fail;
- ``apply_edits`` writes each hunk that applies before it raises for those that did not; what it
  leaves is recorded as is.

Replies without a ```diff fence are put in one: Aider's prompt asks the model for fenced diffs,
and ``find_diffs`` reads nothing outside them (Fathom opens the fence itself, so its replies
start at the diff).

The files of each case are written to a scratch folder first (``do_replace`` asks the disk
whether a file exists); the timer covers ``get_edits`` + the file creation + ``apply_edits``.
"""

import argparse
import importlib.metadata
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "edit_corpus"))

import corpus_io


def aider_reply(reply: str) -> str:
    if "```diff" in reply:
        return reply
    return "```diff\n" + reply + ("" if reply.endswith("\n") else "\n") + "```\n"


class _IO:
    """Aider's InputOutput, in memory: ``texts`` holds workspace-relative path -> text."""

    def __init__(self, root: Path, texts: dict[str, str]):
        self.root = root
        self.texts = texts

    def key(self, full_path) -> str:
        full = Path(full_path)
        try:
            return full.relative_to(self.root).as_posix()
        except ValueError:
            return str(full)  # outside the workspace, e.g. /dev/null

    def read_text(self, filename, silent=False):
        key = self.key(filename)
        if key in self.texts:
            # open(filename, "r"): universal newlines
            return self.texts[key].replace("\r\n", "\n").replace("\r", "\n")
        try:
            with open(filename, encoding="utf-8") as handle:
                return handle.read()
        except OSError:
            return None

    def write_text(self, filename, content, max_retries=5, initial_delay=0.1):
        key = self.key(filename)
        if not key.startswith("/"):
            self.texts[key] = content  # newline=None on Linux: written as is
        # a write outside the workspace (/dev/null) goes nowhere

    def tool_output(self, *args, **kwargs): ...
    def tool_warning(self, *args, **kwargs): ...
    def tool_error(self, *args, **kwargs): ...


class _Coder:
    """Just what UnifiedDiffCoder.get_edits / apply_edits use of a Coder."""

    def __init__(self, root: Path, texts: dict[str, str], reply: str):
        from aider import utils

        self.root = str(root)
        self.io = _IO(root, texts)
        self.partial_response_content = reply
        self._safe_abs_path = utils.safe_abs_path

    def abs_root_path(self, path):
        return self._safe_abs_path(Path(self.root) / path)

    def prepare_to_edit(self, edits):
        create_missing(self, [edit[0] for edit in edits])
        return edits


def create_missing(coder, paths) -> None:
    """Coder.prepare_to_edit with --yes-always: missing files are created empty."""
    from aider import utils

    for path in dict.fromkeys(p for p in paths if p is not None):
        full = coder.abs_root_path(path)
        if not Path(full).exists() and utils.touch_file(full):
            key = coder.io.key(full)
            if not key.startswith("/"):
                coder.io.texts[key] = ""


def run_case(
    case: dict, scratch: Path, texts_out: bool = False
) -> tuple[dict[str, str], str | None, float]:
    from aider.coders.udiff_coder import UnifiedDiffCoder

    files = corpus_io.case_files(case)
    root = scratch / "ws"
    shutil.rmtree(root, ignore_errors=True)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    root = root.resolve()
    texts = dict(files)
    coder = _Coder(root, texts, aider_reply(case["reply"]))
    error = None
    started = time.perf_counter()
    try:
        edits = UnifiedDiffCoder.get_edits(coder)
        edits = coder.prepare_to_edit(edits)
        UnifiedDiffCoder.apply_edits(coder, edits)
    except Exception as exc:  # Coder.apply_updates reports any exception and moves on
        error = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - started
    state = {path: text if texts_out else corpus_io.sha(text) for path, text in texts.items()}
    return state, error, seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", nargs="?", default=str(corpus_io.CORPUS))
    parser.add_argument("--repeats", type=int, default=1, help="time each case N times (median)")
    parser.add_argument("--only", nargs="*", help="just these case ids")
    parser.add_argument("--texts", action="store_true", help="output the texts, not their sha")
    args = parser.parse_args()
    cases = corpus_io.load_corpus(args.corpus)
    if args.only:
        cases = [c for c in cases if c["id"] in args.only]
    print(json.dumps({"aider-chat": importlib.metadata.version("aider-chat")}), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        run_case(cases[0], scratch)  # warm-up: imports and first-use caches
        for case in cases:
            timings = []
            for _ in range(args.repeats):
                state, error, seconds = run_case(case, scratch, args.texts)
                timings.append(seconds)
            out = {"id": case["id"], "state": state, "error": error}
            out["seconds"] = statistics.median(timings)
            print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
