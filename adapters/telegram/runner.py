"""The Telegram adapter: a python-telegram-bot ``Application`` between Telegram and the engine.

It only translates, and this module is the wiring: :mod:`.receive` gets updates (polling or
webhook, each handled once to the end), the handler here turns one into an
:class:`Incoming` (with :mod:`.updates`), asks the engine, and :mod:`.send` renders the
answers; the outbox is delivered beside it. A failure in one update never stops the
others: its author gets a short apology.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from telegram import BotCommand, CallbackQuery, Message, Update
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from adapters.telegram.config import TelegramConfig
from adapters.telegram.http import AiohttpRequest
from adapters.telegram.pacing import ANSWERING, Pacer
from adapters.telegram.receive import REPLAYING, TelegramReceiver
from adapters.telegram.render import HASHED_PREFIX
from adapters.telegram.send import TelegramSender
from adapters.telegram.state import TelegramState
from adapters.telegram.updates import (
    BotIdentity,
    callback_incoming,
    is_readable,
    message_incoming,
)
from bot import metrics
from bot.commands_menu import commands_menu
from bot.health import HEALTH
from bot.i18n import pick_language, translator
from bot.messages import ChatKind, EngineWithSessions, Incoming, MessageHandler

log = logging.getLogger("communebot.telegram")

#: an answer slower than this shows "typing…" in the chat
TYPING_AFTER_SECONDS = 0.5
#: seconds one setMyCommands call may take (it runs beside the answers, never before them)
MENU_TIMEOUT = 10.0


class TelegramStartError(RuntimeError):
    """The adapter cannot start: no token, or Telegram refused it."""


class TelegramAdapter:
    """One bot. ``start()`` returns once it listens; ``stop()`` closes everything."""

    def __init__(self, config: TelegramConfig, engine: MessageHandler,
                 sessions: sessionmaker[Session] | None = None) -> None:
        """``sessions`` defaults to the engine's own (:class:`EngineWithSessions`)."""
        token = config.token.get_secret_value() if config.token else os.environ.get("TELEGRAM_TOKEN")
        if not token:
            raise TelegramStartError(
                "telegram: no token (set telegram.token or the TELEGRAM_TOKEN environment variable)")
        # httpx logs every request URL at INFO, and a Bot API URL contains the token
        logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger("httpx").level))
        self.config = config
        self.engine = engine
        if sessions is None and isinstance(engine, EngineWithSessions):
            sessions = engine.sessions
        if sessions is None:
            raise TelegramStartError("telegram: the engine exposes no database sessions")
        self.sessions = sessions
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
            # aiohttp, not PTB's httpx: a sixth of the CPU per call (adapters/telegram/http.py)
            .request(AiohttpRequest(
                connection_pool_size=config.connection_pool_size,
                read_timeout=config.request_timeout, write_timeout=config.request_timeout,
                connect_timeout=config.connect_timeout, pool_timeout=config.request_timeout))
            .get_updates_request(AiohttpRequest(
                connection_pool_size=1,
                read_timeout=config.request_timeout, write_timeout=config.request_timeout,
                connect_timeout=config.connect_timeout, pool_timeout=config.request_timeout))
            .concurrent_updates(True)
            .build()
        )
        self.app.add_handler(TypeHandler(Update, self._on_update))
        self.me = BotIdentity(0, "")
        #: these three exist once ``start()`` knows the bot's id
        self.state: TelegramState | None = None
        self.receiver: TelegramReceiver | None = None
        self.sender: TelegramSender | None = None
        self._admins: dict[int, tuple[float, frozenset[int]]] = {}
        self._outbox: asyncio.Task[None] | None = None
        self._menu: asyncio.Task[None] | None = None
        self.clock: Callable[[], float] = time.monotonic

    @property
    def port(self) -> int | None:
        """The webhook's port once listening."""
        return self.receiver.port if self.receiver is not None else None

    def _sender(self) -> TelegramSender:
        assert self.sender is not None, "the adapter is not started"
        return self.sender

    # --- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        await self._reach_telegram()
        bot_user = self.app.bot.bot
        self.me = BotIdentity(bot_user.id, bot_user.username or "")
        self.state = TelegramState(self.sessions, bot_user.id, self.config.worker_id)
        self.sender = TelegramSender(self.app.bot, self.state)
        self.receiver = TelegramReceiver(self.app, self.config, self.state, self.secret)
        log.info("Telegram bot @%s (%s mode)", self.me.username, self.config.mode)
        await self.receiver.start()
        if self.config.set_commands:
            # best effort, in the background: a slow or failing setMyCommands never
            # delays the first answer (the menu is published once the API takes it)
            self._menu = asyncio.create_task(self._set_commands(), name="telegram-menu")
        self._outbox = asyncio.create_task(
            self.sender.outbox_loop(self.config.outbox_interval_seconds), name="telegram-outbox")

    async def _reach_telegram(self) -> None:
        """``getMe`` until the Bot API answers. With no network the bot waits, saying in
        the log for what and until when, its back-off doubling up to the configured
        longest; a refused token stops the start, and a signal stops the wait at once."""
        delay = max(self.config.backoff_seconds, 0.05)
        while True:
            try:
                await self.app.initialize()
                return
            except InvalidToken as exc:
                raise TelegramStartError(f"telegram: the token was refused ({exc})") from None
            except NetworkError as exc:  # unreachable, timed out, or a 5xx answer
                log.warning("waiting for the Telegram Bot API at %s (%s): next try in %.1f s",
                            self.config.base_url, exc, delay)
                HEALTH.disconnected("telegram", f"waiting for the Bot API: {exc}")
            await asyncio.sleep(delay)
            delay = min(delay * 2, max(self.config.backoff_max_seconds, delay))

    async def stop(self, grace: float = 5.0) -> None:
        """Stop receiving; updates already in hand get ``grace`` seconds to finish."""
        if self._menu is not None:
            self._menu.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._menu
            self._menu = None
        if self.receiver is not None:
            await self.receiver.drain(grace)
        if self._outbox is not None:
            self._outbox.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._outbox
            self._outbox = None
        if self.receiver is not None:
            await self.receiver.close()
        with contextlib.suppress(Exception):
            await self.app.shutdown()
        # a start that never reached Telegram leaves the HTTP clients open, and
        # ``shutdown`` skips an application it never initialized
        for request in getattr(self.app.bot, "_request", (self.app.bot.request,)):
            with contextlib.suppress(Exception):
                await request.shutdown()

    async def run(self) -> None:
        """Run until cancelled (what ``communebot run`` awaits); a stop while still waiting
        for Telegram closes everything too."""
        try:
            await self.start()
            await asyncio.Event().wait()
        finally:
            await self.stop()

    async def deliver_outbox_once(self, limit: int = 20) -> int:
        """Send what the outbox holds for Telegram now (see :class:`TelegramSender`)."""
        return await self._sender().deliver_outbox_once(limit)

    async def _set_commands(self) -> None:
        """The ``/`` menu, in French by default and for English-speaking clients; each call
        gets :data:`MENU_TIMEOUT` seconds, and a failure only costs the menu."""
        for lang, code in (("fr", None), ("fr", "fr"), ("en", "en")):
            commands = [BotCommand(name, description) for name, description in commands_menu(lang)]
            try:
                await asyncio.wait_for(self.app.bot.set_my_commands(commands, language_code=code),
                                       timeout=MENU_TIMEOUT)
            except (TelegramError, TimeoutError) as exc:
                log.warning("setMyCommands (%s) failed: %s", code or "default", exc or "timeout")

    # --- one update -----------------------------------------------------------------------
    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        ANSWERING.set(True)  # this task's messages answer a person (pacing.ANSWERING)
        query = update.callback_query
        if query is not None:
            await self._on_press(update, query)
        elif update.message is not None:
            await self._on_message(update, update.message)

    async def _on_message(self, update: Update, message: Message) -> None:
        if message.migrate_to_chat_id is not None:
            await self._sender().migrated(message.chat.id, message.migrate_to_chat_id)
            return
        incoming = message_incoming(update.update_id, message, self.me)
        if incoming is None:
            return
        if not is_readable(message):
            if incoming.chat_kind == ChatKind.DIRECT:
                lang = pick_language(incoming.language_hint)
                await self._sender().send_plain(
                    message.chat.id, translator(lang)("telegram.unsupported"))
            return
        if incoming.chat_kind == ChatKind.GROUP and incoming.addressed:
            moderator = await self._is_moderator(message.chat.id, message)
            incoming = replace(incoming, chat_moderator=moderator)
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
            incoming = replace(incoming, chat_moderator=moderator)
        await self._answer(incoming, pressed=message.message_id)

    async def _answer(self, incoming: Incoming, pressed: int | None) -> None:
        """Engine, then rendering; the user hears about a failure instead of silence."""
        if REPLAYING.get():
            incoming = replace(incoming, replay=True)
        sender = self._sender()
        chat_id = int(incoming.chat_id)
        delay = TYPING_AFTER_SECONDS if incoming.addressed else None
        typing = asyncio.create_task(sender.typing_after(chat_id, delay))
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
                await sender.deliver(item, incoming, pressed)
            except Exception:
                log.exception("delivering a reply to %s failed", chat_id)
                metrics.error("delivery")
                failed = True
        if failed:
            await self._apologize(chat_id, incoming)

    async def _apologize(self, chat_id: int, incoming: Incoming) -> None:
        if incoming.chat_kind == ChatKind.GROUP and not incoming.addressed:
            return
        text = translator(pick_language(incoming.language_hint))("telegram.apology")
        try:
            await self._sender().send_plain(chat_id, text)
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


async def run_telegram(config: TelegramConfig, engine: EngineWithSessions) -> None:
    """What ``communebot run`` awaits: the Telegram bot until cancelled."""
    adapter = TelegramAdapter(config, engine)
    await adapter.run()
