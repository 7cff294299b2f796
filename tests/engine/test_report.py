"""Reporting an entry from its card: a reason and words, thanks without naming who
moderates, the commune's moderators told at most once an hour; a daily cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.engine import Engine
from bot.messages import plain_text
from bot.outbox import outgoing_from_json
from directory import moderation, services
from directory.db import transaction
from directory.models import OutboxMessage, Report

from .conftest import Talk  # type: ignore[import-not-found]

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


def setup(factory: Any) -> int:
    with transaction(factory) as session:
        snack = services.add_entry(session, services.NewEntry(
            name="Snack Ti Kaz", category="snack", commune_insee="97415"))
        moderation.grant(session, "telegram:mod1", "97415", "console:boss", NOW)
        moderation.grant(session, "telegram:mod2", "97407", "console:boss", NOW)  # another commune
        return snack.id


def report(me: Talk, entry_id: int, *answers: str) -> str:
    me.say(f"/start e{entry_id}")
    out = me.press("Signaler")
    assert "Qu'est-ce qui ne va pas avec Snack Ti Kaz" in out
    for answer in answers:
        out = me.say(answer)
    return out


def notices(factory: Any) -> list[tuple[str, str]]:
    with factory() as session:
        return [(row.chat_id, plain_text(outgoing_from_json(row.payload).spans))
                for row in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]


def test_a_report_is_thanked_and_the_communes_moderators_are_told_once_an_hour(engine_store: Any) -> None:
    _engine, factory = engine_store
    snack = setup(factory)
    clock = {"now": NOW}
    ana = Talk(Engine(factory, clock=lambda: clock["now"]), user="ana")
    ana.say("/start 97415")
    out = report(ana, snack, "fermé", "fermé depuis l'été")
    assert "Merci" in out and "mod1" not in out and "modération" in out
    [(chat, text)] = notices(factory)
    assert chat == "user:mod1" and "Snack Ti Kaz" in text and "fermé depuis l'été" in text
    assert "ana" not in text  # the reporter is not named
    ben = Talk(Engine(factory, clock=lambda: clock["now"]), user="ben")
    ben.say("/start 97415")
    report(ben, snack, "2", "passer")  # within the hour: recorded, nobody told again
    assert len(notices(factory)) == 1
    clock["now"] = NOW + timedelta(hours=2)
    report(ben, snack, "5", "ils ont changé de nom")
    assert len(notices(factory)) == 2
    with factory() as session:
        assert [(r.reason, r.details) for r in session.scalars(select(Report).order_by(Report.id))] == [
            ("closed", "fermé depuis l'été"), ("wrong", ""), ("other", "ils ont changé de nom")]


def test_other_needs_words_and_a_bad_answer_loses_nothing(engine_store: Any) -> None:
    _engine, factory = engine_store
    snack = setup(factory)
    me = Talk(Engine(factory, clock=lambda: NOW), user="cam", lang="en")
    me.say("/start 97415")
    me.say(f"/start e{snack}")
    me.press("Report")
    out = me.say("hmm")
    assert "Pick a reason" in out
    out = me.press("Something else")
    out = me.say("skip")
    assert "we need a few words" in out
    out = me.say("x" * 2000)
    assert "Tell us in a sentence" in out  # too long: said, asked again
    out = me.say("the phone number is a fax")
    assert "Thank you" in out


def test_reports_are_capped_per_day(engine_store: Any) -> None:
    _engine, factory = engine_store
    snack = setup(factory)
    services.configure_limits(daily_entries=20, daily_reports=1)
    try:
        me = Talk(Engine(factory, clock=lambda: NOW), user="dan")
        me.say("/start 97415")
        report(me, snack, "1", "passer")
        me.say(f"/start e{snack}")
        out = me.press("Signaler")
        assert "maximum de signalements pour aujourd'hui (1)" in out
    finally:
        services.configure_limits(daily_entries=20, daily_reports=10)
