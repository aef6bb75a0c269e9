"""The fill-in-the-middle format comes from the tokenizer's own special tokens (backend/fim.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fathom.backend.fim import NO_FIM_REASON, NO_TOKENIZER_REASON, FimFormat, detect_fim
from tests.tiny_tokenizer import make_tokenizer

BAR = "\uff5c"  # DeepSeek's tokens sit between full-width vertical bars, not "|"
DEEPSEEK_BEGIN = f"<{BAR}fim▁begin{BAR}>"
DEEPSEEK_HOLE = f"<{BAR}fim▁hole{BAR}>"
DEEPSEEK_END = f"<{BAR}fim▁end{BAR}>"
DEEPSEEK_EOS = f"<{BAR}end▁of▁sentence{BAR}>"


def tiny(tmp_path: Path, tokens: list[str], eos: str | None = None) -> Any:
    """A one-token-per-word tokenizer carrying ``tokens`` as added special tokens."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(make_tokenizer(tmp_path / "tok"))
    if tokens:
        tokenizer.add_tokens(tokens, special_tokens=True)
    if eos is not None:
        tokenizer.eos_token = eos
    return tokenizer


@pytest.fixture(scope="module")
def qwen(tokenizer: Any) -> FimFormat:
    detected = detect_fim(tokenizer)
    assert detected.format is not None, detected.reason
    return detected.format


def test_qwen_tokens_are_read_from_the_tokenizer(qwen: FimFormat, tokenizer: Any) -> None:
    assert qwen.family == "qwen"
    assert (qwen.prefix_token, qwen.suffix_token, qwen.middle_token) == (
        "<|fim_prefix|>",
        "<|fim_suffix|>",
        "<|fim_middle|>",
    )
    assert qwen.pad_token == "<|fim_pad|>"
    assert qwen.repo_name_token == "<|repo_name|>"
    assert qwen.file_sep_token == "<|file_sep|>"
    for token in ("<|endoftext|>", "<|file_sep|>", "<|fim_pad|>"):
        assert token in qwen.stop
    # Each stop string is one id of the real tokenizer, and the ids match.
    for token, token_id in zip(qwen.stop, qwen.stop_token_ids, strict=True):
        assert tokenizer.encode(token, add_special_tokens=False) == [token_id]
        assert tokenizer.convert_tokens_to_ids(token) == token_id


def test_qwen_file_level_prompt(qwen: FimFormat) -> None:
    assert (
        qwen.prompt("def f(x):\n    ", "\n\nprint(f(1))\n")
        == "<|fim_prefix|>def f(x):\n    <|fim_suffix|>\n\nprint(f(1))\n<|fim_middle|>"
    )


def test_qwen_repository_level_prompt_puts_related_files_first(
    qwen: FimFormat, tokenizer: Any
) -> None:
    prompt = qwen.prompt(
        "from util import add\n\nx = ",
        "\n",
        related=[("util.py", "def add(a, b):\n    return a + b")],
        path="main.py",
        repo_name="demo",
    )
    assert prompt == (
        "<|repo_name|>demo\n"
        "<|file_sep|>util.py\ndef add(a, b):\n    return a + b\n"
        "<|file_sep|>main.py\n"
        "<|fim_prefix|>from util import add\n\nx = <|fim_suffix|>\n<|fim_middle|>"
    )
    ids = tokenizer.encode(prompt, add_special_tokens=False)
    special = [qwen.token_ids.get(t, -1) for t in ("<|fim_prefix|>", "<|fim_middle|>")]
    assert all(ids.count(i) == 1 for i in special)
    assert ids[-1] == tokenizer.convert_tokens_to_ids("<|fim_middle|>")


def test_consecutive_keystrokes_share_the_prompt_head(qwen: FimFormat) -> None:
    related = [("util.py", "def add(a, b):\n    return a + b\n")]
    before = qwen.prompt("x = ad", ")\n", related, path="main.py")
    after = qwen.prompt("x = add", ")\n", related, path="main.py")
    head = before.index("x = ad") + len("x = ad")
    assert before[:head] == after[:head]


def test_format_tokens_written_in_the_code_do_not_reach_the_prompt(
    qwen: FimFormat, tokenizer: Any
) -> None:
    prompt = qwen.prompt('SEP = "<|file_sep|>"\nEND = "<|fim_middle|>"\n', "")
    ids = tokenizer.encode(prompt, add_special_tokens=False)
    assert ids.count(tokenizer.convert_tokens_to_ids("<|fim_middle|>")) == 1
    assert tokenizer.convert_tokens_to_ids("<|file_sep|>") not in ids
    assert 'SEP = ""' in prompt


