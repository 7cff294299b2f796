"""The shared dialog helpers (dialogs/common.py) and the pure parts of the dialogs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from bot.dialog import DialogContext
from bot.i18n import translator
from bot.messages import Incoming, Location, plain_text
from dialogs import DIALOG_NAMES, available, get_dialog
from dialogs.admin import split_args
from dialogs.common import (
    check_text,
    entry_card,
    entry_pin,
    parse_yes_no,
    rank_communes,
    recommendations_text,
    resolve_commune_answer,
    result_line,
)


@pytest.mark.parametrize("text", ["oui", "Oui !", "ouais", "OK", "ok merci", "yes", "Yep",
                                  "d'accord", "bien sûr", "yes please", "👍"])
def test_yes(text: str) -> None:
    assert parse_yes_no(text) is True


@pytest.mark.parametrize("text", ["non", "Non.", "no", "nope", "non merci", "nan"])
def test_no(text: str) -> None:
    assert parse_yes_no(text) is False


@pytest.mark.parametrize("text", ["", "peut-être", "oui et non", "Saint-Paul", "merci", "\u200b"])
def test_neither(text: str) -> None:
    assert parse_yes_no(text) is None


def test_check_text() -> None:
    assert check_text("Garage Zot") is None
    assert check_text("") == "common.text.empty"
    assert check_text("x" * 201) == "common.text.too_long"
    assert check_text("😀🎉") == "common.text.no_letters"
    assert check_text("abc", max_length=2) == "common.text.too_long"


def _m(insee: str, score: float, matched: str = "name") -> SimpleNamespace:
    return SimpleNamespace(commune=SimpleNamespace(insee=insee), score=score, matched=matched)


def test_rank_communes() -> None:
    assert rank_communes([]) == (None, [])
    assert rank_communes([_m("97415", 100, "insee"), _m("x", 100)]) == ("97415", [])
    assert rank_communes([_m("a", 100), _m("b", 70)]) == ("a", [])
    assert rank_communes([_m("a", 100), _m("b", 100), _m("a", 99)]) == (None, ["a", "b"])
    assert rank_communes([_m("a", 80), _m("b", 65), _m("c", 30)]) == (None, ["a", "b"])
    # same name: the one near home wins when the other is far away
    def far(ref: object, c: SimpleNamespace) -> float:
        return {"a": 10.0, "b": 9000.0}[c.insee]
    assert rank_communes([_m("a", 100), _m("b", 100)], far, object()) == ("a", [])
    # a shared postcode is always asked
    assert rank_communes([_m("a", 100, "postcode"), _m("b", 100, "postcode")], far, object()) == (
        None, ["a", "b"])


@dataclass
class Hit:
    name: str = "Crèche Ti Bouts (fictive)"
    category: str = "creche"
    commune_insee: str = "97415"
    distance_km: float | None = 1.234
    recommendations: int = 3


def test_result_line_in_both_languages() -> None:
    fr = plain_text(result_line(translator("fr"), Hit()))
    en = plain_text(result_line(translator("en"), Hit(recommendations=1)))
    assert fr == "Crèche Ti Bouts (fictive) — Crèche · Saint-Paul (974) · 1,2 km · 3 recommandations"
    assert en.endswith("Saint-Paul (974) · 1.2 km · 1 recommendation")
    none = plain_text(result_line(translator("fr"), Hit(distance_km=None, recommendations=0)))
    assert none.endswith("Saint-Paul (974) · pas encore recommandé")


def test_recommendation_plurals_and_distances() -> None:
    fr, en = translator("fr"), translator("en")
    assert recommendations_text(fr, 1) == "1 recommandation"
    assert recommendations_text(fr, 2) == "2 recommandations"
    assert recommendations_text(en, 1) == "1 recommendation"
    assert recommendations_text(en, 1000) == "1,000 recommendations"
    assert fr.distance(0.25) == "250 m" and en.distance(12.4) == "12 km"


def test_entry_card_and_pin() -> None:
    entry = SimpleNamespace(
        name="Garage Zot (fictif)", category="garage", commune_insee="97407",
        description="Mécanique générale.", address="3 rue du Port", postcode="97420",
        phone="0262 00 00 00", website="garage-zot.example", email=None,
        lat=-20.93, lon=55.29, recommendation_count=2,
    )
    text = plain_text(entry_card(translator("fr"), entry, distance_km=3.0))  # type: ignore[arg-type]
    assert text.splitlines() == [
        "Garage Zot (fictif)",
        "Garage · Le Port (974) · 3 km",
        "Adresse : 3 rue du Port, 97420",
        "Téléphone : 0262 00 00 00",
        "garage-zot.example (https://garage-zot.example)",
        "Mécanique générale.",
        "2 recommandations",
    ]
    pin = entry_pin(entry)  # type: ignore[arg-type]
    assert pin is not None and pin.address == "3 rue du Port, 97420"
    assert entry_pin(SimpleNamespace(**{**entry.__dict__, "lat": None})) is None  # type: ignore[arg-type]


def _ctx(text: str = "", location: Location | None = None, choice: str | None = None,
         home: str | None = None) -> DialogContext:
    citizen = SimpleNamespace(home_insee=home, home_lat=None, home_lon=None)
    return DialogContext(
        session=None,  # type: ignore[arg-type]
        citizen=citizen,  # type: ignore[arg-type]
        account=None,  # type: ignore[arg-type]
        incoming=Incoming(platform="console", user_id="u", chat_id="c", text=text,
                          location=location, choice_id=choice),
        t=translator("fr"),
        now=datetime.now(UTC),
    )


def test_commune_question_answers() -> None:
    state = {"_commune_key": "common.commune.ask"}
    assert resolve_commune_answer(_ctx("97415"), state).insee == "97415"
    assert resolve_commune_answer(_ctx("l'etang sale"), state).insee == "97404"
    assert resolve_commune_answer(_ctx(choice="commune:97407"), state).insee == "97407"
    located = resolve_commune_answer(_ctx(location=Location(-20.933, 55.292)), state)
    assert located.insee == "97407" and located.point == (-20.933, 55.292)
    # "Saint-Louis" from La Réunion: the one near home; from nowhere: asked
    assert resolve_commune_answer(_ctx("saint louis", home="97416"), state).insee == "97414"
    asked = resolve_commune_answer(_ctx("saint louis"), state)
    assert asked.insee is None and asked.step is not None
    assert asked.step.state is not None and "97414" in asked.step.state["_commune_candidates"]
    assert [c.id for c in asked.step.replies[-1].choices][:1] == ["commune:" + asked.step.state[
        "_commune_candidates"][0]]
    # a postcode shared by several communes: all offered
    shared = resolve_commune_answer(_ctx("01000"), state)
    assert shared.insee is None and shared.step is not None and shared.step.state is not None
    assert shared.step.state["_commune_candidates"] == ["01053", "01344"]
    for bad in ("", "😀", "x" * 500, "zzzzqqqq"):
        answer = resolve_commune_answer(_ctx(bad), state)
        assert answer.insee is None and answer.step is not None
        assert answer.step.replies[-1].request_location  # the question again
    nowhere = resolve_commune_answer(_ctx(location=Location(0.0, -30.0)), state)
    assert nowhere.insee is None and "Je ne trouve pas" in plain_text(nowhere.step.replies[0].spans)  # type: ignore[union-attr]


def test_admin_arguments() -> None:
    assert split_args("bind Saint-Paul") == ("bind", "Saint-Paul")
    assert split_args("  LIER  97415 ") == ("bind", "97415")
    assert split_args("unbind") == ("unbind", "")
    assert split_args("") == ("status", "")
    assert split_args("frob x") == ("unknown", "frob x")


def test_registry_loads_every_dialog() -> None:
    loaded = available()
    for name in ("register", "settings", "me", "help", "admin"):
        assert name in loaded and loaded[name].name == name
    assert set(loaded) <= set(DIALOG_NAMES)
    assert get_dialog("nope") is None and get_dialog("../etc") is None
