"""The Telegram adapter: a python-telegram-bot ``Application`` between Telegram and the engine.

It only translates: updates become :class:`Incoming`, :class:`Outgoing` items become HTML
messages, inline keyboards, a location button or a venue. Two things are written out here
rather than left to PTB's ``Updater``:

- **Polling.** The ``Updater`` confirms a getUpdates offset as soon as updates are queued,
  before handlers run, so a crash loses them. Here the offset only moves past an update once
  it was handled to the end, and that point is stored in ``adapter_state``: a restart asks
  Telegram again for whatever was not finished, and the engine's ``processed_events`` makes
  the second delivery change nothing.
- **Webhook.** An update is written to the ``adapter_state`` inbox before Telegram gets its
  200, handled in the background, then removed; the inbox is replayed at start. The
  ``X-Telegram-Bot-Api-Secret-Token`` header is checked on every request.

Updates of one chat are handled in order; different chats run concurrently, and a failure
in one update never stops the others (its author gets a short apology).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy.orm import Session, sessionmaker
from telegram import (
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    LinkPreviewOptions,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from adapters.telegram.config import TelegramConfig
from adapters.telegram.pacing import KeyedLocks, Pacer, is_retryable, retry_seconds
from adapters.telegram.render import (
    HASHED_PREFIX,
    Chunk,
    callback_data_for,
    keyboard_rows,
    render_chunks,
)
from adapters.telegram.state import TelegramState
from adapters.telegram.updates import (
    BotIdentity,
    callback_incoming,
    is_readable,
    message_incoming,
    update_chat_id,
)
from bot.i18n import pick_language, translator
from bot.messages import ChatKind, Incoming, MessageHandler, Outgoing, TargetKind, Text

log = logging.getLogger("communebot.telegram")

ALLOWED_UPDATES = ["message", "callback_query"]
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
#: an answer slower than this shows "typing…" in the chat
TYPING_AFTER_SECONDS = 0.5
#: how many (chat, message) -> edit key facts are remembered in memory
_EDIT_MEMORY = 5000


class TelegramStartError(RuntimeError):
    """The adapter cannot start: no token, or Telegram refused it."""


def engine_sessions(engine: Any) -> sessionmaker[Session] | None:
    """The engine's session factory (for adapter_state, chat bindings and the outbox)."""
    for name in ("sessions", "session_factory", "_factory"):  # the last: older engines
        factory = getattr(engine, name, None)
        if isinstance(factory, sessionmaker):
            return factory
    return None


def _private(chat_id: int | str) -> bool:
    return not str(chat_id).startswith("-")


