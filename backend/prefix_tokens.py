r"""Token ids of a prompt that shares a long prefix with a recent one, without re-encoding it.

Consecutive chat prompts share a long stable prefix (system message, repository map, related
files: up to ~120K tokens). :class:`PrefixTokenCache` keeps the last few encoded texts with
their ids and token offsets; a new text reuses the ids of its longest common prefix with one
of them, up to a safe cut, and encodes only the rest. The ids are identical to encoding the
whole text; where that cannot be argued for the tokenizer at hand
(``tokenizer_reuse.why_not_reusable``), it encodes the whole text.

Measured on the development machine (2 CPU cores, shared), Qwen2.5-Coder's tokenizer, a
prompt of 128K chars / ~31K tokens (the repository's own sources) whose last ~2,100 chars
(~500 tokens) change from call to call; medians of 58 calls, over 3 runs:

    full encode (``HFTokenCounter.ids`` before)           57-62 ms
    prefix reused (~2.5K chars encoded, lists joined)      3.3-3.4 ms
    no usable entry (full encode + offsets kept)          66 ms (6-10 ms for the offsets)
    construction, once (self-check)                       13-33 ms

Where is a cut safe? ``ids(text)`` cuts at ``s`` where ``text[s-1] == "\n"``, ``text[s]`` is
not whitespace, ``s`` lies at least ``margin`` chars before the end of the common prefix with
a cached text ``old``, and ``old``'s encoding has a token starting at ``s`` (the token before
it ending by ``s``). It returns ``old_ids[:k] + encode(text[s:])``. HF tokenizers run
added-token extraction, normalizer, pre-tokenizer, model, post-processor:

* Added tokens (Aho-Corasick, leftmost-longest) are matched alike in ``old`` and ``text``
  before ``s``: a decision at position p reads at most the longest added token ahead, which
  the margin keeps inside the common prefix. One straddling ``s`` in ``text`` would straddle
  it in ``old`` too, and then no token of ``old`` would start at ``s``. From ``s`` on the scan
  is a fresh one, as on ``text[s:]``. Added tokens with lstrip / rstrip / single_word look
  at their neighbours: if there are any, reuse is off.
* Normalizer: none, or NFC. NFC is local at a newline: "\n" is a starter (ccc 0) that
  composes with nothing, so no reordering or composition crosses it.
* Pre-tokenizer: ``Split`` by one of the known regexes below (Isolated), ``Digits``, and
  ``ByteLevel`` without a prefix space (with ``use_regex`` it splits by the GPT-2 regex):

    GPT-2    's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
    Qwen2    (?i:'s|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+
             |\s+(?!\S)|\s+            (Llama-3: \p{N}{1,3}; o200k: cased letter classes)
    DeepSeek-V3  \p{N}{1,3}, then [CJK]+, then [punct][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?
             [\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+

  No alternative matches a newline followed by a non-space char: an optional leading char
  is a space or excludes \r\n, ``[\r\n]*`` only ends a match, the rest is whitespace only
  (or digits, CJK: never a newline). The last regex of each matches any whitespace, so the
  newline at ``s-1`` lies in a match, which cannot go on into ``text[s]``: it ends at ``s``,
  and ``s`` is a pre-token boundary (gaps of the earlier DeepSeek stages only add
  boundaries). The regexes have no lookbehind or anchors, so the pre-tokens from ``s`` on are
  those of ``text[s:]``. Their only lookahead, ``(?!\S)``, reads one char, ``text[s]``, the
  same in ``old``: the pre-tokens before ``s`` are the same in ``old`` and ``text``. (On its
  own the head could differ: GPT-2 splits "  \n" at the very end of a text unlike before a
  letter. So it is taken from ``old``'s encoding, never encoded alone.)
* BPE merges never cross pre-tokens: the tokens before ``s`` are ``old``'s and those from
  ``s`` on are ``encode(text[s:])``'s. Post-processors add nothing without special tokens;
  ByteLevel/Roberta ones trim offsets of leading spaces only (``text[s-1]`` is a newline).

Reuse is off unless all of this holds: a BPE model without dropout, normalizer None or NFC, a
ByteLevel pre-tokenizer (no prefix space), alone or in a Sequence with known Split regexes and
Digits, known post-processors, no stripping added tokens, no truncation or padding. Metaspace
(SentencePiece) prepends "▁" to the text: off. As a last guard a self-check at construction
encodes a few hundred probe texts (newlines before letters, digits, punctuation, CJK, emoji,
combining marks, the tokenizer's own added tokens...) whole and cut, and turns reuse off if
any differs.
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_left
from dataclasses import dataclass
from typing import Any

from fathom.backend.tokenizer_reuse import why_not_reusable


@dataclass
class PrefixTokenStats:
    calls: int = 0
    hits: int = 0  # calls that reused a cached prefix
    chars_reused: int = 0
    tokens_reused: int = 0
    chars_encoded: int = 0  # chars the tokenizer actually encoded


@dataclass(frozen=True)
class _Entry:
    text: str
    ids: array  # array('i')
    starts: array  # char offset where each token starts
    ends: array  # char offset where each token ends


def common_prefix_length(a: str, b: str) -> int:
    """Length of the longest common prefix, by bisection on slice equality (memcmp speed):
    each step compares only the half not yet known equal, so ~2n chars are copied in all."""
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    lo, hi = 0, n  # a[:lo] == b[:lo]; the first difference is in [lo, hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid
    return lo


class PrefixTokenCache:
    """``ids(text)``, identical to ``tokenizer.encode(text, add_special_tokens=False).ids``,
    reusing the ids of a recent text's long common prefix. Thread-safe."""

    def __init__(
        self,
        tokenizer: Any,
        *,
        entries: int = 4,
        min_common_chars: int = 2000,
        margin_chars: int = 256,
        max_cut_tries: int = 64,
    ) -> None:
        # A transformers fast tokenizer or a tokenizers.Tokenizer.
        self.tokenizer = getattr(tokenizer, "backend_tokenizer", tokenizer)
        self.entries = entries
        self.min_common_chars = min_common_chars
        self.max_cut_tries = max_cut_tries
        self.stats = PrefixTokenStats()
        self._entries: list[_Entry] = []  # most recently used first
        self._lock = threading.Lock()
        self._margin_chars = margin_chars
        self.margin = margin_chars
        self.not_reusable: str | None = None
        self._state: tuple[Any, ...] = ()
        self._review(self._tokenizer_state())

    def _tokenizer_state(self) -> tuple[Any, ...]:
        """What can change on a live tokenizer and change its output (<1 us to read)."""
        tok = self.tokenizer
        return (
            tok.encode_special_tokens,
            tok.get_vocab_size(with_added_tokens=True),
            tok.truncation,
            tok.padding,
        )

    def _review(self, state: tuple[Any, ...]) -> None:
        """Decide on reuse for the tokenizer as it is now; forget what was kept."""
        tok = self.tokenizer
        added = tok.get_added_tokens_decoder().values()
        longest_added = max((len(t.content) for t in added), default=0)
        # Lookahead of the regexes is one char, of added-token matching the longest one.
        self.margin = max(self._margin_chars, 64, 2 * longest_added + 1)
        if tok.truncation is not None or tok.padding is not None:
            self.not_reusable = "truncation or padding is on"
        else:
            self.not_reusable = why_not_reusable(tok) or self._self_check()
        self._entries = []
        self._state = state

    @property
    def reusable(self) -> bool:
        return self.not_reusable is None

    def _encode(self, text: str) -> Any:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def ids(self, text: str) -> list[int]:
        """``tokenizer.encode(text, add_special_tokens=False).ids``."""
        state = self._tokenizer_state()
        with self._lock:
            # Truncation switched on by transformers (``truncation=True``), tokens added...:
            # decide again, with nothing kept from before.
            if state != self._state:
                self._review(state)
            reuse = self.reusable and len(text) >= self.min_common_chars
            if not reuse:
                self.stats.calls += 1
                self.stats.chars_encoded += len(text)
            entries = list(self._entries)  # immutable entries: read them without the lock
        if not reuse:
            return self._encode(text).ids

        best, common = None, 0
        for entry in entries:
            d = common_prefix_length(text, entry.text)
            if d > common:
                best, common = entry, d
        cut = self._cut(text, best, common) if best is not None else None

        if cut is None:
            encoding = self._encode(text)
            ids = encoding.ids
            offsets = encoding.offsets
            entry = _Entry(
                text,
                array("i", ids),
                array("i", [o[0] for o in offsets]),
                array("i", [o[1] for o in offsets]),
            )
            reused_chars = reused_tokens = 0
        else:
            assert best is not None
            s, k = cut
            tail = self._encode(text[s:])
            offsets = tail.offsets
            head_ids = best.ids[:k]
            entry = _Entry(
                text,
                head_ids + array("i", tail.ids),
                best.starts[:k] + array("i", [o[0] + s for o in offsets]),
                best.ends[:k] + array("i", [o[1] + s for o in offsets]),
            )
            ids = head_ids.tolist() + tail.ids
            reused_chars, reused_tokens = s, k

        with self._lock:
            self.stats.calls += 1
            self.stats.chars_encoded += len(text) - reused_chars
            if reused_tokens:
                self.stats.hits += 1
                self.stats.chars_reused += reused_chars
                self.stats.tokens_reused += reused_tokens
            if self._state != state:
                return ids  # the tokenizer changed meanwhile: keep nothing made before
            self._entries = [e for e in self._entries if e.text != text and e is not best]
            if best is not None and best.text != text:
                self._entries.insert(0, best)  # the base stays: a retry shares it too
            self._entries.insert(0, entry)
            del self._entries[self.entries :]
        return ids

    def _cut(self, text: str, entry: _Entry, common: int) -> tuple[int, int] | None:
        """(s, k): cut ``text`` at char ``s``, where token ``k`` of ``entry`` starts; or None.

        ``s`` is the last position at most ``common - margin`` after a newline and before a
        non-space char (indented code has few: the search goes back as far as it must)."""
        if common < self.min_common_chars:
            return None
        if common == len(text) == len(entry.text) and len(entry.ids):
            return common, len(entry.ids)  # the same text again
        limit = common - self.margin  # s <= limit
        misses = 0
        while limit > 0 and misses < self.max_cut_tries:
            newline = text.rfind("\n", 0, limit)
            if newline < 0:
                return None
            s = newline + 1
            limit = newline  # the next try: an earlier newline
            if text[s].isspace():  # s < common <= len(text)
                continue
            k = bisect_left(entry.starts, s)
            if 0 < k < len(entry.starts) and entry.starts[k] == s and entry.ends[k - 1] <= s:
                return s, k
            misses += 1  # not expected (an added token holding "\n"?): give up soon
        return None

    def _self_check(self) -> str | None:
        """Encode probe texts whole and cut after their newline: a reason if any differs."""
        added = sorted(self.tokenizer.get_added_tokens_decoder().items())
        specials = [t.content for _i, t in added[:4] if t.content.strip()]
        heads = ["x = 1", "    return f(a, b)  ", "a\t", "# note:", "é", "你好", "😀", "'", "-"]
        heads += [*specials[:2], ""]
        separators = ["\n", "\r\n", "\n\n", " \n", "\t\n", "\n \n", "\n\r\n", ":\n", "\n\t\n"]
        tails = [
            "foo bar",
            "Foo",
            "123456",
            "'s x",
            "'re",
            "_x",
            "#x",
            "@decorator",
            "(x)",
            '"str"',
            "/path",
            "$x",
            "\\n",
            "{",
            ".x",
            "…",
            "\u0301a",
            "e\u0301",
            "\uff46\uff55\uff4c\uff4c",  # fullwidth "full"
            "你好世界",
            "こんにちは",
            "😀😀",
            "\x00x",
            "\u200bx",
            "-1",
            "«x»",
            "\ufeffx",
            "\u00adx",
            "٣٤",
            "ǅx",
            "ß",
            *specials,
        ]
        probes = []
        for i, head in enumerate(heads):
            for j, sep in enumerate(separators):
                for m in range(3):
                    probes.append((head + sep, tails[(i * 7 + j * 3 + m) % len(tails)]))
        for i, tail in enumerate(tails):
            for m in range(3):
                head = heads[(i + m) % len(heads)]
                probes.append((head + separators[(i + 2 * m) % len(separators)], tail))
        heads_seen: dict[str, list[int]] = {}
        for head, tail in probes:
            whole = self._encode(head + tail + " \n  x\n")
            s = len(head)
            k = bisect_left([o[0] for o in whole.offsets], s)
            expected = self._encode(tail + " \n  x\n").ids
            if whole.ids[k:] != expected or whole.offsets[k][0] != s:
                return f"self-check: cutting {head + tail!r} at {s} changes its tokens"
            if heads_seen.setdefault(head, whole.ids[:k]) != whole.ids[:k]:
                return f"self-check: the tokens of {head!r} depend on what follows it"
        return None
