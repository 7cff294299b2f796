"""``/healthz`` and ``/metrics`` on a local port (``monitoring:`` in the configuration).

``/healthz`` answers 200 when the bot can do its job and 503 when it cannot, with a JSON
body saying why: the database answers ``SELECT 1`` and the outbox count within a second
(one probe at a time: a hung database does not pile up threads, one per scrape), every
enabled adapter is connected and has succeeded recently (the adapters report it here: a
long poll or a sync that succeeded, or the failure they are waiting out; a loop that
stopped reporting for longer than its own long poll could explain is stale), and the
outbox backlog. A container orchestrator or a systemd watchdog restarts on 503;
Prometheus scrapes ``/metrics`` (:mod:`bot.metrics`).

Bound to 127.0.0.1 by default: the figures are for the operator, not the internet.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from bot import metrics

if TYPE_CHECKING:
    from bot.config import Config

log = logging.getLogger(__name__)

DB_TIMEOUT_SECONDS = 1.0
#: added to what one long poll (wait + answer) may take before a silent loop counts as stale
SILENCE_MARGIN_SECONDS = 30.0


@dataclass
class AdapterHealth:
    connected: bool = False
    since: float = field(default_factory=time.monotonic)
    detail: str = "starting"
    #: last reported success (a getUpdates, a sync), for the staleness check
    last_ok: float | None = None
    #: another process does this adapter's work (a lock's standby): healthy, not connected
    standby: bool = False


class Health:
    """What the adapters report of their connection, read by ``/healthz``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.adapters: dict[str, AdapterHealth] = {}
        #: longest silence after which a connected adapter counts as stale (None: never)
        self.max_silence: dict[str, float | None] = {}

    def expect(self, adapter: str, max_silence: float | None = None) -> None:
        """An enabled adapter: unhealthy until it reports a connection, and again when it
        has reported no success for ``max_silence`` seconds (a loop that hung or died)."""
        self.adapters.setdefault(adapter, AdapterHealth(since=self.clock()))
        self.max_silence[adapter] = max_silence

    def connected(self, adapter: str) -> None:
        """A success (called at every long poll or sync, so it stays one clock read)."""
        now = self.clock()
        state = self.adapters.get(adapter)
        if state is None or not state.connected:
            self.adapters[adapter] = AdapterHealth(True, now, "connected", last_ok=now)
        else:
            state.last_ok = now

    def disconnected(self, adapter: str, reason: str) -> None:
        state = self.adapters.get(adapter)
        if state is None or state.connected or state.standby or state.detail != reason:
            self.adapters[adapter] = AdapterHealth(False, self.clock(), reason[:200])

    def standby(self, adapter: str, reason: str) -> None:
        """Another process holds this adapter's work (``bot.leader``): waiting is healthy."""
        self.adapters[adapter] = AdapterHealth(False, self.clock(), reason[:200], standby=True)

    def verdict(self, adapter: str, now: float) -> tuple[bool, str]:
        """Whether ``adapter`` is fine at ``now``, and the detail to show."""
        state = self.adapters[adapter]
        if state.standby:
            return True, state.detail
        if not state.connected:
            return False, state.detail
        limit = self.max_silence.get(adapter)
        if limit is not None and state.last_ok is not None and now - state.last_ok > limit:
            return False, f"no success for {now - state.last_ok:.0f} s (more than {limit:g} s)"
        return True, state.detail


#: the process's health, reported by the adapters (a no-op when monitoring is off)
HEALTH = Health()


def silence_limits(config: Config) -> dict[str, float | None]:
    """The enabled adapters and how long each may stay silent: twice what one long poll
    may take (its wait and its answer's timeout), plus a margin; a Telegram webhook waits
    for Telegram to call, so its silence says nothing."""
    limits: dict[str, float | None] = {}
    if config.telegram.enabled:
        tg = config.telegram
        limits["telegram"] = None if tg.mode == "webhook" else (
            2 * (tg.poll_timeout + tg.request_timeout) + SILENCE_MARGIN_SECONDS)
    if config.matrix.enabled:
        wait = config.matrix.sync_timeout_ms / 1000
        # the nio client's request timeout (adapters/matrix/runner.py)
        limits["matrix"] = 2 * (wait + max(30.0, wait + 15)) + SILENCE_MARGIN_SECONDS
    return limits


