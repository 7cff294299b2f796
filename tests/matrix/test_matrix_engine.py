"""The issue's scenarios end to end: a real Synapse, the real engine on SQLite with the
sample directory, test people driven by matrix-nio."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from nio import RoomResolveAliasResponse
from sqlalchemy import select

from adapters.matrix.runner import _engine_outbox
from bot.engine import Engine
from bot.wiring import build_engine
from directory.db import open_store, transaction
from directory.models import ChatBinding
from directory.sample import load_sample

pytestmark = pytest.mark.synapse


def seeded_engine(tmp_path: Path, admins: list[str]) -> Engine:
    url = f"sqlite:///{tmp_path / 'directory.db'}"
    engine, factory = open_store(url)
    with transaction(factory) as session:
        load_sample(session)
    engine.dispose()
    return build_engine(url, admins=admins)


def body_has(room: str, *parts: str):
    return lambda r, s: r == room and all(p in s["content"].get("body", "") for p in parts)


def results_in(room: str):
    """A numbered list of sample entries (their names all end with "(fictive)")."""
    return lambda r, s: r == room and "<ol><li><b>" in s["content"].get("formatted_body", "") and (
        "(fictive)" in s["content"]["body"]
    )


def first_result(event: dict[str, Any]) -> str:
    html = event["content"]["formatted_body"]
    return str(html.split("<ol><li><b>", 1)[1].split("</b>", 1)[0])


async def register(person: Any, room: str) -> None:
    await person.say(room, "bonjour")
    await person.wait_for(body_has(room, "quelle est votre commune"))
    await person.say(room, "Saint-Paul")
    await person.wait_for(body_has(room, "1. Saint-Paul (974)"))
    await person.say(room, "1")
    await person.wait_for(body_has(room, "votre commune est Saint-Paul (974)"))


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
async def test_direct_chat_registers_and_searches(people, bot_factory, tmp_path, encrypted):
    engine = seeded_engine(tmp_path, [])
    bot = await bot_factory(engine)
    alice = await people("alice", encryption=encrypted)
    room = await alice.dm(bot.identity.user_id, encrypted=encrypted)
    await alice.wait_joined(room, bot.identity.user_id)
    await register(alice, room)
    await alice.say(room, "!search crèche")
    found = await alice.wait_for(results_in(room))
    assert found["content"]["msgtype"] == "m.notice"
    first = first_result(found)
    assert found["content"]["body"].count(first) == 1  # the results are numbered once
    assert f"1. {first}" in found["content"]["body"]
    await alice.say(room, "1")  # numbered results are answered by number
    pin = await alice.wait_for(
        lambda r, s: r == room and s["content"].get("msgtype") == "m.location"
    )
    lat, lon = map(float, pin["content"]["geo_uri"].removeprefix("geo:").split(","))
    assert -21.4 < lat < -20.8 and 55.2 < lon < 55.9  # on La Réunion
    if encrypted:
        assert found["event_id"] in alice.decrypted and pin["event_id"] in alice.decrypted


async def test_commune_room_search_and_announced_project(people, bot_factory, tmp_path):
    admin = await people("admin")
    alice = await people("alice")
    bob = await people("bob")
    engine = seeded_engine(tmp_path, [f"matrix:{admin.user_id}"])
    bot = await bot_factory(engine, admins=(f"matrix:{admin.user_id}",),
                            outbox=_engine_outbox(engine))
    me = bot.identity.user_id

    # the admin makes the bot create the commune room, which the engine binds
    control = await admin.dm(me)
    await admin.wait_joined(control, me)
    await admin.say(control, "!admin room create 97415")
    await admin.wait_for(body_has(control, "Saint-Paul (974)", "#commune-97415:localhost"))
    alias = await admin.client.room_resolve_alias("#commune-97415:localhost")
    assert isinstance(alias, RoomResolveAliasResponse)
    commune_room = alias.room_id
    with engine._factory() as session:
        binding = session.scalar(select(ChatBinding).where(ChatBinding.chat_id == commune_room))
        assert binding is not None and binding.commune_insee == "97415"
        assert binding.platform == "matrix"
    await bob.client.join(commune_room)  # public room: anyone may join by alias
    await bob.wait_joined(commune_room, bob.user_id)
    bound = await bob.wait_for(body_has(commune_room, "relié à Saint-Paul (974)"))
    assert bound["sender"] == me

    # questions in the bound room default to its commune
    await bob.say(commune_room, "!search crèche")
    answer = await bob.wait_for(results_in(commune_room))
    assert answer["content"]["m.relates_to"]["m.in_reply_to"]["event_id"]
    await bob.say(commune_room, "no bot here, just neighbours")
    # a numbered answer in a room is a reply to the bot's list
    await bob.say(commune_room, "1",
                  **{"m.relates_to": {"m.in_reply_to": {"event_id": answer["event_id"]}}})
    await bob.wait_for(lambda r, s: r == commune_room and s["content"].get("msgtype") == "m.location")

    # a project announced in a direct chat appears in the commune room
    direct = await alice.dm(me)
    await alice.wait_joined(direct, me)
    await register(alice, direct)
    steps = [
        ("/project", "nom de votre projet"),
        ("Jardin des Lataniers", "Décrivez"),
        ("Un jardin <partagé> pour le quartier", "domaine"),
        ("jardin partagé", "Dans quelle commune"),
        ("1", "De quoi avez-vous besoin"),
        ("1", "Valider"),
        ("5", "Où en est le projet"),
        ("1", "Comment vous joindre"),
        ("1", "Voici votre projet"),
        ("1", "est publié"),
    ]
    for text, expected in steps:
        await alice.say(direct, text)
        await alice.wait_for(body_has(direct, expected))
        alice.messages.clear()
    announced = await bob.wait_for(body_has(commune_room, "Jardin des Lataniers"), timeout=20)
    assert announced["sender"] == me and announced["content"]["msgtype"] == "m.notice"
    assert "&lt;partagé&gt;" in announced["content"]["formatted_body"] or (
        "<partagé>" not in announced["content"]["formatted_body"]
    )


async def test_room_moderator_binds_an_existing_room(people, bot_factory, tmp_path):
    engine = seeded_engine(tmp_path, [])
    bot = await bot_factory(engine)
    me = bot.identity.user_id
    mod = await people("mod")  # creates the room: its moderator, not a bot admin
    neighbour = await people("neighbour")
    room = await mod.room("Le Port — entraide", invite=[me, neighbour.user_id])
    await neighbour.client.join(room)
    await mod.wait_joined(room, me)
    await mod.wait_joined(room, neighbour.user_id)
    await neighbour.say(room, "!admin bind 97407")
    refused = await neighbour.wait_for(lambda r, s: r == room and s["sender"] == me)
    assert "modérateurs" in refused["content"]["body"]
    await mod.say(room, "!admin bind 97407")
    await mod.wait_for(body_has(room, "relié au Port (974)"))
    with engine._factory() as session:
        binding = session.get(ChatBinding, ("matrix", room))
        assert binding is not None and binding.commune_insee == "97407"
        assert binding.bound_by == f"matrix:{mod.user_id}"
    await neighbour.say(room, "!search crèche")
    results = await neighbour.wait_for(results_in(room))
    assert "autour du Port (974)" in results["content"]["body"]


async def test_follow_ups_and_entry_questions_in_a_matrix_chat(people, bot_factory, tmp_path):
    """The conversation's memory over Matrix (no language hint there): another place keeps
    the category, an ordinal in words opens a card, the card answers a question about its
    phone; an English speaker with no language set is answered in English."""
    engine = seeded_engine(tmp_path, [])
    bot = await bot_factory(engine)
    alice = await people("alice")
    room = await alice.dm(bot.identity.user_id)
    await alice.wait_joined(room, bot.identity.user_id)
    await register(alice, room)
    await alice.say(room, "veto a st paul")
    await alice.wait_for(body_has(room, "Vétérinaire autour de Saint-Paul (974)"))
    await alice.say(room, "et au port ?")
    await alice.wait_for(body_has(room, "Vétérinaire autour du Port (974)"))
    await alice.say(room, "la première")
    await alice.wait_for(body_has(room, "Clinique vétérinaire Payanke (fictive)", "Adresse"))
    await alice.say(room, "son téléphone ?")
    await alice.wait_for(body_has(room, "téléphone : 02 61 91 47 89"))

    bob = await people("bob")
    other = await bob.dm(bot.identity.user_id)
    await bob.wait_joined(other, bot.identity.user_id)
    await bob.say(other, "Hi! any daycare near me?")
    await bob.wait_for(body_has(other, "which commune do you live in"))
