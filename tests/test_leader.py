"""Issue 15, several workers: one process at a time syncs a Matrix account. A second
process waits, says so once, and takes over when the first stops or is killed (the lock
dies with its holder: PostgreSQL frees an advisory lock with its connection, the kernel
frees a ``flock`` with its process)."""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from bot.leader import FileLock, Lock, hold, lock_for, lock_key
from directory.db import normalise_url

HOLDER = """
import sys, time
from pathlib import Path
from sqlalchemy import create_engine
from bot.leader import lock_for
url, directory = sys.argv[1], sys.argv[2]
engine = create_engine(url) if url != "-" else None
lock = lock_for(engine, "matrix-sync:@bot:example.org", Path(directory))
assert lock.try_acquire()
print("held", flush=True)
time.sleep(60)
"""


@pytest.fixture(params=["file", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Callable[[], Lock]]:
    """(url for a holder process or "-", a maker of locks of this process)."""
    if request.param == "file":
        return "-", lambda: lock_for(None, "matrix-sync:@bot:example.org", tmp_path)
    url = normalise_url(str(request.getfixturevalue("pg_url")))
    engine = create_engine(url)
    request.addfinalizer(engine.dispose)
    return url, lambda: lock_for(engine, "matrix-sync:@bot:example.org", tmp_path)


def test_one_holder_at_a_time_and_release_hands_over(
        backend: tuple[str, Callable[[], Lock]]) -> None:
    _url, make = backend
    first, second = make(), make()
    assert first.try_acquire()
    assert not second.try_acquire()
    first.release()
    assert second.try_acquire()
    assert not first.try_acquire()
    second.release()


def test_a_killed_holder_frees_the_lock_and_a_waiting_process_takes_over(
        backend: tuple[str, Callable[[], Lock]], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    url, make = backend
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, url, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        mine = make()

        async def wait_then_kill() -> float:
            waiting = asyncio.create_task(hold(mine, "the Matrix sync of @bot:example.org", poll=0.1))
            await asyncio.sleep(0.5)
            assert not waiting.done()  # the other process has it
            holder.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            await asyncio.wait_for(waiting, 10)
            return time.monotonic() - killed

        with caplog.at_level(logging.WARNING, logger="communebot.leader"):
            took = asyncio.run(wait_then_kill())
        assert took < 5
        said = [r.getMessage() for r in caplog.records]
        assert said[0].startswith("another process is running the Matrix sync of @bot:example.org")
        assert said[-1] == "took over the Matrix sync of @bot:example.org"
        assert len(said) == 2  # said once while waiting, not at every check
        mine.release()
    finally:
        holder.kill()
        holder.wait()


def test_lock_names_are_stable_and_distinct(tmp_path: Path) -> None:
    assert lock_key("matrix-sync:@a:x") == lock_key("matrix-sync:@a:x")
    assert lock_key("matrix-sync:@a:x") != lock_key("matrix-sync:@b:x")
    assert isinstance(lock_for(None, "matrix-sync:@a:x/../y", tmp_path), FileLock)
    lock = lock_for(None, "matrix-sync:@a:x/../y", tmp_path)
    assert lock.try_acquire()
    assert list(tmp_path.iterdir()) == [tmp_path / "matrix-sync__a_x_.._y.lock"]  # stays inside
    lock.release()
