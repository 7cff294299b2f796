"""A redeliverable event's answer is kept with its id until the adapter delivered it
(issue 14, kill suite): a replay after a crash between the turn's commit and the sending
gets the same answer, not silence; once forgotten, a replay answers nothing, and events of
adapters that do not replay keep no answer at all."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import func, select

from bot.engine import forget_replies
from bot.messages import Incoming
from directory.models import Activity, DialogState, ProcessedEvent


def incoming(text: str, event: str, redeliverable: bool = True, replay: bool = False) -> Incoming:
    return Incoming(platform="telegram", user_id="77", chat_id="77", text=text, language_hint="fr",
                    event_id=event, redeliverable=redeliverable, replay=replay)


def test_a_replayed_event_gets_its_kept_answer_until_it_is_forgotten(bot: Any, engine_store: Any) -> None:
    _engine, factory = engine_store
    first = bot.handle_sync(incoming("/start", "1001"))
    assert first and "commune" in first[-1].spans[0].text.lower()  # type: ignore[union-attr]
    # the same event reaching another worker (a redelivery) answers nothing: the first
    # handler is sending the answer, a second sending would show it twice
    assert bot.handle_sync(incoming("/start", "1001")) == []
    again = bot.handle_sync(incoming("/start", "1001", replay=True))  # the adapter's own replay
    assert again == first  # the same answer, and the turn not played twice
    with factory() as session:
        assert len(session.scalars(select(DialogState)).all()) == 1
        kept = session.get(ProcessedEvent, ("telegram", "1001"))
        assert kept is not None and kept.replies
    with factory() as session, session.begin():
        forget_replies(session, "telegram", ["1001"])
    assert bot.handle_sync(incoming("/start", "1001", replay=True)) == []
    with factory() as session:
        assert session.get(ProcessedEvent, ("telegram", "1001")).replies is None  # type: ignore[union-attr]


def test_an_event_that_is_never_replayed_keeps_no_answer(bot: Any, engine_store: Any) -> None:
    _engine, factory = engine_store
    event = incoming("/start", "2002", redeliverable=False)
    assert bot.handle_sync(event)
    assert bot.handle_sync(replace(event, redeliverable=True)) == []
    with factory() as session:
        assert session.get(ProcessedEvent, ("telegram", "2002")).replies is None  # type: ignore[union-attr]


def test_a_redelivery_whose_turn_fails_stays_silent_and_resets_nothing(
        bot: Any, engine_store: Any, monkeypatch: Any) -> None:
    """The event is recorded at the end of the turn (one round trip less per message), so a
    redelivery plays its turn on the state the first handling left before it finds the
    event taken. A crash there must not apologise nor reset the chat's dialog."""
    _engine, factory = engine_store
    assert bot.handle_sync(incoming("/start", "3003"))
    with factory() as session:
        states = [(s.account_id, s.chat_id, s.version) for s in session.scalars(select(DialogState))]
    assert states

    def broken(self: Any) -> Any:
        raise RuntimeError("a dialog that fails on the state the first handling left")

    monkeypatch.setattr("bot.turn.Turn.run", broken)
    assert bot.handle_sync(incoming("/start", "3003")) == []  # a redelivery: silence
    with factory() as session:
        assert [(s.account_id, s.chat_id, s.version)
                for s in session.scalars(select(DialogState))] == states
    fresh = bot.handle_sync(incoming("/start", "3004"))  # a new message does get the apology
    assert fresh and "désolé" in fresh[0].spans[0].text.lower()  # type: ignore[union-attr]


def test_a_redelivery_rolls_back_what_its_turn_wrote(bot: Any, engine_store: Any) -> None:
    """The second handling's writes (here a new dialog state, and the day's message
    count) go with its rollback."""
    _engine, factory = engine_store
    assert bot.handle_sync(incoming("/start", "4004"))
    assert bot.handle_sync(incoming("Saint-Paul", "4005"))
    with factory() as session:
        before = [(s.chat_id, s.dialog, s.version, s.state) for s in session.scalars(select(DialogState))]
    assert before  # a dialog is open
    assert bot.handle_sync(incoming("/start", "4004")) == []  # would restart the registration
    with factory() as session:
        assert [(s.chat_id, s.dialog, s.version, s.state)
                for s in session.scalars(select(DialogState))] == before
        # the day's count (on PostgreSQL in the event's own statement) went back too
        assert session.scalar(select(func.sum(Activity.messages))) == 2
