"""What the adapter keeps across restarts (both database backends), and the entry point
``communebot run`` awaits."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

from emulator import BotAPIEmulator

from adapters.telegram.config import TelegramConfig
from adapters.telegram.runner import run_telegram
from adapters.telegram.state import TelegramState
from bot.wiring import build_engine
from directory.db import transaction
from directory.models import ChatBinding


async def test_state_round_trips_and_is_per_bot(store: Any) -> None:
    _engine, factory = store
    state = TelegramState(factory, 111)
    other = TelegramState(factory, 222)
    assert await state.offset() is None
    await state.save_offset(41)
    await state.save_offset(42)
    assert await state.offset() == 42
    assert await other.offset() is None
    await state.inbox_put(9, {"update_id": 9})
    await state.inbox_put(10, {"update_id": 10})
    await other.inbox_put(11, {"update_id": 11})
    await state.inbox_done(9)
    assert await state.inbox() == [{"update_id": 10}]
    with transaction(factory) as session:
        session.add(ChatBinding(platform="telegram", chat_id="-1001", commune_insee="97415"))
        session.add(ChatBinding(platform="matrix", chat_id="!r:x", commune_insee="97415"))
    assert await state.bound_chats("97415") == ["-1001"]


async def test_run_telegram_serves_until_cancelled(
        emulator: BotAPIEmulator, sqlite_url: str) -> None:
    engine = build_engine(sqlite_url)
    config = TelegramConfig(enabled=True, token=emulator.token, base_url=emulator.base_url,
                            poll_timeout=1, set_commands=True, chat_interval_seconds=0)
    task = asyncio.create_task(run_telegram(config, engine))
    emulator.user(700, "Zoé", "fr")
    emulator.send_text(700, "/start 97411")
    await emulator.wait_for(lambda: any(
        "Saint-Denis" in t for t in emulator.texts(700)) if 700 in emulator.chats else False,
        timeout=60)
    assert emulator.commands[("default", "en")]
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert task.cancelled()


async def test_paced_replies_keep_one_second_apart_in_a_chat(
        emulator: BotAPIEmulator, make_adapter: Any) -> None:
    from bot.messages import Incoming, Outgoing

    class Three:
        async def handle(self, incoming: Incoming) -> list[Outgoing]:
            return [Outgoing.text(f"réponse {i}") for i in range(3)]

    await make_adapter(Three(), chat_interval_seconds=1.0)
    emulator.send_text(800, "bonjour")
    calls = await emulator.wait_calls("sendMessage", 3, chat_id=800)
    gaps = [b.at - a.at for a, b in itertools.pairwise(calls)]
    assert all(gap >= 0.95 for gap in gaps), gaps


async def test_a_refused_token_stops_the_start_with_a_clear_error(
        emulator: BotAPIEmulator, sqlite_url: str) -> None:
    import pytest

    from adapters.telegram.runner import TelegramStartError

    engine = build_engine(sqlite_url)
    config = TelegramConfig(enabled=True, token="999:wrong", base_url=emulator.base_url)
    with pytest.raises(TelegramStartError, match="token was refused"):
        await asyncio.wait_for(run_telegram(config, engine), 20)


async def test_a_batch_is_kept_once_and_the_offset_never_goes_back(store: Any) -> None:
    _engine, factory = store
    state = TelegramState(factory, 111)
    await state.take_batch([(5, {"update_id": 5}), (6, {"update_id": 6})], 6)
    assert await state.offset() == 6
    # the same batch again (a lost answer to getUpdates) and one more: each kept once
    await state.take_batch([(6, {"update_id": 6}), (7, {"update_id": 7})], 7)
    await state.take_batch([], 4)  # an older offset never moves it back
    assert await state.offset() == 7
    assert await state.inbox() == [{"update_id": 5}, {"update_id": 6}, {"update_id": 7}]
    await state.inbox_done(6)
    assert await state.inbox() == [{"update_id": 5}, {"update_id": 7}]


async def test_each_webhook_worker_keeps_and_replays_its_own_inbox(store: Any) -> None:
    """Two workers of one bot on one database: a worker's replay at start takes only what
    it took itself (the other's updates may be in flight there), and answered updates
    leave the inbox together, several in one commit when they come at once."""
    _engine, factory = store
    a, b, single = (TelegramState(factory, 111, "a"), TelegramState(factory, 111, "b"),
                    TelegramState(factory, 111))
    for update_id in (1, 2, 3):
        await a.inbox_put(update_id, {"update_id": update_id})
    await b.inbox_put(4, {"update_id": 4})
    assert [u["update_id"] for u in await a.inbox()] == [1, 2, 3]
    assert await b.inbox() == [{"update_id": 4}]
    assert await single.inbox() == []  # an unnamed worker has its own inbox too
    await asyncio.gather(a.inbox_done(1), a.inbox_done(2), b.inbox_done(4))
    assert await a.inbox() == [{"update_id": 3}] and await b.inbox() == []
