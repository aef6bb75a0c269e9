"""A review without an editor (pipeline/review.py), on the stub model server: the model is
shown markers instead of secrets, its findings come back on the real lines with the secrets
restored, and each fix is a checked edit plan or says why there is none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fathom.context import LineRange, Workspace
from fathom.edits.plan import DocumentSnapshot
from fathom.edits.review import ReviewFormatError
from fathom.pipeline.review import run_review
from tests.openai_stub import CHAT, RecordedReply, recorded_reply
from tests.test_secrets import PASSWORD, SECRETS, SETTINGS


def _schema_quotes(handler) -> list[str]:
    """The lines the review's JSON schema lets the model quote, as the model was shown them."""
    schema = handler.seen.body["response_format"]["json_schema"]["schema"]
    return schema["properties"]["findings"]["items"]["properties"]["code"]["enum"]


def _reviewer(handler) -> None:
    """Quotes the database line as shown (a marker in place of the password) and fixes it,
    flags the timeout without a fix, and quotes a line that is not in the file."""
    shown = next(q for q in _schema_quotes(handler) if q.startswith("DATABASE_URL"))
    findings = [
        {
            "code": shown,
            "problem": f"credentials in code: {shown}",
            "severity": "error",
            "fixed_code": 'DATABASE_URL = os.environ["DATABASE_URL"]',
        },
        {"code": "TIMEOUT = 30", "problem": "no unit", "severity": "hint", "fixed_code": ""},
        {"code": "nowhere()", "problem": "invented", "severity": "warning", "fixed_code": ""},
    ]
    recorded_reply(RecordedReply(json.dumps({"findings": findings})))(handler)


@pytest.fixture
def target(tmp_path: Path) -> DocumentSnapshot:
    root = tmp_path / "app"
    root.mkdir()
    path = root / "settings.py"
    path.write_text(SETTINGS)
    return DocumentSnapshot(path.resolve(), SETTINGS, 3)


def _whole(text: str) -> LineRange:
    return LineRange(0, len(text.splitlines()))


async def test_a_review_sends_no_secret_and_places_its_findings(target, stub, tokenizer_dir):
    engine = stub.engine(tokenizer_dir, [_reviewer])
    requests: list[str] = []
    streamed: list[str] = []
    outcome = await run_review(
        engine,
        Workspace(target.path.parent, engine),
        target,
        _whole(SETTINGS),
        on_request=requests.append,
        on_text=lambda piece, _tokens: streamed.append(piece),
    )
    (request,) = stub.requests(CHAT)
    sent = json.dumps(request.body, ensure_ascii=False)
    for secret in SECRETS:
        assert secret not in sent
    assert "«secret-" in sent
    assert len(requests) == 1 and streamed  # named before it started, then streamed

    database, timeout = outcome.findings
    lines = SETTINGS.splitlines()
    assert lines[database.finding.line].startswith("DATABASE_URL")
    assert PASSWORD in database.finding.message  # restored, inside the JSON string
    assert database.fix is not None and database.no_fix_reason == ""
    (fixed,) = database.fix.final_texts().values()
    assert 'DATABASE_URL = os.environ["DATABASE_URL"]' in fixed and PASSWORD not in fixed
    assert lines[timeout.finding.line] == "TIMEOUT = 30"
    assert timeout.fix is None and timeout.no_fix_reason == "no fix offered"
    assert outcome.dropped == 1  # the quote of no line of the file
    assert outcome.stats.completion_tokens > 0


async def test_a_reply_that_is_not_the_findings_json_is_refused(target, stub, tokenizer_dir):
    engine = stub.engine(tokenizer_dir, ['{"findings": [{"code": "TIMEOUT'])  # cut off
    with pytest.raises(ReviewFormatError):
        await run_review(engine, Workspace(target.path.parent, engine), target, _whole(SETTINGS))
