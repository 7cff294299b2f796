"""The dialog test harness itself."""

from __future__ import annotations

from typing import Any

from dialog_support import Chat, count, seed

from directory.models import Citizen, Entry


def test_support_chat_round_trips_state(store: Any) -> None:
    """The harness itself: a citizen is created, a state survives JSON, seeding works."""
    _engine, factory = store
    chat = Chat(factory, "ask")
    chat.start({"category": "creche"})
    assert chat.open and chat.step == "offer"  # an empty directory: nothing found
    ids = seed(factory)
    assert count(factory, Entry) == len(ids) == 10
    chat.start({"category": "creche"})
    assert chat.step == "results"
    assert count(factory, Citizen) == 1
