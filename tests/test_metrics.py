"""Prometheus metrics (issue 15) recorded where the facts are known: console messages by
intent and their latency, failed turns by kind (a bug vs the database), queued digests
and the outbox backlog gauge read at scrape time, and delivery failures on Telegram and
Matrix; on SQLite and PostgreSQL where the store is involved."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from nio.responses import RoomSendError
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from adapters.matrix.send import MatrixSending
from adapters.telegram.config import TelegramConfig
from adapters.telegram.runner import TelegramAdapter
from bot import metrics
from bot.digests import run_due
from bot.engine import Engine
from bot.messages import Incoming, Outgoing, Target, TargetKind, Text
from directory import services
from directory.db import transaction
from directory.digests import Subscriber, subscribe
from directory.models import Account, Citizen

SAINT_PAUL = "97415"
FRIDAY = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
#: Monday 7 December 2026, 08:00 in La Réunion (UTC+4)
MONDAY_8_REUNION = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)


def sample(name: str, **labels: str) -> float:
    """One figure as ``/metrics`` shows it (the text format, parsed back)."""
    text = generate_latest(metrics.REGISTRY).decode()
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return float(found.value)
    return 0.0


def console(text: str, user: str = "ana") -> Incoming:
    return Incoming(platform="console", user_id=user, chat_id=user, text=text, language_hint="fr")


def test_console_messages_count_by_intent_with_their_latency(store: Any) -> None:
    _engine, factory = store
    bot = Engine(factory)
    before_help = sample("communebot_messages_handled_total", platform="console", intent="help")
    before_count = sample("communebot_reply_seconds_count", platform="console")
    before_sum = sample("communebot_reply_seconds_sum", platform="console")
    slowest = sample("communebot_reply_seconds_bucket", platform="console", le="10.0")
    bot.handle_sync(console("/help"))
    bot.handle_sync(console("aide", user="bob"))
    assert sample("communebot_messages_handled_total", platform="console", intent="help") == before_help + 2
    assert sample("communebot_reply_seconds_count", platform="console") == before_count + 2
    assert sample("communebot_reply_seconds_sum", platform="console") > before_sum
    assert sample("communebot_reply_seconds_bucket", platform="console", le="10.0") == slowest + 2


def test_a_failed_turn_counts_as_a_bug_or_as_the_database() -> None:
    assert metrics.kind_of(ValueError("a bug")) == "engine"
    assert metrics.kind_of(OperationalError("SELECT 1", {}, Exception("server closed"))) == "database"

    def broken(*_args: Any, **_kw: Any) -> Any:
        raise RuntimeError("a bug in the parser")

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    unreachable = sessionmaker(create_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{closed}/none", connect_args={"connect_timeout": 1}))
    engine_errors = sample("communebot_errors_total", kind="engine")
    database_errors = sample("communebot_errors_total", kind="database")
    replies = Engine(unreachable, parse=broken, retries=0).handle_sync(console("bonjour"))
    assert replies  # the apology
    assert sample("communebot_errors_total", kind="database") == database_errors + 1
    assert sample("communebot_errors_total", kind="engine") == engine_errors


def test_a_bug_in_a_turn_counts_as_an_engine_error(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _engine, factory = store

    def broken(_turn: Any) -> Any:
        raise RuntimeError("a bug in a dialog")

    monkeypatch.setattr("bot.turn.Turn.run", broken)
    before = sample("communebot_errors_total", kind="engine")
    database = sample("communebot_errors_total", kind="database")
    assert Engine(factory).handle_sync(console("/help"))  # the apology
    assert sample("communebot_errors_total", kind="engine") == before + 1
    assert sample("communebot_errors_total", kind="database") == database


def test_queued_digests_count_and_the_backlog_is_read_at_scrape_time(store: Any) -> None:
    _engine, factory = store
    with transaction(factory) as session:
        person = Citizen(display_name="ana", lang="fr", home_insee=SAINT_PAUL)
        session.add(person)
        session.flush()
        session.add(Account(citizen_id=person.id, platform="console", platform_user_id="ana"))
        subscribe(session, Subscriber(citizen_id=person.id), frequency="weekly",
                  communes=[SAINT_PAUL], now=FRIDAY)
        entry = services.add_entry(session, services.NewEntry(
            name="Boulangerie Lontan", category="boulangerie", commune_insee=SAINT_PAUL), force=True)
        entry.created_at = FRIDAY + timedelta(hours=2)
    metrics.watch_outbox(factory)
    try:
        queued = sample("communebot_digests_queued_total")
        assert sample("communebot_outbox_backlog", platform="console") == 0
        assert run_due(factory, MONDAY_8_REUNION).queued == 1
        assert sample("communebot_digests_queued_total") == queued + 1
        assert sample("communebot_outbox_backlog", platform="console") == 1
        assert run_due(factory, MONDAY_8_REUNION + timedelta(minutes=1)).queued == 0  # nothing twice
        assert sample("communebot_digests_queued_total") == queued + 1
    finally:
        metrics.unwatch_outbox()
    assert "communebot_outbox_backlog" not in generate_latest(metrics.REGISTRY).decode()


class FakeEngine:
    def __init__(self, sessions: Any) -> None:
        self.sessions = sessions

    async def handle(self, incoming: Incoming) -> list[Outgoing]:
        return [Outgoing(target=Target(TargetKind.REPLY), spans=(Text("bonjour"),))]


class FailingSender:
    """Every answer refused (a 400 from the Bot API, say); the apology goes."""

    def __init__(self) -> None:
        self.apologies = 0

    async def typing_after(self, _chat: int, _delay: float | None) -> None:
        return None

    async def deliver(self, *_args: Any) -> None:
        raise RuntimeError("Bad Request: chat not found")

    async def send_plain(self, _chat: int, _text: str) -> None:
        self.apologies += 1


def test_a_telegram_answer_that_cannot_be_delivered_counts(store: Any) -> None:
    _engine, factory = store
    adapter = TelegramAdapter(TelegramConfig(enabled=True, token="123:TEST"), FakeEngine(factory))
    sender = FailingSender()
    adapter._sender = lambda: sender  # type: ignore[method-assign, assignment, return-value]
    before = sample("communebot_errors_total", kind="delivery")
    incoming = Incoming(platform="telegram", user_id="5", chat_id="5", text="/help")
    asyncio.run(adapter._answer(incoming, pressed=None))
    assert sample("communebot_errors_total", kind="delivery") == before + 1
    assert sender.apologies == 1


class RefusingClient:
    olm = None
    rooms: frozenset[str] = frozenset()

    async def room_send(self, *_args: Any, **_kw: Any) -> RoomSendError:
        return RoomSendError("You are not allowed to send here", "M_FORBIDDEN")


def test_a_matrix_event_the_homeserver_refuses_counts() -> None:
    sending = MatrixSending()
    sending.client = RefusingClient()  # type: ignore[assignment]
    before = sample("communebot_errors_total", kind="delivery")
    assert asyncio.run(sending._send("!room:example.org", {"msgtype": "m.text", "body": "x"})) is None
    assert sample("communebot_errors_total", kind="delivery") == before + 1


@pytest.mark.parametrize("kind", ["engine", "delivery", "platform_api", "database"])
def test_every_error_kind_has_a_series_from_the_start(kind: str) -> None:
    assert f'communebot_errors_total{{kind="{kind}"}}' in generate_latest(metrics.REGISTRY).decode()
