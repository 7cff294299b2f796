"""The ask dialog over a real migrated store: results, paging, details, actions, widening,
handing over to recommend, and bad input at every typed step."""

from __future__ import annotations

from typing import Any

import dialog_support as S
import pytest

from bot.messages import Location
from directory.models import Entry, EntryStatus, Follow, Membership, Recommendation


def test_creche_near_me_lists_name_distance_commune_and_recommendations(seeded: Any) -> None:
    factory, _ids = seeded
    chat = S.Chat(factory, "ask")
    replies = chat.start(
        {
            "intent": "search",
            "category": "creche",
            "near_me": True,
            "text": "quelle crèche près de chez moi ?",
        }
    )
    text = S.text_of(replies)
    assert "Crèche" in text and "Saint-Paul (974)" in text
    assert "km" in text or " m " in text or " m ·" in text
    assert "recommand" in text  # "pas encore recommandé" / "1 recommandation"
    results = replies[-1]
    assert results.edit_key is not None and results.edit_key.startswith("results:")
    hits = [c for c in results.choices if c.id.startswith("hit:")]
    assert len(hits) == 5
    assert "more" in S.choice_ids(replies)
    assert chat.step == "results"


def test_more_pages_in_place_without_repeating(seeded: Any) -> None:
    factory, ids = seeded
    chat = S.Chat(factory, "ask", home=S.SAINT_PAUL)
    first = chat.start({"category": "creche", "commune": S.SAINT_PAUL})
    first_ids = [c.id for c in first[-1].choices if c.id.startswith("hit:")]
    second = chat.pick("more")
    assert second[-1].edit_key == first[-1].edit_key  # the same message, edited in place
    second_ids = [c.id for c in second[-1].choices if c.id.startswith("hit:")]
    assert second_ids and not set(first_ids) & set(second_ids)
    assert "page 2" in S.text_of(second)
    shown = {int(i.split(":")[1]) for i in first_ids + second_ids}
    saint_paul = {v for k, v in ids.items() if k.startswith("Crèche") and "Port" not in k}
    assert saint_paul <= shown
    if "more" not in S.choice_ids(second):
        assert chat.send(choice="more")  # a stale "more" is answered, not a crash
        assert "pas d'autres" in S.text_of(chat.replies)


def test_garagiste_au_port_searches_that_commune(sqlite_seeded: Any) -> None:
    factory, _ids = sqlite_seeded
    chat = S.Chat(factory, "ask", home=S.SAINT_PAUL)
    replies = chat.start({"category": "garage", "commune": S.LE_PORT, "text": "garagiste au Port"})
    text = S.text_of(replies)
    assert "Le Port (974)" in text
    assert "Garage Auto Péi (fictive)" in text


def test_i_am_looking_for_a_name(sqlite_seeded: Any) -> None:
    factory, _ids = sqlite_seeded
    chat = S.Chat(factory, "ask")
    replies = chat.start({"intent": "search", "text": "je cherche Ti Bouts"})
    assert chat.step == "results"
    assert replies[-1].choices[0].label == "Crèche Ti Bouts (fictive)"
    assert "« Ti Bouts »" in S.text_of(replies)


def test_search_command_text_is_understood(sqlite_seeded: Any) -> None:
    factory, _ids = sqlite_seeded
    chat = S.Chat(factory, "ask")
    replies = chat.start({"text": "crèche", "intent": "search"})
    assert chat.step == "results"
    assert "Crèche Ti Bouts (fictive)" in S.text_of(replies)


def test_choosing_a_result_shows_details_pin_and_actions(seeded: Any) -> None:
    factory, ids = seeded
    chat = S.Chat(factory, "ask")
    chat.start({"category": "creche", "commune": S.SAINT_PAUL})
    replies = chat.send(choice=f"hit:{ids['Crèche Ti Bouts (fictive)']}")
    text = S.text_of(replies)
    assert "12 rue des Lilas" in text and "0262 11 22 33" in text
    assert "Crèche · Saint-Paul (974) · 4" in text  # its distance from the commune centre (~460 m)
    pins = [r.pin for r in replies if r.pin is not None]
    assert len(pins) == 1 and pins[0].name == "Crèche Ti Bouts (fictive)"
    assert -21.2 < pins[0].lat < -20.8 and 55.1 < pins[0].lon < 55.5
    labels = S.choice_labels(replies)
    assert "Je recommande" in labels and "J'en fais partie" in labels
    assert "Suivre ce projet" not in labels  # only projects are followed
    assert replies[0].edit_key == chat.state["query"]["key"]  # the card replaces the list
    back = chat.pick("Retour")
    assert chat.step == "results" and back[-1].edit_key == replies[0].edit_key
    other = chat.send("garage")  # a new search: a new message, the old list stays
    assert other[-1].edit_key != replies[0].edit_key


