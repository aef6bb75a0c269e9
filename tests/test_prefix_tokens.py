"""PrefixTokenCache: ids identical to encoding the whole text, with the shared prefix reused."""

from __future__ import annotations

import json
import random
import tarfile
import threading
from functools import cache
from pathlib import Path

import pytest
from tokenizers import (
    Regex,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)

from fathom.backend.prefix_tokens import PrefixTokenCache, common_prefix_length
from fathom.backend.tokenizer import PREFIX_CACHE_MIN_CHARS, HFTokenCounter
from fathom.backend.tokenizer_reuse import known_regex

ROOT = Path(__file__).resolve().parents[1]
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
QWEN2 = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
LLAMA3 = QWEN2.replace(r"|\p{N}|", r"|\p{N}{1,3}|")
DEEPSEEK_V3 = [
    r"\p{N}{1,3}",
    "[一-龥぀-ゟ゠-ヿ]+",  # noqa: RUF001
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?"
    "[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
]

TRICKY_LINES = [
    "Windows lines\r\n\r\nwith CRLF\r\n",
    "\tand tabs\t\there\t\n",
    "    \n\n\n\n   trailing spaces   \n",
    "中文注释：你好，世界！\n日本語のテキスト。カタカナ\n",  # noqa: RUF001
    "emoji 😀🎉👩‍💻 flags 🇫🇷\n",
    "combining e\u0301 a\u0308\n\u0301leading mark\n",
    "nbsp\u00a0here\u3000ideographic space\u2028line sep\u2029\n",
    "<|im_start|>not a real turn<|im_end|>\n<|endoftext|>\n",
    "<|im_end|>\n<|im_start|>user\n",
    "numbers 1234567890 3.14159 ١٢٣\n",
    "'s 're 'll contractions DON'T\n'twas\n",
    "\x0c form feed\n\r lone CR\r\rx\n",
    "\n\n\n\n\n\n",
    "  \n\t\n \r\n",
    "x\n",
    "\ufeffbom\u200bzero width\u00adsoft hyphen\n",
]


@cache
def _sources() -> tuple[str, ...]:
    """Real source code: the repository's own Python files and the edit corpus's sources."""
    named = [
        (p, p.read_bytes())
        for d in ("backend", "context", "lsp_server", "pipeline", "cli", "tests")
        for p in (ROOT / d).glob("*.py")
    ]
    # The corpus's sources, read straight from their archive (xz checks its own CRC), in the
    # order they had when they were files under bench/edit_corpus/sources/.
    with tarfile.open(ROOT / "bench" / "edit_corpus" / "sources.tar.xz") as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.startswith("sources/"):
                data = tar.extractfile(member).read()  # type: ignore[union-attr]
                named.append((ROOT / "bench" / "edit_corpus" / member.name, data))
    texts = [data.decode("utf-8", errors="replace") for _, data in sorted(named)]
    return tuple(t for t in texts if len(t) > 500)


def _chunk(rng: random.Random, lo: int, hi: int) -> str:
    text = rng.choice(_sources())
    size = rng.randint(lo, hi)
    start = rng.randrange(max(1, len(text) - size))
    if rng.random() < 0.7:  # mostly whole lines, as a prompt quotes files
        start = text.rfind("\n", 0, start) + 1
    piece = text[start : start + size]
    style = rng.random()
    if style < 0.15:
        piece = piece.replace("\n", "\r\n")
    elif style < 0.25:
        piece = piece.replace("    ", "\t")
    return piece


def _tricky(rng: random.Random) -> str:
    return "".join(rng.choice(TRICKY_LINES) for _ in range(rng.randint(1, 4)))


def _suffix(rng: random.Random) -> str:
    return (
        "<|im_end|>\n<|im_start|>user\n"
        + _chunk(rng, 100, 2500)
        + _tricky(rng)
        + rng.choice(["Fix it.", "", "\n", "  ", "def f():\n"])
        + "<|im_end|>\n<|im_start|>assistant\n"
    )


