"""Follow-ups read against what is on screen (pure: dialogs.follow_up.revise)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from bot.conversation import Shown
from dialogs.follow_up import pick_index, revise

QUERY = {"text": "", "category": "creche", "commune": "97415", "point": None, "how": "commune",
         "radius": 10.0, "kind": None}


def p(**fields: Any) -> Any:
    return SimpleNamespace(**{"intent": "search", **fields})


def test_another_place_keeps_the_category() -> None:
    got = revise(Shown(QUERY, hits=(1, 2)), p(commune="97411", followup=True))
    assert got is not None and got.action == "requery"
    assert got.query is not None
    assert got.query["category"] == "creche" and got.query["commune"] == "97411"


def test_another_category_keeps_the_place() -> None:
    got = revise(Shown(QUERY, hits=(1,)), p(category="veterinaire", followup=True))
    assert got is not None and got.query is not None
    assert got.query["category"] == "veterinaire" and got.query["commune"] == "97415"


def test_a_full_new_question_is_not_a_follow_up() -> None:
    assert revise(Shown(QUERY, hits=(1,)), p(category="garage", commune="97407")) is None
    assert revise(Shown(QUERY, hits=(1,)), p(category="garage")) is None  # no "et ..."


def test_ordinals_in_words_pick_from_the_list() -> None:
    shown = Shown(QUERY, hits=(11, 12, 13))
    third = revise(shown, p(ordinal=3))
    assert third is not None and (third.action, third.entry) == ("pick", 13)
    last = revise(shown, p(ordinal=-1))
    assert last is not None and last.entry == 13
    beyond = revise(shown, p(ordinal=5))
    assert beyond is not None and beyond.entry is None and beyond.out_of == 3


def test_the_other_one_of_two() -> None:
    assert pick_index(0, (7, 8), 7) == 1
    assert pick_index(0, (7, 8), 8) == 0
    assert pick_index(0, (7, 8, 9), 8) is None


def test_questions_about_the_entry_on_screen() -> None:
    shown = Shown(QUERY, hits=(11, 12), entry=12)
    phone = revise(shown, p(field="phone"))
    assert phone is not None and (phone.action, phone.entry, phone.field) == ("field", 12, "phone")
    rec = revise(shown, SimpleNamespace(intent="recommend", deictic=True))
    assert rec is not None and (rec.action, rec.entry) == ("recommend", 12)
    # a list of one: "son téléphone ?" is about that one
    alone = revise(Shown(QUERY, hits=(5,)), p(field="hours", weekday=5))
    assert alone is not None and (alone.entry, alone.weekday) == (5, 5)
    # a list of several and no card: which one?
    which = revise(Shown(QUERY, hits=(5, 6)), p(field="phone"))
    assert which is not None and (which.action, which.out_of) == ("which", 2)


def test_widen_nearest_and_more() -> None:
    shown = Shown(QUERY, hits=(1,))
    wider = revise(shown, p(widen=True))
    assert wider is not None and wider.query is not None and wider.query["radius"] == 30.0
    given = revise(shown, p(radius_km=40.0))
    assert given is not None and given.query is not None and given.query["radius"] == 40.0
    capped = revise(Shown({**QUERY, "radius": 60.0}), p(widen=True))
    assert capped is not None and capped.query is not None and capped.query["radius"] == 100.0
    near = revise(shown, p(sort="distance"))
    assert near is not None and near.action == "nearest"
    more = revise(shown, SimpleNamespace(intent="more"))
    assert more is not None and more.action == "more"
