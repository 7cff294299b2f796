"""``/healthz`` (issue 15): a connected adapter that stopped succeeding is stale, a
standby is healthy, a deleted SQLite file or a hung database gives 503 without piling up
probes, and the port is the configured one; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import threading
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot import health as health_module
from bot.config import parse_config
from bot.health import DatabaseProbe, Health, MonitoringServer, silence_limits
from directory.db import open_store


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def get(port: int, path: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as client, client.get(f"http://127.0.0.1:{port}{path}") as resp:
        return resp.status, json.loads(await resp.text())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_connected_adapter_that_stops_succeeding_goes_stale() -> None:
    clock = Clock()
    health = Health(clock)
    health.expect("telegram", max_silence=60)
    assert health.verdict("telegram", clock.now) == (False, "starting")
    health.connected("telegram")
    clock.now += 59
    health.connected("telegram")  # the next long poll came back
    clock.now += 59
    assert health.verdict("telegram", clock.now) == (True, "connected")
    clock.now += 2  # 61 s since the last success
    ok, detail = health.verdict("telegram", clock.now)
    assert not ok and "no success for 61 s" in detail
    health.connected("telegram")
    assert health.verdict("telegram", clock.now)[0] is True


def test_no_limit_means_no_staleness_and_a_standby_is_healthy() -> None:
    clock = Clock()
    health = Health(clock)
    health.expect("telegram", max_silence=None)  # a webhook: Telegram calls when it has news
    health.connected("telegram")
    clock.now += 86_400
    assert health.verdict("telegram", clock.now)[0] is True
    health.expect("matrix", max_silence=60)
    health.standby("matrix", "another process syncs this account")
    clock.now += 3600
    assert health.verdict("matrix", clock.now) == (True, "another process syncs this account")
    health.disconnected("matrix", "sync failed: 502")  # it took over, then failed
    assert health.verdict("matrix", clock.now) == (False, "sync failed: 502")


def test_silence_limits_follow_the_adapters_configuration() -> None:
    polling = parse_config({"telegram": {"enabled": True, "token": "1:x", "poll_timeout": 20,
                                         "request_timeout": 5}})
    assert silence_limits(polling) == {"telegram": 2 * (20 + 5) + health_module.SILENCE_MARGIN_SECONDS}
    webhook = parse_config({"telegram": {"enabled": True, "token": "1:x", "mode": "webhook",
                                         "webhook_url": "https://bot.example.org/hook"},
                            "matrix": {"enabled": True, "user_id": "@bot:example.org",
                                       "password": "secret", "sync_timeout_ms": 10_000}})
    limits = silence_limits(webhook)
    assert limits["telegram"] is None
    assert limits["matrix"] is not None and limits["matrix"] > 2 * 10
    assert silence_limits(parse_config({})) == {}


def test_healthz_says_503_when_a_connected_adapter_went_silent(store: Any) -> None:
    _engine, factory = store
    clock = Clock()
    health = Health(clock)
    health.expect("matrix", max_silence=90)
    health.connected("matrix")

    async def scenario() -> list[tuple[int, dict[str, Any]]]:
        server = MonitoringServer(factory, "127.0.0.1", 0, health)
        await server.start()
        try:
            fresh = await get(server.port, "/healthz")
            clock.now += 91
            stale = await get(server.port, "/healthz")
            return [fresh, stale]
        finally:
            await server.stop()

    (fresh_status, fresh), (stale_status, stale) = asyncio.run(scenario())
    assert fresh_status == 200 and fresh["adapters"]["matrix"]["ok"] is True
    assert fresh["database"]["ok"] is True and fresh["outbox_backlog"] == {}
    assert stale_status == 503 and stale["adapters"]["matrix"]["ok"] is False
    assert "no success for 91 s" in stale["adapters"]["matrix"]["detail"]
    assert stale["database"]["ok"] is True


def test_healthz_says_503_when_the_sqlite_file_was_deleted(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    engine, factory = open_store(f"sqlite:///{path}")

    async def scenario() -> list[tuple[int, dict[str, Any]]]:
        server = MonitoringServer(factory, "127.0.0.1", 0, Health())
        await server.start()
        try:
            before = await get(server.port, "/healthz")
            for name in ("bot.db", "bot.db-wal", "bot.db-shm"):
                if (tmp_path / name).exists():
                    os.remove(tmp_path / name)
            return [before, await get(server.port, "/healthz")]
        finally:
            await server.stop()

    try:
        (before_status, _before), (after_status, after) = asyncio.run(scenario())
    finally:
        engine.dispose()
    assert before_status == 200
    assert after_status == 503
    assert after["database"] == {"ok": False, "detail": f"database file missing: {path}"}
    assert after["outbox_backlog"] is None


def test_a_hung_database_gives_503_and_one_probe_at_a_time(
        store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _engine, factory = store
    release = threading.Event()
    calls: list[int] = []

    def hung(_sessions: Any) -> tuple[bool, str, None]:
        calls.append(1)
        release.wait(5)
        return True, "ok", None

    monkeypatch.setattr(health_module, "probe", hung)

    async def scenario() -> list[tuple[bool, str, Any]]:
        db = DatabaseProbe(factory, timeout=0.05)
        seen = [await db.check(), await db.check()]
        release.set()
        await asyncio.sleep(0.05)
        seen.append(await db.check())  # answered: the next check starts a new probe
        return seen

    first, second, third = asyncio.run(scenario())
    assert first == second == (False, "no answer in 0.05 s", None)
    assert third == (True, "ok", None)
    assert len(calls) == 2


def test_the_server_listens_on_the_configured_port(store: Any) -> None:
    _engine, factory = store
    port = free_port()
    config = parse_config({"monitoring": {"enabled": True, "listen": "127.0.0.1", "port": port}})

    async def scenario() -> int:
        server = MonitoringServer(factory, config.monitoring.listen, config.monitoring.port, Health())
        await server.start()
        try:
            status, _body = await get(server.port, "/healthz")
            assert server.port == port
            return status
        finally:
            await server.stop()

    assert asyncio.run(scenario()) == 200
    with socket.socket() as again, pytest.raises(ConnectionRefusedError):  # stopped with it
        again.connect(("127.0.0.1", port))


def test_a_matrix_standby_is_healthy_until_it_takes_over_the_sync(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Several workers: the one waiting for another's Matrix sync lock is not restarted
    by its orchestrator for it; once it holds the lock it must connect to be healthy."""
    import functools

    from adapters.matrix import runner
    from adapters.matrix.config import MatrixConfig
    from bot.health import HEALTH
    from bot.leader import hold, lock_for

    monkeypatch.setattr(HEALTH, "adapters", {})
    monkeypatch.setattr(HEALTH, "max_silence", {})
    monkeypatch.setattr(runner, "hold", functools.partial(hold, poll=0.05))
    config = MatrixConfig(enabled=True, homeserver=f"http://127.0.0.1:{free_port()}",
                          user_id="@bot:localhost", password="secret", encryption=False,
                          store_path=str(tmp_path / "store"))
    other = lock_for(None, f"matrix-sync:{config.user_id}", tmp_path / "store")
    assert other.try_acquire()  # another worker syncs

    class Silent:
        async def handle(self, _incoming: Any) -> list[Any]:
            return []

    async def scenario() -> tuple[tuple[bool, str], tuple[bool, str]]:
        task = asyncio.ensure_future(runner.MatrixBot(config, Silent()).run())
        try:
            await asyncio.sleep(0.2)
            waiting = HEALTH.verdict("matrix", HEALTH.clock())
            other.release()  # it stopped: this one takes over
            await asyncio.sleep(0.5)
            return waiting, HEALTH.verdict("matrix", HEALTH.clock())
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    waiting, took_over = asyncio.run(scenario())
    assert waiting == (True, "standby: another process may sync @bot:localhost")
    assert took_over[0] is False and not HEALTH.adapters["matrix"].standby
