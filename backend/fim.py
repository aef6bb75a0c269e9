"""The served model's fill-in-the-middle format, read from its tokenizer's special tokens.

Never guessed from the model's name: a format counts only when every token it needs is one
added (special) token of the tokenizer, a single id, so the prompt Fathom writes is the one
the model was trained on. Three families are known:

* Qwen2.5-Coder: ``<|fim_prefix|>``, ``<|fim_suffix|>``, ``<|fim_middle|>``, ``<|fim_pad|>``
  and repository-level ``<|repo_name|>`` / ``<|file_sep|>``.
* DeepSeek-Coder (V1, V2, V3): ``fim▁begin``, ``fim▁hole``, ``fim▁end`` between full-width
  bars (U+FF5C, not "|"; "▁" is U+2581), as its tokenizer writes them; no file tokens, so
  related files are shown under a path comment, as its repository-level examples do.
* StarCoder: ``<fim_prefix>``, ``<fim_suffix>``, ``<fim_middle>``; StarCoder2's
  ``<repo_name>`` / ``<file_sep>`` (the current file's path goes after ``<fim_prefix>``, as in
  its training data), StarCoder1's ``<filename>``.

All three are prefix-suffix-middle: the related files and the current file's path come
first and change rarely, then the text before the cursor, which only grows as the user
types, so consecutive requests share the longest possible prompt prefix (the engine's
prefix cache).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Literal

Family = Literal["qwen", "deepseek", "starcoder"]

NO_FIM_REASON = "the model's tokenizer has no fill-in-the-middle tokens"
NO_TOKENIZER_REASON = (
    "the model's tokenizer is not available locally, so its fill-in-the-middle tokens "
    "cannot be read"
)


@dataclass(frozen=True, slots=True)
class _Known:
    family: Family
    prefix: str
    suffix: str
    middle: str
    # Optional tokens: used when the tokenizer has them.
    pad: str | None = None
    repo_name: str | None = None
    file_sep: str | None = None
    filename: str | None = None
    # Ends of a document besides the tokenizer's own eos token.
    ends: tuple[str, ...] = ()


def _deepseek(name: str) -> str:
    """A DeepSeek special token: ``name`` between full-width vertical bars (U+FF5C)."""
    return f"<\uff5c{name}\uff5c>"


_KNOWN = (
    _Known(
        "qwen",
        "<|fim_prefix|>",
        "<|fim_suffix|>",
        "<|fim_middle|>",
        pad="<|fim_pad|>",
        repo_name="<|repo_name|>",
        file_sep="<|file_sep|>",
        ends=("<|endoftext|>",),
    ),
    _Known(
        "deepseek",
        _deepseek("fim▁begin"),
        _deepseek("fim▁hole"),
        _deepseek("fim▁end"),
        ends=(_deepseek("end▁of▁sentence"), "<|EOT|>"),
    ),
    _Known(
        "starcoder",
        "<fim_prefix>",
        "<fim_suffix>",
        "<fim_middle>",
        pad="<fim_pad>",
        repo_name="<repo_name>",
        file_sep="<file_sep>",
        filename="<filename>",
        ends=("<|endoftext|>",),
    ),
)

# Line-comment openers for the path header of a related file in formats without file tokens.
_HASH_COMMENT = {".py", ".pyi", ".rb", ".sh", ".bash", ".pl", ".r", ".toml", ".yaml", ".yml"}
_DASH_COMMENT = {".lua", ".sql", ".hs"}


def _comment_header(path: str) -> str:
    suffix = PurePosixPath(path).suffix.lower()
    opener = "#" if suffix in _HASH_COMMENT else "--" if suffix in _DASH_COMMENT else "//"
    return f"{opener} {path}\n"


@dataclass(frozen=True, slots=True)
class FimFormat:
    """How the served model is prompted to fill a hole, and where its answer ends."""

    family: Family
    prefix_token: str
    suffix_token: str
    middle_token: str
    pad_token: str | None
    repo_name_token: str | None
    file_sep_token: str | None
    filename_token: str | None
    # Strings that end the middle (document ends, file separators, the FIM tokens
    # themselves) and their token ids: an engine that skips special tokens when it
    # detokenizes never sees the strings, so it needs the ids to stop on.
    stop: tuple[str, ...]
    stop_token_ids: tuple[int, ...]
    token_ids: Mapping[str, int] = field(default_factory=dict)

    @property
    def special_tokens(self) -> tuple[str, ...]:
        """Every token of this format: none may appear inside the code shown."""
        tokens = (
            self.prefix_token,
            self.suffix_token,
            self.middle_token,
            self.pad_token,
            self.repo_name_token,
            self.file_sep_token,
            self.filename_token,
            *self.stop,
        )
        return tuple(dict.fromkeys(t for t in tokens if t))

    def _clean(self, text: str) -> str:
        """``text`` without this format's tokens: the engine reads a token written in the
        code (this very module, say) as the real one, and the prompt's structure would
        break. Rare enough that dropping it costs the model nothing it needs."""
        for token in self.special_tokens:
            if token in text:
                text = text.replace(token, "")
        return text

    def _file_header(self, path: str) -> str:
        if self.file_sep_token:
            return f"{self.file_sep_token}{path}\n"
        if self.filename_token:
            return f"{self.filename_token}{path}\n"
        return _comment_header(path)

    def prompt(
        self,
        prefix: str,
        suffix: str,
        related: Sequence[tuple[str, str]] = (),
        path: str | None = None,
        repo_name: str | None = None,
    ) -> str:
        """The raw prompt (no chat template) for the text between ``prefix`` and ``suffix``.

        ``related``: (path, text) of other files, in the order they should appear (put the
        stable ones first: see pipeline/completion.py); ``path``: the current file's,
        relative to the repository; ``repo_name``: shown when the format has a token for it.
        """
        head: list[str] = []
        if repo_name and self.repo_name_token and (related or path):
            sep = "\n" if self.family == "qwen" else ""
            head.append(f"{self.repo_name_token}{self._clean(repo_name)}{sep}")
        for other, text in related:
            body = self._clean(text)
            newline = "" if body.endswith("\n") or not body else "\n"
            head.append(f"{self._file_header(self._clean(other))}{body}{newline}")
        prefix, suffix = self._clean(prefix), self._clean(suffix)
        current = self._clean(path) if path else None
        if self.family == "starcoder" and self.file_sep_token and (related or current):
            # StarCoder2: "<file_sep><fim_prefix>path\n" + code before the hole.
            named = f"{current}\n" if current else ""
            return "".join(
                [
                    *head,
                    self.file_sep_token,
                    self.prefix_token,
                    named,
                    prefix,
                    self.suffix_token,
                    suffix,
                    self.middle_token,
                ]
            )
        if current and (related or self.family != "deepseek"):
            head.append(self._file_header(current))
        if self.family == "deepseek":
            # The hole's markers wrap the related files too: they are part of the "prefix".
            return "".join(
                [self.prefix_token, *head, prefix, self.suffix_token, suffix, self.middle_token]
            )
        return "".join(
            [*head, self.prefix_token, prefix, self.suffix_token, suffix, self.middle_token]
        )


@dataclass(frozen=True, slots=True)
class FimDetection:
    """The format found, or None and why not (what a request for a completion answers)."""

    format: FimFormat | None
    reason: str = ""


def _single_tokens(tokenizer: Any) -> dict[str, int]:
    """Added tokens that the tokenizer encodes as exactly their own id."""
    added: dict[str, int] = dict(tokenizer.get_added_vocab())
    return {
        text: token_id
        for text, token_id in added.items()
        if list(tokenizer.encode(text, add_special_tokens=False)) == [token_id]
    }


def detect_fim(tokenizer: Any | None) -> FimDetection:
    """The fill-in-the-middle format of the model ``tokenizer`` belongs to (a Hugging Face
    tokenizer, as backend/tokenizer.py loads it)."""
    if tokenizer is None:
        return FimDetection(None, NO_TOKENIZER_REASON)
    single = _single_tokens(tokenizer)
    partial: list[str] = []
    for known in _KNOWN:
        required = (known.prefix, known.suffix, known.middle)
        present = [t for t in required if t in single]
        if len(present) == len(required):
            return FimDetection(_format(known, single, tokenizer))
        if present:
            missing = ", ".join(t for t in required if t not in single)
            partial.append(f"it has {present[0]} but not {missing}")
    if partial:
        return FimDetection(None, f"{NO_FIM_REASON} ({'; '.join(partial)})")
    return FimDetection(None, NO_FIM_REASON)


def _format(known: _Known, single: Mapping[str, int], tokenizer: Any) -> FimFormat:
    def have(token: str | None) -> str | None:
        return token if token is not None and token in single else None

    eos = getattr(tokenizer, "eos_token", None)
    candidates = (eos, *known.ends, known.file_sep, known.pad, known.prefix, known.suffix)
    candidates += (known.middle, known.repo_name, known.filename)
    stops = [t for t in candidates if isinstance(t, str) and t in single]
    stop = tuple(dict.fromkeys(stops))
    return FimFormat(
        family=known.family,
        prefix_token=known.prefix,
        suffix_token=known.suffix,
        middle_token=known.middle,
        pad_token=have(known.pad),
        repo_name_token=have(known.repo_name),
        file_sep_token=have(known.file_sep),
        filename_token=have(known.filename),
        stop=stop,
        stop_token_ids=tuple(single[t] for t in stop),
        token_ids={t: single[t] for t in (*stop, known.prefix, known.suffix, known.middle)},
    )
