"""Spreadsheet formulas typed as a name, a description or an address (issue 14, finding 5):
refused where they are typed, with a sentence saying what to change, the question asked
again and every other answer kept; the store refuses what reaches it another way. A phone
starting with + and a text like "-20 % ..." stay accepted."""

from __future__ import annotations

from typing import Any

import dialog_support as S
import pytest
from sqlalchemy import select

from directory import services
from directory.models import Entry
from directory.services import InvalidEntry, NewEntry, starts_like_formula

from .conftest import Talk, texts  # type: ignore[import-not-found]

FORMULA_FR = "un tableur y verrait une formule"
FORMULA_EN = "a spreadsheet would take it for a formula"
HYPERLINK = '=HYPERLINK("http://evil.example/x","Cliquez")'


@pytest.mark.parametrize("text", [
    HYPERLINK, "+1+1", "@SUM(A1)", "\t=1", "\r=1", "-cmd|' /C calc'!A0", "-=1", " =1", "\u200b=1",
])
def test_formula_starts_are_recognised(text: str) -> None:
    assert starts_like_formula(text)


@pytest.mark.parametrize("text", [
    "-20 % sur les pneus", "-20% sur les pneus", "- le marché forain", "-5", "Le Bar", "'Ti Kaz",
    "Garage + Pneus", "contact@tikaz.re", "",
])
def test_ordinary_texts_are_not_formulas(text: str) -> None:
    assert not starts_like_formula(text)


def test_the_recommend_dialog_refuses_a_formula_and_keeps_the_rest(talk: Any, engine_store: Any) -> None:
    _engine, factory = engine_store
    me: Talk = talk(user="formula-fr")
    me.say("/start 97415")
    assert "Que recommandez-vous" in me.say("/recommend")
    refused = me.say(HYPERLINK)
    assert FORMULA_FR in refused and "Que recommandez-vous" in refused  # asked again at once
    assert "=Le Bar" in refused  # says what to change
    assert "Boulangerie Ti Pain" in me.say("Boulangerie Ti Pain")
    if "Dans quelle commune" in texts(me.last):
        me.say("Saint-Paul")
    assert "Son adresse" in texts(me.last)
    refused = me.say("=1+1")
    assert FORMULA_FR in refused and "Son adresse" in refused
    assert "contact" in me.say("12 rue des Filaos").lower()
    assert "Pourquoi" in me.say("+262 262 22 33 44")  # a phone may start with +
    done = me.say("Passer")
    assert "Boulangerie Ti Pain figure maintenant" in done
    with factory() as session:
        entry = session.scalars(select(Entry).where(Entry.name == "Boulangerie Ti Pain")).one()
        assert (entry.address, entry.phone) == ("12 rue des Filaos", "+262 262 22 33 44")
        assert not session.scalars(select(Entry).where(Entry.name.like("%HYPERLINK%"))).all()


def test_the_event_dialog_refuses_a_formula_title_in_english(talk: Any, engine_store: Any) -> None:
    me: Talk = talk(user="formula-en", lang="en")
    me.say("/start 97415")
    assert "What is your event called" in me.say("/event")
    refused = me.say("@Fête du letchi")
    assert FORMULA_EN in refused and "What is your event called" in refused
    assert "What kind of event" in me.say("Fête du letchi")


def test_the_store_refuses_a_formula_that_came_another_way(sqlite_seeded: Any) -> None:
    """A name taken from the opening sentence skips the typed-answer check: the store's
    refusal gives the same sentence and asks for the name again, the rest kept."""
    factory, _ids = sqlite_seeded
    chat = S.Chat(factory, "recommend")
    chat.start({"name": "+Garage Zot", "category": "garage", "commune": S.SAINT_PAUL})
    chat.pick("Passer")  # no address
    chat.send("0262 11 22 33")
    text = S.text_of(chat.pick("Passer"))  # no comment: the entry is created now
    # the name is asked again (with the garages known around to pick from, or a new name)
    assert FORMULA_FR in text and chat.step in {"name", "kind_pick"} and "son nom" in text
    text = S.text_of(chat.send("Garage Zot"))
    with factory() as session:
        entry = session.scalars(select(Entry).where(Entry.name == "Garage Zot")).one_or_none()
    if entry is None:  # the comment asked again after the name
        chat.pick("Passer")
        with factory() as session:
            entry = session.scalars(select(Entry).where(Entry.name == "Garage Zot")).one()
    assert entry.phone == "0262 11 22 33" and entry.category == "garage"


def test_add_entry_refuses_formulas_but_an_import_keeps_the_source_text(store: Any) -> None:
    _engine, factory = store
    with factory() as session:
        for field in ("name", "description", "address"):
            values = {"name": "Garage Zot", field: "=1+1"}
            with pytest.raises(InvalidEntry) as refused:
                services.add_entry(session, NewEntry(category="garage", commune_insee="97415", **values))
            assert (refused.value.field, refused.value.reason) == (field, "formula")
        kept = services.validate_entry(NewEntry("=1+1", "garage", "97415"))  # the importer's call
        assert kept.name == "=1+1"
        fine = services.add_entry(session, NewEntry("-20 % Pneus Péi", "garage", "97415",
                                                    phone="+262 262 00 00 00"))
        assert fine.name == "-20 % Pneus Péi" and fine.phone == "+262 262 00 00 00"
