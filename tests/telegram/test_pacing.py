"""Pacing and retries, on a fake clock (the limits are minutes long in real time)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from adapters.telegram.pacing import ANSWERING, Pacer, Unconfirmed, Window


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def pacer(t: FakeTime, **kwargs: Any) -> Pacer:
    return Pacer(clock=t.clock, sleep=t.sleep, **kwargs)


async def send(p: Pacer, chat: int, endpoint: str = "sendMessage",
               callback: Any = None) -> Any:
    async def ok() -> bool:
        return True
    return await p.process_request(callback or ok, (), {}, endpoint, {"chat_id": chat}, None)


def test_window_counts_a_sliding_period() -> None:
    w = Window(2, 60.0)
    assert w.delay(0) == 0
    w.record(0)
    w.record(10)
    assert w.delay(30) == 30
    assert w.delay(60) == 0


async def test_one_message_per_second_in_a_private_chat() -> None:
    t = FakeTime()
    p = pacer(t)
    start = t.now
    for _ in range(5):
        await send(p, 42)
    assert t.now - start == pytest.approx(4.0)


async def test_twenty_messages_a_minute_in_a_group() -> None:
    t = FakeTime()
    p = pacer(t)
    start = t.now
    stamps = []
    for _ in range(21):
        await send(p, -100123)
        stamps.append(t.now - start)
    assert stamps[19] == pytest.approx(19.0)  # 1/s up to the 20th
    assert stamps[20] == pytest.approx(60.0)  # the 21st waits for the minute


async def test_thirty_messages_a_second_overall() -> None:
    t = FakeTime()
    p = pacer(t)
    start = t.now
    for chat in range(31):
        await send(p, chat + 1)
    assert t.now - start == pytest.approx(1.0)


async def test_unpaced_methods_do_not_wait() -> None:
    t = FakeTime()
    p = pacer(t)
    for _ in range(5):
        await send(p, 42, endpoint="answerCallbackQuery")
    assert t.slept == []


async def test_429_waits_retry_after_for_everyone_then_retries() -> None:
    t = FakeTime()
    p = pacer(t, chat_interval=0)
    calls = 0

    async def flood() -> bool:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RetryAfter(7)
        return True

    start = t.now
    assert await send(p, 42, callback=flood) is True
    assert calls == 2 and t.now - start == pytest.approx(7.0)
    assert ("429", "sendMessage", 7.0) in p.events


@pytest.mark.parametrize("error", [NetworkError("Bad Gateway"), TimedOut()])
async def test_network_errors_back_off_exponentially(error: Exception) -> None:
    t = FakeTime()
    p = pacer(t, chat_interval=0, backoff=1.0, backoff_max=3.0)
    calls = 0

    async def flaky() -> bool:
        nonlocal calls
        calls += 1
        if calls <= 3:
            raise error
        return True

    assert await send(p, 42, callback=flaky) is True
    assert [e[2] for e in p.events] == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("error", [BadRequest("message is too long"), Forbidden("blocked")])
async def test_client_errors_are_not_retried(error: Exception) -> None:
    t = FakeTime()
    p = pacer(t)
    calls = 0

    async def refused() -> bool:
        nonlocal calls
        calls += 1
        raise error

    with pytest.raises(type(error)):
        await send(p, 42, callback=refused)
    assert calls == 1


async def test_retries_give_up_after_max_retries() -> None:
    t = FakeTime()
    p = pacer(t, max_retries=2, chat_interval=0)
    calls = 0

    async def down() -> bool:
        nonlocal calls
        calls += 1
        raise NetworkError("Internal Server Error")

    with pytest.raises(NetworkError):
        await send(p, 42, callback=down)
    assert calls == 3


async def test_chat_locks_are_forgotten_when_free() -> None:
    import asyncio

    from adapters.telegram.pacing import KeyedLocks

    locks: KeyedLocks[int] = KeyedLocks()
    order: list[str] = []

    async def work(key: int, name: str, delay: float) -> None:
        async with locks.hold(key):
            order.append(f"{name}+")
            await asyncio.sleep(delay)
            order.append(f"{name}-")

    await asyncio.gather(work(1, "a", 0.02), work(1, "b", 0), work(2, "c", 0))
    assert order.index("a-") < order.index("b+")  # one key: one at a time
    assert order.index("c+") < order.index("a-")  # another key does not wait
    assert len(locks) == 0


async def test_quiet_chats_are_forgotten() -> None:
    t = FakeTime()
    p = pacer(t, chat_interval=0.001, overall_per_second=1_000_000)
    for chat in range(1, 1025):
        await send(p, chat)
    t.now += 120
    for _ in range(1024):
        await send(p, 5000)
    assert p.tracked_chats() <= 2


def _read_timeout() -> TimedOut:
    """What PTB raises when the request went out whole and no answer came."""
    try:
        raise TimedOut() from httpx.ReadTimeout("timed out")
    except TimedOut as exc:
        return exc


@pytest.mark.parametrize(("endpoint", "calls_made"), [
    ("sendMessage", 1), ("sendDocument", 1), ("editMessageText", 2), ("answerCallbackQuery", 2),
])
async def test_a_lost_answer_is_sent_again_only_when_that_cannot_show_twice(
        endpoint: str, calls_made: int) -> None:
    t = FakeTime()
    p = pacer(t, chat_interval=0)
    calls = 0

    async def lost_once() -> bool:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise _read_timeout()
        return True

    if calls_made == 1:
        with pytest.raises(Unconfirmed):
            await send(p, 42, endpoint, callback=lost_once)
        assert p.events == [("unconfirmed", endpoint, 0.0)]
    else:
        assert await send(p, 42, endpoint, callback=lost_once) is True
        assert [e[0] for e in p.events] == ["retry"]
    assert calls == calls_made


async def test_a_connect_timeout_is_sent_again_even_for_a_message() -> None:
    t = FakeTime()
    p = pacer(t, chat_interval=0)
    calls = 0

    async def unreachable_once() -> bool:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise TimedOut() from httpx.ConnectTimeout("no route")
        return True

    assert await send(p, 42, callback=unreachable_once) is True
    assert calls == 2


async def test_replies_never_wait_for_the_bulk_window_but_count_in_it() -> None:
    """Telegram's ~30/s is a limit on bulk notifications: 40 replies to 40 people in one
    second go at once; a digest sent then waits until the second has passed."""
    t = FakeTime()
    p = pacer(t)
    start = t.now

    async def replies() -> None:
        ANSWERING.set(True)  # in its own task, as the adapter's handler does
        for chat in range(40):
            await send(p, chat + 1)

    await asyncio.create_task(replies())
    assert t.now == start  # no reply waited
    assert not ANSWERING.get()  # the outbox's context is untouched
    await send(p, 999)  # a bulk message: the window is full of replies
    assert t.now - start == pytest.approx(1.0)
