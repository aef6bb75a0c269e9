"""What an inline completion is made of besides the document: the served model's
fill-in-the-middle format, related chunks of the repository, and an engine that keeps the
secrets home. Protocol-free: the language server (lsp_server/inline_completion.py) and
``fathom complete`` (cli/complete.py) share it.

**Related chunks** are ranked as an edit's are (context/repository.py: the symbol graph from
the file, BM25 on the query, nearness of paths), with the code around the cursor as the
query: the lines of the cursor's aligned block and the one above it
(:data:`pipeline.completion.WINDOW_STEP`), the cursor's own line left out. Typing on a line
then changes no query, the same chunks come back, the prompt's head stays the same and the
engine's prefix cache holds. Another line of the same block leaves the query almost as it
was (two lines differ), yet ranked again it gave other chunks for 57 of 468 moves one line
down on Django's utils/text.py, and the engine computed the prompt again from the first chunk
that changed. So a query within :data:`NEAR_LINES` lines of the last one ranked for the file
takes that ranking (:class:`RelatedCache`): then none of those moves changed the chunks,
while 26 of 31 moves into the next block did, as before
(bench/results/completion_related_stability.md). Typing a few lines makes the query move
farther, and the ranking runs again.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections import Counter, OrderedDict
from collections.abc import AsyncGenerator, Callable, Sequence
from pathlib import Path

from fathom.backend.engine import GenerationStats
from fathom.backend.fim import NO_TOKENIZER_REASON, FimDetection, detect_fim
from fathom.context.files import IgnoreRules, name_refusal
from fathom.context.repository import Repository
from fathom.context.text import split_lines
from fathom.edits.secrets import Redactor
from fathom.pipeline.completion import WINDOW_STEP, CompletionEngine

# Chunks handed to select_related, best first: it keeps what fits the completion's small
# budget (CompletionBudget.context_tokens).
RELATED_CHUNKS = 16
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")
_CACHED_QUERIES = 32
# A query at most this many lines from the last one ranked for a file takes its ranking: a
# quarter of a query's 2 * WINDOW_STEP lines. The cursor moving within its block changes two.
NEAR_LINES = 8
# Token counts kept: a request's related chunks (RELATED_CHUNKS) and its few windows, for the
# last several requests.
_CACHED_COUNTS = 256
Related = list[tuple[str, str]]


def model_fim(engine: object) -> FimDetection:
    """The served model's fill-in-the-middle format, read from its tokenizer (never from its
    name), or None and why: an engine that cannot complete a raw prompt, no local
    tokenizer, a tokenizer without FIM tokens."""
    if not isinstance(engine, CompletionEngine):
        return FimDetection(None, "the engine cannot complete a raw prompt")
    tokenizer = getattr(engine, "tokenizer", None)
    if tokenizer is None:
        return FimDetection(None, NO_TOKENIZER_REASON)
    return detect_fim(tokenizer)


def cached_counter(count_tokens: Callable[[str], int]) -> Callable[[str], int]:
    """``count_tokens`` remembering its recent answers. Every keystroke brings the same
    related chunks back, and counting them again was the largest share of a completion's
    own time (20 counts a request, ~12 of its ~27 ms on 2 CPU cores:
    bench/completion_latency.py)."""
    return functools.lru_cache(maxsize=_CACHED_COUNTS)(count_tokens)


def completion_query(text: str, line: int) -> str:
    """The code the related chunks are ranked for: the cursor's block of lines and the one
    above, without the cursor's line (see the module's docstring)."""
    lines = split_lines(text)
    block = line // WINDOW_STEP
    start, end = max(0, (block - 1) * WINDOW_STEP), (block + 1) * WINDOW_STEP
    return "".join(lines[start:line] + lines[line + 1 : end])


def ranked_related(
    repository: Repository,
    rules: IgnoreRules | None,
    relative: str,
    query: str,
    open_files: Sequence[str] = (),
) -> Related:
    """(path, chunk text) of other files, best first, for a completion in ``relative``.
    Files the prompt rule refuses now (a .gitignore written since the index stored them)
    are left out."""
    names = set(_IDENTIFIER.findall(query))
    ranks = repository.page_rank(relative, names, open_files)
    allowed: dict[str, bool] = {}
    related: Related = []
    for item in repository.ranked_chunks(ranks, relative, query):
        if item.path not in allowed:
            allowed[item.path] = name_refusal(Path(item.path), rules) is None
        if allowed[item.path] and item.chunk.text.strip():
            related.append((item.path, item.chunk.text))
            if len(related) >= RELATED_CHUNKS:
                break
    return related


class RelatedCache:
    """Ranked chunks by (root, file, query), the most recent :data:`_CACHED_QUERIES` kept;
    a query within ``near_lines`` lines of the last one ranked for its file gets that one's
    chunks. Dropped for a root when another index of it is given."""

    def __init__(self, near_lines: int = NEAR_LINES) -> None:
        self._cache: OrderedDict[tuple[Path, str, str], Related] = OrderedDict()
        self._repositories: dict[Path, int] = {}  # root -> id() of the repository cached for
        self._last_ranked: dict[tuple[Path, str], str] = {}  # (root, file) -> its last query
        self._near_lines = near_lines

    def get(self, repository: Repository, relative: str, query: str) -> Related | None:
        root = repository.root
        if self._repositories.get(root) != id(repository):
            return None
        last = self._last_ranked.get((root, relative))
        if last is not None and query_lines_apart(query, last) <= self._near_lines:
            query = last  # the same query too: 0 lines apart
        found = self._cache.get((root, relative, query))
        if found is not None:
            self._cache.move_to_end((root, relative, query))
        return found

    def put(self, repository: Repository, relative: str, query: str, related: Related) -> None:
        root = repository.root
        if self._repositories.get(root) != id(repository):
            # Another index of this root (the engine changed): its rankings are gone.
            for key in [k for k in self._cache if k[0] == root]:
                del self._cache[key]
            self._repositories[root] = id(repository)
        self._cache[(root, relative, query)] = related
        self._last_ranked[(root, relative)] = query
        while len(self._cache) > _CACHED_QUERIES:
            self._cache.popitem(last=False)

    def get_or_rank(
        self, repository: Repository, relative: str, query: str, rank: Callable[[str], Related]
    ) -> Related:
        """The chunks cached for ``query`` (or for a near one, as :meth:`get`), else
        ``rank(query)``'s, cached. An exception from ``rank`` leaves the cache as it was."""
        found = self.get(repository, relative, query)
        if found is None:
            found = rank(query)
            self.put(repository, relative, query, found)
        return found