def _missing_file(sessions: sessionmaker[Session]) -> str | None:
    """A SQLite file deleted under the bot: its open connections still read the unlinked
    file, so ``SELECT 1`` passes while nothing it writes will survive a restart."""
    bind = sessions.kw.get("bind")
    if not isinstance(bind, Engine) or bind.dialect.name != "sqlite":
        return None
    path = bind.url.database
    if not path or path == ":memory:" or path.startswith("file:") or os.path.exists(path):
        return None
    return f"database file missing: {path}"


def probe(sessions: sessionmaker[Session]) -> tuple[bool, str, dict[str, int] | None]:
    """``SELECT 1`` and the outbox backlog (blocking: run it in a thread)."""
    try:
        missing = _missing_file(sessions)
        if missing is not None:
            metrics.error("database")
            return False, missing, None
        with sessions() as session:
            session.execute(text("SELECT 1"))
        return True, "ok", metrics.outbox_backlog(sessions)
    except Exception as exc:
        metrics.error("database")
        return False, type(exc).__name__, None


class DatabaseProbe:
    """One :func:`probe` in flight at a time: a check still waiting for a hung database
    is awaited again by the next request instead of starting another thread."""

    def __init__(self, sessions: sessionmaker[Session], timeout: float = DB_TIMEOUT_SECONDS) -> None:
        self.sessions = sessions
        self.timeout = timeout
        self._pending: asyncio.Future[tuple[bool, str, dict[str, int] | None]] | None = None

    async def check(self) -> tuple[bool, str, dict[str, int] | None]:
        if self._pending is None or self._pending.done():
            self._pending = asyncio.ensure_future(asyncio.to_thread(probe, self.sessions))
        try:
            return await asyncio.wait_for(asyncio.shield(self._pending), self.timeout)
        except TimeoutError:
            metrics.error("database")
            return False, f"no answer in {self.timeout:g} s", None


async def report(db: DatabaseProbe, health: Health) -> tuple[bool, dict[str, Any]]:
    """The ``/healthz`` verdict and body."""
    db_ok, db_detail, backlog = await db.check()
    now = health.clock()
    adapters: dict[str, dict[str, Any]] = {}
    healthy = db_ok
    for name, state in sorted(health.adapters.items()):
        ok, detail = health.verdict(name, now)
        healthy = healthy and ok
        adapters[name] = {"connected": state.connected, "ok": ok, "detail": detail,
                          "for_seconds": round(now - state.since, 1)}
    body = {"status": "ok" if healthy else "unavailable",
            "database": {"ok": db_ok, "detail": db_detail},
            "adapters": adapters,
            "outbox_backlog": backlog}
    return healthy, body


def make_app(sessions: sessionmaker[Session], health: Health = HEALTH) -> web.Application:
    db = DatabaseProbe(sessions)

    async def healthz(_request: web.Request) -> web.Response:
        healthy, body = await report(db, health)
        return web.Response(status=200 if healthy else 503, text=json.dumps(body),
                            content_type="application/json")

    async def scrape(_request: web.Request) -> web.Response:
        payload = await asyncio.to_thread(generate_latest, metrics.REGISTRY)
        return web.Response(body=payload, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", scrape)
    return app


class MonitoringServer:
    """The aiohttp site serving both routes; ``port`` is the bound one (0 picks a free one)."""

    def __init__(self, sessions: sessionmaker[Session], listen: str, port: int,
                 health: Health = HEALTH) -> None:
        self.sessions = sessions
        self.listen = listen
        self.port = port
        self.health = health
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        metrics.watch_outbox(self.sessions)
        self._runner = web.AppRunner(make_app(self.sessions, self.health),
                                     handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.listen, self.port)
        await site.start()
        server = site._server
        if server is not None and getattr(server, "sockets", None):
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        log.info("monitoring on http://%s:%d (/healthz, /metrics)", self.listen, self.port)

    async def stop(self) -> None:
        metrics.unwatch_outbox()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
