"""/digest and the digest offer at registration, through the engine, both backends:
nobody is subscribed without saying yes; the dialog and the direct forms; stopping at
once; bad answers asked again in clear words."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from bot.engine import Engine
from bot.messages import ChatKind
from bot.router import plain_yes_no
from dialogs.digest import read_frequency, read_hour
from directory.models import DigestSubscription

from .conftest import Talk  # type: ignore[import-not-found]

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


def subscriptions(factory: Any) -> list[tuple[str, int, list[str], list[str]]]:
    with factory() as session:
        return [(r.frequency, r.hour, list(r.communes), list(r.categories))
                for r in session.scalars(select(DigestSubscription))]


def test_registration_offers_the_weekly_digest_and_only_yes_subscribes(engine_store: Any) -> None:
    _engine, factory = engine_store
    engine = Engine(factory, clock=lambda: NOW)
    ana = Talk(engine, user="ana")
    out = ana.say("/start 97415")
    assert "chaque lundi matin les nouveautés de Saint-Paul (974)" in out
    assert subscriptions(factory) == []
    assert "chaque lundi à 8 h" in ana.press("Oui, chaque lundi")
    assert subscriptions(factory) == [("weekly", 8, ["97415"], [])]
    ben = Talk(engine, user="ben")
    ben.say("/start 97407")
    assert "aucun garage dans un rayon de 10 km autour du Port (974)" in ben.say("garagiste au Port")
    assert subscriptions(factory) == [("weekly", 8, ["97415"], [])]


def test_the_digest_dialog_and_its_direct_forms(engine_store: Any) -> None:
    _engine, factory = engine_store
    me = Talk(Engine(factory, clock=lambda: NOW), user="cam", lang="en")
    me.say("/start 97415")
    me.press("No thanks")
    assert "Would you like a digest" in me.say("/digest")
    assert "I did not understand" in me.say("sometimes")
    me.press("Every day")
    assert "between 0 and 23" in me.say("25h")
    me.say("6pm")
    me.press("Add a commune")
    me.say("Le Port")
    me.press("No, that's all")
    out = me.say("concerts")
    assert "To sum up: the digest every day at 18:00, Réunion time: Saint-Paul (974), Le Port (974)" in out
    assert "— concert. Shall I?" in out and subscriptions(factory) == []  # nothing before the confirmation
    assert "Noted" in me.press("Yes, go ahead")
    assert subscriptions(factory) == [("daily", 18, ["97415", "97407"], ["concert"])]
    assert "every Monday at 7:00" in me.say("/digest weekly 7")
    assert subscriptions(factory)[0][:2] == ("weekly", 7)
    assert "Usage" in me.say("/digest sometimes")
    assert "Stopped" in me.say("/digest off")
    assert subscriptions(factory) == []
    assert "were not getting" in me.say("/digest off")


def test_french_words_and_a_change_from_the_current_subscription(engine_store: Any) -> None:
    _engine, factory = engine_store
    me = Talk(Engine(factory, clock=lambda: NOW), user="dan")
    me.say("/start 97415")
    assert "chaque jour à 7 h" in me.say("/digest quotidien 7")
    out = me.say("/digest")
    assert "Vous recevez le résumé chaque jour à 7 h" in out
    me.press("Changer l'heure")
    assert "chaque jour à 12 h" in me.press("12 h")
    me.say("/digest")
    assert "C'est arrêté" in me.press("Arrêter")
    assert subscriptions(factory) == []


def test_a_bound_group_gets_the_weekly_digest_unless_an_admin_turns_it_off(engine_store: Any) -> None:
    _engine, factory = engine_store
    engine = Engine(factory, clock=lambda: NOW)
    mod = Talk(engine, user="mod", chat="-100", kind=ChatKind.GROUP, moderator=True, platform="telegram")
    out = mod.say("/admin bind 97407")
    assert "relié au Port (974)" in out and "chaque lundi à 8 h" in out
    with factory() as session:
        [row] = session.scalars(select(DigestSubscription)).all()
        assert (row.chat_platform, row.chat_id, row.communes) == ("telegram", "-100", ["97407"])
    member = Talk(engine, user="joe", chat="-100", kind=ChatKind.GROUP, platform="telegram")
    assert "modérateurs" in member.say("/admin digest off")
    assert "C'est arrêté" in mod.say("/admin digest off")
    assert subscriptions(factory) == []
    assert "chaque lundi" in mod.say("/admin digest on")
    assert "Usage" in mod.say("/admin digest peut-être")
    mod.say("/admin unbind")
    assert subscriptions(factory) == []


def test_the_offer_takes_a_typed_oui_or_non_but_not_an_ok(engine_store: Any) -> None:
    _engine, factory = engine_store
    engine = Engine(factory, clock=lambda: NOW)
    eve = Talk(engine, user="eve")
    eve.say("/start 97415")
    assert "chaque lundi à 8 h" in eve.say("oui")
    assert subscriptions(factory) == [("weekly", 8, ["97415"], [])]
    fay = Talk(engine, user="fay", lang="en")
    fay.say("/start 97415")
    assert "no digest" in fay.say("no thanks")
    gus = Talk(engine, user="gus")
    gus.say("/start 97415")
    assert "chaque lundi" not in gus.say("ok")  # an acknowledgement, no consent
    assert "Ce choix n'est plus valable" not in gus.say("2")  # the buttons went with it
    assert subscriptions(factory) == [("weekly", 8, ["97415"], [])]


def test_a_question_typed_at_the_confirmation_drops_the_offer_with_it(engine_store: Any) -> None:
    _engine, factory = engine_store
    hal = Talk(Engine(factory, clock=lambda: NOW), user="hal")
    hal.say("bonjour")
    assert "Saint-Paul" in hal.say("97460")  # "Saint-Paul ?" yes/no
    out = hal.say("garagiste au Port")  # the commune stands, the question is answered
    assert "chaque lundi matin" not in out and "garage" in out
    assert subscriptions(factory) == []


@pytest.mark.parametrize(("text", "expected"), [
    ("oui", True), ("Oui merci !", True), ("yes please", True), ("volontiers", True),
    ("non", False), ("non merci", False), ("no thanks", False),
    ("ok", None), ("d'accord", None), ("parfait merci", None), ("c'est bon", None), ("👍", None),
    ("garagiste au Port", None),
])
def test_plain_yes_no_is_consent_not_acknowledgement(text: str, expected: bool | None) -> None:
    assert plain_yes_no(text) is expected


@pytest.mark.parametrize(("text", "frequency", "hour"), [
    ("weekly", "weekly", None), ("hebdo", "weekly", None), ("Hebdomadaire", "weekly", None),
    ("chaque semaine", "weekly", None), ("every week", "weekly", None), ("tous les lundis", "weekly", None),
    ("daily 7", "daily", 7), ("quotidien", "daily", None), ("chaque jour à 7h", "daily", 7),
    ("tous les jours", "daily", None), ("every day at 6pm", "daily", 18), ("everyday 7:00", "daily", 7),
    ("off", "off", None), ("stop", "off", None), ("arrêt", "off", None), ("non merci", "off", None),
    ("18h", None, 18), ("midi", None, 12), ("9", None, 9), ("12am", None, 0),
    ("25h", None, None), ("18h30", None, None), ("sometimes", None, None),
    ("chaque jour sauf la semaine", None, None),
])
def test_reading_how_often_and_the_hour(text: str, frequency: str | None, hour: int | None) -> None:
    assert read_frequency(text) == frequency
    assert read_hour(text) == hour


def test_a_bare_number_in_a_sentence_is_no_hour() -> None:
    assert read_hour("tous les 2 jours", in_a_sentence=True) is None
    assert read_hour("chaque jour à 7", in_a_sentence=True) == 7
    assert read_hour("every day 7am", in_a_sentence=True) == 7


def test_the_summary_says_the_communes_time_zone_in_words(engine_store: Any) -> None:
    _engine, factory = engine_store
    engine = Engine(factory, clock=lambda: NOW)
    nou = Talk(engine, user="nou")
    nou.say("/start 98818")
    assert "chaque lundi à 8 h, heure de Nouvelle-Calédonie : Nouméa (988) — tout" in nou.say("/digest hebdo")
    par = Talk(engine, user="par", lang="en")
    par.say("/start 75056")
    assert "every day at 7:00, Paris time: Paris (75) — everything" in par.say("/digest daily 7")


def test_the_hour_said_with_the_frequency_and_topics_in_a_few_words(engine_store: Any) -> None:
    _engine, factory = engine_store
    me = Talk(Engine(factory, clock=lambda: NOW), user="ivy")
    me.say("/start 97415")
    me.say("/digest")
    assert "Une autre commune aussi" in me.say("chaque jour à 7h")  # no hour question
    assert "certains sujets" in me.say("c'est tout")
    out = me.say("xyzzy")  # nothing known: said, and the same question, nothing lost
    assert "Je ne connais pas « xyzzy »" in out and "certains sujets" in out
    out = me.say("crèches et concerts")
    assert "le résumé chaque jour à 7 h, heure de La Réunion : Saint-Paul (974) — crèche, concert" in out
    assert "Je n'ai pas compris" not in out
    assert "Répondez « oui »" in me.say("peut-être")
    assert "pas de résumé" in me.say("non")
    assert subscriptions(factory) == []  # "non" at the summary: nothing written


def test_a_word_with_several_meanings_is_asked(engine_store: Any) -> None:
    _engine, factory = engine_store
    me = Talk(Engine(factory, clock=lambda: NOW), user="jo", lang="en")
    me.say("/start 97415")
    me.press("No thanks")
    me.say("/digest")
    me.say("weekly")
    assert "For Saint-Paul (974)" in me.say("9")  # nine o'clock, not a 9th button
    me.press("No, that's all")
    out = me.say("repair")
    labels = [label for _, label in me.choices()]
    assert "“repair”: which one?" in out and len(labels) > 2 and labels[-1] == "Everything"
    me.say("1")
    me.press("Yes, go ahead")
    [(frequency, hour, communes, categories)] = subscriptions(factory)
    assert (frequency, hour, communes) == ("weekly", 9, ["97415"]) and len(categories) == 1
    me.say("/digest")
    me.press("Change the hour")
    assert "Monday at 8:00" in me.say("2")  # the second button


def test_direct_forms_change_one_thing_and_keep_the_rest(engine_store: Any) -> None:
    _engine, factory = engine_store
    me = Talk(Engine(factory, clock=lambda: NOW), user="kim")
    me.say("/start 97415")
    assert "chaque jour à 7 h" in me.say("/digest chaque jour 7")
    assert "chaque lundi à 7 h" in me.say("/resume hebdomadaire")  # the hour is kept
    assert "chaque lundi à 18 h" in me.say("/digest 18h")  # the hour alone
    out = me.say("/digest daily 25")
    assert "heure ronde entre 0 et 23" in out and "Usage" in out
    assert subscriptions(factory) == [("weekly", 18, ["97415"], [])]  # unchanged
    me.say("/digest")
    assert "chaque jour à 18 h" in me.say("quotidien")  # typed at the buttons
    me.say("/digest")
    assert "Je n'ai pas compris" in me.say("bof")
    assert "C'est arrêté" in me.say("/digest arrêt")
    assert subscriptions(factory) == []


def test_digest_before_registering_asks_the_commune_first(engine_store: Any) -> None:
    _engine, factory = engine_store
    me = Talk(Engine(factory, clock=lambda: NOW), user="lea", lang=None)
    out = me.say("/digest weekly")
    assert "Pour quelle commune" in out
    assert "Plusieurs communes" in me.say("Le Port")  # Le Port (974) and Le Port (09)
    assert "chaque lundi à 8 h, heure de La Réunion : Le Port (974) — tout" in me.say("1")
    assert subscriptions(factory) == [("weekly", 8, ["97407"], [])]


def test_a_room_says_whether_it_gets_the_digest_and_a_rebinding_keeps_the_choice(
        engine_store: Any) -> None:
    _engine, factory = engine_store
    engine = Engine(factory, clock=lambda: NOW)
    mod = Talk(engine, user="@mod:x", chat="!room:x", kind=ChatKind.GROUP, moderator=True, platform="matrix")
    mod.say("/admin bind 97415")
    assert "Ce groupe reçoit le résumé chaque lundi à 8 h, heure de La Réunion : Saint-Paul (974)" in mod.say(
        "/admin digest")
    out = mod.say("/admin bind 97407")  # moved: the digest follows
    assert "chaque lundi à 8 h les nouveautés du Port (974)" in out
    with factory() as session:
        [row] = session.scalars(select(DigestSubscription)).all()
        assert (row.chat_platform, row.chat_id, row.communes) == ("matrix", "!room:x", ["97407"])
    assert "C'est arrêté" in mod.say("/admin digest arrêter")
    assert "ne reçoit pas de résumé" in mod.say("/admin digest")
    out = mod.say("/admin bind 97415")
    assert "relié à Saint-Paul (974)" in out and "reste arrêté" in out
    assert subscriptions(factory) == []
    member = Talk(engine, user="@joe:x", chat="!room:x", kind=ChatKind.GROUP, platform="matrix")
    assert "changer son résumé" in member.say("/admin digest on")
    assert subscriptions(factory) == []
    assert "chaque lundi" in mod.say("/admin digest activer")
    assert subscriptions(factory) == [("weekly", 8, ["97415"], [])]
