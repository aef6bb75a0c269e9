from settings.config import settings
from settings.dotenv import parse_env


def test_plain_lines_and_comments():
    assert parse_env("# c\n\nA=1\n B = two \n") == {"A": "1", "B": "two"}


def test_export_prefix():
    assert parse_env("export TOKEN=abc\nexport  NAME=x") == {"TOKEN": "abc", "NAME": "x"}


def test_quotes_are_stripped_and_keep_their_content():
    text = "A=\"hello world\"\nB='it # is'\nC=\"\"\nD='x\""
    assert parse_env(text) == {"A": "hello world", "B": "it # is", "C": "", "D": "'x\""}


def test_inline_comment_after_unquoted_value():
    assert parse_env("PORT=9000 # the dev port\nURL=http://h/#frag") == {
        "PORT": "9000",
        "URL": "http://h/#frag",
    }


def test_settings_from_file(tmp_path, monkeypatch):
    monkeypatch.delenv("PORT", raising=False)
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    env = tmp_path / ".env"
    env.write_text('export PORT="9001"\nLOG_LEVEL=debug # noisy\n')
    assert settings(env) == {"PORT": "9001", "LOG_LEVEL": "debug"}
