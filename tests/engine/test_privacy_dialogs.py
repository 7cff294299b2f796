"""/privacy, /mydata, /forget and /link through the engine, both backends: the file holds
what the scripted session did; after /forget no table names the citizen and the next
message is a first contact; /link makes a Telegram and a Matrix account one citizen."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import inspect, select, text

from bot.engine import Engine
from directory import services
from directory.db import transaction

from .conftest import Talk  # type: ignore[import-not-found]

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
COMMENT = "Josiane accueille les enfants avec douceur"


def setup(factory: Any) -> dict[str, int]:
    with transaction(factory) as session:
        ids = {}
        for name, category, kind in (("Crèche Ti Bouts", "creche", "organization"),
                                     ("Club Papangue", "association", "organization"),
                                     ("Jardin Lontan", "jardin-partage", "project")):
            ids[name] = services.add_entry(session, services.NewEntry(
                name=name, category=category, commune_insee="97415", kind=kind)).id
        return ids


def dump(engine: Any) -> str:
    with engine.connect() as conn:
        return "\n".join(repr(tuple(row)) for table in inspect(engine).get_table_names()
                         for row in conn.execute(text(f'SELECT * FROM "{table}"')))


def scripted(me: Talk, ids: dict[str, int]) -> None:
    me.say("/start 97415", display_name="Zoé Quintal")
    me.say(f"/start e{ids['Crèche Ti Bouts']}")
    me.press("Je recommande")
    me.say(COMMENT)
    me.say(f"/start e{ids['Club Papangue']}")
    me.press("J'en fais partie")
    me.say(f"/start e{ids['Jardin Lontan']}")
    me.press("Suivre")


def test_mydata_is_what_the_session_did(engine_store: Any) -> None:
    _engine, factory = engine_store
    ids = setup(factory)
    me = Talk(Engine(factory, clock=lambda: NOW), user="zoe")
    scripted(me, ids)
    policy = me.say("/privacy")
    assert "Vos données, en clair" in policy and "30 jours" in policy and "/forget" in policy
    out = me.send("/mydata")
    [document] = [r.document for r in out if r.document is not None]
    data = json.loads(document.data)
    assert document.mime == "application/json" and document.filename.endswith(".json")
    assert data["citizen"]["home_commune"] == "97415"
    assert [(a["platform"], a["id"]) for a in data["accounts"]] == [("console", "zoe")]
    assert [(r["entry"], r["comment"]) for r in data["recommendations"]] == [("Crèche Ti Bouts", COMMENT)]
    assert [m["entry"] for m in data["memberships"]] == ["Club Papangue"]
    assert [f["entry"] for f in data["follows"]] == ["Jardin Lontan"]


def test_forget_erases_everything_and_the_next_message_is_a_first_contact(engine_store: Any) -> None:
    engine, factory = engine_store
    ids = setup(factory)
    me = Talk(Engine(factory, clock=lambda: NOW), user="zoe-account-7781")
    scripted(me, ids)
    assert COMMENT in dump(engine) and "zoe-account-7781" in dump(engine)
    assert "irréversible" in me.say("/forget")
    assert "rien n'a été effacé" in me.say("non")
    me.say("/forget")
    assert "tout ce qui vous concernait est effacé" in me.say("Oui, tout effacer")
    everything = dump(engine)
    for secret in (COMMENT, "zoe-account-7781", "Zoé Quintal"):
        assert secret not in everything, secret
    with factory() as session:
        assert session.get(services.Entry, ids["Crèche Ti Bouts"]).recommendation_count == 0
    assert "quelle est votre commune" in me.say("bonjour")  # a first contact again


def test_link_makes_two_platforms_one_citizen(engine_store: Any) -> None:
    _engine, factory = engine_store
    ids = setup(factory)
    clock = {"now": NOW}
    engine = Engine(factory, clock=lambda: clock["now"])
    tg = Talk(engine, user="111", platform="telegram")
    scripted(tg, ids)
    mx = Talk(engine, user="@zoe:example.org", platform="matrix")
    mx.say("/start 97415")
    code = re.search(r"\b(\d{6})\b", tg.say("/link"))
    assert code is not None
    assert "ce même compte" in tg.say(f"/link {code.group(1)}")
    assert "pas bon" in mx.say("/link 000000" if code.group(1) != "000000" else "/link 111111")
    code = re.search(r"\b(\d{6})\b", tg.say("/link"))
    assert code is not None
    clock["now"] = NOW + timedelta(minutes=11)
    assert "pas bon" in mx.say(f"/link {code.group(1)}")  # expired
    code = re.search(r"\b(\d{6})\b", tg.say("/link"))
    assert code is not None
    assert "le même citoyen" in mx.say(f"/link {code.group(1)}")
    assert "pas bon" in mx.say(f"/link {code.group(1)}")  # replayed
    assert "Crèche Ti Bouts" in mx.say("/me")  # Telegram's recommendation, seen from Matrix


def test_me_takes_back_what_was_given_and_manages_what_was_created(engine_store: Any) -> None:
    _engine, factory = engine_store
    ids = setup(factory)
    me = Talk(Engine(factory, clock=lambda: NOW), user="zoe")
    scripted(me, ids)
    me.say("/me")
    assert [label for _id, label in me.choices()] == ["Retirer une recommandation", "Quitter une association",
                                                      "Ne plus suivre"]
    me.press("Retirer une recommandation")
    assert "vous ne recommandez plus Crèche Ti Bouts" in me.press("Crèche Ti Bouts")
    me.say("/me")
    me.press("Quitter")
    assert "vous ne faites plus partie de Club Papangue" in me.press("Club Papangue")
    me.say("/me")
    me.press("Ne plus suivre")
    assert "vous ne suivez plus Jardin Lontan" in me.press("Jardin Lontan")
    with factory() as session:
        assert session.get(services.Entry, ids["Crèche Ti Bouts"]).recommendation_count == 0
        citizen = session.scalars(select(services.Citizen)).one()
        mine = services.add_entry(session, services.NewEntry(
            name="Repair café Zembrocal", category="repair-cafe", commune_insee="97415"), by=citizen)
        session.commit()
        mine_id = mine.id
    me.say("/me")
    me.press("Ce que j'ai créé")
    out = me.press("Repair café Zembrocal")
    assert "que voulez-vous faire" in out
    me.press("Corriger")
    me.press("Téléphone")
    assert "ne convient pas" in me.say("pas un numéro")
    assert "« Téléphone » est corrigé" in me.say("0262 12 34 56")
    me.say("/me")
    me.press("Ce que j'ai créé")
    me.press("Repair café Zembrocal")
    assert "est supprimée" in me.press("La supprimer")
    with factory() as session:
        assert session.get(services.Entry, mine_id) is None
