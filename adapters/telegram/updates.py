"""Telegram updates -> neutral :class:`Incoming` (pure: no network, no store).

Private chats are always addressed to the bot. In groups a message is addressed when it
is a command (for this bot, or for no bot in particular), mentions the bot, or replies to
one of the bot's messages; the mention and the ``@botname`` suffix are removed from the
text so the engine sees what the person asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from telegram import CallbackQuery, Message, MessageEntity, Update

from bot.messages import ChatKind, Incoming, Location

PLATFORM: Final = "telegram"
#: Telegram's stand-in sender for anonymous group administrators
GROUP_ANONYMOUS_BOT = 1087968824


@dataclass(frozen=True, slots=True)
class BotIdentity:
    id: int
    username: str


def chat_kind(chat_type: str) -> ChatKind:
    return ChatKind.DIRECT if chat_type == "private" else ChatKind.GROUP


def _entity_text(text: str, entity: MessageEntity) -> str:
    """Entity offsets are in UTF-16 code units."""
    encoded = text.encode("utf-16-le")
    return encoded[entity.offset * 2 : (entity.offset + entity.length) * 2].decode("utf-16-le")


def _cut(text: str, entity: MessageEntity, replacement: str = "") -> str:
    encoded = text.encode("utf-16-le")
    start, end = entity.offset * 2, (entity.offset + entity.length) * 2
    return (encoded[:start].decode("utf-16-le") + replacement + encoded[end:].decode("utf-16-le"))


def addressed_text(message: Message, me: BotIdentity) -> tuple[bool, str]:
    """(is it for the bot?, the text without our mention / command suffix)."""
    text = message.text or message.caption or ""
    entities = list(message.entities or message.caption_entities or ())
    private = message.chat.type == "private"
    addressed = private
    # walk right to left so earlier offsets stay valid while cutting
    for entity in sorted(entities, key=lambda e: e.offset, reverse=True):
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            command = _entity_text(text, entity)
            name, _, target = command.partition("@")
            if target and target.lower() != me.username.lower():
                return False, text  # a command for another bot
            addressed = True
            text = _cut(text, entity, name)
        elif entity.type == MessageEntity.MENTION:
            if _entity_text(text, entity).lower() == f"@{me.username.lower()}":
                addressed = True
                text = _cut(text, entity)
        elif entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == me.id:
            addressed = True
    reply = message.reply_to_message
    if reply is not None and reply.from_user is not None and reply.from_user.id == me.id:
        addressed = True
    text = re.sub(r"[ \t]{2,}", " ", text).strip(" \t,:;")
    return addressed, text


def message_incoming(update_id: int, message: Message, me: BotIdentity,
                     moderator: bool = False) -> Incoming | None:
    """A text or a shared location; None for what the bot does not read (bots' messages)."""
    user = message.from_user
    if user is None or (user.is_bot and user.id != GROUP_ANONYMOUS_BOT):
        return None
    addressed, text = addressed_text(message, me)
    location = None
    if message.location is not None:
        location = Location(message.location.latitude, message.location.longitude)
    return Incoming(
        platform=PLATFORM,
        user_id=str(user.id),
        chat_id=str(message.chat.id),
        text=text,
        display_name=user.full_name,
        chat_kind=chat_kind(message.chat.type),
        location=location,
        language_hint=user.language_code,
        event_id=str(update_id),
        addressed=addressed,
        chat_moderator=moderator,
        redeliverable=True,  # kept in the inbox until answered (receive.py)
    )


def callback_incoming(update_id: int, query: CallbackQuery, choice_id: str,
                      moderator: bool = False) -> Incoming | None:
    """A pressed inline button: always addressed; the engine checks owner and staleness."""
    message = query.message
    if message is None:
        return None
    return Incoming(
        platform=PLATFORM,
        user_id=str(query.from_user.id),
        chat_id=str(message.chat.id),
        display_name=query.from_user.full_name,
        chat_kind=chat_kind(message.chat.type),
        choice_id=choice_id,
        language_hint=query.from_user.language_code,
        event_id=str(update_id),
        addressed=True,
        chat_moderator=moderator,
        redeliverable=True,
    )


def is_readable(message: Message) -> bool:
    """Text, captions and locations reach the engine; stickers, voice and photos alone do not."""
    return bool(message.text or message.caption or message.location)


def update_chat_id(update: Update) -> int | None:
    """The chat an update belongs to (to keep one chat's updates in order)."""
    if update.callback_query is not None and update.callback_query.message is not None:
        return update.callback_query.message.chat.id
    if update.message is not None:
        return update.message.chat.id
    return None
