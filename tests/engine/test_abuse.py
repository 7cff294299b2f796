"""Abuse limits: a burst of 100 messages gets the burst answered, one polite word, then
silence until it cools down, and other people are not slowed; a daily cap on new entries
says so clearly and writes nothing; a config admin must be an account id."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.config import ConfigError, parse_config
from bot.engine import Engine
from bot.flood import FloodControl
from directory import services
from directory.db import transaction
from directory.models import Activity, Entry

from .conftest import Talk  # type: ignore[import-not-found]

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_bucket_pure() -> None:
    clock = FakeClock()
    flood = FloodControl(burst=3, per_minute=60, clock=clock)
    assert [flood.check("a") for _ in range(5)] == ["ok", "ok", "ok", "warn", "drop"]
    assert flood.check("b") == "ok"  # someone else is not slowed
    clock.now += 1.0  # one token back
    assert flood.check("a") == "ok"
    assert flood.check("a") == "drop"  # already told, not yet cooled down
    clock.now += 10
    assert [flood.check("a") for _ in range(4)] == ["ok", "ok", "ok", "warn"]  # told again
    with pytest.raises(ValueError):
        FloodControl(burst=0, per_minute=1)


def test_a_burst_of_100_messages_through_the_engine(engine_store: Any) -> None:
    _engine, factory = engine_store
    clock = FakeClock()
    engine = Engine(factory, clock=lambda: NOW, flood=FloodControl(burst=20, per_minute=30, clock=clock))
    spammer, other = Talk(engine, user="spam"), Talk(engine, user="calm")
    answers = [spammer.send("garagiste au Port") for _ in range(100)]
    answered = [a for a in answers if a]
    assert len(answered) == 21  # the burst, then one polite word, then silence
    assert "beaucoup de messages" in " ".join(s.text for s in answered[-1][0].spans)  # type: ignore[union-attr]
    assert other.send("bonjour")  # the others are answered as usual
    clock.now += 120  # cooled down (a token every 2 s)
    assert spammer.send("garagiste au Port")
    with factory() as session:  # only what was answered counts as activity
        assert session.scalar(select(func.sum(Activity.messages))) == 20 + 1 + 1


def test_a_daily_cap_on_new_entries_is_said_and_writes_nothing(engine_store: Any) -> None:
    _engine, factory = engine_store
    services.configure_limits(daily_entries=2, daily_reports=10)
    try:
        me = Talk(Engine(factory, clock=lambda: NOW), user="busy")
        me.say("/start 97415")
        with transaction(factory) as session:
            citizen = session.scalars(select(services.Citizen)).one()
            for name in ("Boulangerie Lontan", "Garage Zembrocal"):
                services.add_entry(session, services.NewEntry(
                    name=name, category="boulangerie", commune_insee="97415"), by=citizen, force=True)
        me.say("/event")
        me.say("Kabar Lontan")
        me.press("Concert")
        me.say("Saint-Paul")
        out = me.say("samedi 20h")
        me.press("Oui")
        for _ in range(3):
            me.say("passer")
        out = me.press("Publier")
        assert "maximum de fiches ajoutées pour aujourd'hui (2)" in out and "Réessayez demain" in out
        with factory() as session:
            assert session.scalar(select(func.count()).select_from(Entry)) == 2
        assert me.say("garagiste au Port")  # the chat goes on
    finally:
        services.configure_limits(daily_entries=20, daily_reports=10)


def test_an_admin_without_a_platform_is_refused_at_load() -> None:
    with pytest.raises(ConfigError, match="account id"):
        parse_config({"admins": ["Ana"]})
    with pytest.raises(ConfigError):
        parse_config({"admins": ["@ana:example.org"]})  # a Matrix id still needs "matrix:"
    assert parse_config({"admins": ["console:boss", "matrix:@ana:example.org"]}).admins == [
        "console:boss", "matrix:@ana:example.org"]
