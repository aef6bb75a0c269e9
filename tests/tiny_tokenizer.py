"""A tiny generated HF tokenizer folder: what ``fathom serve --server-tokenizer`` (or
``--model``) needs to count tokens when a test is about the plumbing, not the counts (no model,
no real vocabulary)."""

from __future__ import annotations

import json
from pathlib import Path


def make_tokenizer(folder: Path, per_character: bool = False) -> Path:
    """One token per word (or per character, for a tokenizer that counts differently), with
    a ``config.json`` so Fathom takes the folder for a model folder."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    words.pre_tokenizer = (
        pre_tokenizers.Split(Regex("[\\s\\S]"), behavior="isolated")
        if per_character
        else pre_tokenizers.Whitespace()
    )
    PreTrainedTokenizerFast(tokenizer_object=words, unk_token="[UNK]").save_pretrained(folder)
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    return folder
