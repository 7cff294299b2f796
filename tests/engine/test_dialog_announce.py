"""The announce dialog over a real store: every step typed or pressed, the summary and its
edits, publication with an announcement to the commune room, updates told to followers,
and bad input at each typed step."""

from __future__ import annotations

from typing import Any

import dialog_support as S
import pytest
from sqlalchemy import select

from bot.messages import TargetKind, plain_text
from dialogs.announce import parse_needs, parse_stage
from directory.models import ChatBinding, Entry, Follow


def _up_to_summary(chat: Any) -> None:
    chat.start({"intent": "announce_project", "text": "/project"})
    assert chat.step == "title"
    chat.send("Ateliers vélo solidaires")
    assert chat.step == "description"
    chat.send("Réparer ensemble les vélos du quartier, le samedi matin.")
    assert chat.step == "category"
    chat.send("club sportif")
    if chat.step == "category":
        chat.send(choice=S.choice_ids(chat.replies)[0])
    assert chat.step == "commune"
    chat.pick("Saint-Paul")
    assert chat.step == "needs"
    needs = chat.pick("Bénévoles")
    assert needs[-1].edit_key == "needs" and "✓ Bénévoles" in S.choice_labels(needs)
    chat.pick("Financement")
    chat.pick("Financement")  # pressed twice: unticked
    chat.pick("Matériel")
    assert chat.state is not None and chat.state["needs"] == ["volunteers", "materials"]
    chat.pick("Valider")
    assert chat.step == "stage"
    chat.pick("Idée")
    assert chat.step == "contact"
    chat.send("velos@example.org")
    assert chat.step == "confirm"


def test_announce_publishes_and_tells_the_commune_room(seeded: Any) -> None:
    factory, _ids = seeded
    with factory() as session, session.begin():  # a room is bound to Saint-Paul
        session.add(ChatBinding(platform="matrix", chat_id="!sp:example.org",
                                commune_insee=S.SAINT_PAUL, bound_by="matrix:@ana:example.org"))
    before = S.count(factory, Entry)
    chat = S.Chat(factory, "announce")
    _up_to_summary(chat)
    summary = S.text_of(chat.replies)
    for fragment in (
        "Ateliers vélo solidaires",
        "samedi matin",
        "Saint-Paul (974)",
        "Bénévoles, Matériel",
        "Idée",
        "velos@example.org",
    ):
        assert fragment in summary, fragment
    assert S.count(factory, Entry) == before  # nothing written before "publish"
    replies = chat.pick("Publier")
    assert not chat.open
    mine = [r for r in replies if r.target.kind == TargetKind.REPLY]
    room = [r for r in replies if r.target.kind == TargetKind.COMMUNE_ROOM]
    assert "est publié" in S.text_of(mine)
    assert len(room) == 1 and room[0].target.ref == S.SAINT_PAUL
    room_text = plain_text(room[0].spans)
    assert "Nouveau projet" in room_text and "Ateliers vélo solidaires" in room_text
    assert "Bénévoles" in room_text and "velos@example.org" in room_text
    with factory() as session:
        entry = session.scalars(select(Entry).where(Entry.name == "Ateliers vélo solidaires")).one()
        assert entry.kind == "project" and entry.stage == "idea"
        assert entry.needs == ["volunteers", "materials"] and entry.commune_insee == S.SAINT_PAUL
        assert entry.created_by_id == chat.citizen_id and entry.email == "velos@example.org"


def test_with_no_room_bound_it_is_not_said_to_be_announced(sqlite_seeded: Any) -> None:
    factory, _ids = sqlite_seeded
    chat = S.Chat(factory, "announce")
    _up_to_summary(chat)
    replies = chat.pick("Publier")
    said = S.text_of([r for r in replies if r.target.kind == TargetKind.REPLY])
    assert "annoncé" not in said.replace("annoncé nulle part", "").replace("y soient annoncés", "")
    assert "dans l'annuaire" in said and "/admin bind" in said


def test_summary_edit_changes_one_field_and_comes_back(sqlite_seeded: Any) -> None:
    factory, _ids = sqlite_seeded
    chat = S.Chat(factory, "announce")
    _up_to_summary(chat)
    chat.pick("Modifier")
    assert chat.step == "edit"
    chat.pick("Étape")
    assert chat.step == "stage"
    chat.send("démarré")
    assert chat.step == "confirm" and "Démarré" in S.text_of(chat.replies)
    chat.pick("Modifier")
    chat.pick("Besoins")
    chat.send("du financement et des compétences")
    assert chat.step == "confirm" and "Financement, Compétences" in S.text_of(chat.replies)
    chat.pick("Publier")
    with factory() as session:
        entry = session.scalars(select(Entry).where(Entry.name == "Ateliers vélo solidaires")).one()
        assert entry.stage == "started" and entry.needs == ["funding", "skills"]


def test_drop_writes_nothing(sqlite_seeded: Any) -> None:
    factory, _ids = sqlite_seeded
    before = S.count(factory, Entry)
    chat = S.Chat(factory, "announce")
    _up_to_summary(chat)
    replies = chat.pick("Abandonner")
    assert not chat.open and "rien n'est publié" in S.text_of(replies)
    assert S.count(factory, Entry) == before


