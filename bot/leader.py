"""One process at a time for work that must not run twice: the Matrix sync of a bot account.

Several ``communebot run`` processes may share one database (Telegram webhook workers);
only one of them may sync a Matrix account (two would both answer every message and
fight over the sync token and the encryption keys). Each process that has Matrix enabled
waits here for a lock before syncing:

- on PostgreSQL, a session-level advisory lock (``pg_try_advisory_lock``) held by a
  connection kept open for the purpose: it works across machines, and the server frees
  it the moment the holder's connection dies (a crash, a kill), so a waiting process
  takes over within one polling interval;
- on SQLite (one machine by nature), an exclusive ``flock`` on a file beside the data,
  which the kernel frees when the holder exits however it exits.

A waiting process says so once in the log, then checks again every ``poll`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, text

log = logging.getLogger("communebot.leader")

POLL_SECONDS = 5.0


class Lock(Protocol):
    def try_acquire(self) -> bool: ...
    def release(self) -> None: ...


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (advisory locks take a bigint)."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class AdvisoryLock:
    """PostgreSQL: held while this object's own connection stays open."""

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.key = lock_key(name)
        self._conn: Connection | None = None

    def try_acquire(self) -> bool:
        if self._conn is None:
            self._conn = self.engine.connect()
        taken = bool(self._conn.execute(text("SELECT pg_try_advisory_lock(:key)"),
                                        {"key": self.key}).scalar())
        self._conn.commit()  # no transaction left open while waiting or holding
        return taken

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                self._conn.commit()
            self._conn.close()
            self._conn = None


class FileLock:
    """One machine: an exclusive, non-blocking ``flock`` on ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def lock_for(engine: Engine | None, name: str, fallback_dir: Path) -> Lock:
    """The advisory lock on PostgreSQL, else a file lock in ``fallback_dir``."""
    if engine is not None and engine.dialect.name == "postgresql":
        return AdvisoryLock(engine, name)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return FileLock(fallback_dir / f"{safe}.lock")


async def hold(lock: Lock, what: str, poll: float = POLL_SECONDS) -> None:
    """Return once ``lock`` is ours; until then log once that another process has it."""
    said = False
    while not await asyncio.to_thread(lock.try_acquire):
        if not said:
            log.warning("another process is running %s: waiting to take over (checking every "
                        "%.0f s)", what, poll)
            said = True
        await asyncio.sleep(poll)
    if said:
        log.warning("took over %s", what)


def engine_of(sessions: Any) -> Engine | None:
    """The SQLAlchemy engine behind a session factory, if there is one."""
    bind = getattr(sessions, "kw", {}).get("bind")
    return bind if isinstance(bind, Engine) else None
