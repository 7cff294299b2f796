"""``/healthz`` and ``/metrics`` on a local port (``monitoring:`` in the configuration).

``/healthz`` answers 200 when the bot can do its job and 503 when it cannot, with a JSON
body saying why: the database answers ``SELECT 1`` within a second, every enabled adapter
is connected (the adapters report it here: a long poll or a sync that succeeded, or the
failure they are waiting out), and the outbox backlog. A container orchestrator or a
systemd watchdog restarts on 503; Prometheus scrapes ``/metrics`` (:mod:`bot.metrics`).

Bound to 127.0.0.1 by default: the figures are for the operator, not the internet.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from bot import metrics

log = logging.getLogger(__name__)

DB_TIMEOUT_SECONDS = 1.0


@dataclass
class AdapterHealth:
    connected: bool = False
    since: float = field(default_factory=time.monotonic)
    detail: str = "starting"


class Health:
    """What the adapters report of their connection, read by ``/healthz``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.adapters: dict[str, AdapterHealth] = {}

    def expect(self, adapter: str) -> None:
        """An enabled adapter: unhealthy until it reports a connection."""
        self.adapters.setdefault(adapter, AdapterHealth(since=self.clock()))

    def connected(self, adapter: str) -> None:
        state = self.adapters.get(adapter)
        if state is None or not state.connected:
            self.adapters[adapter] = AdapterHealth(True, self.clock(), "connected")

    def disconnected(self, adapter: str, reason: str) -> None:
        state = self.adapters.get(adapter)
        if state is None or state.connected or state.detail != reason:
            self.adapters[adapter] = AdapterHealth(False, self.clock(), reason[:200])


#: the process's health, reported by the adapters (a no-op when monitoring is off)
HEALTH = Health()


def database_ok(sessions: sessionmaker[Session]) -> tuple[bool, str]:
    try:
        with sessions() as session:
            session.execute(text("SELECT 1"))
        return True, "ok"
    except Exception as exc:
        metrics.error("database")
        return False, type(exc).__name__


async def report(sessions: sessionmaker[Session], health: Health) -> tuple[bool, dict[str, Any]]:
    """The ``/healthz`` verdict and body."""
    try:
        db_ok, db_detail = await asyncio.wait_for(
            asyncio.to_thread(database_ok, sessions), DB_TIMEOUT_SECONDS)
    except TimeoutError:
        db_ok, db_detail = False, f"no answer in {DB_TIMEOUT_SECONDS:g} s"
    backlog: dict[str, int] | None = None
    if db_ok:
        try:
            backlog = await asyncio.to_thread(metrics.outbox_backlog, sessions)
        except Exception as exc:
            db_ok, db_detail = False, type(exc).__name__
    now = health.clock()
    adapters = {
        name: {"connected": state.connected, "detail": state.detail,
               "for_seconds": round(now - state.since, 1)}
        for name, state in sorted(health.adapters.items())
    }
    healthy = db_ok and all(state.connected for state in health.adapters.values())
    body = {"status": "ok" if healthy else "unavailable",
            "database": {"ok": db_ok, "detail": db_detail},
            "adapters": adapters,
            "outbox_backlog": backlog}
    return healthy, body


def make_app(sessions: sessionmaker[Session], health: Health = HEALTH) -> web.Application:
    async def healthz(_request: web.Request) -> web.Response:
        healthy, body = await report(sessions, health)
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
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