def test_slots_from_the_sentence_are_not_asked_again(sqlite_seeded: Any) -> None:
    factory, _ids = sqlite_seeded
    chat = S.Chat(factory, "announce", lang="en")
    chat.start(
        {
            "intent": "announce_project",
            "category": "jardin-partage",
            "commune": S.LE_PORT,
            "name": "Port Garden",
        }
    )
    assert chat.step == "description"
    chat.send("Vegetables for the school canteen.")
    assert chat.step == "needs"  # category and commune came with the sentence
    chat.send("none")
    assert chat.step == "stage"
    chat.send("concept")
    chat.pick("Skip")
    assert chat.step == "confirm"
    summary = S.text_of(chat.replies)
    assert "Port Garden" in summary and "Le Port (974)" in summary and "Needs: none" in summary


def test_own_similar_project_is_updated_and_followers_are_told(seeded: Any) -> None:
    factory, _ids = seeded
    chat = S.Chat(factory, "announce", user="author")
    _up_to_summary(chat)
    chat.pick("Publier")
    with factory() as session:
        project = session.scalars(select(Entry).where(Entry.name == "Ateliers vélo solidaires")).one()
        project_id = project.id
    follower = S.Chat(factory, "ask", user="fan", lang="en")
    follower.start({"category": "club-sportif", "commune": S.SAINT_PAUL})
    follower.send(choice=f"hit:{project_id}")
    follower.pick("Follow")
    assert S.count(factory, Follow, entry_id=project_id) == 1
    # the author announces it again with news: the similar project is proposed
    _up_to_summary(chat)
    replies = chat.pick("Publier")
    assert chat.step == "dup" and "existe déjà" in S.text_of(replies)
    replies = chat.pick("Mettre à jour")
    assert not chat.open
    users = [r for r in replies if r.target.kind == TargetKind.USER]
    assert [u.target.ref for u in users] == [str(follower.citizen_id)]
    assert users[0].lang == "en" and "A project you follow has news" in plain_text(users[0].spans)
    assert any(r.target.kind == TargetKind.COMMUNE_ROOM for r in replies)
    with factory() as session:
        assert len(session.scalars(select(Entry).where(Entry.name == "Ateliers vélo solidaires")).all()) == 1


def test_someone_elses_similar_project_can_be_followed(sqlite_seeded: Any) -> None:
    factory, ids = sqlite_seeded
    chat = S.Chat(factory, "announce")
    chat.start(
        {"category": "jardin-partage", "commune": S.SAINT_PAUL, "name": "Jardin partagé des Lataniers"}
    )
    chat.send("Un jardin pour tous")
    chat.send("aucun")
    chat.pick("Idée")
    chat.pick("Passer")
    replies = chat.pick("Publier")
    assert chat.step == "dup"
    assert "Mettre à jour" not in " ".join(S.choice_labels(replies))
    chat.pick("Suivre")
    assert not chat.open
    project = ids["Jardin partagé des Lataniers (fictive)"]
    assert S.count(factory, Follow, entry_id=project) == 1


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ("", "rien reçu"),
        ("\u200b\u200c", "rien reçu"),
        ("x" * 10_000, "trop long"),
        ("<img src=x onerror=alert(1)>", "HTML"),
        ("😀😀", "lettre"),
    ],
)
def test_bad_titles_and_descriptions_are_asked_again(sqlite_seeded: Any, bad: str, expected: str) -> None:
    factory, _ids = sqlite_seeded
    chat = S.Chat(factory, "announce")
    chat.start({})
    text = S.text_of(chat.send(bad))
    assert expected.lower() in text.lower() and "nom de votre projet" in text and chat.step == "title"
    chat.send("Un titre")
    text = S.text_of(chat.send(bad))
    assert expected.lower() in text.lower() and "Décrivez" in text and chat.step == "description"
    assert len(text) < 500


def test_bad_needs_stage_and_contact_are_asked_again(sqlite_seeded: Any) -> None:
    factory, _ids = sqlite_seeded
    chat = S.Chat(factory, "announce")
    chat.start({"category": "theatre", "commune": S.SAINT_PAUL, "name": "Théâtre de rue"})
    chat.send("Des spectacles dans les rues.")
    assert "pas compris" in S.text_of(chat.send("des licornes")) and chat.step == "needs"
    chat.send("des bénévoles")
    assert chat.step == "stage"
    assert "Choisissez une étape" in S.text_of(chat.send("bientôt peut-être")) and chat.step == "stage"
    chat.send("en test")
    assert chat.step == "contact"
    assert "pas compris ce contact" in S.text_of(chat.send("demandez à Paul")) and chat.step == "contact"
    chat.send("+262 692 12 34 56")
    assert chat.step == "confirm" and "+262 692 12 34 56" in S.text_of(chat.replies)


def test_parse_needs_and_stage() -> None:
    assert parse_needs("des bénévoles et du matériel") == ["volunteers", "materials"]
    assert parse_needs("Funding, skills") == ["funding", "skills"]
    assert parse_needs("aucun") == []
    assert parse_needs("des licornes") is None
    labels = {"idea": "Idée", "started": "Démarré", "testing": "En test"}
    assert parse_stage("idee", labels) == "idea"
    assert parse_stage("Démaré", labels) == "started"
    assert parse_stage("n'importe quoi", labels) is None


def test_usual_fields_are_offered_as_buttons(sqlite_seeded: Any) -> None:
    factory, _ids = sqlite_seeded
    chat = S.Chat(factory, "announce")
    chat.start({"name": "Potager de l'école"})
    chat.send("Un potager pour les enfants.")
    assert chat.step == "category"
    labels = S.choice_labels(chat.replies)
    assert len(labels) >= 4 and "Club sportif" in labels
    garden = [c for c in chat.replies[-1].choices if c.id == "cat:jardin-partage"]
    assert len(garden) == 1
    chat.send(choice=garden[0].id)
    assert chat.step == "commune" and chat.state is not None and chat.state["category"] == "jardin-partage"
