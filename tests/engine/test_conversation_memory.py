"""The conversation's memory through the engine: follow-ups after the dialog ended, idle
expiry, a restart (a new engine on the same database), old stored states, asides, a shared
location, and "is this your new commune?" asked once. Both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.conversation import Conversation, Memory, SharedPoint, Shown
from bot.engine import Engine
from bot.messages import Location
from directory.models import Citizen, DialogState

from .conftest import Talk  # type: ignore[import-not-found]

SAINT_PAUL_POINT = (-21.0096, 55.2707)
LE_PORT_POINT = (-20.9333, 55.2917)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def seeded_talk(seeded: Any, clock: Clock) -> Any:
    factory, ids = seeded

    def make(**kw: Any) -> Talk:
        talk = Talk(Engine(factory, clock=clock), **kw)
        talk.send("/start 97415")
        return talk

    return make, factory, ids


def test_follow_ups_work_after_the_list_and_survive_a_restart(seeded_talk: Any, clock: Clock) -> None:
    make, factory, _ids = seeded_talk
    me = make()
    first = me.say("une crèche")
    assert "Crèche Ti Bouts" in first
    me.say("merci")  # small talk: the list stays talkable-to
    # a new engine on the same database (a restart): the memory is in the store
    again = Talk(Engine(factory, clock=clock), user=me.user)
    card = again.say("la première")
    assert card.startswith("Crèche") and "Je recommande" in [label for _, label in again.choices()]
    assert "0262 11 22 33" in again.say("son téléphone ?")
    clock.now += timedelta(minutes=31)  # what was shown expires
    assert "De quel lieu" in again.say("son téléphone ?")


def test_an_idle_dialog_expires_and_the_citizen_is_told(seeded_talk: Any, clock: Clock) -> None:
    make, factory, _ids = seeded_talk
    me = make()
    assert "nom de votre projet" in me.say("/project")
    clock.now += timedelta(minutes=31)
    out = me.say("Jardin des marmay")
    assert out.startswith("Notre échange précédent est resté sans réponse")
    with factory() as session:
        rows = session.scalars(select(DialogState.dialog)).all()
        assert "announce" not in rows


def test_an_aside_keeps_the_open_question_and_its_choices(seeded_talk: Any) -> None:
    make, _factory, _ids = seeded_talk
    me = make()
    me.say("/recommend")
    me.say("Zot")  # not found: what kind of place?
    kinds = me.choices()
    assert kinds
    out = me.say("merci")
    assert "Avec plaisir" in out and "Je garde la question en cours" in out
    assert [label for _, label in me.choices()] == [label for _, label in kinds]
    after = me.press("Garage")
    assert "Dans quelle commune" in after or "adresse" in after


def test_a_version_1_state_loads_and_answers(engine_store: Any) -> None:
    _engine, factory = engine_store
    me = Talk(Engine(factory))
    me.say("bonjour")  # registration asks the commune
    with factory() as session, session.begin():
        row = session.scalars(select(DialogState)).one()
        # as version 1 wrote it: no "v", the step called "stage"
        row.state = {"data": {"stage": "commune", "_commune_key": "register.ask_commune",
                              "_commune_values": {}}, "offer": None}
    out = me.say("97460")
    assert "Votre commune est bien Saint-Paul (974) ?" in out
    loaded = Conversation.from_json("register", {"data": {"stage": "confirm", "insee": "97415"}})
    assert loaded.step == "confirm" and loaded.data["insee"] == "97415"
    # announce's own "stage" field (a project's stage) is left alone
    assert Conversation.from_json("announce", {"data": {"step": "stage", "stage": "idea"}}).data[
        "stage"] == "idea"


def test_a_location_sent_while_a_list_is_shown_reruns_it_there(seeded_talk: Any) -> None:
    make, _factory, _ids = seeded_talk
    me = make()
    assert "Crèche" in me.say("une crèche")
    out = me.say(location=Location(*LE_PORT_POINT))
    assert "Même recherche, autour de la position" in out and "près de vous" in out


def test_near_here_uses_the_shared_location_and_the_new_commune_is_asked_once(
    seeded_talk: Any,
) -> None:
    make, factory, _ids = seeded_talk
    me = make()
    first = me.say(location=Location(*LE_PORT_POINT))
    assert "La garder aussi pour plus tard" in first  # asked once whether to keep it
    offered = me.say("non")
    assert "je ne garde pas votre position" in offered and "Est-ce votre nouvelle commune" in offered
    assert "reste Saint-Paul" in me.say("non")
    second = me.say(location=Location(LE_PORT_POINT[0] + 0.001, LE_PORT_POINT[1]))
    assert "sans la garder" in second and "nouvelle commune" not in second and "La garder" not in second
    near = me.say("une crèche près d'ici")
    assert "près de vous" in near
    with factory() as session:  # only the commune is stored
        citizen = session.scalars(select(Citizen)).one()
        assert (citizen.home_insee, citizen.home_lat, citizen.keep_location) == ("97415", None, False)


def test_memory_round_trips_and_expires() -> None:
    now = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    memory = Memory(shown=Shown({"category": "creche"}, hits=(1, 2), entry=2, at=now),
                    location=SharedPoint(*SAINT_PAUL_POINT, at=now)).noting({"k": "v"}, now)
    conv = Conversation(dialog="ask", data={"step": "results"}, memory=memory)
    back = Conversation.from_json("ask", conv.to_json())
    assert back == conv
    later = back.memory.fresh(now + timedelta(minutes=45))
    assert later.shown is None and later.location is not None and later.notes == {"k": "v"}
    much_later = back.memory.fresh(now + timedelta(hours=2))
    assert much_later.empty
    # garbage never raises
    assert Conversation.from_json("ask", {"data": 3, "memory": {"shown": {"hits": ["x"]}}}).memory.empty