def test_i_belong_here_joins_once(seeded: Any) -> None:
    factory, ids = seeded
    troupe = ids["Troupe de théâtre du Port (fictive)"]
    chat = S.Chat(factory, "ask")
    chat.start({"category": "theatre", "commune": S.LE_PORT})
    chat.send(choice=f"hit:{troupe}")
    replies = chat.pick("J'en fais partie")
    assert "vous faites partie" in S.text_of(replies)
    assert not chat.open
    assert S.count(factory, Membership, entry_id=troupe) == 1
    chat.start({"category": "theatre", "commune": S.LE_PORT})
    chat.send(choice=f"hit:{troupe}")
    assert "déjà" in S.text_of(chat.pick("J'en fais partie"))
    assert S.count(factory, Membership, entry_id=troupe) == 1


def test_follow_a_project(seeded: Any) -> None:
    factory, ids = seeded
    project = ids["Jardin partagé des Lataniers (fictive)"]
    chat = S.Chat(factory, "ask", lang="en")
    chat.start({"category": "jardin-partage", "commune": S.SAINT_PAUL})
    card = chat.send(choice=f"hit:{project}")
    assert "Stage: Started" in S.text_of(card) and "Needs: Volunteers" in S.text_of(card)
    assert "I belong here" not in S.choice_labels(card)
    replies = chat.pick("Follow")
    assert "follow" in S.text_of(replies).lower()
    assert S.count(factory, Follow, entry_id=project) == 1


def test_recommend_from_a_result_hands_over_and_counts(seeded: Any) -> None:
    factory, ids = seeded
    entry_id = ids["Crèche Ti Bouts (fictive)"]
    chat = S.Chat(factory, "ask")
    chat.start({"category": "creche", "commune": S.SAINT_PAUL})
    chat.send(choice=f"hit:{entry_id}")
    replies = chat.pick("Je recommande")
    assert chat.state is not None and chat.state.get("_delegate") == "recommend"
    assert "Pourquoi" in S.text_of(replies)
    assert S.count(factory, Recommendation) == 0  # nothing written before the last answer
    done = chat.send("Personnel adorable")
    assert not chat.open
    assert "1 personne recommande" in S.text_of(done)
    assert S.entry_row(factory, entry_id).recommendation_count == 1


def test_nothing_near_widens_the_radius_once(sqlite_seeded: Any) -> None:
    factory, _ids = sqlite_seeded
    chat = S.Chat(factory, "ask", home=S.SAINT_DENIS)
    replies = chat.start({"category": "garage", "radius_km": 3})
    text = S.text_of(replies)
    if chat.step == "results":
        assert "Rien dans un rayon de 3 km" in text and "9 km" in text
    else:  # nothing within 9 km either: said, then the offer to add one
        assert "ni même de 9 km" in text and chat.step == "offer"


def test_no_result_at_all_offers_to_recommend_one(sqlite_seeded: Any) -> None:
    factory, _ids = sqlite_seeded
    chat = S.Chat(factory, "ask")
    replies = chat.start({"category": "plombier", "commune": S.SAINT_PAUL})
    text = S.text_of(replies)
    assert "10 km" in text and "30 km" in text  # said, widened once, said again
    said = "Je n'ai trouvé aucun plombier dans un rayon de 10 km autour de Saint-Paul (974), ni même de 30 km"
    assert said in text  # what and where
    assert chat.step == "offer"
    handed = chat.pick("Recommander une adresse")
    assert chat.state is not None and chat.state["_delegate"] == "recommend"
    assert "nom" in S.text_of(handed).lower()  # recommend asks the name (category known)
    assert chat.state["inner"]["category"] == "plombier"


def test_no_thanks_closes(sqlite_seeded: Any) -> None:
    factory, _ids = sqlite_seeded
    chat = S.Chat(factory, "ask")
    chat.start({"category": "plombier", "commune": S.SAINT_PAUL})
    chat.send("non")
    assert not chat.open