def _system(rng: random.Random) -> str:
    parts = ["<|im_start|>system\nYou are Fathom.\n", _tricky(rng)]
    for _ in range(rng.randint(3, 6)):
        parts += [f"\n## file {rng.randrange(1000)}.py\n", _chunk(rng, 1500, 5000), _tricky(rng)]
    return "".join(parts)


def _prompts(seed: int, n: int) -> list[str]:
    """Chat-like prompts: long shared prefixes, varied suffixes, edits anywhere (just after a
    newline, inside a CRLF, in whitespace runs...), repeats, truncations, new conversations."""
    rng = random.Random(seed)
    history = _system(rng)
    prompts = [history + _suffix(rng)]
    while len(prompts) < n:
        prev = prompts[-1]
        kind = rng.choice(
            ["append", "append", "extend", "edit", "edit", "newline", "truncate", "repeat", "new"]
        )
        if kind == "append":
            prompt = history + _suffix(rng)
        elif kind == "extend":
            history = prev + _chunk(rng, 50, 800) + "<|im_end|>\n"
            prompt = history + _suffix(rng)
        elif kind == "edit":
            at = rng.randrange(len(history) // 3, len(history))
            cut = at + rng.randint(0, 40)
            history = (
                history[:at] + rng.choice([_tricky(rng), _chunk(rng, 1, 300), ""]) + history[cut:]
            )
            prompt = history + _suffix(rng)
        elif kind == "newline":  # diverge right at, before or after a newline
            at = prev.find("\n", rng.randrange(len(prev) // 2, len(prev)))
            at = at if at >= 0 else len(prev) // 2
            at += rng.choice([-1, 0, 1, 2])
            prompt = prev[:at] + rng.choice(["\n", "\r\n", " ", "x", "\n\n", "😀", "<|im_end|>"])
            prompt += _suffix(rng)
        elif kind == "truncate":
            prompt = prev[: rng.randrange(len(prev) // 2, len(prev))]
        elif kind == "repeat":
            prompt = rng.choice(prompts[-4:])
        else:
            history = _system(rng)
            prompt = history + _suffix(rng)
        prompts.append(prompt)
    return prompts


def _expected_reuse(prefix_cache: PrefixTokenCache, text: str) -> int:
    """Chars ``ids(text)`` should reuse: up to the last position after a newline and before a
    non-space char, ``margin`` before the end of the longest common prefix with a kept text
    (all of an identical text). Every such position must be a token boundary."""
    common, base = 0, ""
    for entry in prefix_cache._entries:
        d = common_prefix_length(text, entry.text)
        if d > common:
            common, base = d, entry.text
    if common < prefix_cache.min_common_chars:
        return 0
    if common == len(text) == len(base):
        return common
    s = common - prefix_cache.margin
    while s > 0 and not (text[s - 1] == "\n" and not text[s].isspace()):
        s -= 1
    return max(s, 0)


def _assert_newline_cuts_are_token_boundaries(text: str, offsets: list[tuple[int, int]]) -> None:
    """The claim the cache rests on, checked on the whole encoding: a token starts at every
    position after a newline and before a non-space char, and the one before ends there."""
    starts = {start: i for i, (start, _end) in reversed(list(enumerate(offsets)))}
    for s in range(1, len(text)):
        if text[s - 1] == "\n" and not text[s].isspace():
            k = starts.get(s)
            assert k is not None and k > 0 and offsets[k - 1][1] <= s, (s, text[s - 20 : s + 20])


def _check(
    tokenizer: Tokenizer, prompts: list[str], prefix_cache: PrefixTokenCache | None = None
) -> PrefixTokenCache:
    """Asserts ``ids`` of each prompt, in turn, is what encoding it whole gives, reusing as
    much as the rule allows."""
    prefix_cache = prefix_cache or PrefixTokenCache(tokenizer)
    for i, prompt in enumerate(prompts):
        expected = tokenizer.encode(prompt, add_special_tokens=False)
        reuse = _expected_reuse(prefix_cache, prompt) if prefix_cache.reusable else 0
        if prefix_cache._tokenizer_state() != prefix_cache._state:
            reuse = 0  # the tokenizer changed: nothing kept may be used
        before = prefix_cache.stats.chars_reused
        assert prefix_cache.ids(prompt) == expected.ids, f"prompt {i} ({len(prompt)} chars)"
        assert prefix_cache.stats.chars_reused - before == reuse, f"prompt {i}"
        if not prefix_cache.reusable:
            continue
        if len(prompt) < prefix_cache.min_common_chars:
            # Too short to be worth keeping: encoded whole, and nothing kept of it.
            assert all(entry.text != prompt for entry in prefix_cache._entries)
            continue
        _assert_newline_cuts_are_token_boundaries(prompt, expected.offsets)
        # What is kept is what encoding the whole text gives: ids and offsets.
        entry = prefix_cache._entries[0]
        assert entry.text == prompt
        assert list(entry.ids) == expected.ids
        assert list(zip(entry.starts, entry.ends, strict=True)) == expected.offsets
    return prefix_cache


def _assert_reused(prefix_cache: PrefixTokenCache, prompts: list[str]) -> None:
    stats = prefix_cache.stats
    assert stats.calls == len(prompts)
    assert stats.hits >= len(prompts) // 2, stats
    assert stats.chars_reused > sum(map(len, prompts)) // 2, stats
    assert stats.chars_encoded + stats.chars_reused == sum(map(len, prompts))


@cache
def _trained_bpe() -> str:
    """A byte-level BPE trained here on the corpus (as bench/dummy_deepseek.py makes one), as
    JSON: GPT-2 pre-tokenization (ByteLevel with its regex)."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=3000,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_sources()[::3], trainer)
    return tokenizer.to_str()


def _bpe(*splits: str, normalizer=None) -> Tokenizer:
    """The trained BPE, optionally pre-tokenized by Split regexes then ByteLevel without its
    own regex (Qwen2 / Llama-3 / DeepSeek-V3 style). Post-processing as GPT-2's and Llama-3's
    tokenizer.json (ByteLevel; with BOS, which add_special_tokens=False leaves out), with
    offsets trimmed (the harder case)."""
    tokenizer = Tokenizer.from_str(_trained_bpe())
    tokenizer.post_processor = processors.Sequence(
        [
            processors.ByteLevel(add_prefix_space=True, trim_offsets=True),
            processors.TemplateProcessing(
                single="<|endoftext|> $A", special_tokens=[("<|endoftext|>", 0)]
            ),
        ]
    )
    if splits:
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Split(Regex(s), behavior="isolated") for s in splits]
            + [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]
        )
    if normalizer is not None:
        tokenizer.normalizer = normalizer
    return tokenizer


# -- the real model's tokenizer --------------------------------------------------------------


def test_real_tokenizer_reuses_prefixes_and_matches_full_encoding(tokenizer):
    rust = tokenizer.backend_tokenizer
    prompts = _prompts(seed=1, n=45)
    prefix_cache = _check(rust, prompts)
    assert prefix_cache.reusable, prefix_cache.not_reusable
    _assert_reused(prefix_cache, prompts)


def test_counter_ids_use_the_cache_for_long_texts_only(tokenizer):
    counter = HFTokenCounter(tokenizer)
    # The prompts quote the repository's own files, which change from commit to commit: draw
    # enough of them that eight are long, whichever files there are.
    prompts = [p for p in _prompts(seed=2, n=32) if len(p) >= PREFIX_CACHE_MIN_CHARS][:8]
    assert len(prompts) == 8
    rust = tokenizer.backend_tokenizer
    for prompt in prompts:
        assert counter.ids(prompt) == rust.encode(prompt, add_special_tokens=False).ids
        assert counter.count_tokens(prompt) == len(rust.encode(prompt, add_special_tokens=False))
    stats = counter.prefix_cache.stats
    assert stats.calls == len(prompts)  # count_tokens does not go through it
    assert stats.hits >= 3
    short = "x = 1\n" * 100
    assert counter.ids(short) == tokenizer.encode(short, add_special_tokens=False)
    assert counter.prefix_cache.stats.calls == len(prompts)


def test_threads_share_the_cache(tokenizer):
    rust = tokenizer.backend_tokenizer
    prefix_cache = PrefixTokenCache(rust, entries=2)
    prompts = _prompts(seed=3, n=16)
    expected = [rust.encode(p, add_special_tokens=False).ids for p in prompts]
    wrong: list[int] = []

    def work(offset: int) -> None:
        for i in range(len(prompts)):
            j = (i + offset) % len(prompts)
            if prefix_cache.ids(prompts[j]) != expected[j]:
                wrong.append(j)

    threads = [threading.Thread(target=work, args=(k * 5,)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
    assert prefix_cache.stats.calls == 3 * len(prompts)
    assert prefix_cache.stats.hits > 0


JUNCTION_HEADS = [
    "foo  \n",
    "):\n",
    "x = 1\r\n",
    "caf\u00e9\n",
    "cafe\u0301\n",
    "<|im_end|>\n",
    "\n\n\n",
    "\t\n",
    "123\n",
    "你好\n",
    "😀\n",
    "end.\n  \n",
]
JUNCTION_TAILS = [
    "x",
    "'s",
    "\u0301x",
    "<|im_start|>",
    "123456",
    "你好",
    "😀",
    "\ufeff",
    "_",
    "#",
    "\u00e9",
    "\uff26",
    "\x00",
    ")",
    "<|endoftext|>x",
    "'re",
]


def _junction_prompts() -> list[str]:
    """Pairs of prompts that differ after a long line, so that the cut falls exactly on a
    newline between each of JUNCTION_HEADS and each of JUNCTION_TAILS."""
    base = _sources()[0][:2100]
    line = "".join(f"value_{i} + " for i in range(40))  # 400 chars, no newline
    prompts = []
    for head in JUNCTION_HEADS:
        for tail in JUNCTION_TAILS:
            shared = base + head + tail + line
            prompts += [shared + "\nold();\n", shared + "\n# new\n"]
    return prompts


def test_cuts_fall_on_tricky_junctions_and_match(tokenizer):
    prompts = _junction_prompts()
    for each in (tokenizer.backend_tokenizer, _bpe(), _bpe(LLAMA3), _bpe(*DEEPSEEK_V3)):
        prefix_cache = _check(each, prompts)  # reuse up to the junction, exactly
        assert prefix_cache.reusable
        assert prefix_cache.stats.hits >= len(prompts) // 2


# -- byte-level BPEs trained here, with each family's pre-tokenizer ---------------------------


@pytest.mark.parametrize(
    "splits",
    [(), (QWEN2,), (LLAMA3,), tuple(DEEPSEEK_V3)],
    ids=["gpt2-bytelevel", "qwen2", "llama3", "deepseek-v3"],
)
def test_trained_byte_level_bpe_reuses_prefixes_and_matches(splits):
    tokenizer = _bpe(*splits)
    prompts = _prompts(seed=10 + len(splits), n=30)
    prefix_cache = _check(tokenizer, prompts)
    assert prefix_cache.reusable, prefix_cache.not_reusable
    _assert_reused(prefix_cache, prompts)


def test_nfc_normalizer_is_kept_local():
    tokenizer = _bpe(QWEN2, normalizer=normalizers.NFC())
    prompts = _prompts(seed=20, n=12)
    prefix_cache = _check(tokenizer, prompts)
    assert prefix_cache.reusable
    assert prefix_cache.stats.hits > 0


# -- where reuse is off ----------------------------------------------------------------------


def _metaspace_tokenizer(model: str) -> Tokenizer:
    if model == "unigram":
        tokenizer = Tokenizer(models.Unigram())
        trainer = trainers.UnigramTrainer(
            vocab_size=800, special_tokens=SPECIALS, unk_token="<|endoftext|>", show_progress=False
        )
    else:
        tokenizer = Tokenizer(models.BPE())
        trainer = trainers.BpeTrainer(vocab_size=800, special_tokens=SPECIALS, show_progress=False)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.train_from_iterator(_sources()[::12], trainer)
    return tokenizer


@pytest.mark.parametrize("model", ["unigram", "bpe"])
def test_metaspace_tokenizer_falls_back_and_still_matches(model):
    tokenizer = _metaspace_tokenizer(model)
    prompts = _prompts(seed=30, n=8)
    prefix_cache = PrefixTokenCache(tokenizer)
    assert not prefix_cache.reusable
    assert "Metaspace" in prefix_cache.not_reusable or "model" in prefix_cache.not_reusable
    for prompt in prompts:
        assert prefix_cache.ids(prompt) == tokenizer.encode(prompt, add_special_tokens=False).ids
    assert prefix_cache.stats.hits == 0
    assert prefix_cache.stats.chars_reused == 0


@pytest.mark.parametrize("kind", ["metaspace", "prefix-space"])
def test_reuse_would_be_wrong_where_it_is_off(kind):
    """What the fallback guards against, and proof the comparisons above can fail: Metaspace,
    and ByteLevel with add_prefix_space, prepend a space to the text, so a cut text encodes
    differently from the same text inside a longer one."""
    if kind == "metaspace":
        tokenizer = _metaspace_tokenizer("bpe")
    else:
        tokenizer = _bpe()
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    prefix_cache = PrefixTokenCache(tokenizer)
    assert not prefix_cache.reusable
    assert "self-check" in prefix_cache._self_check()  # the last guard agrees
    prefix_cache.not_reusable = None  # force reuse
    prompts = _prompts(seed=50, n=12)
    wrong = sum(
        prefix_cache.ids(p) != tokenizer.encode(p, add_special_tokens=False).ids for p in prompts
    )
    assert prefix_cache.stats.hits > 0
    assert wrong > 0


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda t: setattr(t, "normalizer", normalizers.NFKC()), "normalizer NFKC"),
        (lambda t: setattr(t, "normalizer", normalizers.Lowercase()), "normalizer Lowercase"),
        (
            lambda t: setattr(t, "pre_tokenizer", pre_tokenizers.ByteLevel(add_prefix_space=True)),
            "prefix space",
        ),
        (lambda t: setattr(t, "pre_tokenizer", pre_tokenizers.Whitespace()), "Whitespace"),
        (
            lambda t: t.add_special_tokens([_stripping_token()]),
            "strips",
        ),
    ],
    ids=["nfkc", "lowercase", "prefix-space", "whitespace", "lstrip-token"],
)
def test_unknown_parts_turn_reuse_off(change, reason):
    tokenizer = _bpe()
    change(tokenizer)
    prefix_cache = PrefixTokenCache(tokenizer)
    assert not prefix_cache.reusable
    assert reason in prefix_cache.not_reusable
    prompt = _prompts(seed=40, n=1)[0]
    assert prefix_cache.ids(prompt) == tokenizer.encode(prompt, add_special_tokens=False).ids
    assert (
        prefix_cache.ids(prompt + "x")
        == tokenizer.encode(prompt + "x", add_special_tokens=False).ids
    )
    assert prefix_cache.stats.hits == 0


def _stripping_token():
    from tokenizers import AddedToken

    return AddedToken("<|mask|>", lstrip=True, special=True)


def test_an_unknown_regex_turns_reuse_off_and_the_self_check_catches_a_crossing_one():
    # "\n" + letters in one pre-token: cutting after the newline can change the tokens.
    crossing = r"\s*\S+|\s+"
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(crossing), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=3000,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_sources()[::3], trainer)  # merges such as "ĊĊdef" exist
    prefix_cache = PrefixTokenCache(tokenizer)
    assert not prefix_cache.reusable
    assert "unknown Split regex" in prefix_cache.not_reusable
    # The self-check, the last guard, would have refused it too.
    assert "self-check" in prefix_cache._self_check()
    prompt = _prompts(seed=50, n=1)[0]
    assert prefix_cache.ids(prompt) == tokenizer.encode(prompt, add_special_tokens=False).ids


def test_truncation_switched_on_later_falls_back_and_off_again_reuses():
    tokenizer = _bpe(QWEN2)
    prefix_cache = PrefixTokenCache(tokenizer)
    prompts = _prompts(seed=60, n=10)
    prefix_cache.ids(prompts[0])
    tokenizer.enable_truncation(max_length=1000)
    for prompt in prompts[1:5]:
        assert prefix_cache.ids(prompt) == tokenizer.encode(prompt, add_special_tokens=False).ids
    assert prefix_cache.stats.hits == 0
    assert not prefix_cache.reusable
    tokenizer.no_truncation()
    _check(tokenizer, prompts[5:], prefix_cache=prefix_cache)
    assert prefix_cache.reusable
    assert prefix_cache.stats.hits > 0


def test_tokens_added_later_invalidate_what_was_kept():
    tokenizer = _bpe(QWEN2)
    prompts = _prompts(seed=70, n=4)
    prefix_cache = _check(tokenizer, prompts)
    assert prefix_cache.stats.hits > 0
    # The kept prompts contain "<|mask|>" in their prefix: their ids are stale now.
    marked = [p[:3000] + "<|mask|>" + p[3000:] for p in prompts]
    _check(tokenizer, marked, prefix_cache=prefix_cache)
    tokenizer.add_special_tokens(["<|mask|>"])
    _check(tokenizer, marked, prefix_cache=prefix_cache)
    mask = tokenizer.token_to_id("<|mask|>")
    assert mask in prefix_cache.ids(marked[-1])
    tokenizer.encode_special_tokens = True
    _check(tokenizer, marked, prefix_cache=prefix_cache)
    assert mask not in prefix_cache.ids(marked[-1])


# -- pieces ----------------------------------------------------------------------------------


def test_known_regexes_are_recognised(tokenizer):
    assert known_regex(GPT2) == "gpt2"
    assert known_regex(QWEN2) == "qwen2"
    assert known_regex(LLAMA3) == "llama3"
    assert [known_regex(p) for p in DEEPSEEK_V3] == [
        "deepseek-v3 digits",
        "deepseek-v3 cjk",
        "deepseek-v3",
    ]
    # As the real model's tokenizer.json writes it.
    spec = json.loads(tokenizer.backend_tokenizer.pre_tokenizer.__getstate__())
    assert known_regex(spec["pretokenizers"][0]["pattern"]["Regex"]) == "qwen2"


@pytest.mark.parametrize(
    "pattern",
    [
        r"(?<=\n)\w+|\s+",
        r"\s*\S+|\s+",
        QWEN2.replace(r"[^\r\n\p{L}\p{N}]?", r"[^\r\p{L}\p{N}]?"),  # \n may lead a word
        GPT2 + "|x",
    ],
)
def test_other_regexes_are_not(pattern):
    assert known_regex(pattern) is None


def test_common_prefix_length():
    rng = random.Random(0)
    for _ in range(300):
        a = "".join(rng.choice("ab\n😀") for _ in range(rng.randint(0, 40)))
        b = a[: rng.randint(0, len(a))] + "".join(
            rng.choice("ab\n中") for _ in range(rng.randint(0, 5))
        )
        expected = next(
            (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
        )
        assert common_prefix_length(a, b) == expected
