"""Receiving from Telegram: long polling or a webhook, each update handed once to the
``Application`` (whose handler turns it into an :class:`Incoming` and answers).

Both are written out here rather than left to PTB's ``Updater``:

- **Polling.** The ``Updater`` confirms a getUpdates offset as soon as updates are queued,
  before handlers run, so a crash loses them. Here a polled batch is first kept in the
  ``adapter_state`` inbox, with the offset past it, in one commit; only then is the next
  batch asked for (which confirms this one to Telegram). The updates are handled in the
  background, each chat in order, and leave the inbox when done; the inbox is replayed at
  start, and the engine's ``processed_events`` makes a second delivery change nothing. So
  receiving never waits on answering: a chat whose answers are paced (1 message/s) holds
  back only its own next messages, never another chat's.
- **Webhook.** An update is written to the ``adapter_state`` inbox before Telegram gets its
  200, handled in the background, then removed; the inbox is replayed at start. The
  ``X-Telegram-Bot-Api-Secret-Token`` header is checked on every request.

Updates of one chat are handled in order; different chats run concurrently, and a failure
in one update never stops the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hmac
import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Update
from telegram.error import Conflict, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.ext import Application

from adapters.telegram.config import TelegramConfig
from adapters.telegram.pacing import KeyedLocks, is_retryable, retry_seconds
from adapters.telegram.state import TelegramState
from adapters.telegram.updates import update_chat_id
from bot import metrics
from bot.health import HEALTH

log = logging.getLogger("communebot.telegram")
#: set while an update is handled from this worker's inbox at start (a replay after a
#: crash): only then may the engine hand back an answer it kept (``Incoming.replay``)
REPLAYING: contextvars.ContextVar[bool] = contextvars.ContextVar("telegram_replaying", default=False)

ALLOWED_UPDATES = ["message", "callback_query"]
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
#: how many webhook update ids are remembered to drop redeliveries of what is in hand
_RECENT_MEMORY = 10000
#: updates in hand at most before the next getUpdates waits for some to finish
MAX_IN_HAND = 1000


class TelegramReceiver:
    """Gets updates (polling or webhook, as configured) and processes each one through
    ``app`` after the earlier ones of its chat. ``start()`` returns once it listens."""

    def __init__(self, app: Application[Any, Any, Any, Any, Any, Any], config: TelegramConfig,
                 state: TelegramState, secret: str) -> None:
        self.app = app
        self.config = config
        self.state = state
        self.secret = secret
        #: the webhook's port once listening (the configured one, or the one picked for 0)
        self.port: int | None = None
        self._chat_locks: KeyedLocks[int] = KeyedLocks()
        self._recent: OrderedDict[int, None] = OrderedDict()
        self._poll: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._web: web.AppRunner | None = None
        self._batch: asyncio.Future[int | None] | None = None

    async def start(self) -> None:
        if self.config.mode == "webhook":
            await self._start_webhook()
        else:
            await self.app.bot.delete_webhook(drop_pending_updates=self.config.drop_pending_updates)
            self._poll = asyncio.create_task(self._poll_loop(), name="telegram-poll")

    async def drain(self, grace: float) -> None:
        """Let the updates already in hand finish for up to ``grace`` seconds; a polled
        batch still running then is cancelled (Telegram gives it again at restart)."""
        in_hand: list[asyncio.Future[Any]] = [t for t in self._background if not t.done()]
        if self._batch is not None and not self._batch.done():
            in_hand.append(self._batch)
        if in_hand:
            await asyncio.wait(in_hand, timeout=grace)
        if self._batch is not None and not self._batch.done():
            self._batch.cancel()  # what it did not finish is asked for again at restart
            await _cancelled(self._batch)

    async def close(self) -> None:
        """Stop polling, close the webhook server, cancel what is still running."""
        if self._poll is not None:
            self._poll.cancel()
            await _cancelled(self._poll)
            self._poll = None
        if self._web is not None:
            await self._web.cleanup()
            self._web = None
        pending = list(self._background)
        for task in pending:
            task.cancel()
        for task in pending:
            await _cancelled(task)

    # --- polling ----------------------------------------------------------------------------
    async def _poll_loop(self) -> None:
        await self._replay_inbox()
        last = await self.state.offset()
        offset = last + 1 if last is not None else None
        failures = 0
        while True:
            while len(self._background) >= MAX_IN_HAND:  # back-pressure: let answers catch up
                await asyncio.wait(set(self._background), return_when=asyncio.FIRST_COMPLETED)
            try:
                updates = await self.app.bot.get_updates(
                    offset=offset, timeout=self.config.poll_timeout,
                    allowed_updates=ALLOWED_UPDATES)
                failures = 0
                HEALTH.connected("telegram")
            except RetryAfter as exc:
                await asyncio.sleep(retry_seconds(exc))
                continue
            except (InvalidToken, Forbidden):
                log.exception("Telegram refuses this bot: polling stops")
                raise
            except (Conflict, TelegramError) as exc:
                if not (is_retryable(exc) or isinstance(exc, Conflict)):
                    log.error("getUpdates failed: %s", exc)
                delay = min(self.config.backoff_seconds * 2**failures, self.config.backoff_max_seconds)
                failures += 1
                HEALTH.disconnected("telegram", f"getUpdates failed: {exc}")
                metrics.error("platform_api")
                log.warning("getUpdates failed (%s): again in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                continue
            except Exception:
                # PTB could not parse one update of the batch (a newer Bot API field, say):
                # take the batch raw, keep what parses, step over what does not
                log.exception("an update could not be read: reading the batch one by one")
                updates, skipped = await self._salvage(offset)
                if skipped is None:
                    await asyncio.sleep(self.config.backoff_seconds)
                    continue
                fresh = [u for u in updates if last is None or u.update_id > last]
                last = max(x for x in (last, skipped, *(u.update_id for u in fresh)) if x is not None)
                await self._take(fresh, last)
                offset = last + 1
                continue
            if not updates:
                continue
            fresh = [u for u in updates if last is None or u.update_id > last]
            last = max(u.update_id for u in updates) if last is None else max(
                last, *(u.update_id for u in updates))
            await self._take(fresh, last)
            offset = last + 1

    async def _take(self, updates: Sequence[Update], offset: int) -> None:
        """Keep ``updates`` in the inbox and move the offset past them (one commit), then
        handle them in the background, each chat in order."""
        await self.state.take_batch([(u.update_id, u.to_dict()) for u in updates], offset)
        for update in updates:  # spawned in order: a chat's lock is taken in this order
            self._remember(update.update_id)
            self._spawn(self._webhook_handle(update))

    async def _replay_inbox(self) -> None:
        """Updates kept before a stop or a crash and not finished: handled first."""
        for data in await self.state.inbox():
            try:
                update = Update.de_json(data, self.app.bot)
            except Exception:
                log.exception("stored update %s cannot be read: dropped", data.get("update_id"))
                await self.state.inbox_done(int(data.get("update_id", 0)))
                continue
            if update is None:
                continue
            self._remember(update.update_id)
            self._spawn(self._webhook_handle(update), replaying=True)

    async def _salvage(self, offset: int | None) -> tuple[list[Update], int | None]:
        """The pending updates that parse, and the highest update id seen (None on failure)."""
        query = "?timeout=0&limit=100" + (f"&offset={offset}" if offset is not None else "")
        bot = self.app.bot
        try:
            raw = await bot.request.post(f"{bot.base_url}/getUpdates{query}")
        except TelegramError as exc:
            log.warning("raw getUpdates failed: %s", exc)
            return [], None
        items = raw if isinstance(raw, list) else []
        updates: list[Update] = []
        for item in items:
            try:
                update = Update.de_json(item, bot)
            except Exception:
                log.error("update %s skipped: it cannot be read", item.get("update_id"))
                continue
            if update is not None:
                updates.append(update)
        ids = [int(item["update_id"]) for item in items if isinstance(item, dict)]
        return updates, max(ids) if ids else None

    async def _handle_batch(self, updates: Sequence[Update], last: int | None) -> int | None:
        """Handle a batch (chats concurrently, each chat in order); store the offset as the
        highest update id below which everything is finished."""
        ids = sorted(u.update_id for u in updates)
        done: set[int] = set()
        mark = last
        guard = asyncio.Lock()

        async def one(update: Update) -> None:
            nonlocal mark
            await self._dispatch(update)
            async with guard:
                done.add(update.update_id)
                advanced = mark
                for update_id in ids:
                    if update_id not in done:
                        break
                    advanced = update_id
                if advanced is not None and advanced != mark:
                    mark = advanced
                    await self.state.save_offset(advanced)

        await asyncio.gather(*(one(u) for u in updates))
        return mark

    async def _dispatch(self, update: Update) -> None:
        """Handle one update after the earlier ones of its chat; never raises."""
        chat = update_chat_id(update)
        async with self._chat_locks.hold(chat if chat is not None else 0):
            try:
                await self.app.process_update(update)
            except Exception:
                log.exception("update %s failed", update.update_id)

    # --- webhook ----------------------------------------------------------------------------
    async def _start_webhook(self) -> None:
        assert self.config.webhook_url
        path = urlsplit(self.config.webhook_url).path or "/"
        web_app = web.Application()
        web_app.router.add_post(path, self._webhook_request)
        self._web = web.AppRunner(web_app, handle_signals=False, access_log=None)
        await self._web.setup()
        site = web.TCPSite(self._web, self.config.listen, self.config.port)
        await site.start()
        server = site._server
        if server is not None and getattr(server, "sockets", None):
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        for data in await self.state.inbox():  # acknowledged before a stop, never handled
            try:
                update = Update.de_json(data, self.app.bot)
            except Exception:
                log.exception("stored webhook update %s cannot be read: dropped",
                              data.get("update_id"))
                await self.state.inbox_done(int(data.get("update_id", 0)))
                continue
            self._remember(update.update_id)
            self._spawn(self._webhook_handle(update), replaying=True)
        await self.app.bot.set_webhook(
            url=self.config.webhook_url, secret_token=self.secret,
            allowed_updates=ALLOWED_UPDATES, max_connections=self.config.max_connections,
            drop_pending_updates=self.config.drop_pending_updates)
        HEALTH.connected("telegram")

    async def _webhook_request(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            log.warning("webhook request refused: wrong secret token from %s", request.remote)
            return web.Response(status=403, text="forbidden")
        try:
            data = await request.json()
        except ValueError:
            return web.Response(status=400, text="not JSON")
        try:
            update = Update.de_json(data, self.app.bot)
        except Exception:
            # refusing it would make Telegram retry it forever, holding back the next ones
            log.exception("webhook update %s skipped: it cannot be read",
                          data.get("update_id") if isinstance(data, dict) else "?")
            return web.Response(text="ok")
        if update.update_id in self._recent:
            return web.Response(text="ok")  # a redelivery of what is already in hand
        await self.state.inbox_put(update.update_id, data)  # if this fails: 500, redelivered
        self._remember(update.update_id)
        self._spawn(self._webhook_handle(update))
        return web.Response(text="ok")

    async def _webhook_handle(self, update: Update) -> None:
        self._remember(update.update_id)
        await self._dispatch(update)
        await self.state.inbox_done(update.update_id)

    def _remember(self, update_id: int) -> None:
        self._recent[update_id] = None
        while len(self._recent) > _RECENT_MEMORY:
            self._recent.popitem(last=False)

    def _spawn(self, coro: Any, replaying: bool = False) -> None:
        context = contextvars.copy_context()
        if replaying:
            context.run(REPLAYING.set, True)
        task = asyncio.create_task(coro, context=context)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


#: how long a stop waits for a cancelled task before it goes on without it
CANCEL_WAIT = 5.0


async def _cancelled(task: asyncio.Future[Any]) -> None:
    """Wait for a cancelled task to end, at most ``CANCEL_WAIT`` seconds: a task that
    swallows its cancellation (a library retrying on any error) must not hang the stop
    forever (a full test run once hung in a teardown here)."""
    done, _ = await asyncio.wait({task}, timeout=CANCEL_WAIT)
    if not done:
        log.warning("stopping: %r did not end %.0f s after it was cancelled; going on",
                    task, CANCEL_WAIT)
        return
    with contextlib.suppress(asyncio.CancelledError):
        task.result()
