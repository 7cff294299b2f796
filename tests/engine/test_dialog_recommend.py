"""The recommend dialog over a real store: finding fuzzily, creating in short steps,
duplicates, one recommendation per citizen, plural counts, nothing half-written."""

from __future__ import annotations

from typing import Any

import dialog_support as S
import pytest
from sqlalchemy import select

from bot.messages import Location
from directory.models import Entry, Recommendation


def test_finds_the_entry_fuzzily_and_recommends_it_once(seeded: Any) -> None:
    factory, ids = seeded
    entry_id = ids["Crèche Ti Bouts (fictive)"]
    chat = S.Chat(factory, "recommend")
    replies = chat.start({"intent": "recommend", "name": "creche ti bout"})
    assert chat.step == "pick"
    assert "Crèche Ti Bouts (fictive)" in S.choice_labels(replies)
    replies = chat.send(choice=f"entry:{entry_id}")
    assert chat.step == "comment" and "Pourquoi" in S.text_of(replies)
    assert S.count(factory, Recommendation) == 0
    done = chat.send("Une équipe très douce avec les petits")
    assert not chat.open
    assert "1 personne recommande désormais Crèche Ti Bouts (fictive)" in S.text_of(done)
    with factory() as session:
        rec = session.scalars(select(Recommendation)).one()
        assert rec.comment == "Une équipe très douce avec les petits"
    # the same citizen again: still one recommendation, the comment is updated
    chat.start({"name": "Ti Bouts"})
    chat.send(choice=f"entry:{entry_id}")
    again = chat.send("Toujours aussi bien")
    assert "déjà" in S.text_of(again) and "1 personne" in S.text_of(again)
    assert S.count(factory, Recommendation, entry_id=entry_id) == 1
    assert S.entry_row(factory, entry_id).recommendation_count == 1
    with factory() as session:
        assert session.scalars(select(Recommendation.comment)).one() == "Toujours aussi bien"


def test_count_is_plural_with_two_citizens(sqlite_seeded: Any) -> None:
    factory, ids = sqlite_seeded
    entry_id = ids["Garage Auto Péi (fictive)"]
    for user, lang in (("a", "fr"), ("b", "en")):
        chat = S.Chat(factory, "recommend", user=user, lang=lang)
        chat.start({"entry_id": entry_id})
        done = chat.pick("Pass") if lang == "fr" else chat.pick("Skip")
    assert "2 people now recommend Garage Auto Péi (fictive)" in S.text_of(done)
    fr = S.Chat(factory, "recommend", user="c")
    fr.start({"entry_id": entry_id})
    assert "3 personnes recommandent" in S.text_of(fr.send("non"))


def test_creates_a_missing_entry_in_short_steps_and_writes_once(seeded: Any) -> None:
    factory, _ids = seeded
    before = S.count(factory, Entry)
    chat = S.Chat(factory, "recommend")
    replies = chat.start({"text": "je recommande la Boulangerie Chez Mimi"})
    assert "Je ne trouve pas" in S.text_of(replies)
    if chat.step == "category":
        chat.send("boulangerie")
    assert chat.step == "commune"
    # the home commune is offered as a button
    assert S.choice_labels(chat.replies) == ["Saint-Paul (974)"]
    chat.pick("Saint-Paul")
    assert chat.step == "address" and chat.replies[-1].request_location
    chat.send("5 rue du Général de Gaulle")
    assert chat.step == "contact"
    chat.send("0262 22 33 44, www.chezmimi.re")
    assert chat.step == "comment"
    assert S.count(factory, Entry) == before  # nothing written until the last answer
    done = chat.pick("Passer")
    assert not chat.open
    text = S.text_of(done)
    assert "figure maintenant dans l'annuaire" in text and "1 personne recommande" in text
    with factory() as session:
        entry = session.scalars(select(Entry).where(Entry.name.like("%Chez Mimi%"))).one()
        assert entry.category == "boulangerie" and entry.commune_insee == S.SAINT_PAUL
        assert entry.address == "5 rue du Général de Gaulle"
        assert entry.phone == "0262 22 33 44" and entry.website == "https://www.chezmimi.re"
        assert entry.created_by_id == chat.citizen_id and entry.recommendation_count == 1
    # and search finds it now
    ask = S.Chat(factory, "ask", user="other")
    assert "Chez Mimi" in S.text_of(ask.start({"category": "boulangerie", "commune": S.SAINT_PAUL}))


def test_none_of_these_then_a_shared_point(sqlite_seeded: Any) -> None:
    factory, _ids = sqlite_seeded
    chat = S.Chat(factory, "recommend", lang="en")
    chat.start({"name": "Crèche Ti Bouts", "category": "creche", "commune": S.SAINT_PAUL})
    assert chat.step == "pick"
    chat.pick("None of these")
    # the commune was said in the question: straight to the address
    assert chat.step == "address"
    lat, lon = S.commune_point(S.SAINT_PAUL, 0.02, 0.01)
    chat.send(location=Location(lat, lon))
    assert chat.step == "contact"
    chat.pick("Skip")
    done = chat.pick("Skip")
    assert "1 person now recommends" in S.text_of(done)
    with factory() as session:
        created = session.scalars(
            select(Entry).where(Entry.name == "Crèche Ti Bouts").order_by(Entry.id.desc())
        ).first()
        assert created is not None and created.lat == pytest.approx(lat) and created.lon == pytest.approx(lon)


