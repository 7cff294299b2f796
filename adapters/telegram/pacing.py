"""Pacing and retries for every Bot API call, as a python-telegram-bot rate limiter.

PTB's own ``AIORateLimiter`` limits 30/s overall and 20/min per group but not 1/s per
private chat, and retries nothing by default. This one paces messages under all three of
Telegram's limits, waits out a 429's ``retry_after`` (for every chat: a flood wait is a
bot-wide signal), and retries 5xx and network errors with exponential back-off. Requests
that are not messages (getMe, answerCallbackQuery...) are retried but not paced.
``getUpdates`` never comes here (PTB calls it directly); the polling loop has its own.

One failure is not retried: a call that creates a message (sendMessage, sendDocument...)
whose answer never came after the whole request went out (a read timeout). Telegram has
no idempotency key, and such a message is most often in the chat already: sending it again
would show it twice. It raises :class:`Unconfirmed`, which the sender takes as sent (at
most once); edits, button answers and the rest are retried, since repeating them shows
nothing new ("message is not modified", "query is too old").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import warnings
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextvars import ContextVar
from datetime import timedelta
from typing import Any, Generic, TypeVar

import httpx
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut
from telegram.ext import BaseRateLimiter

from adapters.telegram.http import ReadTimeout

log = logging.getLogger(__name__)

#: the methods that put a message in a chat (or change one) and count against its limits
PACED_METHODS = frozenset({
    "sendMessage", "editMessageText", "sendVenue", "sendLocation", "sendPhoto",
    "sendDocument", "editMessageReplyMarkup", "copyMessage", "forwardMessage",
})

#: the methods that create a message: sending one again after an unanswered try may
#: show it twice (see :class:`Unconfirmed`)
CREATES_MESSAGE = frozenset({
    "sendMessage", "sendVenue", "sendLocation", "sendPhoto", "sendDocument",
    "copyMessage", "forwardMessage",
})


#: set while an update is answered: what is sent then replies to a person who just wrote.
#: Telegram's ~30 messages/s is a limit on bulk notifications ("If you're sending bulk
#: notifications to multiple users, the API will not allow more than 30 messages per
#: second", Bot FAQ): replies count toward it but never wait for it, so a busy minute
#: never queues answers behind each other; what the bot starts itself (the outbox:
#: digests, announcements, follower notices) waits for its share. The per-chat and
#: per-group limits and a 429's flood wait apply to both.
ANSWERING: ContextVar[bool] = ContextVar("telegram_answering", default=False)


class Unconfirmed(TimedOut):
    """A message-creating call timed out after Telegram got the whole request: the
    message is most likely shown; it is not sent again."""


def answer_lost(exc: BaseException) -> bool:
    """A read timeout: the request went out whole, its answer never came (Telegram may
    have done it). A connect or pool timeout never reached Telegram."""
    return isinstance(exc, TimedOut) and isinstance(exc.__cause__, (ReadTimeout, httpx.ReadTimeout))


K = TypeVar("K")


class KeyedLocks(Generic[K]):
    """One asyncio lock per key (a chat), forgotten as soon as nobody holds or awaits it,
    so a bot that met a million chats does not keep a million locks."""

    def __init__(self) -> None:
        self._locks: dict[K, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: K) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


class Window:
    """At most ``count`` events in any ``period`` seconds (a sliding window)."""

    def __init__(self, count: int, period: float) -> None:
        self.count = count
        self.period = period
        self.stamps: deque[float] = deque()

    def delay(self, now: float) -> float:
        """Seconds to wait before one more event is allowed."""
        while self.stamps and self.stamps[0] <= now - self.period:
            self.stamps.popleft()
        if len(self.stamps) < self.count:
            return 0.0
        return self.stamps[0] + self.period - now

    def record(self, now: float) -> None:
        self.stamps.append(now)


def retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22.2+ warns that the type will become timedelta
        warnings.simplefilter("ignore")
        value: int | timedelta = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def is_retryable(exc: BaseException) -> bool:
    """5xx, timeouts and connection errors; never a 400 (retrying cannot fix the request)."""
    return isinstance(exc, NetworkError) and not isinstance(exc, BadRequest)


class Pacer(BaseRateLimiter[None]):
    def __init__(
        self,
        overall_per_second: float = 30.0,
        chat_interval: float = 1.0,
        group_per_minute: int = 20,
        max_retries: int = 5,
        backoff: float = 1.0,
        backoff_max: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.overall = Window(max(1, round(overall_per_second)), 1.0)
        self.chat_interval = chat_interval
        self.group_per_minute = group_per_minute
        self.max_retries = max_retries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.clock = clock
        self.sleep = sleep
        self.blocked_until = 0.0
        self._chat_windows: dict[str, list[Window]] = {}
        self._chat_locks: KeyedLocks[str] = KeyedLocks()
        self._turns = 0
        self._global = asyncio.Lock()
        #: what happened, for logs and tests: ("429"|"retry", endpoint, seconds)
        self.events: list[tuple[str, str, float]] = []

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    def _windows(self, chat: str) -> list[Window]:
        if chat not in self._chat_windows:
            windows = []
            if self.chat_interval > 0:
                windows.append(Window(1, self.chat_interval))
            if chat.startswith("-") or chat.startswith("@"):  # groups, supergroups, channels
                windows.append(Window(self.group_per_minute, 60.0))
            self._chat_windows[chat] = windows
        return self._chat_windows[chat]

    async def _turn(self, chat: str | None) -> None:
        """Wait until this chat, the whole bot and any flood wait allow one more message
        (a reply, see :data:`ANSWERING`, does not wait for the bot-wide window)."""
        reply = ANSWERING.get()
        async with self._chat_locks.hold(chat or ""):
            windows = self._windows(chat) if chat is not None else []
            while True:
                now = self.clock()
                delay = max([self.blocked_until - now] + [w.delay(now) for w in windows])
                if delay <= 0:
                    async with self._global:
                        now = self.clock()
                        delay = self.overall.delay(now)
                        if delay <= 0 or reply:
                            self.overall.record(now)
                            for window in windows:
                                window.record(now)
                            self._turns += 1
                            if self._turns % 1024 == 0:
                                self._forget_quiet_chats(now)
                            return
                await self.sleep(delay)

    def _forget_quiet_chats(self, now: float) -> None:
        """Drop the windows of chats with nothing left in them (they would allow anything)."""
        quiet = [chat for chat, windows in self._chat_windows.items()
                 if all(w.delay(now) == 0 and not w.stamps for w in windows)]
        for chat in quiet:
            del self._chat_windows[chat]

    def tracked_chats(self) -> int:
        return len(self._chat_windows)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat = data.get("chat_id")
        paced = endpoint in PACED_METHODS and chat is not None
        attempt = 0
        while True:
            if paced:
                await self._turn(str(chat))
            else:
                wait = self.blocked_until - self.clock()
                if wait > 0:
                    await self.sleep(wait)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt >= self.max_retries:
                    raise
                seconds = retry_seconds(exc)
                self.blocked_until = max(self.blocked_until, self.clock() + seconds)
                self.events.append(("429", endpoint, seconds))
                log.warning("Telegram flood wait on %s: retrying in %.1f s", endpoint, seconds)
            except Exception as exc:
                if endpoint in CREATES_MESSAGE and answer_lost(exc):
                    self.events.append(("unconfirmed", endpoint, 0.0))
                    log.warning("Telegram did not answer %s in time: taken as sent, not "
                                "sent again (it would show twice)", endpoint)
                    raise Unconfirmed(f"{endpoint}: no answer in time") from exc
                if not is_retryable(exc) or attempt >= self.max_retries:
                    raise
                delay = min(self.backoff * 2**attempt, self.backoff_max)
                self.events.append(("retry", endpoint, delay))
                log.warning("Telegram %s failed (%s): retry %d in %.1f s",
                            endpoint, exc, attempt + 1, delay)
                await self.sleep(delay)
            attempt += 1
