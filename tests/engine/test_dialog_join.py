"""The join dialog over a real store: an existing association, one created after
confirmation, a refusal that writes nothing, and typed yes/no."""

from __future__ import annotations

from typing import Any

import dialog_support as S
from sqlalchemy import select

from directory.models import Citizen, Entry, Membership
from directory.services import citizen_summary


def test_je_fais_partie_de_la_troupe_de_theatre_du_port(seeded: Any) -> None:
    factory, ids = seeded
    troupe = ids["Troupe de théâtre du Port (fictive)"]
    chat = S.Chat(factory, "join", home=S.SAINT_PAUL)
    replies = chat.start(
        {
            "intent": "join",
            "category": "theatre",
            "commune": S.LE_PORT,
            "text": "je fais partie de la troupe de théâtre du Port",
        }
    )
    assert chat.step == "pick"
    assert "Troupe de théâtre du Port (fictive)" in S.choice_labels(replies)
    # only organizations are candidates: the Port's crèche is not one of them... unless an
    # organization; the project of Saint-Paul never is
    assert all(not label.startswith("Jardin") for label in S.choice_labels(replies))
    done = chat.send(choice=f"entry:{troupe}")
    assert not chat.open
    assert "vous faites partie de « Troupe de théâtre du Port (fictive) »" in S.text_of(done)
    with factory() as session:
        summary = citizen_summary(session, session.get(Citizen, chat.citizen_id))
        assert [e.id for e, _role in summary.memberships] == [troupe]
    chat.start({"name": "troupe de theatre du port", "commune": S.LE_PORT})
    assert "déjà" in S.text_of(chat.send(choice=f"entry:{troupe}"))
    assert S.count(factory, Membership) == 1


def test_a_missing_association_is_created_after_confirmation(seeded: Any) -> None:
    factory, _ids = seeded
    before = S.count(factory, Entry)
    chat = S.Chat(factory, "join")
    replies = chat.start({"name": "Les Amis du Maloya", "commune": S.SAINT_PAUL})
    assert "Je ne trouve pas" in S.text_of(replies) and chat.step == "category"
    chat.send("association culturelle")
    if chat.step == "category":  # the taxonomy asks to choose: take the first offered
        chat.send(choice=S.choice_ids(chat.replies)[0])
    assert chat.step == "confirm"
    text = S.text_of(chat.replies)
    assert "Les Amis du Maloya" in text and "Saint-Paul (974)" in text
    assert S.choice_ids(chat.replies) == ["yes", "no"]
    assert S.count(factory, Entry) == before
    replies = chat.send("peut-être")
    assert chat.step == "confirm" and "oui ou non" in S.text_of(replies)
    done = chat.send("oui")
    assert not chat.open
    assert "figure maintenant dans l'annuaire" in S.text_of(done) and "vous faites partie" in S.text_of(done)
    with factory() as session:
        entry = session.scalars(select(Entry).where(Entry.name == "Les Amis du Maloya")).one()
        assert entry.kind == "organization" and entry.org_type is not None
        assert entry.created_by_id == chat.citizen_id
        members = session.scalars(select(Membership).where(Membership.entry_id == entry.id)).all()
        assert [m.citizen_id for m in members] == [chat.citizen_id]


def test_saying_no_writes_nothing(sqlite_seeded: Any) -> None:
    factory, _ids = sqlite_seeded
    before = S.count(factory, Entry)
    chat = S.Chat(factory, "join", lang="en")
    chat.start({"name": "Running Club of the Lagoon", "category": "club-sportif", "commune": S.SAINT_PAUL})
    assert chat.step == "confirm"
    done = chat.pick("No")
    assert not chat.open and "nothing is created" in S.text_of(done)
    assert S.count(factory, Entry) == before and S.count(factory, Membership) == 0


def test_join_without_a_name_asks_it_and_refuses_bad_input(sqlite_seeded: Any) -> None:
    factory, ids = sqlite_seeded
    chat = S.Chat(factory, "join", chat_commune=S.LE_PORT)
    replies = chat.start({"intent": "join"})
    assert chat.step == "name" and "De quelle association" in S.text_of(replies)
    assert "trop long" in S.text_of(chat.send("z" * 10_000))
    assert "HTML" in S.text_of(chat.send("<i>troupe</i>"))
    assert chat.step == "name"
    replies = chat.send("troupe de théâtre")
    # the chat is bound to Le Port: that is where it looks
    assert chat.step == "pick" and "Troupe de théâtre du Port (fictive)" in S.choice_labels(replies)
    chat.send(choice=f"entry:{ids['Troupe de théâtre du Port (fictive)']}")
    assert S.count(factory, Membership) == 1


def test_a_name_typed_in_lower_case_is_stored_capitalised(sqlite_seeded: Any) -> None:
    factory, _ids = sqlite_seeded
    chat = S.Chat(factory, "join")
    chat.start({"intent": "join", "commune": S.SAINT_PAUL})
    chat.send("chorale Ti Kaz Maloya")
    assert chat.state is not None and chat.state["name"] == "chorale Ti Kaz Maloya"
    if chat.step == "pick":
        chat.pick("Aucune")
    if chat.step == "category":
        chat.send("chorale")
        if chat.step == "category":
            chat.send(choice=S.choice_ids(chat.replies)[0])
    assert chat.step == "confirm"
    chat.send("oui")
    with factory() as session:
        names = session.scalars(select(Entry.name).where(Entry.created_by_id == chat.citizen_id)).all()
        assert names == ["Chorale Ti Kaz Maloya"]
