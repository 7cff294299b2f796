"""Issue 15, operations: ``/metrics`` moves with what the bot did (messages by platform and
intent, the reply latency histogram, the outbox backlog) and ``/healthz`` says 200 only
when the database answers and every enabled adapter is connected, on both backends."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import metrics
from bot.config import ConfigError, parse_config
from bot.health import Health, MonitoringServer
from bot.messages import Incoming, Outgoing, Target, TargetKind, Text
from bot.outbox import enqueue


def said(text: str, user: str = "501", platform: str = "telegram") -> Incoming:
    return Incoming(platform=platform, user_id=user, chat_id=user, text=text,  # type: ignore[arg-type]
                    language_hint="fr")


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


async def get(port: int, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as client, client.get(f"http://127.0.0.1:{port}{path}") as resp:
        return resp.status, await resp.text()


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_metrics_count_messages_by_intent_and_latency_and_the_outbox_backlog(
        bot: Any, engine_store: Any) -> None:
    _engine, factory = engine_store
    health = Health()

    async def scenario() -> dict[Any, float]:
        server = MonitoringServer(factory, "127.0.0.1", 0, health)
        await server.start()
        try:
            status, before_text = await get(server.port, "/metrics")
            assert status == 200
            before = samples(before_text)
            await asyncio.to_thread(bot.handle_sync, said("/start 97415"))
            await asyncio.to_thread(bot.handle_sync, said("boulangerie"))
            await asyncio.to_thread(bot.handle_sync, said("/help", user="502", platform="matrix"))
            with factory() as session, session.begin():
                assert enqueue(session, Outgoing(target=Target(TargetKind.USER, "telegram", "501"),
                                                 spans=(Text("hello"),))) == 1
            _status, after_text = await get(server.port, "/metrics")
            after = samples(after_text)
            return {key: after.get(key, 0.0) - before.get(key, 0.0) for key in after} | {
                ("backlog", frozenset()): value(after, "communebot_outbox_backlog",
                                                platform="telegram")}
        finally:
            await server.stop()

    moved = asyncio.run(scenario())
    handled = {labels: n for (name, labels), n in moved.items()
               if name == "communebot_messages_handled_total" and n}
    assert sum(handled.values()) == 3
    assert value(moved, "communebot_messages_handled_total", platform="telegram", intent="register") == 1
    assert value(moved, "communebot_messages_handled_total", platform="matrix", intent="help") == 1
    search = [dict(labels)["intent"] for labels in handled if ("platform", "telegram") in labels]
    assert len(search) == 2 and "other" not in search  # "boulangerie" is a search, labelled so
    assert value(moved, "communebot_reply_seconds_count", platform="telegram") == 2
    assert value(moved, "communebot_reply_seconds_count", platform="matrix") == 1
    # one message waits for Telegram
    assert moved[("backlog", frozenset())] == 1


def test_healthz_is_503_until_every_enabled_adapter_is_connected(engine_store: Any) -> None:
    _engine, factory = engine_store
    health = Health()
    health.expect("telegram")

    async def scenario() -> list[tuple[int, dict[str, Any]]]:
        server = MonitoringServer(factory, "127.0.0.1", 0, health)
        await server.start()
        seen = []
        try:
            for change in (None, lambda: health.connected("telegram"),
                           lambda: health.disconnected("telegram", "getUpdates failed: 502")):
                if change is not None:
                    change()
                status, body = await get(server.port, "/healthz")
                seen.append((status, json.loads(body)))
        finally:
            await server.stop()
        return seen

    starting, up, down = asyncio.run(scenario())
    assert starting[0] == 503 and starting[1]["adapters"]["telegram"]["detail"] == "starting"
    assert up[0] == 200 and up[1]["status"] == "ok" and up[1]["database"]["ok"] is True
    assert up[1]["outbox_backlog"] == {}
    assert down[0] == 503 and "502" in down[1]["adapters"]["telegram"]["detail"]


def test_healthz_is_503_when_the_database_does_not_answer(tmp_path: Any) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    unreachable = sessionmaker(create_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{closed}/none", connect_args={"connect_timeout": 1}))

    async def scenario() -> tuple[int, dict[str, Any]]:
        server = MonitoringServer(unreachable, "127.0.0.1", 0, Health())
        await server.start()
        try:
            status, body = await get(server.port, "/healthz")
            _s, scraped = await get(server.port, "/metrics")  # still answers, without a backlog
            assert _s == 200 and "communebot_errors_total" in scraped
            return status, json.loads(body)
        finally:
            await server.stop()

    before = metrics.ERRORS.labels(kind="database")._value.get()
    status, body = asyncio.run(scenario())
    assert status == 503
    assert body["database"]["ok"] is False and body["outbox_backlog"] is None
    assert metrics.ERRORS.labels(kind="database")._value.get() > before


def test_monitoring_configuration() -> None:
    config = parse_config({"monitoring": {"enabled": True, "port": 9999}})
    assert (config.monitoring.enabled, config.monitoring.listen, config.monitoring.port) == (
        True, "127.0.0.1", 9999)
    assert parse_config({}).monitoring.enabled is False
    with pytest.raises(ConfigError, match=r"monitoring\.prot"):
        parse_config({"monitoring": {"prot": 1}})
    with pytest.raises(ConfigError, match=r"monitoring\.port"):
        parse_config({"monitoring": {"port": 70000}})
