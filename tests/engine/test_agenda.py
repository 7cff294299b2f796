"""Events as answers through the engine, clock frozen: the window asked, in the commune's
time zone, soonest first, with dates; ended events never listed; no time said means the
next 30 days, then what comes later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.engine import Engine
from directory import services
from directory.db import transaction

from .conftest import Talk  # type: ignore[import-not-found]

LE_PORT = "97407"
NOUMEA = "98818"
#: Friday 4 December 2026, 10:00 UTC: 14:00 in La Réunion, 21:00 in Nouméa
NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


def add_event(factory: Any, name: str, commune: str, starts: datetime, hours: int = 3) -> None:
    with transaction(factory) as session:
        services.add_entry(session, services.NewEntry(
            name=name, category="theatre", commune_insee=commune, kind="event",
            starts_at=starts, ends_at=starts + timedelta(hours=hours)), force=True)


@pytest.fixture
def agenda(engine_store: Any) -> Any:
    _engine, factory = engine_store
    # La Réunion is UTC+4: Saturday 5 December 19:00 local is 15:00 UTC
    add_event(factory, "Kabaré du samedi", LE_PORT, datetime(2026, 12, 5, 15, 0, tzinfo=UTC))
    add_event(factory, "Concert de dimanche", LE_PORT, datetime(2026, 12, 6, 12, 0, tzinfo=UTC))
    add_event(factory, "Fèt kaf", LE_PORT, datetime(2026, 12, 20, 14, 0, tzinfo=UTC))
    add_event(factory, "Bal de l'an passé", LE_PORT, datetime(2026, 11, 28, 15, 0, tzinfo=UTC))
    add_event(factory, "Carnaval", LE_PORT, datetime(2027, 2, 20, 10, 0, tzinfo=UTC))
    add_event(factory, "Marché de nuit", NOUMEA, datetime(2026, 12, 5, 8, 0, tzinfo=UTC))
    me = Talk(Engine(factory, clock=lambda: NOW))
    me.say("/start 97415")
    return me


def test_this_weekend_in_le_port_lists_its_events_with_their_dates(agenda: Talk) -> None:
    out = agenda.say("quoi de neuf ce week-end au Port ?")
    assert "Au programme, sam. 5 déc. – dim. 6 déc." in out
    assert out.index("Kabaré du samedi") < out.index("Concert de dimanche")
    assert "sam. 5 déc., 19:00" in out  # 15:00 UTC is 19:00 in La Réunion
    for elsewhere in ("Fèt kaf", "Bal de l'an passé", "Carnaval"):
        assert elsewhere not in out


def test_no_time_said_lists_what_is_on_then_later_and_never_what_ended(agenda: Talk) -> None:
    out = agenda.say("évènements au Port")
    assert "Kabaré du samedi" in out and "Fèt kaf" in out and "Carnaval" in out
    assert "Bal de l'an passé" not in out  # it ended last week
    assert out.index("Fèt kaf") < out.index("Carnaval")


def test_a_window_with_nothing_in_it_says_so_and_gives_the_next_ones(agenda: Talk) -> None:
    out = agenda.say("évènements au Port le 10/12")
    assert "Aucun évènement jeu. 10 déc." in out and "voici les prochains" in out
    assert "Fèt kaf" in out


def test_english_and_noumea_time(agenda: Talk, engine_store: Any) -> None:
    _engine, factory = engine_store
    bob = Talk(Engine(factory, clock=lambda: NOW), user="bob", lang="en")
    bob.say(f"/start {NOUMEA}")
    out = bob.say("what's on tomorrow in Noumea?")
    # 08:00 UTC on the 5th is 19:00 in Nouméa (UTC+11), which is "tomorrow" there
    assert "Marché de nuit" in out and "Sat, Dec 5, 7:00 PM" in out
    card = bob.say("1")
    assert "📅 Sat, Dec 5, 7:00 PM" in card