def test_an_entry_added_meanwhile_is_proposed_not_duplicated(seeded: Any) -> None:
    factory, _ids = seeded
    chat = S.Chat(factory, "recommend")
    chat.start({"name": "Boulangerie Ti Pain", "category": "boulangerie", "commune": S.SAINT_PAUL})
    assert chat.step == "address"
    chat.pick("Passer")
    chat.pick("Passer")
    assert chat.step == "comment"
    with factory() as session, session.begin():  # someone else adds it now
        other = S.add(session, "Boulangerie Ti Pain", "boulangerie", S.SAINT_PAUL)
        other_id = other.id
    replies = chat.send("Le meilleur pain")
    assert chat.step == "dup" and "existe déjà" in S.text_of(replies)
    done = chat.send(choice=f"entry:{other_id}")
    assert not chat.open and "1 personne recommande" in S.text_of(done)
    with factory() as session:
        assert len(session.scalars(select(Entry).where(Entry.name == "Boulangerie Ti Pain")).all()) == 1
        rec = session.scalars(select(Recommendation)).one()
        assert rec.entry_id == other_id and rec.comment == "Le meilleur pain"


def test_a_different_one_despite_the_duplicate(sqlite_seeded: Any) -> None:
    factory, _ids = sqlite_seeded
    chat = S.Chat(factory, "recommend")
    chat.start({"name": "Boulangerie Ti Pain", "category": "boulangerie", "commune": S.SAINT_PAUL})
    chat.pick("Passer")
    chat.pick("Passer")
    with factory() as session, session.begin():
        S.add(session, "Boulangerie Ti Pain", "boulangerie", S.SAINT_PAUL)
    chat.send("Super")
    assert chat.step == "dup"
    done = chat.pick("Aucun")
    assert not chat.open and "figure maintenant dans l'annuaire" in S.text_of(done)
    with factory() as session:
        assert len(session.scalars(select(Entry).where(Entry.name == "Boulangerie Ti Pain")).all()) == 2


def test_an_ambiguous_kind_offers_choices(sqlite_seeded: Any) -> None:
    factory, _ids = sqlite_seeded
    chat = S.Chat(factory, "recommend")
    chat.start({"name": "Les Petits Doigts"})
    if chat.step == "pick":
        chat.pick("Aucun")
    assert chat.step == "category"
    replies = chat.send("xqzw")
    assert chat.step == "category" and "Je ne connais pas" in S.text_of(replies)
    chat.send("crèche")
    assert chat.step == "commune"


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ("", "rien reçu"),
        ("\u200b\u2060\ufeff", "rien reçu"),
        ("a" * 10_000, "trop long"),
        ("<script>alert(1)</script>", "HTML"),
        ("!!! ???", "lettre"),
    ],
)
def test_bad_names_are_refused_and_asked_again(sqlite_seeded: Any, bad: str, expected: str) -> None:
    factory, _ids = sqlite_seeded
    chat = S.Chat(factory, "recommend")
    chat.start({})
    assert chat.step == "name"
    text = S.text_of(chat.send(bad))
    assert expected.lower() in text.lower() and "Que recommandez-vous" in text
    assert chat.step == "name" and len(text) < 400


def test_bad_contact_and_bad_comment_are_asked_again(sqlite_seeded: Any) -> None:
    factory, _ids = sqlite_seeded
    before = S.count(factory, Entry)
    chat = S.Chat(factory, "recommend")
    chat.start({"name": "Épicerie Ti Kaz", "category": "epicerie", "commune": S.SAINT_PAUL})
    chat.pick("Passer")
    assert chat.step == "contact"
    text = S.text_of(chat.send("appelez Josiane"))
    assert "pas compris ce contact" in text and chat.step == "contact"
    chat.send("contact@tikaz.re")
    assert chat.step == "comment"
    text = S.text_of(chat.send("b" * 10_000))
    assert "trop long" in text and chat.step == "comment"
    assert S.count(factory, Entry) == before
    chat.send("Accueil chaleureux")
    with factory() as session:
        entry = session.scalars(select(Entry).where(Entry.name == "Épicerie Ti Kaz")).one()
        assert entry.email == "contact@tikaz.re" and entry.phone is None


def test_without_home_the_commune_is_asked_first(sqlite_seeded: Any) -> None:
    factory, _ids = sqlite_seeded
    chat = S.Chat(factory, "recommend", home=None)
    chat.start({"name": "Garage Auto Pei"})
    assert chat.step == "commune"
    replies = chat.send("Le Port")
    if chat.step == "commune":  # Le Port exists in Ariège too: pick La Réunion's
        replies = chat.pick("(974)")
    assert chat.step == "pick", S.text_of(replies)
    assert "Garage Auto Péi (fictive)" in S.choice_labels(replies)


