"""A bad setting keeps the value in force before it (from the command line, the
initializationOptions or an earlier change), and the message says so with that value,
never "default" when it is not the default."""

from __future__ import annotations

import pytest

from fathom.lsp_server.config import FathomConfig, merge


@pytest.mark.parametrize(
    ("current", "key", "bad", "kept"),
    [
        (FathomConfig(max_output_tokens=4096), "maxOutputTokens", "lots", "4096"),
        (FathomConfig(max_output_tokens=4096), "maxOutputTokens", 8, "4096"),
        (FathomConfig(review_severity="warning"), "reviewSeverity", "loud", '"warning"'),
        (FathomConfig(context_budget=8000), "contextBudget", -1, "8000"),
        (FathomConfig(model="/models/mine"), "model", "", '"/models/mine"'),
        (FathomConfig(journal_max_days=7), "journalMaxDays", -1, "7"),
    ],
)
def test_a_bad_value_keeps_the_current_one_and_the_message_names_it(
    current: FathomConfig, key: str, bad: object, kept: str
):
    config, problems = merge(current, {key: bad}, "settings")
    assert config == current
    assert len(problems) == 1
    assert f"fathom.{key}" in problems[0]
    assert problems[0].endswith(f"keeps its current value {kept}")
    assert "default" not in problems[0]


def test_a_bad_value_after_a_good_one_keeps_the_good_one():
    first, problems = merge(FathomConfig(), {"maxOutputTokens": 1024}, "initializationOptions")
    assert problems == []
    second, problems = merge(first, {"maxOutputTokens": 1_000_000}, "settings")
    assert second.max_output_tokens == 1024
    assert problems[0].endswith("keeps its current value 1024")


def test_openai_without_a_server_url_keeps_the_engine_in_use():
    current = FathomConfig(engine="openai", server_url="http://127.0.0.1:8000/v1")
    config, problems = merge(current, {"serverUrl": None}, "settings")
    assert (config.engine, config.server_url) == ("openai", "http://127.0.0.1:8000/v1")
    assert problems == [
        'settings: fathom.engine "openai" needs fathom.serverUrl; fathom.engine and '
        'fathom.serverUrl keep their current values "openai" and "http://127.0.0.1:8000/v1"'
    ]
    config, problems = merge(FathomConfig(), {"engine": "openai"}, "settings")
    assert (config.engine, config.server_url) == ("embedded", None)
    assert problems[0].endswith('keep their current values "embedded" and null')


def test_every_problem_is_reported_in_the_order_sent_and_the_good_values_apply():
    config, problems = merge(
        FathomConfig(),
        {"maxOutputTokens": "lots", "contextBudjet": 8000, "reviewSeverity": "error"},
        "settings",
    )
    assert config.review_severity == "error" and config.max_output_tokens == 2048
    assert len(problems) == 2
    assert problems[0].startswith("settings: fathom.maxOutputTokens must be a whole number")
    assert problems[1].startswith("settings: unknown setting fathom.contextBudjet (known: ")


@pytest.mark.parametrize(("key", "bad"), [("reviewSeverity", ["hint"]), ("engine", {"x": 1})])
def test_a_value_of_the_wrong_shape_is_reported_not_raised(key: str, bad: object):
    config, problems = merge(FathomConfig(), {key: bad}, "settings")
    assert config == FathomConfig()
    assert len(problems) == 1 and f"fathom.{key} must be" in problems[0]