def test_nothing_to_look_for_asks_what_then_searches(sqlite_seeded: Any) -> None:
    factory, _ids = sqlite_seeded
    chat = S.Chat(factory, "ask")
    replies = chat.start({"intent": "search"})
    assert chat.step == "what" and "Que cherchez-vous" in S.text_of(replies)
    replies = chat.send("une crèche")
    assert chat.step == "results" and "Crèche" in S.text_of(replies)


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ("", "rien reçu"),
        ("   ", "rien reçu"),
        ("\u200b\u200b\u200d", "rien reçu"),
        ("x" * 10_000, "trop long"),
        ("<b>crèche</b>", "HTML"),
        ("🎉🎉🎉", "lettre"),
    ],
)
def test_bad_what_answers_are_refused_and_the_question_asked_again(
    sqlite_seeded: Any, bad: str, expected: str
) -> None:
    factory, _ids = sqlite_seeded
    chat = S.Chat(factory, "ask")
    chat.start({})
    replies = chat.send(bad)
    text = S.text_of(replies)
    assert expected.lower() in text.lower(), text
    assert "Que cherchez-vous" in text
    assert chat.step == "what"
    assert len(text) < 400  # short answers, the 10,000 characters are not echoed


def test_chat_bound_to_a_commune_searches_there(sqlite_seeded: Any) -> None:
    factory, _ids = sqlite_seeded
    chat = S.Chat(factory, "ask", home=S.SAINT_PAUL, chat_commune=S.LE_PORT)
    replies = chat.start({"category": "creche"})
    assert "autour du Port (974)" in S.text_of(replies)


def test_near_me_uses_the_shared_point_first(sqlite_seeded: Any) -> None:
    factory, _ids = sqlite_seeded
    point = S.commune_point(S.LE_PORT)
    chat = S.Chat(factory, "ask", home=S.SAINT_PAUL, point=point)
    replies = chat.start({"category": "creche", "near_me": True})
    text = S.text_of(replies)
    assert "près de vous" in text
    first_hit = replies[-1].choices[0]
    assert first_hit.label == "Crèche du Port (fictive)"


def test_without_any_place_it_asks_where(sqlite_seeded: Any) -> None:
    factory, _ids = sqlite_seeded
    chat = S.Chat(factory, "ask", home=None)
    replies = chat.start({"category": "garage"})
    assert chat.step == "where" and replies[-1].request_location
    replies = chat.send("Le Port")
    # there is a Le Port in Ariège too: with no home to rank by, both are offered
    assert chat.step == "where" and "Le Port (974)" in S.choice_labels(replies)
    replies = chat.pick("(974)")
    assert chat.step == "results" and "Garage Auto Péi (fictive)" in S.text_of(replies)


def test_shared_location_answers_where(sqlite_seeded: Any) -> None:
    factory, _ids = sqlite_seeded
    chat = S.Chat(factory, "ask", home=None)
    chat.start({"category": "creche"})
    lat, lon = S.commune_point(S.LE_PORT)
    replies = chat.send(location=Location(lat, lon))
    assert chat.step == "results" and "près de vous" in S.text_of(replies)


def test_typed_text_on_results_starts_a_new_search(sqlite_seeded: Any) -> None:
    factory, _ids = sqlite_seeded
    chat = S.Chat(factory, "ask")
    chat.start({"category": "creche", "commune": S.LE_PORT})
    replies = chat.send("garage")
    assert chat.step == "results"
    assert "Garage Auto Péi (fictive)" in S.text_of(replies)


def test_an_entry_hidden_meanwhile_is_not_shown(seeded: Any) -> None:
    factory, ids = seeded
    entry_id = ids["Crèche Ti Bouts (fictive)"]
    chat = S.Chat(factory, "ask")
    chat.start({"category": "creche", "commune": S.SAINT_PAUL})
    with factory() as session, session.begin():
        entry = session.get(Entry, entry_id)
        assert entry is not None
        entry.status = EntryStatus.HIDDEN.value
    replies = chat.send(choice=f"hit:{entry_id}")
    assert "plus disponible" in S.text_of(replies)
    assert chat.step == "results"


def test_english_user_gets_english(sqlite_seeded: Any) -> None:
    factory, _ids = sqlite_seeded
    chat = S.Chat(factory, "ask", lang="en")
    replies = chat.start({"category": "creche", "commune": S.SAINT_PAUL})
    text = S.text_of(replies)
    assert "around Saint-Paul (974)" in text and "More results" in S.choice_labels(replies)


def test_impossible_places_fall_back_to_home(sqlite_seeded: Any) -> None:
    factory, _ids = sqlite_seeded
    chat = S.Chat(factory, "ask", home=S.LE_PORT)
    replies = chat.start({"category": "creche", "commune": "99999"})
    assert "autour du Port (974)" in S.text_of(replies)
    chat = S.Chat(factory, "ask", home=S.LE_PORT, user="u2")
    replies = chat._run(
        chat.incoming(location=Location(200.0, 55.3)),
        lambda ctx: chat.dialog.start(ctx, {"category": "creche"}),
    )
    assert "autour du Port (974)" in S.text_of(replies)
