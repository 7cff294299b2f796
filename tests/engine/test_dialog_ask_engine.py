"""The four dialogs end to end through the real Engine (routing, NLU, choice mapping by
number and label, persisted state, outbox), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import dialog_support as S
import pytest
from sqlalchemy import select

from bot import outbox
from bot.engine import Engine
from bot.messages import plain_text
from directory.models import Account, ChatBinding, Entry, Follow, Membership, OutboxMessage, Recommendation


@pytest.fixture
def seeded(engine_store: Any) -> dict[str, int]:
    ids: dict[str, int] = S.seed(engine_store[1])
    return ids


def _registered(talk: Any, **kw: Any) -> Any:
    user = talk(**kw)
    user.say("/start 97415")
    return user


def test_question_results_by_number_details_and_more(talk: Any, seeded: dict[str, int]) -> None:
    user = _registered(talk)
    text = user.say("quelle crèche près de chez moi ?")
    assert "Crèche Ti Bouts (fictive)" in text and "Saint-Paul (974)" in text
    key = user.last[-1].edit_key
    assert key is not None and key.startswith("results:")
    text = user.say("1")  # typed number -> the first result
    assert "12 rue des Lilas" in text and "0262 11 22 33" in text
    assert any(r.pin is not None for r in user.last)
    user.say("Retour aux résultats")  # typed label -> the choice
    text = user.say("Plus de résultats")
    assert "page 2" in text and user.last[-1].edit_key == key
    out_of_range = user.say("42")
    assert "Répondez par" in out_of_range  # the engine's short answer, the state unchanged
    assert user.last and user.last[-1].choices  # and the choices again


def test_search_command_and_group_bound_to_a_commune(
    talk: Any, seeded: dict[str, int], engine_store: Any
) -> None:
    with engine_store[1]() as session, session.begin():
        session.add(ChatBinding(platform="console", chat_id="room-port", commune_insee=S.LE_PORT))
    from bot.messages import ChatKind

    group = talk(user="g1", chat="room-port", kind=ChatKind.GROUP)
    text = group.say("/search crèche")
    assert "autour du Port (974)" in text and "Crèche du Port (fictive)" in text


def test_recommend_in_free_text_then_the_count(talk: Any, seeded: dict[str, int], engine_store: Any) -> None:
    entry_id = seeded["Crèche Ti Bouts (fictive)"]
    for n, user_id in enumerate(("a", "b"), start=1):
        user = _registered(talk, user=user_id)
        text = user.say("je recommande la crèche Ti Bouts")
        assert "Crèche Ti Bouts (fictive)" in text
        user.press("Crèche Ti Bouts (fictive)")
        text = user.say("Très bon accueil")
        expected = "1 personne recommande" if n == 1 else "2 personnes recommandent"
        assert expected in text, text
    with engine_store[1]() as session:
        entry = session.get(Entry, entry_id)
        assert entry is not None and entry.recommendation_count == 2
        assert len(session.scalars(select(Recommendation)).all()) == 2


def test_join_in_free_text_and_me_lists_it(talk: Any, seeded: dict[str, int], engine_store: Any) -> None:
    user = _registered(talk)
    text = user.say("je fais partie de la troupe de théâtre du Port")
    assert "Troupe de théâtre du Port (fictive)" in text
    user.say("1")
    assert "vous faites partie" in S.text_of(user.last)
    assert "Troupe de théâtre du Port (fictive)" in user.say("/me")
    with engine_store[1]() as session:
        assert len(session.scalars(select(Membership)).all()) == 1


def test_project_announced_to_the_room_and_survives_a_restart(
    talk: Any, seeded: dict[str, int], engine_store: Any
) -> None:
    factory = engine_store[1]
    with factory() as session, session.begin():
        session.add(ChatBinding(platform="telegram", chat_id="-100123", commune_insee=S.SAINT_PAUL))
        session.add(ChatBinding(platform="matrix", chat_id="!room:example.org", commune_insee=S.SAINT_PAUL))
    user = _registered(talk)
    user.say("/project")
    user.say("Ateliers vélo solidaires")
    # the process stops here; a new engine on the same database continues the dialog
    user.engine = Engine(factory)
    text = user.say("Réparer ensemble les vélos du quartier.")
    assert "domaine" in text.lower()
    user.say("club sportif")
    if "Lequel" in S.text_of(user.last):
        user.say("1")
    user.say("1")  # the home commune offered as the only choice
    user.say("Bénévoles")
    user.say("Valider")
    user.say("Idée")
    user.say("Passer")
    assert "Voici votre projet" in S.text_of(user.last)
    with factory() as session:
        assert session.scalars(select(OutboxMessage)).all() == []  # nothing before "Publier"
    text = user.say("Publier")
    assert "est publié" in text
    assert all("Nouveau projet" not in plain_text(r.spans) for r in user.last)  # not in this chat
    with factory() as session, session.begin():
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.chat_id)).all()
        assert {(r.platform, r.chat_id) for r in rows} == {
            ("telegram", "-100123"),
            ("matrix", "!room:example.org"),
        }
        claimed = outbox.claim(session, "telegram", 10)
        assert len(claimed) == 1
        announced = plain_text(claimed[0].outgoing.spans)
        assert "Nouveau projet à Saint-Paul (974)" in announced and "Ateliers vélo solidaires" in announced
        project = session.scalars(
            select(Entry).where(Entry.kind == "project", Entry.name.like("Ateliers%"))
        ).one()
        assert project.needs == ["volunteers"] and project.stage == "idea"


def test_followers_of_an_updated_project_get_a_direct_message(
    talk: Any, seeded: dict[str, int], engine_store: Any
) -> None:
    factory = engine_store[1]
    project_id = seeded["Jardin partagé des Lataniers (fictive)"]
    fan = _registered(talk, user="fan", platform="telegram")
    fan.say("/search jardin partagé")
    fan.press("Jardin partagé des Lataniers")
    fan.press("Suivre")
    author = _registered(talk, user="author")
    with factory() as session, session.begin():
        assert len(session.scalars(select(Follow)).all()) == 1
        project = session.get(Entry, project_id)
        assert project is not None
        project.created_by_id = session.scalar(
            select(Account.citizen_id).where(Account.platform_user_id == "author")
        )
    author.say("/project")
    author.say("Jardin partagé des Lataniers")
    author.say("Nouvelles parcelles ouvertes, venez planter !")
    if "domaine" in S.text_of(author.last).lower():
        author.say("jardin partagé")
        if "Lequel" in S.text_of(author.last):
            author.say("1")
    author.say("1")
    author.say("Matériel")
    author.say("Valider")
    author.say("Démarré")
    author.say("Passer")
    text = author.say("Publier")
    assert "existe déjà" in text
    author.press("Mettre à jour")
    assert "mis à jour" in S.text_of(author.last)
    with factory() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.chat_id == "user:fan")).all()
        assert len(rows) == 1 and rows[0].platform == "telegram"
        project = session.get(Entry, project_id)
        assert project is not None and project.needs == ["materials"] and project.stage == "started"


def _to_summary(user: Any, title: str) -> None:
    user.say("/project")
    user.say(title)
    user.say("Un moment convivial entre voisins.")
    user.say("association")
    if "Lequel" in S.text_of(user.last):
        user.say("1")
    user.say("1")
    user.say("aucun")
    user.say("Idée")
    user.say("Passer")
    assert "Voici votre projet" in S.text_of(user.last), S.text_of(user.last)


def test_a_redelivered_publish_publishes_once(talk: Any, seeded: dict[str, int], engine_store: Any) -> None:
    factory = engine_store[1]
    with factory() as session, session.begin():
        session.add(ChatBinding(platform="console", chat_id="room-sp", commune_insee=S.SAINT_PAUL))
    user = _registered(talk)
    _to_summary(user, "Fête des voisins de la Saline")
    first = user.send("Publier", event_id="publish-1")
    again = user.send("Publier", event_id="publish-1")  # the platform delivers it twice
    assert "est publié" in S.text_of(first) and again == []
    with factory() as session:
        projects = session.scalars(select(Entry).where(Entry.name == "Fête des voisins de la Saline")).all()
        assert len(projects) == 1
        assert len(session.scalars(select(OutboxMessage)).all()) == 1


def test_a_crash_in_the_final_step_writes_nothing(
    talk: Any, seeded: dict[str, int], engine_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    factory = engine_store[1]
    user = _registered(talk)
    user.say("/recommend Boulangerie Ti Pain")
    for _ in range(6):  # category, commune, address, contact: answer until the comment step
        text = S.text_of(user.last)
        if "Pourquoi" in text:
            break
        if "genre" in text:
            user.say("boulangerie")
        elif "commune" in text:
            user.say("1")
        else:
            user.say("Passer")
    assert "Pourquoi" in S.text_of(user.last)
    before = (S.count(factory, Entry), S.count(factory, Recommendation))
    from directory import services

    def broken(*_args: Any, **_kw: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services, "recommend", broken)
    user.say("Le meilleur pain")
    assert (S.count(factory, Entry), S.count(factory, Recommendation)) == before  # the new entry too
    monkeypatch.undo()


def test_a_huge_message_mid_dialog_keeps_the_question(talk: Any, seeded: dict[str, int]) -> None:
    user = _registered(talk)
    user.say("/project")
    text = user.say("x" * 65_536)
    assert len(text) < 500
    text = user.say("<b>Fête</b>")
    assert "HTML" in text and "nom de votre projet" in text
    assert "Décrivez" in user.say("Fête de quartier")


def test_another_intent_typed_over_the_results_opens_its_dialog(talk: Any, seeded: dict[str, int]) -> None:
    user = _registered(talk)
    user.say("/search crèche")
    text = user.say("je recommande la crèche Ti Bouts")
    assert "Est-ce l'un de ceux-ci" in text  # the recommend dialog, not a search for those words
    assert "Crèche Ti Bouts (fictive)" in [label for _id, label in user.choices()]