def test_a_tokenizer_without_fim_tokens_gives_none_and_says_why(tmp_path: Path) -> None:
    detected = detect_fim(tiny(tmp_path, []))
    assert detected.format is None
    assert detected.reason == NO_FIM_REASON


def test_no_local_tokenizer_gives_none_and_says_why() -> None:
    detected = detect_fim(None)
    assert detected.format is None
    assert detected.reason == NO_TOKENIZER_REASON


def test_half_a_format_is_no_format(tmp_path: Path) -> None:
    detected = detect_fim(tiny(tmp_path, ["<|fim_prefix|>", "<|fim_suffix|>"]))
    assert detected.format is None
    assert detected.reason.startswith(NO_FIM_REASON)
    assert "<|fim_middle|>" in detected.reason


def test_tokens_only_spelled_in_the_vocabulary_do_not_count(tmp_path: Path) -> None:
    """Plain words of the vocabulary, not added tokens: the model was not trained on them
    as markers, so no format is assumed."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"[UNK]": 0, "<fim_prefix>": 1, "<fim_suffix>": 2, "<fim_middle>": 3}
    words = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    words.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=words, unk_token="[UNK]")
    assert tokenizer.encode("<fim_prefix>", add_special_tokens=False) == [1]
    detected = detect_fim(tokenizer)
    assert detected.format is None
    assert detected.reason == NO_FIM_REASON


def test_deepseek_family(tmp_path: Path) -> None:
    tokenizer = tiny(
        tmp_path, [DEEPSEEK_BEGIN, DEEPSEEK_HOLE, DEEPSEEK_END, DEEPSEEK_EOS], DEEPSEEK_EOS
    )
    fim = detect_fim(tokenizer).format
    assert fim is not None
    assert fim.family == "deepseek"
    assert fim.file_sep_token is None
    assert fim.stop[0] == DEEPSEEK_EOS
    assert fim.prompt("a = ", "\n") == f"{DEEPSEEK_BEGIN}a = {DEEPSEEK_HOLE}\n{DEEPSEEK_END}"
    # No file tokens: related files under a path comment, inside the hole's markers.
    assert fim.prompt("a = ", "\n", [("b.py", "b = 1\n")], path="a.py") == (
        f"{DEEPSEEK_BEGIN}# b.py\nb = 1\n# a.py\na = {DEEPSEEK_HOLE}\n{DEEPSEEK_END}"
    )
    ids = tokenizer.encode(fim.prompt("a = ", "\n"), add_special_tokens=False)
    assert ids[0] == fim.token_ids[DEEPSEEK_BEGIN]
    assert ids[-1] == fim.token_ids[DEEPSEEK_END]


def test_ascii_bars_are_not_deepseek_tokens(tmp_path: Path) -> None:
    lookalikes = [t.replace(BAR, "|") for t in (DEEPSEEK_BEGIN, DEEPSEEK_HOLE, DEEPSEEK_END)]
    assert detect_fim(tiny(tmp_path, lookalikes)).format is None


def test_starcoder2_family(tmp_path: Path) -> None:
    tokens = ["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<fim_pad>"]
    tokens += ["<repo_name>", "<file_sep>"]
    fim = detect_fim(tiny(tmp_path, tokens, "<|endoftext|>")).format
    assert fim is not None
    assert fim.family == "starcoder"
    assert set(fim.stop) >= {"<|endoftext|>", "<file_sep>", "<fim_pad>"}
    assert fim.prompt("x = ", "\n") == "<fim_prefix>x = <fim_suffix>\n<fim_middle>"
    # StarCoder2's repository layout: the current file's path after <fim_prefix>.
    assert fim.prompt("x = ", "\n", [("b.py", "b = 1")], path="a.py", repo_name="r") == (
        "<repo_name>r<file_sep>b.py\nb = 1\n"
        "<file_sep><fim_prefix>a.py\nx = <fim_suffix>\n<fim_middle>"
    )


def test_starcoder1_file_names(tmp_path: Path) -> None:
    tokens = ["<fim_prefix>", "<fim_middle>", "<fim_suffix>", "<filename>"]
    fim = detect_fim(tiny(tmp_path, tokens)).format
    assert fim is not None
    assert fim.file_sep_token is None
    assert fim.filename_token == "<filename>"
    assert fim.prompt("x", "y", [("b.js", "b();")], path="a.js") == (
        "<filename>b.js\nb();\n<filename>a.js\n<fim_prefix>x<fim_suffix>y<fim_middle>"
    )