class TelegramAdapter:
    """One bot. ``start()`` returns once it listens; ``stop()`` closes everything."""

    def __init__(self, config: TelegramConfig, engine: MessageHandler,
                 sessions: sessionmaker[Session] | None = None) -> None:
        token = config.token.get_secret_value() if config.token else os.environ.get("TELEGRAM_TOKEN")
        if not token:
            raise TelegramStartError(
                "telegram: no token (set telegram.token or the TELEGRAM_TOKEN environment variable)")
        # httpx logs every request URL at INFO, and a Bot API URL contains the token
        logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger("httpx").level))
        self.config = config
        self.engine = engine
        self.sessions = sessions if sessions is not None else engine_sessions(engine)
        if self.sessions is None:
            raise TelegramStartError("telegram: the engine exposes no database sessions")
        secret = config.secret_token.get_secret_value() if config.secret_token else None
        self.secret = secret or os.environ.get("TELEGRAM_WEBHOOK_SECRET") or secrets.token_urlsafe(32)
        self.pacer = Pacer(
            overall_per_second=config.overall_per_second,
            chat_interval=config.chat_interval_seconds,
            group_per_minute=config.group_per_minute,
            max_retries=config.max_retries,
            backoff=config.backoff_seconds,
            backoff_max=config.backoff_max_seconds,
        )
        self.app: Application[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder()
            .token(token)
            .base_url(config.base_url)
            .rate_limiter(self.pacer)
            .updater(None)
            .read_timeout(config.request_timeout)
            .write_timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .pool_timeout(config.request_timeout)
            .get_updates_read_timeout(config.request_timeout)
            .get_updates_connect_timeout(config.connect_timeout)
            .concurrent_updates(True)
            .build()
        )
        self.app.add_handler(TypeHandler(Update, self._on_update))
        self.me = BotIdentity(0, "")
        self.state: TelegramState | None = None
        self._chat_locks: KeyedLocks[int] = KeyedLocks()
        self._admins: dict[int, tuple[float, frozenset[int]]] = {}
        self._edit_keys: OrderedDict[tuple[int, int], str] = OrderedDict()
        self._location_keyboard: set[int] = set()
        self._recent: OrderedDict[int, None] = OrderedDict()
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()
        self._web: web.AppRunner | None = None
        self._batch: asyncio.Future[int | None] | None = None
        self.port: int | None = None
        self.clock: Callable[[], float] = time.monotonic

    # --- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        try:
            await self.app.initialize()
        except InvalidToken as exc:
            raise TelegramStartError(f"telegram: the token was refused ({exc})") from None
        bot_user = self.app.bot.bot
        self.me = BotIdentity(bot_user.id, bot_user.username or "")
        assert self.sessions is not None
        self.state = TelegramState(self.sessions, bot_user.id)
        log.info("Telegram bot @%s (%s mode)", self.me.username, self.config.mode)
        if self.config.set_commands:
            await self._set_commands()
        if self.config.mode == "webhook":
            await self._start_webhook()
        else:
            await self.app.bot.delete_webhook(drop_pending_updates=self.config.drop_pending_updates)
            self._tasks.append(asyncio.create_task(self._poll_loop(), name="telegram-poll"))
        self._tasks.append(asyncio.create_task(self._outbox_loop(), name="telegram-outbox"))

    async def stop(self, grace: float = 5.0) -> None:
        """Stop receiving; updates already in hand get ``grace`` seconds to finish."""
        in_hand: list[asyncio.Future[Any]] = [t for t in self._background if not t.done()]
        if self._batch is not None and not self._batch.done():
            in_hand.append(self._batch)
        if in_hand:
            await asyncio.wait(in_hand, timeout=grace)
        if self._batch is not None and not self._batch.done():
            self._batch.cancel()  # what it did not finish is asked for again at restart
            with contextlib.suppress(asyncio.CancelledError):
                await self._batch
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._web is not None:
            await self._web.cleanup()
            self._web = None
        pending = list(self._background)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await self.app.shutdown()

    async def run(self) -> None:
        """Run until cancelled (what ``communebot run`` awaits)."""
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    async def _set_commands(self) -> None:
        """The ``/`` menu, in French by default and for English-speaking clients."""
        from bot.commands_menu import commands_menu

        for lang, code in (("fr", None), ("fr", "fr"), ("en", "en")):
            commands = [BotCommand(name, description) for name, description in commands_menu(lang)]
            try:
                await self.app.bot.set_my_commands(commands, language_code=code)
            except TelegramError as exc:
                log.warning("setMyCommands (%s) failed: %s", code or "default", exc)

    # --- receiving: polling -------------------------------------------------------------
    async def _poll_loop(self) -> None:
        assert self.state is not None
        last = await self.state.offset()
        offset = last + 1 if last is not None else None
        failures = 0
        while True:
            try:
                updates = await self.app.bot.get_updates(
                    offset=offset, timeout=self.config.poll_timeout,
                    allowed_updates=ALLOWED_UPDATES)
                failures = 0
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
                self._batch = asyncio.ensure_future(self._handle_batch(fresh, last))
                last = max(x for x in (await asyncio.shield(self._batch), skipped) if x is not None)
                await self.state.save_offset(last)
                offset = last + 1
                continue
            if not updates:
                continue
            fresh = [u for u in updates if last is None or u.update_id > last]
            self._batch = asyncio.ensure_future(self._handle_batch(fresh, last))
            last = await asyncio.shield(self._batch)
            offset = max(u.update_id for u in updates) + 1

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
        assert self.state is not None
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
                    await self.state.save_offset(advanced)  # type: ignore[union-attr]

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

    # --- receiving: webhook -------------------------------------------------------------
    async def _start_webhook(self) -> None:
        assert self.state is not None and self.config.webhook_url
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
            self._spawn(self._webhook_handle(update))
        await self.app.bot.set_webhook(
            url=self.config.webhook_url, secret_token=self.secret,
            allowed_updates=ALLOWED_UPDATES, max_connections=self.config.max_connections,
            drop_pending_updates=self.config.drop_pending_updates)

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
        assert self.state is not None
        await self.state.inbox_put(update.update_id, data)  # if this fails: 500, redelivered
        self._remember(update.update_id)
        self._spawn(self._webhook_handle(update))
        return web.Response(text="ok")

    async def _webhook_handle(self, update: Update) -> None:
        self._remember(update.update_id)
        await self._dispatch(update)
        assert self.state is not None
        await self.state.inbox_done(update.update_id)

    def _remember(self, update_id: int) -> None:
        self._recent[update_id] = None
        while len(self._recent) > 10000:
            self._recent.popitem(last=False)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- one update -----------------------------------------------------------------------
    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is not None:
            await self._on_press(update, query)
        elif update.message is not None:
            await self._on_message(update, update.message)

    async def _on_message(self, update: Update, message: Message) -> None:
        if message.migrate_to_chat_id is not None:
            await self._migrated(message.chat.id, message.migrate_to_chat_id)
            return
        incoming = message_incoming(update.update_id, message, self.me)
        if incoming is None:
            return
        if not is_readable(message):
            if incoming.chat_kind == ChatKind.DIRECT:
                lang = pick_language(incoming.language_hint)
                await self._send_plain(message.chat.id, translator(lang)("telegram.unsupported"))
            return
        if incoming.chat_kind == ChatKind.GROUP and incoming.addressed:
            moderator = await self._is_moderator(message.chat.id, message)
            incoming = _with(incoming, chat_moderator=moderator)
        await self._answer(incoming, pressed=None)

    async def _on_press(self, update: Update, query: CallbackQuery) -> None:
        try:
            await query.answer()
        except TelegramError as exc:  # too old, or already answered on a redelivery
            log.info("answerCallbackQuery failed: %s", exc)
        message = query.message
        if message is None:
            return
        data = query.data or ""
        choice_id = data
        if data.startswith(HASHED_PREFIX) and self.state is not None:
            choice_id = await self.state.get(f"cb:{data}") or data
        incoming = callback_incoming(update.update_id, query, choice_id)
        if incoming is None:
            return
        if incoming.chat_kind == ChatKind.GROUP:
            moderator = await self._is_moderator(message.chat.id, None, query.from_user.id)
            incoming = _with(incoming, chat_moderator=moderator)
        await self._answer(incoming, pressed=message.message_id)

    async def _answer(self, incoming: Incoming, pressed: int | None) -> None:
        """Engine, then rendering; the user hears about a failure instead of silence."""
        chat_id = int(incoming.chat_id)
        delay = TYPING_AFTER_SECONDS if incoming.addressed else None
        typing = asyncio.create_task(self._typing_after(chat_id, delay))
        try:
            replies = await self.engine.handle(incoming)
        except Exception:
            log.exception("the engine failed on telegram update %s", incoming.event_id)
            await self._apologize(chat_id, incoming)
            return
        finally:
            typing.cancel()
        failed = False
        for item in replies:
            try:
                await self._deliver(item, incoming, pressed)
            except Exception:
                log.exception("delivering a reply to %s failed", chat_id)
                failed = True
        if failed:
            await self._apologize(chat_id, incoming)

    async def _typing_after(self, chat_id: int, delay: float | None) -> None:
        """Show "typing…" when an answer takes a moment (a slow search, a cold start);
        never for group chatter that is not for the bot (``delay`` None)."""
        if delay is None:
            return
        await asyncio.sleep(delay)
        try:
            await self.app.bot.send_chat_action(chat_id, ChatAction.TYPING)
        except TelegramError as exc:
            log.debug("sendChatAction failed: %s", exc)

    async def _apologize(self, chat_id: int, incoming: Incoming) -> None:
        if incoming.chat_kind == ChatKind.GROUP and not incoming.addressed:
            return
        text = translator(pick_language(incoming.language_hint))("telegram.apology")
        try:
            await self._send_plain(chat_id, text)
        except Exception:
            log.exception("could not even apologize in %s", chat_id)

    async def _is_moderator(self, chat_id: int, message: Message | None,
                            user_id: int | None = None) -> bool:
        """Chat administrators moderate; an anonymous admin posts as the group itself."""
        if message is not None:
            if message.sender_chat is not None and message.sender_chat.id == chat_id:
                return True
            user_id = message.from_user.id if message.from_user else None
        if user_id is None:
            return False
        cached = self._admins.get(chat_id)
        now = self.clock()
        if cached is None or cached[0] < now:
            try:
                members = await self.app.bot.get_chat_administrators(chat_id)
            except TelegramError as exc:
                log.warning("getChatAdministrators(%s) failed: %s", chat_id, exc)
                return False
            cached = (now + self.config.admin_cache_seconds, frozenset(m.user.id for m in members))
            self._admins[chat_id] = cached
        return user_id in cached[1]

    # --- sending ----------------------------------------------------------------------------
    async def _targets(self, item: Outgoing, incoming: Incoming | None) -> list[int]:
        target = item.target
        if target.kind == TargetKind.REPLY:
            return [int(incoming.chat_id)] if incoming is not None else []
        if target.platform not in (None, "telegram") or not target.ref:
            return []
        if target.kind == TargetKind.USER:
            # a private chat's id is the user's id
            return [int(target.ref)] if target.ref.lstrip("-").isdigit() else []
        assert self.state is not None
        return [int(c) for c in await self.state.bound_chats(target.ref) if c.lstrip("-").isdigit()]

    async def _deliver(self, item: Outgoing, incoming: Incoming | None,
                       pressed: int | None = None) -> None:
        for chat_id in await self._targets(item, incoming):
            await self._send_following(
                chat_id, item, pressed if item.target.kind == TargetKind.REPLY else None)

    async def _send_following(self, chat_id: int, item: Outgoing,
                              pressed: int | None = None) -> None:
        """``send``, following a group that became a supergroup (a new chat id)."""
        try:
            await self.send(chat_id, item, pressed)
        except ChatMigrated as exc:
            await self._migrated(chat_id, exc.new_chat_id)
            await self.send(exc.new_chat_id, item)

    async def _migrated(self, old: int, new: int) -> None:
        assert self.state is not None
        moved = await self.state.migrate_chat(str(old), str(new))
        log.info("chat %s is now %s (%d binding(s) moved)", old, new, moved)

    def _inline_markup(self, item: Outgoing) -> InlineKeyboardMarkup | None:
        if not item.choices:
            return None
        rows = keyboard_rows(item.choices)
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton(label, callback_data=data) for label, data in row]
             for row in rows])

    async def _remember_long_ids(self, item: Outgoing) -> None:
        assert self.state is not None
        for choice in item.choices:
            data = callback_data_for(choice.id)
            if data != choice.id:
                await self.state.set(f"cb:{data}", choice.id)

    async def send(self, chat_id: int, item: Outgoing, pressed: int | None = None) -> None:
        """Render one Outgoing in one chat: edit the paginated message, or send new ones."""
        t = translator(item.lang)
        chunks = render_chunks(item.spans)
        await self._remember_long_ids(item)
        inline = self._inline_markup(item)
        if not chunks and inline is not None and item.pin is None:
            chunks = render_chunks((Text(t("telegram.choose")),))
        if item.edit_key and len(chunks) == 1 and item.pin is None and not item.request_location:
            target = self._edit_target(chat_id, item.edit_key, pressed)
            if target is not None and await self._edit(chat_id, target, chunks[0], inline):
                self._note_edit_key(chat_id, target, item.edit_key)
                return
        wants_location = item.request_location and _private(chat_id)
        location_shown = False
        last_id: int | None = None
        for index, chunk in enumerate(chunks):
            final = index == len(chunks) - 1
            markup: Any = None
            if final and item.pin is None:
                if inline is not None:
                    markup = inline
                elif wants_location:
                    markup = self._location_markup(t)
                    location_shown = True
            if markup is None and chat_id in self._location_keyboard and not wants_location:
                markup = ReplyKeyboardRemove()
            sent = await self._send_chunk(chat_id, chunk, markup)
            if isinstance(markup, ReplyKeyboardRemove):
                self._location_keyboard.discard(chat_id)
            last_id = sent.message_id
        if item.pin is not None:
            pin = item.pin
            venue_markup: Any = inline
            if venue_markup is None and wants_location:
                venue_markup = self._location_markup(t)
                location_shown = True
                self._location_keyboard.add(chat_id)
            await self.app.bot.send_venue(
                chat_id, latitude=pin.lat, longitude=pin.lon, title=pin.name[:100] or "·",
                address=(pin.address or f"{pin.lat:.5f}, {pin.lon:.5f}")[:200],
                reply_markup=venue_markup)
        if wants_location and not location_shown:
            # an inline keyboard and a reply keyboard cannot share one message
            prompt = render_chunks((Text(t("telegram.location.prompt")),))[0]
            await self._send_chunk(chat_id, prompt, self._location_markup(t))
        if item.edit_key and last_id is not None and item.pin is None:
            self._note_edit_key(chat_id, last_id, item.edit_key)

    def _location_markup(self, t: Callable[..., str]) -> ReplyKeyboardMarkup:
        return ReplyKeyboardMarkup(
            [[KeyboardButton(t("telegram.location.button"), request_location=True)]],
            resize_keyboard=True, one_time_keyboard=True)

    async def _send_chunk(self, chat_id: int, chunk: Chunk, markup: Any) -> Message:
        """HTML first; if Telegram cannot parse it, the same words as plain text."""
        if markup is not None and isinstance(markup, ReplyKeyboardMarkup):
            self._location_keyboard.add(chat_id)
        try:
            return await self.app.bot.send_message(
                chat_id, chunk.html, parse_mode=ParseMode.HTML, reply_markup=markup,
                link_preview_options=NO_PREVIEW)
        except BadRequest as exc:
            if "parse entities" not in str(exc).lower():
                raise
            log.error("Telegram refused our HTML (%s): sending plain text", exc)
            return await self.app.bot.send_message(chat_id, chunk.plain, reply_markup=markup,
                                                   link_preview_options=NO_PREVIEW)

    async def _send_plain(self, chat_id: int, text: str) -> None:
        await self.app.bot.send_message(chat_id, text)

    def _edit_target(self, chat_id: int, key: str, pressed: int | None) -> int | None:
        """The pressed message, when the reply is a new view of it (next page, a card
        replacing the list). Only a press edits: a typed question gets a new message at
        the bottom of the chat, where the person looks. A pressed message known to show
        another view (a different edit key) is left as it is."""
        if pressed is None:
            return None
        shown = self._edit_keys.get((chat_id, pressed))
        return pressed if shown in (None, key) else None

    def _note_edit_key(self, chat_id: int, message_id: int, key: str) -> None:
        self._edit_keys[(chat_id, message_id)] = key
        self._edit_keys.move_to_end((chat_id, message_id))
        while len(self._edit_keys) > _EDIT_MEMORY:
            self._edit_keys.popitem(last=False)

    async def _edit(self, chat_id: int, message_id: int, chunk: Chunk,
                    markup: InlineKeyboardMarkup | None) -> bool:
        """True when the message shows the new content (also when it already did)."""
        for text, mode in ((chunk.html, ParseMode.HTML), (chunk.plain, None)):
            try:
                await self.app.bot.edit_message_text(
                    text, chat_id=chat_id, message_id=message_id, parse_mode=mode,
                    reply_markup=markup, link_preview_options=NO_PREVIEW)
                return True
            except BadRequest as exc:
                reason = str(exc).lower()
                if "not modified" in reason:
                    return True
                if "parse entities" in reason and mode is not None:
                    continue
                log.info("editing %s/%s failed (%s): sending a new message", chat_id, message_id, exc)
                return False
        return False

    # --- the outbox -------------------------------------------------------------------------
    async def _outbox_loop(self) -> None:
        while True:
            try:
                await self.deliver_outbox_once()
            except Exception:
                log.exception("delivering the Telegram outbox failed")
            await asyncio.sleep(self.config.outbox_interval_seconds)

    async def deliver_outbox_once(self, limit: int = 20) -> int:
        """Send what the outbox holds for Telegram.

        Claim and mark are two short transactions, so no database lock is held while
        messages wait for their pacing turn (on SQLite that lock would stall every other
        writer). One adapter polls per bot token (Telegram refuses a second getUpdates
        consumer), so nobody else competes for these rows; a crash between sending and
        marking sends that one message again at the next start (at least once)."""
        from bot import outbox

        assert self.sessions is not None
        sessions = self.sessions

        def claim() -> list[outbox.OutboxItem]:
            with sessions() as session, session.begin():
                return outbox.claim(session, "telegram", limit)

        def mark(item_id: int) -> None:
            with sessions() as session, session.begin():
                outbox.mark_sent(session, item_id)

        sent = 0
        for entry in await asyncio.to_thread(claim):
            chat = entry.chat_id.removeprefix("user:")
            if not chat.lstrip("-").isdigit():
                log.warning("outbox message %s: %r is not a Telegram chat", entry.id, chat)
                continue
            try:
                await self._send_following(int(chat), entry.outgoing)
            except Exception:
                log.exception("outbox message %s to %s failed", entry.id, chat)
                continue
            await asyncio.to_thread(mark, entry.id)
            sent += 1
        return sent


def _with(incoming: Incoming, **changes: Any) -> Incoming:
    from dataclasses import replace

    return replace(incoming, **changes)


async def run_telegram(config: TelegramConfig, engine: MessageHandler) -> None:
    """What ``communebot run`` awaits: the Telegram bot until cancelled."""
    adapter = TelegramAdapter(config, engine)
    await adapter.run()
