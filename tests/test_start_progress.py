"""The engine start's progress: each step as the engine tells it, from any thread, and the
time so far while a step lasts; nothing after the start has ended."""

from __future__ import annotations

import asyncio
import re
import threading

from fathom.lsp_server.progress import ticking


async def _until(reports: list[str], pattern: str) -> None:
    for _ in range(500):  # a bound on waiting, not a threshold: it only ends a hung test
        if any(re.fullmatch(pattern, r) for r in reports):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"no report matched {pattern!r}: {reports}")


async def test_steps_from_other_threads_and_the_time_so_far_are_reported() -> None:
    reports: list[str] = []
    async with ticking(reports.append, "qwen", every=0.02) as tell:
        assert reports == ["qwen"]
        worker = threading.Thread(target=tell, args=("Starting the engine (qwen)…",))
        worker.start()
        worker.join()
        await _until(reports, r"Starting the engine \(qwen\)…")
        # The latest step again, with the seconds since the start began.
        await _until(reports, r"Starting the engine \(qwen\)… \(\d+ s\)")
    count = len(reports)
    tell("a step after the start ended")
    await asyncio.sleep(0.1)
    assert len(reports) == count
    assert not any("after the start ended" in r for r in reports)