def query_lines_apart(one: str, other: str) -> int:
    """The lines in one query and not the other, counted both ways (a line changed counts
    twice: its old and its new text)."""
    a, b = Counter(split_lines(one)), Counter(split_lines(other))
    return (a - b).total() + (b - a).total()


def _held_back(written: str) -> int:
    """How much of ``written`` can be restored now: all of it, less a marker still being
    written at its end (``«secret-`` without its closing ``»``)."""
    opening = written.rfind("«")
    return opening if opening >= 0 and "»" not in written[opening:] else len(written)


class RedactedCompletions:
    """A :class:`pipeline.completion.CompletionEngine` whose prompts carry secret-looking
    values (edits/secrets.py) as markers, and whose text gets them back as it streams: a
    completion shows no secret to the model, as an edit does not."""

    def __init__(self, engine: CompletionEngine) -> None:
        self.engine = engine

    async def complete_stream(
        self,
        prompt: str,
        max_tokens: int,
        stop: Sequence[str],
        request_id: str,
        *,
        stop_token_ids: Sequence[int] = (),
        stats: GenerationStats | None = None,
    ) -> AsyncGenerator[str, None]:
        redactor = Redactor()
        sent = redactor.redact(prompt)
        stream = self.engine.complete_stream(
            sent, max_tokens, stop, request_id, stop_token_ids=stop_token_ids, stats=stats
        )
        written, given = "", 0
        # Closed on every way out, so the engine request stops when the consumer leaves.
        async with contextlib.aclosing(stream):
            async for piece in stream:
                if not redactor.count:
                    yield piece
                    continue
                written += piece
                restored = redactor.restore(written[: _held_back(written)])
                if len(restored) > given:
                    yield restored[given:]
                    given = len(restored)
        if redactor.count and written:
            rest = redactor.restore(written)[given:]
            if rest:
                yield rest
