"""A stop never hangs on a task that swallows its cancellation (a full test run once hung
in an adapter's teardown): it waits ``CANCEL_WAIT`` seconds, says so, and goes on."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from adapters.telegram import receive


async def test_a_task_that_ignores_cancel_delays_a_stop_only_by_the_bound(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(receive, "CANCEL_WAIT", 0.2)
    stop_for_good = asyncio.Event()

    async def stubborn() -> None:
        while not stop_for_good.is_set():
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                continue  # a retry loop that treats cancellation as one more error

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0.02)
    task.cancel()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="communebot.telegram"):
        await receive._cancelled(task)
    assert time.monotonic() - started < 2.0
    assert "did not end" in caplog.text
    stop_for_good.set()
    await task


async def test_a_task_that_obeys_is_awaited_to_its_end() -> None:
    ended = asyncio.Event()

    async def polite() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            ended.set()

    task = asyncio.create_task(polite())
    await asyncio.sleep(0.01)
    task.cancel()
    await receive._cancelled(task)
    assert ended.is_set() and task.cancelled()
