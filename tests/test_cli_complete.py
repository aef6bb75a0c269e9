"""``fathom complete PATH:LINE:COL`` against the loopback model server (tests/openai_stub.py),
tokens counted with the real Qwen2.5-Coder tokenizer: the completion printed, the prompt the
server got, and the exit statuses of a bad request, a model without FIM tokens and an engine
that fails. No model engine starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fathom.cli.main import main
from tests.openai_stub import COMPLETIONS, StubServer, completion_reply, json_reply
from tests.tiny_tokenizer import make_tokenizer


@pytest.fixture
def report(sample_project: Path, monkeypatch) -> Path:
    """report.py with its last ``return`` emptied: the cursor goes at line 8, column 12."""
    # What the command sets for the engine's logs stays this test's.
    monkeypatch.setenv("VLLM_LOGGING_LEVEL", "ERROR")
    monkeypatch.setenv("PYTHONWARNINGS", "ignore::FutureWarning")
    path = sample_project / "shop" / "report.py"
    path.write_text(path.read_text().replace("    return total\n", "    return \n"))
    return path


def _complete(stub: StubServer, tokenizer: Path, where: str, *args: str) -> int:
    """``fathom complete`` in the sample project (which is no git repository: named root)."""
    root = Path(where.split(":")[0]).parents[1]
    server = ["--server-url", stub.url, "--server-tokenizer", str(tokenizer)]
    return main(["complete", where, "--root", str(root), *args, *server])


def test_complete_prints_the_line_from_a_fim_prompt_with_related_code(
    report, stub, tokenizer_dir, capsys
):
    stub.replay([])
    stub.on(COMPLETIONS, completion_reply(["total", "\n", "\ndef more():"]))
    assert _complete(stub, tokenizer_dir, f"{report}:8:12") == 0
    assert capsys.readouterr().out == "total\n"
    [seen] = stub.requests(COMPLETIONS)
    prompt = seen.body["prompt"]
    assert prompt.startswith("<|repo_name|>sample\n<|file_sep|>")
    assert "<|file_sep|>shop/models.py\n" in prompt and "class Item" in prompt
    assert "<|file_sep|>shop/report.py\n<|fim_prefix|>" in prompt
    assert "item.quantity\n    return <|fim_suffix|>\n\n\ndef describe(" in prompt
    assert prompt.endswith("<|fim_middle|>")


def test_complete_json_without_context(report, stub, tokenizer_dir, capsys):
    stub.replay([])
    stub.on(COMPLETIONS, completion_reply(["total"]))
    assert _complete(stub, tokenizer_dir, f"{report}:8:40", "--json", "--no-context") == 0
    printed = json.loads(capsys.readouterr().out)
    # Column 40 is past the line's end: its end, as LSP says.
    assert printed["text"] == "total" and printed["mode"] == "single"
    assert (printed["line"], printed["column"], printed["related"]) == (8, 12, [])
    assert printed["prompt_tokens"] == 9 and printed["completion_tokens"] == 1
    prompt = stub.requests(COMPLETIONS)[0].body["prompt"]
    assert "shop/models.py" not in prompt
    assert prompt.startswith("<|repo_name|>sample\n<|file_sep|>shop/report.py\n<|fim_prefix|>")


@pytest.mark.parametrize(
    ("where", "said"),
    [
        ("{report}:8", "give PATH:LINE:COL"),
        ("{report}:0:1", "give PATH:LINE:COL"),
        ("{report}:99:1", "Line 99 is outside the document"),
        ("{missing}:1:1", "missing.py"),
    ],
)
def test_a_bad_place_asks_no_model(report, stub, tokenizer_dir, capsys, where, said):
    stub.replay([])
    missing = report.with_name("missing.py")
    assert _complete(stub, tokenizer_dir, where.format(report=report, missing=missing)) == 2
    assert said in capsys.readouterr().err
    assert stub.seen == []


def test_a_secret_file_is_never_sent(report, stub, tokenizer_dir, capsys):
    stub.replay([])
    env = report.with_name(".env")
    env.write_text("TOKEN=abc\n")
    assert _complete(stub, tokenizer_dir, f"{env}:1:1") == 2
    assert "looks like a secret file" in capsys.readouterr().err
    assert stub.seen == []


def test_a_model_without_fim_tokens_completes_nothing(report, stub, tmp_path, capsys):
    stub.replay([])
    tokenizer = make_tokenizer(tmp_path / "no-fim")
    assert _complete(stub, tokenizer, f"{report}:8:12") == 1
    err = capsys.readouterr().err
    assert "stub-model cannot fill in the middle: the model's tokenizer has no" in err
    assert stub.requests(COMPLETIONS) == []


def test_an_engine_failure_and_an_empty_answer_have_their_own_statuses(
    report, stub, tokenizer_dir, capsys
):
    stub.replay([])
    stub.on(
        COMPLETIONS,
        json_reply(400, {"error": {"message": "prompt too long"}}),
        completion_reply(["total"]),  # repeats the text after the cursor: nothing to add
    )
    assert _complete(stub, tokenizer_dir, f"{report}:8:12", "--no-context") == 3
    assert "the engine failed" in capsys.readouterr().err
    report.write_text(report.read_text().replace("    return \n", "    return total\n"))
    assert _complete(stub, tokenizer_dir, f"{report}:8:12", "--no-context") == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "no completion:" in captured.err
