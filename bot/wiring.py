"""Build a ready engine from a database URL: the one call adapters and the CLI make."""

from __future__ import annotations

from collections.abc import Iterable

from bot.engine import Engine
from directory.db import open_store


def build_engine(db_url: str | None = None, admins: Iterable[str] = ()) -> Engine:
    """An :class:`Engine` on ``db_url`` (``--db``, then ``COMMUNEBOT_DB``, then the embedded
    SQLite file), migrations applied."""
    _engine, factory = open_store(db_url)
    return Engine(factory, admins=admins)
