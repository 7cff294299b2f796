"""A redeliverable event's answer is kept with its id until the adapter delivered it
(issue 14, kill suite): a replay after a crash between the turn's commit and the sending
gets the same answer, not silence; once forgotten, a replay answers nothing, and events of
adapters that do not replay keep no answer at all."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select

from bot.engine import forget_replies
from bot.messages import Incoming
from directory.models import DialogState, ProcessedEvent


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
