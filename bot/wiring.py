"""Build a ready engine from a database URL: the one call adapters and the CLI make."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from bot.config import ModerationConfig
from bot.dialog import AddressGeocoder, Services
from bot.engine import Engine
from bot.flood import FloodControl
from bot.spec import DEFAULT_IDLE_TIMEOUT
from directory import services
from directory.db import open_store


def build_engine(
    db_url: str | None = None,
    admins: Iterable[str] = (),
    *,
    geocoder: AddressGeocoder | None = None,
    idle_timeout: timedelta = DEFAULT_IDLE_TIMEOUT,
    moderation: ModerationConfig | None = None,
    retention_days: int = 30,
) -> Engine:
    """An :class:`Engine` on ``db_url`` (``--db``, then ``COMMUNEBOT_DB``, then the embedded
    SQLite file), migrations applied; ``geocoder`` places typed addresses (None: the
    commune's centre stands in, as offline); ``moderation`` sets the flood control and the
    daily caps (the defaults when None)."""
    _engine, factory = open_store(db_url)
    limits = moderation or ModerationConfig()
    services.configure_limits(daily_entries=limits.daily_entries, daily_reports=limits.daily_reports)
    return Engine(factory, admins=admins,
                  services=Services(geocoder=geocoder, retention_days=retention_days),
                  idle_timeout=idle_timeout,
                  flood=FloodControl(limits.flood_burst, limits.flood_per_minute))