def test_recommend_from_an_unknown_entry_id_says_so(sqlite_seeded: Any) -> None:
    factory, _ids = sqlite_seeded
    chat = S.Chat(factory, "recommend")
    replies = chat.start({"entry_id": 987654})
    assert not chat.open and "plus disponible" in S.text_of(replies)


def test_usual_kinds_are_offered_as_buttons(sqlite_seeded: Any) -> None:
    factory, _ids = sqlite_seeded
    chat = S.Chat(factory, "recommend", lang="en")
    chat.start({"name": "Doctor Payet", "commune": S.SAINT_PAUL})
    if chat.step == "pick":
        chat.pick("None of these")
    assert chat.step == "category"
    assert "cat:medecin" in S.choice_ids(chat.replies)
    chat.send(choice="cat:medecin")
    assert chat.step == "address" and chat.state is not None and chat.state["category"] == "medecin"


@pytest.mark.parametrize("typed", ["aucun", "un autre", "None of these", "non"])
def test_typed_none_of_these_goes_on_to_create(sqlite_seeded: Any, typed: str) -> None:
    factory, _ids = sqlite_seeded
    chat = S.Chat(factory, "recommend")
    chat.start({"name": "Ti Bouts", "category": "creche"})
    assert chat.step == "pick"
    chat.send(typed)
    assert chat.step == "commune"  # creating: the commune is confirmed (home offered)
    hint = S.Chat(factory, "recommend", user="u2")
    hint.start({"name": "Ti Bouts", "category": "creche"})
    replies = hint.send("je sais pas")
    assert hint.step == "pick" and "Choisissez" in S.text_of(replies)
    assert "new" in S.choice_ids(replies)  # the candidates are offered again with the hint


# --- the pure helpers the four dialogs share -----------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Crèche   Ti\u200b Bouts ", "Crèche Ti Bouts"),
        ("**Garage Péi**", "Garage Péi"),
        ("Tom & Jerry <3", "Tom & Jerry <3"),  # a heart is not a tag
    ],
)
def test_read_text_cleans(raw: str, expected: str) -> None:
    from dialogs.entry_view import read_text

    assert read_text(raw, max_len=100) == expected


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("", "common.text.empty"),
        ("\u200b\u200d\u2060", "common.text.empty"),
        ("a" * 101, "common.text.too_long"),
        ("<a href='x'>y</a>", "entry.input.markup"),
        ("<!-- hidden -->", "entry.input.markup"),
        ("🎉 !!", "common.text.no_letters"),
    ],
)
def test_read_text_refuses(raw: str, key: str) -> None:
    from dialogs.entry_view import Bad, read_text

    refused = read_text(raw, max_len=100)
    assert isinstance(refused, Bad) and refused.key == key


def test_parse_contact() -> None:
    from dialogs.entry_view import Bad, Contact, parse_contact

    assert parse_contact("0262 12 34 56, www.tibouts.re") == Contact(
        phone="0262 12 34 56", website="https://www.tibouts.re"
    )
    assert parse_contact("tibouts@example.org") == Contact(email="tibouts@example.org")
    assert parse_contact("https://a.example/x +262 692 11 22 33") == Contact(
        phone="+262 692 11 22 33", website="https://a.example/x"
    )
    assert isinstance(parse_contact("appelez Josiane"), Bad)
    assert isinstance(parse_contact("12"), Bad)  # too short to be a phone


def test_strip_lead_and_none_of_these() -> None:
    from dialogs.entry_view import SEARCH_LEADS, says_none_of_these, strip_lead

    assert strip_lead("Je recommande la Boulangerie Chez Mimi") == "Boulangerie Chez Mimi"
    assert strip_lead("je fais partie de l'Amicale Laïque") == "Amicale Laïque"
    assert strip_lead("je recommande") is None
    assert strip_lead("I'm looking for a plumber", SEARCH_LEADS) == "plumber"
    assert strip_lead("Chez Mimi") == "Chez Mimi"
    assert says_none_of_these("Aucune !") and says_none_of_these("none of these")
    assert not says_none_of_these("la deuxième")


def test_name_similarity() -> None:
    from dialogs.recommend import NAME_SIMILARITY, name_similarity

    assert name_similarity("ti bouts", "Crèche Ti Bouts (fictive)") >= NAME_SIMILARITY
    assert name_similarity("Creche Ti Bout", "Crèche Ti Bouts (fictive)") >= NAME_SIMILARITY
    assert name_similarity("Épicerie Ti Kaz", "Crèche Ti Bouts (fictive)") < NAME_SIMILARITY
    assert name_similarity("", "x") == 0.0


def test_match_category() -> None:
    from dialogs.entry_view import match_category

    assert match_category("boulangerie", "fr") == ("boulangerie", [])
    assert match_category("mechanic", "en")[0] == "garage"
    slug, candidates = match_category("qsdfghjk", "fr")
    assert slug is None and candidates == []
