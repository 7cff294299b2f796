"""Scheduled digests, exactly once, in each commune's local time: the schedule across
time zones and daylight saving, what a digest lists (never twice), a crash between claim
and send, missed weeks, unsubscribing, vanished accounts, two workers, the CLI."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, func, inspect, select, text

from bot.cli import main
from bot.digests import preview, run_batch, run_due
from bot.messages import plain_text
from bot.outbox import outgoing_from_json
from directory import services
from directory.db import transaction
from directory.digests import Subscriber, latest_due, next_due, subscribe, unsubscribe
from directory.models import Account, Citizen, DigestRun, DigestSubscription, OutboxMessage

SAINT_PAUL, LE_PORT, NOUMEA, PARIS = "97415", "97407", "98818", "75056"
#: Friday 4 December 2026, 10:00 UTC
FRIDAY = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
#: Monday 7 December 2026, 08:00 in La Réunion (UTC+4)
MONDAY_8_REUNION = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)


# --- the schedule (pure) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frequency", "hour", "tz", "after", "expected"),
    [
        ("weekly", 8, "Indian/Reunion", FRIDAY, MONDAY_8_REUNION),
        ("weekly", 8, "Pacific/Noumea", FRIDAY, datetime(2026, 12, 6, 21, 0, tzinfo=UTC)),  # Mon 08:00+11
        ("daily", 8, "Pacific/Noumea", FRIDAY, datetime(2026, 12, 4, 21, 0, tzinfo=UTC)),  # Sat 08:00+11
        ("daily", 7, "Indian/Reunion", FRIDAY, datetime(2026, 12, 5, 3, 0, tzinfo=UTC)),
        ("daily", 8, "Europe/Paris", FRIDAY, datetime(2026, 12, 5, 7, 0, tzinfo=UTC)),  # winter, UTC+1
        # Paris springs forward on Sunday 28 March 2027: Monday 08:00 is then UTC+2
        ("weekly", 8, "Europe/Paris", datetime(2027, 3, 23, 12, 0, tzinfo=UTC),
         datetime(2027, 3, 29, 6, 0, tzinfo=UTC)),
        ("daily", 8, "Europe/Paris", datetime(2027, 3, 27, 8, 0, tzinfo=UTC),
         datetime(2027, 3, 28, 6, 0, tzinfo=UTC)),
        # and falls back on Sunday 25 October 2026
        ("daily", 8, "Europe/Paris", datetime(2026, 10, 24, 7, 0, tzinfo=UTC),
         datetime(2026, 10, 25, 7, 0, tzinfo=UTC)),
    ],
)
def test_next_due_is_the_hour_in_the_communes_local_time(
        frequency: str, hour: int, tz: str, after: datetime, expected: datetime) -> None:
    assert next_due(frequency, hour, 0, tz, after) == expected
    assert latest_due(frequency, hour, 0, tz, expected) == expected
    assert latest_due(frequency, hour, 0, tz, expected - timedelta(seconds=1)) < expected


# --- running -----------------------------------------------------------------------------------


def add(factory: Any, name: str, commune: str, created: datetime, **kw: Any) -> int:
    with transaction(factory) as session:
        entry = services.add_entry(session, services.NewEntry(
            name=name, category=kw.pop("category", "boulangerie"), commune_insee=commune, **kw), force=True)
        entry.created_at = created
        return entry.id


def citizen(factory: Any, user: str, lang: str = "fr", home: str = SAINT_PAUL) -> int:
    with transaction(factory) as session:
        person = Citizen(display_name=user, lang=lang, home_insee=home)
        session.add(person)
        session.flush()
        session.add(Account(citizen_id=person.id, platform="console", platform_user_id=user))
        return person.id


def weekly(factory: Any, citizen_id: int, communes: list[str], now: datetime = FRIDAY, **kw: Any) -> None:
    with transaction(factory) as session:
        subscribe(session, Subscriber(citizen_id=citizen_id), frequency=kw.pop("frequency", "weekly"),
                  communes=communes, now=now, **kw)


def sent(factory: Any) -> list[tuple[str, str]]:
    """(chat, text) of every queued message, oldest first."""
    with factory() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        return [(row.chat_id, plain_text(outgoing_from_json(row.payload).spans)) for row in rows]


@pytest.fixture
def store(engine_store: Any) -> Any:
    return engine_store[1]


def test_a_weekly_digest_goes_out_once_at_monday_8_local_with_what_is_new(store: Any) -> None:
    ana = citizen(store, "ana")
    weekly(store, ana, [SAINT_PAUL, LE_PORT])
    add(store, "Boulangerie Lontan", SAINT_PAUL, FRIDAY + timedelta(hours=2))
    add(store, "Concert au Port", LE_PORT, FRIDAY + timedelta(hours=3), kind="event", category="concert",
        starts_at=MONDAY_8_REUNION + timedelta(days=2), ends_at=MONDAY_8_REUNION + timedelta(days=2, hours=3))
    add(store, "Boulangerie de Paris", PARIS, FRIDAY + timedelta(hours=2))  # not a commune of hers
    assert run_due(store, MONDAY_8_REUNION - timedelta(minutes=1)).due == 0  # 07:59 in La Réunion
    result = run_due(store, MONDAY_8_REUNION)
    assert (result.due, result.queued, result.empty) == (1, 1, 0)
    [(chat, text)] = sent(store)
    assert chat == "user:ana"
    assert "Quoi de neuf à Saint-Paul (974) et 1 autres communes cette semaine" in text
    assert "Boulangerie Lontan" in text and "Concert au Port" in text and "Paris" not in text
    assert "/digest off" in text and "/start e" in text  # each item opens; how to stop
    again = run_due(store, MONDAY_8_REUNION + timedelta(minutes=1))  # the next tick
    assert again.due == 0 and len(sent(store)) == 1


def test_nothing_new_sends_nothing_and_an_item_is_never_listed_twice(store: Any) -> None:
    ana = citizen(store, "ana", lang="en")
    weekly(store, ana, [SAINT_PAUL])
    starts = MONDAY_8_REUNION + timedelta(days=9)  # an event in the second week
    add(store, "Fèt lontan", SAINT_PAUL, FRIDAY + timedelta(hours=1), kind="event", category="fete",
        starts_at=starts, ends_at=starts + timedelta(hours=4))
    assert run_due(store, MONDAY_8_REUNION).queued == 1
    # week 2: the same event is now "on in the next 7 days", but it was listed: nothing new
    second = run_due(store, MONDAY_8_REUNION + timedelta(days=7))
    assert (second.due, second.queued, second.empty) == (1, 0, 1)
    assert len(sent(store)) == 1 and "What's new in Saint-Paul (974) this week" in sent(store)[0][1]


def test_a_crash_between_claim_and_queue_loses_nothing_and_repeats_nothing(store: Any) -> None:
    ana = citizen(store, "ana")
    weekly(store, ana, [SAINT_PAUL])
    add(store, "Boulangerie Lontan", SAINT_PAUL, FRIDAY + timedelta(hours=2))
    with pytest.raises(RuntimeError), transaction(store) as session:
        assert run_batch(session, MONDAY_8_REUNION).queued == 1
        raise RuntimeError("the worker dies before its commit")
    with store() as session:
        assert session.scalar(select(func.count()).select_from(DigestRun)) == 0
    assert run_due(store, MONDAY_8_REUNION + timedelta(minutes=3)).queued == 1  # restarted
    assert run_due(store, MONDAY_8_REUNION + timedelta(minutes=4)).due == 0
    assert len(sent(store)) == 1


def test_three_missed_weeks_give_one_catch_up_digest_of_everything(store: Any) -> None:
    ana = citizen(store, "ana")
    weekly(store, ana, [SAINT_PAUL])
    for week in range(3):
        add(store, f"Boulangerie semaine {week}", SAINT_PAUL, FRIDAY + timedelta(days=7 * week + 1))
    late = MONDAY_8_REUNION + timedelta(days=14, hours=5)  # down since before the first Monday
    result = run_due(store, late)
    assert (result.due, result.queued) == (1, 1)
    [(_chat, text)] = sent(store)
    assert all(f"Boulangerie semaine {week}" in text for week in range(3))
    with store() as session:
        row = session.scalars(select(DigestSubscription)).one()
        assert row.next_due_at.replace(tzinfo=UTC) == MONDAY_8_REUNION + timedelta(days=21)
        assert session.scalar(select(func.count()).select_from(DigestRun)) == 1
    assert run_due(store, late + timedelta(hours=1)).due == 0


def test_unsubscribing_between_two_periods_stops_at_once(store: Any) -> None:
    ana = citizen(store, "ana")
    weekly(store, ana, [SAINT_PAUL], frequency="daily", hour=7)
    add(store, "Boulangerie Lontan", SAINT_PAUL, FRIDAY + timedelta(hours=2))
    assert run_due(store, datetime(2026, 12, 5, 3, 0, tzinfo=UTC)).queued == 1  # Saturday 07:00
    add(store, "Boulangerie Zembrocal", SAINT_PAUL, datetime(2026, 12, 5, 9, 0, tzinfo=UTC))
    with transaction(store) as session:
        assert unsubscribe(session, Subscriber(citizen_id=ana)) is True
    assert run_due(store, datetime(2026, 12, 6, 3, 0, tzinfo=UTC)).due == 0
    assert len(sent(store)) == 1


def test_a_deleted_citizen_or_account_gets_nothing_and_blocks_no_one(store: Any) -> None:
    gone, no_account, ben = citizen(store, "gone"), citizen(store, "noacc"), citizen(store, "ben")
    for person in (gone, no_account, ben):
        weekly(store, person, [SAINT_PAUL])
    add(store, "Boulangerie Lontan", SAINT_PAUL, FRIDAY + timedelta(hours=2))
    with transaction(store) as session:
        # the database's cascades: the subscription goes with the citizen
        session.execute(delete(Citizen).where(Citizen.id == gone))
        session.execute(delete(Account).where(Account.citizen_id == no_account))
    result = run_due(store, MONDAY_8_REUNION)
    assert (result.due, result.queued, result.empty) == (2, 1, 1)
    assert [chat for chat, _text in sent(store)] == ["user:ben"]


def test_a_bound_room_gets_the_french_digest_in_its_chat(store: Any) -> None:
    with transaction(store) as session:
        subscribe(session, Subscriber(platform="matrix", chat_id="!port:example.org"), frequency="weekly",
                  communes=[LE_PORT], now=FRIDAY)
    add(store, "Kabar du Port", LE_PORT, FRIDAY + timedelta(hours=1), category="concert", kind="event",
        starts_at=MONDAY_8_REUNION + timedelta(days=1))
    run_due(store, MONDAY_8_REUNION)
    [(chat, text)] = sent(store)
    assert chat == "!port:example.org" and "Quoi de neuf au Port (974) cette semaine" in text
    assert "Kabar du Port" in text  # new this week: listed once, not again as "on soon"
    assert "Au programme des 7 prochains jours" not in text


def test_noumea_is_served_at_its_own_monday_morning(store: Any) -> None:
    ana = citizen(store, "ana", home=NOUMEA)
    weekly(store, ana, [NOUMEA])
    add(store, "Boulangerie du Caillou", NOUMEA, FRIDAY + timedelta(hours=1))
    # Monday 08:00 in Nouméa (UTC+11) is Sunday 21:00 UTC
    assert run_due(store, datetime(2026, 12, 6, 20, 59, tzinfo=UTC)).due == 0
    assert run_due(store, datetime(2026, 12, 6, 21, 0, tzinfo=UTC)).queued == 1


def test_preview_records_nothing(store: Any) -> None:
    ana = citizen(store, "ana")
    weekly(store, ana, [SAINT_PAUL])
    add(store, "Boulangerie Lontan", SAINT_PAUL, FRIDAY + timedelta(hours=2))
    with store() as session:
        message = preview(session, Subscriber(citizen_id=ana), FRIDAY + timedelta(days=1))
        assert message is not None and "Boulangerie Lontan" in plain_text(message.spans)
    assert run_due(store, MONDAY_8_REUNION).queued == 1  # the preview took nothing


def test_the_command_line(store: Any, engine_store: Any) -> None:
    url = engine_store[0].url.render_as_string(hide_password=False)
    ana = citizen(store, "ana")
    weekly(store, ana, [SAINT_PAUL])
    add(store, "Boulangerie Lontan", SAINT_PAUL, FRIDAY + timedelta(hours=2))
    runner = CliRunner()
    shown = runner.invoke(main, ["digest", "preview", "--user", "console:ana", "--now",
                                 "2026-12-05T10:00:00+00:00", "--db", url])
    assert shown.exit_code == 0 and "Boulangerie Lontan" in shown.output
    bad = runner.invoke(main, ["digest", "run-due", "--now", "lundi", "--db", url])
    assert bad.exit_code != 0 and "ISO 8601" in bad.output
    ran = runner.invoke(main, ["digest", "run-due", "--now", MONDAY_8_REUNION.isoformat(), "--db", url,
                               "--json"])
    assert ran.exit_code == 0 and json.loads(ran.output) == {"due": 1, "queued": 1, "empty": 0}
    ran = runner.invoke(main, ["digest", "run-due", "--now", MONDAY_8_REUNION.isoformat(), "--db", url,
                               "--json"])
    assert json.loads(ran.output) == {"due": 0, "queued": 0, "empty": 0}


@pytest.mark.postgres
def test_two_workers_on_postgresql_send_each_digest_exactly_once(_pg_engine_store: Any) -> None:
    """SKIP LOCKED is PostgreSQL's (SQLite runs one writer at a time): this one runs there."""
    engine, store = _pg_engine_store
    tables = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
    with engine.begin() as conn:
        names = ", ".join(f'"{t}"' for t in tables)
        conn.execute(text(f"TRUNCATE TABLE {names} RESTART IDENTITY CASCADE"))
    people = [citizen(store, f"p{n}") for n in range(120)]
    with transaction(store) as session:
        for person in people:
            subscribe(session, Subscriber(citizen_id=person), frequency="weekly", communes=[SAINT_PAUL],
                      now=FRIDAY)
    add(store, "Boulangerie Lontan", SAINT_PAUL, FRIDAY + timedelta(hours=2))
    results: list[Any] = []
    workers = [threading.Thread(target=lambda: results.append(run_due(store, MONDAY_8_REUNION, batch=10)))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sum(r.queued for r in results) == 120
    assert all(r.queued > 0 for r in results)  # both took part
    chats = [chat for chat, _text in sent(store)]
    assert len(chats) == len(set(chats)) == 120


def test_paris_after_the_spring_change_is_still_monday_8_local(store: Any) -> None:
    ana = citizen(store, "ana", home=PARIS)
    before = datetime(2027, 3, 24, 12, 0, tzinfo=UTC)  # a Wednesday, winter time (UTC+1)
    weekly(store, ana, [PARIS], now=before)
    add(store, "Boulangerie du Marais", PARIS, before + timedelta(hours=1))
    # Monday 29 March 2027, 08:00 in Paris, is summer time (UTC+2): 06:00 UTC, not 07:00
    assert run_due(store, datetime(2027, 3, 29, 5, 59, tzinfo=UTC)).due == 0
    assert run_due(store, datetime(2027, 3, 29, 6, 0, tzinfo=UTC)).queued == 1
