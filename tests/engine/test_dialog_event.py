"""The event dialog through the engine, clock frozen: the day and time read from free text
in the commune's time zone and said back in words, the organiser chosen among one's
associations, the summary, then the entry (times stored in UTC), the commune room's
announcement and one message per follower of the organiser."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from bot.engine import Engine
from directory import services
from directory.db import transaction
from directory.models import ChatBinding, Entry, OutboxMessage

from .conftest import Talk  # type: ignore[import-not-found]

LE_PORT = "97407"
NOUMEA = "98818"
PARIS = "75056"
#: Friday 4 December 2026, 10:00 UTC: 14:00 in La Réunion, 21:00 in Nouméa, 11:00 in Paris
NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


@pytest.fixture
def world(engine_store: Any) -> tuple[Any, int]:
    _engine, factory = engine_store
    with transaction(factory) as session:
        club = services.add_entry(session, services.NewEntry(
            name="Association Ti Kour", category="association", commune_insee=LE_PORT))
        session.add(ChatBinding(platform="matrix", chat_id="!port:example.org", commune_insee=LE_PORT,
                                bound_by="matrix:@ana:example.org"))
        club_id = club.id
    return factory, club_id


def talk(factory: Any, user: str = "u1", lang: str = "fr", home: str = "97415") -> Talk:
    me = Talk(Engine(factory, clock=lambda: NOW), user=user, lang=lang)
    me.say(f"/start {home}")
    return me


def test_an_event_told_in_one_sentence_is_published_at_the_right_instant(world: Any) -> None:
    factory, club_id = world
    fan = talk(factory, "fan", "en")
    fan.say("events in le port")  # nothing yet; then follows the club from its card
    with transaction(factory) as session:
        citizen = session.scalars(select(services.Citizen)).all()[-1]
        services.follow(session, citizen, session.get(Entry, club_id))
    me = talk(factory)
    out = me.say("je fais partie de l'Association Ti Kour au Port")
    assert "Association Ti Kour" in out
    me.say("1")
    assert "Ti Kour" in me.say("/me")
    out = me.say("jorganise un vide grenier samedi au port")
    assert "nom de votre évènement" in out and [label for _id, label in me.choices()] == ["Vide-grenier"]
    out = me.say("Vide-grenier de l'école")
    assert "À quelle heure, samedi 5 décembre 2026" in out  # the day was understood: the time is asked
    out = me.say("de 8h à 14h")
    assert "J'ai compris : samedi 5 décembre 2026, 08:00 – 14:00. C'est bien ça ?" in out
    me.press("Oui")
    me.say("parking de l'école")
    me.say("passer")
    out = me.say("")  # nothing typed: the organiser question stays
    assert me.choices()[0][1] == "Association Ti Kour"  # one's association, one press away
    out = me.press("Ti Kour")
    assert "Organisateur : Association Ti Kour" in out
    assert "Date : samedi 5 décembre 2026, 08:00 – 14:00" in out
    out = me.press("Publier")
    assert "C'est publié" in out and "les salons de la commune en sont informés" in out
    with factory() as session:
        event = session.scalars(select(Entry).where(Entry.kind == "event")).one()
        # 08:00 in La Réunion (UTC+4) is 04:00 UTC
        assert event.starts_at.replace(tzinfo=UTC) == datetime(2026, 12, 5, 4, 0, tzinfo=UTC)
        assert event.ends_at.replace(tzinfo=UTC) == datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
        assert event.organizer_id == club_id and event.address == "parking de l'école"
        told = {row.chat_id: str(row.payload) for row in session.scalars(select(OutboxMessage))}
        # the commune's room, in French, and the club's follower, in their language
        assert "Nouvel évènement au Port" in told.pop("!port:example.org")
        assert list(told) == ["user:fan"] and "Association Ti Kour is organising" in told["user:fan"]
    # and it is now what is on in Le Port on Saturday, with its organiser on its card
    out = fan.say("what's on saturday in le port")
    assert "Vide-grenier de l'école" in out and "Sat, Dec 5, 8:00 AM – 2:00 PM" in out
    out = fan.say("1")
    assert "Organised by Association Ti Kour" in out
    assert [label for _id, label in fan.choices()][:2] == ["📅 Add to my calendar", "Follow the organiser"]
    out = fan.press("calendar")
    documents = [r.document for r in fan.last if r.document is not None]
    assert len(documents) == 1 and documents[0].filename == "vide-grenier-de-l-ecole.ics"
    assert b"DTSTART;TZID=Indian/Reunion:20261205T080000" in documents[0].data


def test_a_time_in_noumea_is_noumeas(world: Any) -> None:
    factory, _club = world
    me = talk(factory, home="98818")
    me.say("/event")
    me.say("Marché de nuit")
    me.press("Marché de Noël")
    me.say("Nouméa")
    out = me.say("demain 18h30")
    assert "samedi 5 décembre 2026, 18:30" in out
    me.press("Oui")
    for _skip in range(3):
        me.say("passer")
    me.press("Publier")
    with factory() as session:
        event = session.scalars(select(Entry).where(Entry.kind == "event")).one()
        assert event.commune_insee == NOUMEA
        # 18:30 in Nouméa (UTC+11) is 07:30 UTC the same day
        assert event.starts_at.replace(tzinfo=UTC) == datetime(2026, 12, 5, 7, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "problem"),
    [("aujourd'hui à 8h", "déjà passée"), ("la semaine prochaine", "un jour précis"),
     ("bientôt", "pas compris la date")],
)
def test_a_day_that_cannot_be_an_event_is_asked_again_and_nothing_is_lost(
        world: Any, typed: str, problem: str) -> None:
    factory, _club = world
    me = talk(factory)
    me.say("j'organise un concert au Port")
    me.say("Concert de Noël")
    out = me.say(typed)
    assert problem in out
    out = me.say("le 24/12 à 20h")
    assert "jeudi 24 décembre 2026, 20:00" in out  # the title and commune were kept
    me.press("Oui")
    for _skip in range(3):
        me.say("passer")
    out = me.say("")
    assert "Concert de Noël" in out and "Le Port (974)" in out


def test_a_correction_typed_instead_of_yes_is_read(world: Any) -> None:
    factory, _club = world
    me = talk(factory)
    me.say("j'organise une fête de quartier dimanche à 15h au port")
    out = me.say("Fèt lontan")
    assert "dimanche 6 décembre 2026, 15:00" in out
    out = me.say("non plutôt 16h")
    assert "dimanche 6 décembre 2026, 16:00" in out


def test_paris_across_the_daylight_saving_change(engine_store: Any) -> None:
    _engine, factory = engine_store
    saturday = datetime(2027, 3, 27, 9, 0, tzinfo=UTC)  # summer time starts on Sunday 28 March
    me = Talk(Engine(factory, clock=lambda: saturday), user="p", lang="fr")
    me.say(f"/start {PARIS}")
    me.say("j'organise une conférence lundi 19h à Paris")
    me.say("Conférence climat")
    me.press("Oui")
    for _skip in range(3):
        me.say("passer")
    me.press("Publier")
    with factory() as session:
        event = session.scalars(select(Entry).where(Entry.kind == "event")).one()
        # Monday 29 March 19:00 in Paris is summer time (UTC+2): 17:00 UTC
        assert event.starts_at.replace(tzinfo=UTC) == datetime(2027, 3, 29, 17, 0, tzinfo=UTC)
