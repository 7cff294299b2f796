"""Bad input through the real engine: a short localized answer, no traceback, nothing
half-written — outside any dialog and in the middle of one."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.messages import plain_text
from directory.models import Citizen, DialogState

from .conftest import Talk  # type: ignore[import-not-found]

BAD = {
    "empty": "",
    "spaces": "   \t  ",
    "zero_width": "\u200b\u200d\ufeff",
    "controls": "\x00\x01\x07\x1b\x7f",
    "controls_in_text": "gar\x00age\x07 \x1b[31m",
    "emojis": "😀😀🎉🙏",
    "html": "<script>alert('x')</script><b>gras</b>",
    "markdown": "**gras** _italique_ [lien](http://example.org) `code`",
    "sql": "'; DROP TABLE citizens; --",
    "rtl_override": "\u202ezzqx\u202c",
}


def count(factory, model) -> int:  # type: ignore[no-untyped-def]
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_input_outside_a_dialog(talk, engine_store, kind: str) -> None:
    for number, lang in enumerate(("fr", "en"), start=1):
        me: Talk = talk(user=f"u-{lang}", lang=lang)
        me.say("/start 97415")
        replies = me.send(BAD[kind])
        assert replies, "every message gets an answer"
        text = "\n".join(plain_text(r.spans) for r in replies)
        assert "Traceback" not in text and "engine." not in text and "common." not in text
        assert all(r.lang == lang for r in replies)
        assert len(text) < 600
        if kind in {"empty", "spaces", "zero_width", "controls"}:
            assert text == (
                "Je n'ai reçu aucun texte. Écrivez-moi par exemple « crèche près de chez moi »."
                if lang == "fr" else "I received no text. Try for instance “daycare near me”."
            )
        if kind == "emojis":
            assert "émojis" in text or "emojis" in text
        assert count(engine_store[1], Citizen) == number


def test_a_64_kb_message_is_refused_and_creates_nothing(talk, engine_store) -> None:
    me: Talk = talk(lang="en")
    text = me.say("garage " * 10_000)
    assert text == "Your message is too long (at most 4,096 characters). Could you make it shorter?"
    assert count(engine_store[1], Citizen) == 0
    fr: Talk = talk(user="u2", lang="fr")
    fr.say("/start 97415")
    assert "au plus 4 096 caractères" in fr.say("x" * 65_536).replace("\u202f", " ").replace(
        "\xa0", " ")


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_input_in_the_middle_of_a_dialog_asks_again(talk, engine_store, kind: str) -> None:
    me: Talk = talk()
    me.say("bonjour")  # the commune question is open
    with engine_store[1]() as session:
        before = session.scalar(select(DialogState.dialog))
    text = me.say(BAD[kind])
    assert "Traceback" not in text and "common." not in text
    assert "commune" in text  # the question again (or candidates for odd text)
    with engine_store[1]() as session:
        assert session.scalar(select(DialogState.dialog)) == before == "register"
        citizen = session.scalar(select(Citizen))
        assert citizen is not None
        if kind not in {"sql"}:
            assert citizen.home_insee is None


def test_long_text_in_a_dialog_is_refused_and_the_dialog_kept(talk, engine_store) -> None:
    me: Talk = talk()
    me.say("bonjour")
    assert "trop long" in me.say("a" * 5000)
    assert "commune" in me.say("a" * 300)  # under the engine limit: the dialog says why
    assert count(engine_store[1], DialogState) == 1
    assert "Saint-Paul (974)" in me.say("97460")
