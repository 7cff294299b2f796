"""Rooms are independent (issue 19), against a real Synapse: a send stuck in one room
delays neither the sync loop nor another room's answer, and one room's messages are
still answered one at a time, in the order they were written."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from bot.messages import Incoming, Outgoing

from .conftest import FakeEngine

pytestmark = pytest.mark.synapse


def from_bot(bot_id: str, room_id: str):
    return lambda r, s: r == room_id and s.get("sender") == bot_id


async def test_a_stuck_send_in_one_room_holds_back_neither_sync_nor_another_room(
        people, bot_factory, fake_engine):
    bot = await bot_factory(fake_engine)
    me = bot.identity.user_id
    alice = await people("alice")
    bob = await people("bob")
    slow_room = await alice.dm(me)
    other_room = await bob.dm(me)
    await alice.wait_joined(slow_room, me)
    await bob.wait_joined(other_room, me)

    release = asyncio.Event()
    stuck: list[str] = []
    original = bot._send

    async def slow_send(room_id: str, content: dict[str, Any]) -> str | None:
        if room_id == slow_room:
            stuck.append(content.get("body", ""))
            await release.wait()  # as a homeserver that takes its time for this room
        return await original(room_id, content)

    bot._send = slow_send
    await alice.say(slow_room, "first")
    for _ in range(100):
        if stuck:
            break
        await asyncio.sleep(0.05)
    assert stuck, "the slow room's answer never reached the send"
    syncs_before = bot.state.next_batch
    await bob.say(other_room, "second")
    answer = await bob.wait_for(from_bot(me, other_room), timeout=15)
    assert "second" in answer["content"]["body"]
    assert not [s for s in alice.in_room(slow_room) if s.get("sender") == me]  # held back
    # the token of the stuck batch is not saved before that batch is handled
    assert bot.state.next_batch == syncs_before
    release.set()
    first = await alice.wait_for(from_bot(me, slow_room), timeout=15)
    assert "first" in first["content"]["body"]
    await asyncio.wait_for(bot.synced.wait(), 10)
    assert bot.state.next_batch != syncs_before  # saved once everything was handled


async def test_one_rooms_messages_are_answered_in_order_while_rooms_run_together(
        people, bot_factory):
    rng = random.Random(19)
    running: dict[str, int] = {}
    overlaps: list[str] = []

    class Jittery(FakeEngine):
        async def handle(self, incoming: Incoming) -> list[Outgoing]:
            running[incoming.chat_id] = running.get(incoming.chat_id, 0) + 1
            if running[incoming.chat_id] > 1:
                overlaps.append(incoming.chat_id)
            await asyncio.sleep(rng.uniform(0, 0.05))
            running[incoming.chat_id] -= 1
            return [Outgoing.text(f"got {incoming.text}")]

    bot = await bot_factory(Jittery())
    me = bot.identity.user_id
    alice = await people("alice")
    bob = await people("bob")
    rooms = {alice: await alice.dm(me), bob: await bob.dm(me)}
    for person, room in rooms.items():
        await person.wait_joined(room, me)
    for n in range(8):
        for person, room in rooms.items():
            await person.say(room, f"m{n}")
    for person, room in rooms.items():
        def all_there(r: str, s: dict[str, Any], room: str = room, person: Any = person) -> bool:
            return len([x for x in person.in_room(room) if x.get("sender") == me]) >= 8
        await person.wait_for(all_there, timeout=30)
        bodies = [s["content"]["body"] for s in person.in_room(room) if s.get("sender") == me]
        assert bodies == [f"got m{n}" for n in range(8)]
    assert overlaps == []
