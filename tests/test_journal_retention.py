"""The edit journal is bounded: entries past journalMaxDays or journalMaxMegabytes are deleted
(oldest first) and their bytes leave the disk; 0 keeps no journal. The limits are server
settings, validated like the others."""

from __future__ import annotations

from pathlib import Path

import pytest

from fathom.edits.journal import EditJournal, Outcome
from fathom.lsp_server.config import FathomConfig, merge
from fathom.lsp_server.server import FathomServer
from fathom.lsp_server.settings_sync import apply_settings

DAY = 86_400.0
MIB = 1 << 20
SECRET = "ghp_" + "S3cr3tT0k3n" * 4  # a reply holds the secrets the prompt had masked


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _record(journal: EditJournal, instruction: str, reply: str = "") -> int | None:
    return journal.record(
        started=0.0,
        root=Path("/r"),
        target=Path("/r/a.py"),
        instruction=instruction,
        outcome=Outcome.APPLIED,
        replies=[reply or f"reply with {SECRET}"],
    )


def _on_disk(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_entries_older_than_max_days_are_pruned(tmp_path: Path):
    clock = Clock()
    path = tmp_path / "journal.sqlite"
    journal = EditJournal(path, max_days=2, clock=clock)
    _record(journal, "old")
    clock.now += DAY
    _record(journal, "yesterday's")
    clock.now += 1.5 * DAY  # "old" is now 2.5 days old, past the limit
    _record(journal, "new")
    assert [e.instruction for e in journal.recent()] == ["new", "yesterday's"]
    journal.close()
    # Opening prunes too, without waiting for an insert.
    clock.now += 1.5 * DAY
    reopened = EditJournal(path, max_days=2, clock=clock)
    assert [e.instruction for e in reopened.recent()] == ["new"]
    reopened.close()


def test_the_size_limit_drops_the_oldest_entries_first(tmp_path: Path):
    clock = Clock()
    journal = EditJournal(tmp_path / "journal.sqlite", max_megabytes=1, clock=clock)
    reply = "x" * 400_000
    for name in ("first", "second", "third"):
        clock.now += 61  # past the minute between prunes
        _record(journal, name, reply)
    # 1.2 MB written, 1 MiB allowed: only the newest two fit.
    assert [e.instruction for e in journal.recent()] == ["third", "second"]
    journal.close()


def test_pruned_entries_leave_the_disk_and_the_file_shrinks(tmp_path: Path):
    clock = Clock()
    path = tmp_path / "journal.sqlite"
    journal = EditJournal(path, clock=clock)
    for n in range(10):
        _record(journal, f"edit {n}", f"{SECRET} " + "y" * 400_000)
    _record(journal, "kept", "no secret here")
    assert path.stat().st_size > 3 * MIB
    journal.set_limits(30, 1)  # the user tightened the limit
    assert [e.instruction for e in journal.recent()][:3] == ["kept", "edit 9", "edit 8"]
    assert len(journal.recent()) == 3
    journal.set_limits(30, 0)  # and then turned the journal off
    assert journal.recent() == [] and not journal.enabled
    assert _record(journal, "not kept") is None
    journal.close()
    assert path.stat().st_size < 64 * 1024
    assert SECRET.encode() not in _on_disk(path)


def test_a_journal_that_is_off_writes_no_file(tmp_path: Path):
    path = tmp_path / "journal.sqlite"
    journal = EditJournal(path, max_days=0)
    assert _record(journal, "anything") is None
    assert journal.recent() == []
    assert not path.exists()


@pytest.mark.parametrize("value", [-1, 1_000_000, 2.5, "30", True, None])
def test_a_bad_journal_limit_is_reported_and_the_current_value_kept(value: object):
    current = FathomConfig(journal_max_days=7, journal_max_megabytes=5)
    config, problems = merge(
        current, {"journalMaxDays": value, "journalMaxMegabytes": value}, "settings"
    )
    assert (config.journal_max_days, config.journal_max_megabytes) == (7, 5)
    assert len(problems) == 2
    assert "fathom.journalMaxDays" in problems[0]
    assert problems[0].endswith("keeps its current value 7")
    assert "fathom.journalMaxMegabytes" in problems[1]
    assert problems[1].endswith("keeps its current value 5")


def test_journal_limits_are_settings_with_defaults():
    config, problems = merge(FathomConfig(), {"journalMaxDays": 0, "journalMaxMegabytes": 200}, "s")
    assert problems == []
    assert (config.journal_max_days, config.journal_max_megabytes) == (0, 200)
    defaults = FathomConfig().as_settings()
    assert (defaults["journalMaxDays"], defaults["journalMaxMegabytes"]) == (30, 50)


def _server(shown: list[str]) -> FathomServer:
    def no_engine(config: FathomConfig):
        raise AssertionError("no engine is needed")

    server = FathomServer(no_engine)
    server.show = lambda message, kind=None: shown.append(message)  # type: ignore[method-assign]
    return server


def test_the_settings_reach_the_journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FATHOM_CACHE_DIR", str(tmp_path))
    shown: list[str] = []
    server = _server(shown)
    apply_settings(server, {"fathom": {"journalMaxDays": 7, "journalMaxMegabytes": 2}}, "init")
    journal = server.journal()
    assert journal.path == tmp_path / "journal.sqlite"
    assert (journal.max_days, journal.max_megabytes) == (7, 2)
    _record(journal, "an edit")
    apply_settings(server, {"journalMaxMegabytes": 0}, "settings")  # changed while running
    assert server.journal().recent() == [] and not server.journal().enabled
    assert SECRET.encode() not in _on_disk(journal.path)
    apply_settings(server, {"journalMaxDays": -3}, "settings")
    assert server.config.journal_max_days == 7
    assert any("journalMaxDays" in m for m in shown)
    journal.close()


def test_turning_the_journal_off_clears_it_before_any_edit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("FATHOM_CACHE_DIR", str(tmp_path))
    earlier = EditJournal(tmp_path / "journal.sqlite")
    _record(earlier, "from an earlier session")
    earlier.close()
    server = _server([])
    apply_settings(server, {"journalMaxDays": 0}, "initializationOptions")
    assert SECRET.encode() not in _on_disk(tmp_path / "journal.sqlite")
