"""Typed dialog states: a dialog's state is checked against its model when written and
when read back; an old stored state that no longer fits closes the dialog with a word."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from sqlalchemy import select

from bot.dialog_state import CommuneQuestion, StateError, dump_state, load_state
from bot.engine import Engine
from dialogs import specs
from directory.models import DialogState

from .conftest import Talk  # type: ignore[import-not-found]


class Example(CommuneQuestion):
    version: ClassVar[int] = 2
    insee: str | None = None
    count: int = 0

    @classmethod
    def upgrade(cls, data: dict[str, Any], stored_version: int) -> dict[str, Any]:
        if stored_version < 2 and "n" in data:  # version 1 called it "n"
            data = {**{k: v for k, v in data.items() if k != "n"}, "count": data["n"]}
        return data


def test_a_state_keeps_only_the_keys_it_was_given_and_its_aliases() -> None:
    stored = dump_state(Example, {"step": "commune", "_commune_key": "x.ask"})
    assert stored == {"step": "commune", "_commune_key": "x.ask"}  # presence is kept
    assert load_state(Example, {"step": "confirm", "n": 3}, 1) == {"step": "confirm", "count": 3}


@pytest.mark.parametrize("bad", [{"stepp": "x"}, {"count": "many"}, {"insee": ["97415"]}])
def test_a_state_that_does_not_fit_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(StateError):
        dump_state(Example, bad)


def test_every_dialog_with_steps_declares_a_state_model() -> None:
    undeclared = [name for name, spec in specs().by_name.items() if spec.steps and spec.state is None]
    assert undeclared == []


def test_an_unreadable_stored_state_closes_the_dialog_with_a_word(engine_store: Any) -> None:
    _engine, factory = engine_store
    me = Talk(Engine(factory))
    me.say("bonjour")  # registration waits for the commune
    with factory() as session, session.begin():
        row = session.scalars(select(DialogState)).one()
        row.state = {"v": 2, "data": {"step": "commune", "who_knows": 1}}
    out = me.say("97460")
    assert out.startswith("Le bot a été mis à jour et je n'ai pas pu reprendre")
