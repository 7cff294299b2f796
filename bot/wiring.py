"""Build a ready engine from a database URL: the one call adapters and the CLI make."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from bot.dialog import AddressGeocoder, Services
from bot.engine import Engine
from bot.spec import DEFAULT_IDLE_TIMEOUT
from directory.db import open_store


def build_engine(
    db_url: str | None = None,
    admins: Iterable[str] = (),
    *,
    geocoder: AddressGeocoder | None = None,
    idle_timeout: timedelta = DEFAULT_IDLE_TIMEOUT,
) -> Engine:
    """An :class:`Engine` on ``db_url`` (``--db``, then ``COMMUNEBOT_DB``, then the embedded
    SQLite file), migrations applied; ``geocoder`` places typed addresses (None: the
    commune's centre stands in, as offline)."""
    _engine, factory = open_store(db_url)
    return Engine(factory, admins=admins, services=Services(geocoder=geocoder),
                  idle_timeout=idle_timeout)
