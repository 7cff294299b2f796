"""One turn, one message where it fits (issue 19): plain replies join the next one."""

from __future__ import annotations

from bot.coalesce import MAX_JOINED, coalesce
from bot.messages import Choice, Document, MapPin, Outgoing, Target, TargetKind, plain_text


def test_a_greeting_and_its_question_are_one_message() -> None:
    hello = Outgoing.text("Bonjour !")
    question = Outgoing.text("Votre commune ?", choices=(Choice("a", "A"),))
    [one] = coalesce([hello, question])
    assert plain_text(one.spans) == "Bonjour !\nVotre commune ?" and one.choices == (Choice("a", "A"),)


def test_what_must_stay_apart_stays_apart() -> None:
    buttons = Outgoing.text("Choisissez", choices=(Choice("a", "A"),))
    room = Outgoing.text("Nouveau projet", target=Target(TargetKind.COMMUNE_ROOM, ref="97415"))
    pin = Outgoing(pin=MapPin("Garage", -21.0, 55.3))
    document = Outgoing(document=Document("a.ics", "text/calendar", b"x"))
    edited = Outgoing.text("page 2", edit_key="results:1")
    plain = Outgoing.text("Merci")
    assert len(coalesce([buttons, plain])) == 2  # a message with buttons ends its message
    assert len(coalesce([plain, room])) == 2  # another chat
    assert len(coalesce([plain, pin])) == 2 and len(coalesce([plain, document])) == 2
    assert len(coalesce([edited, plain])) == 2  # an edited view stays itself
    assert len(coalesce([Outgoing.text("a" * MAX_JOINED), plain])) == 2  # over the limit
    assert len(coalesce([plain, Outgoing.text("Thanks", lang="en")])) == 2  # two languages
    assert len(coalesce([plain, plain, plain])) == 1


def test_the_engine_warms_up_before_the_first_message() -> None:
    """``communebot run`` calls it before the adapters start: the gazetteer, the taxonomy
    and the NLU indexes are then loaded (the first message pays nothing for them)."""
    from bot.engine import Engine
    from directory import gazetteer

    engine = Engine(None)  # type: ignore[arg-type]  # no store is needed to warm up
    engine.warm_up()
    assert gazetteer._instance is not None  # loaded now, not at the first message
    assert engine.parse("garagiste au Port", lang="fr", home="97415") is not None
