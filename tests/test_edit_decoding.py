"""``fathom edit --temperature/--repetition-penalty``: the decoding settings reach every
request of an edit (the retries too), greedy and unpenalised by default; bad values are a
bad request that asks no model. The editor settings of the same names do the same for the
language server's edits."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types

from fathom.backend.engine import Decoding
from fathom.lsp_server.config import FathomConfig, merge
from tests.lsp_client import edit_arguments, editor_session, open_document
from tests.openai_stub import CHAT
from tests.test_check_loop import SOURCE
from tests.test_check_loop import edit as edit_tree

# Whole-block replies, as the model writes them after the reply Fathom begins for it.
UNCHANGED = (
    "def total(items):\n-    t = 0\n-    for i in items:\n-        t += i\n-    return t\n"
    "+def total(items):\n+    t = 0\n+    for i in items:\n+        t += i\n+    return t\n```\n"
)
RIGHT = UNCHANGED.replace(
    "+    t = 0\n+    for i in items:\n+        t += i\n+    return t", "+    return sum(items)"
)

# A retry's reply begins after the fence alone, so it writes its own header.
RETRY = "--- a/cart.py\n+++ b/cart.py\n@@ @@\n-" + RIGHT


@pytest.fixture
def cart(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / ".git").mkdir(parents=True)
    (root / "cart.py").write_text(SOURCE)
    return root


def edit(cart: Path, stub, tokenizer_dir: Path, capsys, *extra: str) -> tuple[int, str]:
    """``fathom edit`` of cart.py's five lines, as the check-loop tests run it."""
    done = edit_tree(cart, stub, tokenizer_dir, capsys, *extra)
    return done.returncode, done.stderr


def test_the_settings_reach_every_round(cart, stub, tokenizer_dir, capsys):
    # The first reply changes nothing, so the edit is asked again: both requests carry them.
    stub.replay([UNCHANGED, RETRY])
    code, err = edit(
        cart, stub, tokenizer_dir, capsys, "--temperature", "0.3", "--repetition-penalty", "1.1"
    )
    assert code == 0, err
    bodies = [r.body for r in stub.requests(CHAT)]
    assert len(bodies) == 2
    assert [(b["temperature"], b["repetition_penalty"]) for b in bodies] == [(0.3, 1.1)] * 2
    assert "seed" not in bodies[1]  # no retry temperature: the retry decodes as the first
    assert "sum(items)" in (cart / "cart.py").read_text()


def test_a_retry_is_sampled_seeded_by_its_round(cart, stub, tokenizer_dir, capsys):
    stub.replay([UNCHANGED, RETRY])
    code, err = edit(cart, stub, tokenizer_dir, capsys, "--retry-temperature", "0.7")
    assert code == 0, err
    first, retry = (r.body for r in stub.requests(CHAT))
    assert (first["temperature"], "seed" in first) == (0.0, False)
    assert (retry["temperature"], retry["seed"]) == (0.7, 1)


def test_by_default_the_edit_is_greedy_and_unpenalised(cart, stub, tokenizer_dir, capsys):
    stub.replay([RIGHT])
    code, _err = edit(cart, stub, tokenizer_dir, capsys)
    assert code == 0
    (request,) = stub.requests(CHAT)
    assert request.body["temperature"] == 0.0
    # Not sent at all: a server that lacks vLLM's field is never sent it.
    assert "repetition_penalty" not in request.body


@pytest.mark.parametrize(
    ("option", "value", "problem"),
    [
        ("--temperature", "-0.5", "the temperature is -0.5; it takes 0 (greedy) to 2"),
        ("--repetition-penalty", "0", "the repetition penalty is 0.0; it takes more than 0"),
        ("--repetition-penalty", "3", "the repetition penalty is 3.0"),
        ("--retry-temperature", "2.5", "the retry temperature is 2.5; it takes 0 (greedy) to 2"),
    ],
)
def test_bad_values_are_a_bad_request(cart, stub, tokenizer_dir, capsys, option, value, problem):
    stub.replay([RIGHT])
    code, err = edit(cart, stub, tokenizer_dir, capsys, option, value)
    assert code == 2
    assert problem in err
    assert stub.requests(CHAT) == []
    assert (cart / "cart.py").read_text() == SOURCE


def test_the_defaults_are_valid_and_greedy():
    assert Decoding().problem() is None
    assert (Decoding().temperature, Decoding().repetition_penalty) == (0.0, 1.0)


def test_editor_settings_are_read_checked_and_kept_on_a_bad_value():
    config, problems = merge(
        FathomConfig(),
        {"temperature": 0.2, "repetitionPenalty": 1, "retryTemperature": 0.7},
        "settings",
    )
    assert problems == []
    assert config.decoding() == Decoding(0.2, 1.0, 0.7)
    config, problems = merge(
        config, {"temperature": 2.5, "repetitionPenalty": 0, "retryTemperature": "hot"}, "s"
    )
    assert config.decoding() == Decoding(0.2, 1.0, 0.7)  # each bad value kept the last good
    assert [p.split(" must ")[0] for p in problems] == [
        "s: fathom.temperature",
        "s: fathom.repetitionPenalty",
        "s: fathom.retryTemperature",
    ]
    config, problems = merge(config, {"retryTemperature": None}, "s")
    assert (config.retry_temperature, problems) == (None, [])
    assert FathomConfig().decoding() == Decoding()  # the server's default is the CLI's


async def test_the_editor_settings_reach_the_servers_every_round(cart, stub, tokenizer_dir):
    stub.replay([UNCHANGED, RETRY])
    async with editor_session(cart, *stub.serve_args(tokenizer_dir)) as client:
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(
                settings={
                    "fathom": {
                        "temperature": 0.3,
                        "repetitionPenalty": 1.1,
                        "retryTemperature": 0.7,
                    }
                }
            )
        )
        for _ in range(100):
            status = await client.workspace_execute_command_async(
                types.ExecuteCommandParams("fathom.status")
            )
            if status["config"]["temperature"] == 0.3:
                break
            await asyncio.sleep(0.05)
        uri = open_document(client, cart / "cart.py")
        result = await client.workspace_execute_command_async(
            types.ExecuteCommandParams("fathom.edit", edit_arguments(uri, 0, 4, "use sum"))
        )
        assert result["applied"] is True, result
        assert "sum(items)" in client.documents[uri][1]
    first, retry = (r.body for r in stub.requests(CHAT))
    assert (first["temperature"], first["repetition_penalty"], "seed" in first) == (
        0.3,
        1.1,
        False,
    )
    assert (retry["temperature"], retry["repetition_penalty"], retry["seed"]) == (0.7, 1.1, 1)
