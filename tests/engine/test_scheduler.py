"""Housekeeping: what is forgotten, what is kept, and that ``communebot run``'s scheduler
runs it at start. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.scheduler import Retention, start_scheduler, stop_scheduler, sweep
from directory import services
from directory.digests import Subscriber, subscribe
from directory.models import (
    Account,
    Activity,
    AuditEntry,
    Citizen,
    DialogState,
    DigestRun,
    OutboxMessage,
    ProcessedEvent,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _fill(factory, now: datetime) -> None:  # type: ignore[no-untyped-def]
    with factory() as session, session.begin():
        session.add_all([
            ProcessedEvent(platform="telegram", event_id="old", processed_at=now - timedelta(days=8)),
            ProcessedEvent(platform="telegram", event_id="recent", processed_at=now - timedelta(days=6)),
            ProcessedEvent(platform="matrix", event_id="$old", processed_at=now - timedelta(days=30)),
            OutboxMessage(platform="matrix", chat_id="!room", payload={}, created_at=now - timedelta(days=40),
                          sent_at=now - timedelta(days=31), attempts=1),
            OutboxMessage(platform="matrix", chat_id="!room", payload={}, created_at=now - timedelta(days=20),
                          sent_at=now - timedelta(days=20), attempts=1),
            # never delivered (failed five times): kept for an admin to see, however old
            OutboxMessage(platform="telegram", chat_id="42", payload={}, created_at=now - timedelta(days=90),
                          sent_at=None, attempts=5),
        ])


def test_sweep_forgets_old_event_ids_and_delivered_messages_only(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    _fill(factory, NOW)
    swept = sweep(factory, NOW)
    assert (swept.processed_events, swept.sent_messages) == (2, 1)
    with factory() as session:
        assert set(session.scalars(select(ProcessedEvent.event_id))) == {"recent"}
        left = session.execute(select(OutboxMessage.chat_id, OutboxMessage.sent_at)).all()
        assert sorted(chat for chat, _ in left) == ["!room", "42"]
        assert any(sent is None for _, sent in left)
    again = sweep(factory, NOW)
    assert (again.processed_events, again.sent_messages) == (0, 0)


def test_retention_is_a_setting(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    _fill(factory, NOW)
    one_day = timedelta(days=1)
    swept = sweep(factory, NOW, Retention(processed_events=one_day, sent_messages=one_day))
    assert (swept.processed_events, swept.sent_messages) == (3, 2)


async def test_the_scheduler_runs_housekeeping_at_start_and_stops_cleanly(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    _fill(factory, datetime.now(UTC))
    scheduler = start_scheduler(factory)
    try:
        for _ in range(100):
            with factory() as session:
                left = set(session.scalars(select(ProcessedEvent.event_id)))
            if left == {"recent"}:
                break
            await asyncio.sleep(0.05)
        assert left == {"recent"}
        job = scheduler.get_job("housekeeping")
        assert job is not None and job.next_run_time > datetime.now(UTC) + timedelta(minutes=50)
    finally:
        await stop_scheduler(scheduler)
    assert not scheduler.running


async def test_stopping_while_housekeeping_runs_waits_for_it_quietly(
    store, caplog: pytest.LogCaptureFixture
) -> None:
    """``communebot run`` stops the scheduler as soon as an adapter fails to start, often
    while the first housekeeping still runs: no error, no traceback."""
    _, factory = store
    _fill(factory, datetime.now(UTC))
    with caplog.at_level(logging.INFO):
        scheduler = start_scheduler(factory)
        await asyncio.sleep(0)  # the first run has just been handed to its thread
        await stop_scheduler(scheduler)
    assert not scheduler.running
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


async def test_the_digest_tick_sends_what_is_due_without_waiting_for_a_minute(store) -> None:  # type: ignore[no-untyped-def]
    """The tick runs at start, then every minute; the database says who is due."""
    _, factory = store
    now = datetime.now(UTC)
    with factory() as session, session.begin():
        person = Citizen(display_name="ana", lang="fr", home_insee="97415")
        session.add(person)
        session.flush()
        session.add(Account(citizen_id=person.id, platform="console", platform_user_id="ana"))
        subscribe(session, Subscriber(citizen_id=person.id), frequency="daily", communes=["97415"],
                  now=now - timedelta(days=2))
        entry = services.add_entry(session, services.NewEntry(
            name="Boulangerie Lontan", category="boulangerie", commune_insee="97415"))
        entry.created_at = now - timedelta(days=1, hours=12)
    scheduler = start_scheduler(factory)
    try:
        job = scheduler.get_job("digests")
        assert job is not None
        for _ in range(100):
            with factory() as session:
                runs = session.scalar(select(func.count()).select_from(DigestRun))
            if runs:
                break
            await asyncio.sleep(0.05)
        assert runs == 1
        assert job.next_run_time <= datetime.now(UTC) + timedelta(minutes=1, seconds=1)
    finally:
        await stop_scheduler(scheduler)


def test_housekeeping_forgets_personal_logs_after_the_retention(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    now = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    with factory() as session, session.begin():
        person = Citizen(display_name="ana")
        session.add(person)
        session.flush()
        account = Account(citizen_id=person.id, platform="console", platform_user_id="ana")
        session.add(account)
        session.flush()
        for days, chat in ((40, "old"), (2, "new")):
            session.add(DialogState(account_id=account.id, chat_id=chat, dialog="ask", state={}, version=1,
                                    updated_at=now - timedelta(days=days)))
            session.add(Activity(day=(now - timedelta(days=days)).date(), account_id=account.id, messages=3))
            session.add(AuditEntry(actor="console:ana", action="hide", details={},
                                   created_at=now - timedelta(days=days)))
    swept = sweep(factory, now, Retention(personal_logs=timedelta(days=30)))
    assert swept.personal_logs == 3
    with factory() as session:
        assert [s.chat_id for s in session.scalars(select(DialogState))] == ["new"]
        assert [a.day for a in session.scalars(select(Activity))] == [date(2026, 12, 2)]
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 1
