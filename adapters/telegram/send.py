"""Sending to Telegram: :class:`Outgoing` items become HTML messages, inline keyboards, a
location button, a document (a file upload) or a venue, in the chats their target names.

Pacing and retries happen below this, in the bot's rate limiter (:mod:`.pacing`); what is
decided here is what to send and where: a pressed page is edited in place, HTML Telegram
cannot parse goes again as plain text, a group that became a supergroup is followed to its
new id, and the outbox (digests, announcements) is delivered at least once. A message
Telegram took but never confirmed (:class:`~.pacing.Unconfirmed`) counts as sent: sending
it again could show it twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    LinkPreviewOptions,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, ChatMigrated, TelegramError

from adapters.telegram.pacing import Unconfirmed
from adapters.telegram.render import (
    MAX_CAPTION,
    Chunk,
    callback_data_for,
    keyboard_rows,
    render_chunks,
    with_deep_links,
)
from adapters.telegram.state import TelegramState
from bot import metrics, outbox
from bot.i18n import translator
from bot.messages import Document, Incoming, Outgoing, TargetKind, Text

log = logging.getLogger("communebot.telegram")

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
#: how many (chat, message) -> edit key facts are remembered in memory
_EDIT_MEMORY = 5000


def _private(chat_id: int | str) -> bool:
    return not str(chat_id).startswith("-")


class TelegramSender:
    """Renders and sends for one bot; remembers which message shows which view (edit keys)
    and in which chats a location keyboard is open."""

    def __init__(self, bot: Bot, state: TelegramState) -> None:
        self.bot = bot
        self.state = state
        self._edit_keys: OrderedDict[tuple[int, int], str] = OrderedDict()
        self._location_keyboard: set[int] = set()

    # --- where to ------------------------------------------------------------------------
    async def _targets(self, item: Outgoing, incoming: Incoming | None) -> list[int]:
        target = item.target
        if target.kind == TargetKind.REPLY:
            return [int(incoming.chat_id)] if incoming is not None else []
        if target.platform not in (None, "telegram") or not target.ref:
            return []
        if target.kind == TargetKind.USER:
            # a private chat's id is the user's id
            return [int(target.ref)] if target.ref.lstrip("-").isdigit() else []
        return [int(c) for c in await self.state.bound_chats(target.ref) if c.lstrip("-").isdigit()]

    async def deliver(self, item: Outgoing, incoming: Incoming | None,
                      pressed: int | None = None) -> None:
        """Send ``item`` to every chat its target names (``pressed``: the message a button
        press came from, which a reply may edit)."""
        for chat_id in await self._targets(item, incoming):
            await self.send_following(
                chat_id, item, pressed if item.target.kind == TargetKind.REPLY else None)

    async def send_following(self, chat_id: int, item: Outgoing,
                             pressed: int | None = None) -> None:
        """``send``, following a group that became a supergroup (a new chat id)."""
        try:
            await self.send(chat_id, item, pressed)
        except ChatMigrated as exc:
            await self.migrated(chat_id, exc.new_chat_id)
            await self.send(exc.new_chat_id, item)

    async def migrated(self, old: int, new: int) -> None:
        """A group became a supergroup: its commune bindings move to the new chat id."""
        moved = await self.state.migrate_chat(str(old), str(new))
        log.info("chat %s is now %s (%d binding(s) moved)", old, new, moved)

    # --- one item in one chat -------------------------------------------------------------
    def _inline_markup(self, item: Outgoing) -> InlineKeyboardMarkup | None:
        if not item.choices:
            return None
        rows = keyboard_rows(item.choices)
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton(label, callback_data=data) for label, data in row]
             for row in rows])

    async def _remember_long_ids(self, item: Outgoing) -> None:
        for choice in item.choices:
            data = callback_data_for(choice.id)
            if data != choice.id:
                await self.state.set(f"cb:{data}", choice.id)

    def _username(self) -> str | None:
        """The bot's @username for deep links (known once the bot has been initialised)."""
        try:
            return str(self.bot.username) or None
        except Exception:  # not initialised yet (tests, a failed getMe): no deep links
            return None

    async def send(self, chat_id: int, item: Outgoing, pressed: int | None = None) -> None:
        """Render one Outgoing in one chat: edit the paginated message, or send new ones
        (text, then the document, then the venue; the keyboard goes on the last)."""
        t = translator(item.lang)
        spans = with_deep_links(item.spans, self._username())
        chunks = render_chunks(spans)
        await self._remember_long_ids(item)
        inline = self._inline_markup(item)
        # a document or a venue follows the text and carries the keyboard itself
        attached = item.pin is not None or item.document is not None
        if not chunks and inline is not None and not attached:
            chunks = render_chunks((Text(t("telegram.choose")),))
        if item.edit_key and len(chunks) == 1 and not attached and not item.request_location:
            target = self._edit_target(chat_id, item.edit_key, pressed)
            if target is not None and await self._edit(chat_id, target, chunks[0], inline):
                self._note_edit_key(chat_id, target, item.edit_key)
                return
        caption: Chunk | None = None
        if item.document is not None and chunks:
            short = render_chunks(spans, MAX_CAPTION)
            if len(short) == 1:  # a short text is the document's caption, one message
                caption, chunks = short[0], []
        wants_location = item.request_location and _private(chat_id)
        location_shown = False
        last_id: int | None = None
        for index, chunk in enumerate(chunks):
            final = index == len(chunks) - 1
            markup: Any = None
            if final and not attached:
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
            last_id = sent.message_id if sent is not None else None
        if item.document is not None:
            document_markup: Any = inline if item.pin is None else None
            if document_markup is None and wants_location and item.pin is None:
                document_markup = self._location_markup(t)
                location_shown = True
            if document_markup is None and chat_id in self._location_keyboard and not wants_location:
                document_markup = ReplyKeyboardRemove()
            await self._send_document(chat_id, item.document, caption, document_markup)
            if isinstance(document_markup, ReplyKeyboardRemove):
                self._location_keyboard.discard(chat_id)
        if item.pin is not None:
            pin = item.pin
            venue_markup: Any = inline
            if venue_markup is None and wants_location:
                venue_markup = self._location_markup(t)
                location_shown = True
                self._location_keyboard.add(chat_id)
            await self._once(self.bot.send_venue(
                chat_id, latitude=pin.lat, longitude=pin.lon, title=pin.name[:100] or "·",
                address=(pin.address or f"{pin.lat:.5f}, {pin.lon:.5f}")[:200],
                reply_markup=venue_markup))
        if wants_location and not location_shown:
            # an inline keyboard and a reply keyboard cannot share one message
            prompt = render_chunks((Text(t("telegram.location.prompt")),))[0]
            await self._send_chunk(chat_id, prompt, self._location_markup(t))
        if item.edit_key and last_id is not None and not attached:
            self._note_edit_key(chat_id, last_id, item.edit_key)

    def _location_markup(self, t: Callable[..., str]) -> ReplyKeyboardMarkup:
        return ReplyKeyboardMarkup(
            [[KeyboardButton(t("telegram.location.button"), request_location=True)]],
            resize_keyboard=True, one_time_keyboard=True)

    @staticmethod
    async def _once(call: Awaitable[Message]) -> Message | None:
        """A message-creating call; None when Telegram took it without confirming (the
        pacer logged it): it most likely shows, and is not sent again."""
        try:
            return await call
        except Unconfirmed:
            return None

    async def _send_chunk(self, chat_id: int, chunk: Chunk, markup: Any) -> Message | None:
        """HTML first; if Telegram cannot parse it, the same words as plain text."""
        if markup is not None and isinstance(markup, ReplyKeyboardMarkup):
            self._location_keyboard.add(chat_id)
        try:
            return await self._once(self.bot.send_message(
                chat_id, chunk.html, parse_mode=ParseMode.HTML, reply_markup=markup,
                link_preview_options=NO_PREVIEW))
        except BadRequest as exc:
            if "parse entities" not in str(exc).lower():
                raise
            log.error("Telegram refused our HTML (%s): sending plain text", exc)
            return await self._once(self.bot.send_message(
                chat_id, chunk.plain, reply_markup=markup, link_preview_options=NO_PREVIEW))

    async def _send_document(self, chat_id: int, document: Document, caption: Chunk | None,
                             markup: Any) -> Message | None:
        """Upload the bytes under their own name and type (Telegram would otherwise guess
        them from the name); an HTML caption Telegram cannot parse goes as plain text."""
        if markup is not None and isinstance(markup, ReplyKeyboardMarkup):
            self._location_keyboard.add(chat_id)
        # bytes, not a file handle: the pacer's retries (429, 5xx) can send them again
        upload = InputFile(document.data, filename=document.filename or "document")
        upload.mimetype = document.mime or upload.mimetype
        if caption is None:
            return await self._once(self.bot.send_document(chat_id, upload, reply_markup=markup))
        try:
            return await self._once(self.bot.send_document(
                chat_id, upload, caption=caption.html, parse_mode=ParseMode.HTML,
                reply_markup=markup))
        except BadRequest as exc:
            if "parse entities" not in str(exc).lower():
                raise
            log.error("Telegram refused our HTML caption (%s): sending plain text", exc)
            return await self._once(self.bot.send_document(
                chat_id, upload, caption=caption.plain, reply_markup=markup))

    async def send_plain(self, chat_id: int, text: str) -> None:
        """One plain-text message (an apology, "unsupported"): no markup to go wrong."""
        await self._once(self.bot.send_message(chat_id, text))

    async def typing_after(self, chat_id: int, delay: float | None) -> None:
        """Show "typing…" when an answer takes a moment (a slow search, a cold start);
        never for group chatter that is not for the bot (``delay`` None)."""
        if delay is None:
            return
        await asyncio.sleep(delay)
        try:
            await self.bot.send_chat_action(chat_id, ChatAction.TYPING)
        except TelegramError as exc:
            log.debug("sendChatAction failed: %s", exc)

    # --- editing a view in place ------------------------------------------------------------
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
                await self.bot.edit_message_text(
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
    async def outbox_loop(self, interval: float) -> None:
        """Deliver the outbox every ``interval`` seconds until cancelled."""
        while True:
            try:
                await self.deliver_outbox_once()
            except Exception:
                log.exception("delivering the Telegram outbox failed")
            await asyncio.sleep(interval)

    async def deliver_outbox_once(self, limit: int = 20) -> int:
        """Send what the outbox holds for Telegram.

        On SQLite (one process) claim and mark are short transactions, so no write lock
        is held while messages wait for their pacing turn (it would stall every other
        writer). On PostgreSQL several webhook workers may deliver the same outbox
        (README, "Running several workers"): the batch's rows stay locked (``FOR UPDATE
        SKIP LOCKED``) until marked, so another worker skips them rather than sending
        them too. There a message is claimed, sent and marked in one transaction of its
        own, so a crash sends again only the one in flight (at least once)."""
        if self.state.sessions().get_bind().dialect.name == "postgresql":
            sent = 0
            for _ in range(limit):
                done = await self._deliver_batch(1, shared=True)
                if done is None:
                    break
                sent += done
            return sent
        return await self._deliver_batch(limit, shared=False) or 0

    async def _deliver_batch(self, limit: int, shared: bool) -> int | None:
        """One claimed batch delivered (None when nothing was waiting)."""
        held = self.state.sessions()

        def claim() -> list[outbox.OutboxItem]:
            if shared:
                held.begin()
                return outbox.claim(held, "telegram", limit)
            with held.begin():
                return outbox.claim(held, "telegram", limit)

        def mark(item_id: int) -> None:
            if shared:
                outbox.mark_sent(held, item_id)
                return
            with held.begin():
                outbox.mark_sent(held, item_id)

        def finish() -> None:
            try:
                if held.in_transaction():
                    held.commit()
            finally:
                held.close()

        sent = 0
        try:
            entries = await asyncio.to_thread(claim)
            if not entries:
                return None
            for entry in entries:
                chat = entry.chat_id.removeprefix("user:")
                if not chat.lstrip("-").isdigit():
                    log.warning("outbox message %s: %r is not a Telegram chat", entry.id, chat)
                    continue
                try:
                    await self.send_following(int(chat), entry.outgoing)
                except Exception:
                    log.exception("outbox message %s to %s failed", entry.id, chat)
                    metrics.outbox_failed("telegram")
                    continue
                await asyncio.to_thread(mark, entry.id)
                sent += 1
        finally:
            await asyncio.to_thread(finish)
        return sent
