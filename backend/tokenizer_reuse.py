"""Which tokenizers prefix-token reuse (backend/prefix_tokens.py) is exact for.

Cutting a text at a newline and encoding the pieces gives the whole text's tokens only for
tokenizers whose every stage keeps newlines as boundaries: BPE without dropout, normalizers
that cannot join across a newline, and a Split pre-tokenizer regex from a known family whose
pre-tokens never run from a newline into the next character. Anything else is named here, so
the cache turns reuse off and says why.
"""

from __future__ import annotations

import json
from typing import Any

# The Split regexes whose pre-tokens never run from a newline into a following non-space
# char, as the module docstring argues, by family (as in tokenizer.json; a literal CR or LF
# counts as its escape). Any other regex turns reuse off.
_CONTRACTIONS = "(?i:'s|'t|'re|'ve|'m|'ll|'d)"
_QWEN2_TAIL = r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
_O200K_UPPER = r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]"
_O200K_LOWER = r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]"
KNOWN_SPLIT_REGEXES = {
    "gpt2": r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
    "qwen2": _CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|" + _QWEN2_TAIL,
    "llama3": _CONTRACTIONS + r"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|" + _QWEN2_TAIL,
    "o200k": (
        rf"[^\r\n\p{{L}}\p{{N}}]?{_O200K_UPPER}*{_O200K_LOWER}+{_CONTRACTIONS}?"
        rf"|[^\r\n\p{{L}}\p{{N}}]?{_O200K_UPPER}+{_O200K_LOWER}*{_CONTRACTIONS}?"
        r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
    ),
    "deepseek-v3 digits": r"\p{N}{1,3}",
    "deepseek-v3 cjk": "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
    "deepseek-v3": (
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+"
        r"|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+"
        r"|\s+(?!\S)|\s+"
    ),
}
_KNOWN_BY_PATTERN = {pattern: name for name, pattern in KNOWN_SPLIT_REGEXES.items()}
_ALLOWED_NORMALIZERS = {"NFC"}
_ALLOWED_POST_PROCESSORS = {
    "TemplateProcessing",
    "ByteLevel",
    "RobertaProcessing",
    "BertProcessing",
}


def _component(obj: Any) -> dict[str, Any] | None:
    """A tokenizers component (normalizer, pre-tokenizer, ...) as its JSON, or None."""
    if obj is None:
        return None
    return json.loads(obj.__getstate__())


def _flatten(spec: dict[str, Any] | None, key: str) -> list[dict[str, Any]]:
    if spec is None:
        return []
    if spec.get("type") == "Sequence":
        return [leaf for part in spec.get(key, []) for leaf in _flatten(part, key)]
    return [spec]


def why_not_reusable(tokenizer: Any) -> str | None:
    """Why cutting at a newline might change this tokenizer's output (None: it cannot)."""
    model = tokenizer.model
    if type(model).__name__ != "BPE":
        return f"model {type(model).__name__} (only BPE is known)"
    if getattr(model, "dropout", None):
        return "BPE dropout"
    for norm in _flatten(_component(tokenizer.normalizer), "normalizers"):
        if norm.get("type") not in _ALLOWED_NORMALIZERS:
            return f"normalizer {norm.get('type')}"
    pre = _flatten(_component(tokenizer.pre_tokenizer), "pretokenizers")
    for p in pre:
        kind = p.get("type")
        if kind == "ByteLevel":
            if p.get("add_prefix_space"):
                return "ByteLevel adds a prefix space"
        elif kind == "Split":
            pattern = p.get("pattern", {})
            if "Regex" not in pattern:
                return "Split on a string"
            if p.get("behavior") != "Isolated" or p.get("invert"):
                return f"Split behaviour {p.get('behavior')} (invert={p.get('invert')})"
            if known_regex(pattern["Regex"]) is None:
                return f"unknown Split regex {pattern['Regex']!r}"
        elif kind != "Digits":
            return f"pre-tokenizer {kind}"
    if not any(p.get("type") == "ByteLevel" for p in pre):
        return "no ByteLevel pre-tokenizer"
    for post in _flatten(_component(tokenizer.post_processor), "processors"):
        if post.get("type") not in _ALLOWED_POST_PROCESSORS:
            return f"post-processor {post.get('type')}"
    for token in tokenizer.get_added_tokens_decoder().values():
        if token.lstrip or token.rstrip or token.single_word:
            return f"added token {token.content!r} strips or matches single words"
        if not token.content:
            return "an empty added token"
    return None


def known_regex(pattern: str) -> str | None:
    """The family of a Split regex the cut is argued for (module docstring), or None."""
    return _KNOWN_BY_PATTERN.get(pattern.replace("\r", "\\r").replace("\n", "\\n"))
