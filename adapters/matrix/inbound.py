"""Matrix message event -> Incoming. Pure functions: the client passes what it knows.

In a room the bot is *addressed* by a ``!command`` (or a ``/command`` sent as text by
clients that do not know it), by a mention of itself, or by a reply to one of its
messages. In a direct chat everything is addressed. Notices and the bot's own events are
never turned into an Incoming: two bots must never answer each other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.messages import ChatKind, Incoming, Location

_COMMAND = re.compile(r"^[!/]([A-Za-z][\w-]*)(?:@\S+)?(\s.*)?$", re.DOTALL)
_GEO = re.compile(r"^geo:(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)(?:[,;].*)?$", re.IGNORECASE)
#: the message types a user writes; m.notice (bots) and m.emote-free others are ignored
_TEXT_TYPES = frozenset({"m.text", "m.emote"})


@dataclass(frozen=True, slots=True)
class BotIdentity:
    user_id: str
    display_name: str = ""

    @property
    def localpart(self) -> str:
        return self.user_id.split(":", 1)[0].lstrip("@")

    def names(self) -> list[str]:
        """What a person types to mention the bot, longest first so prefixes strip cleanly."""
        found = {self.user_id, self.localpart}
        if self.display_name.strip():
            found.add(self.display_name.strip())
        return sorted((n for n in found if n), key=len, reverse=True)


@dataclass(frozen=True, slots=True)
class RoomFacts:
    """What the client knows about the room and the sender when the event arrives."""

    room_id: str
    direct: bool
    sender_power: int = 0
    sender_display_name: str = ""
    #: the event replies to a message the bot sent
    reply_to_bot: bool = False


#: room versions before "12" give the creator power only through the power levels event
_LEGACY_VERSIONS = frozenset(str(v) for v in range(1, 12))
#: what a creator counts as in v12+ rooms (their power is "infinite" there)
CREATOR_POWER = 10**6


def sender_power(level: int, sender: str, creators: frozenset[str], room_version: str) -> int:
    """The sender's power: from the power levels, except for creators of v12+ rooms, who
    outrank everyone and are not listed there (MSC4289)."""
    if sender in creators and room_version not in _LEGACY_VERSIONS:
        return CREATOR_POWER
    return level


def strip_reply_fallback(body: str) -> str:
    """Drop the ``> <@a:b> quoted`` lines older clients put before a reply's own text."""
    lines = body.split("\n")
    if not lines or not lines[0].startswith(">"):
        return body
    index = 0
    while index < len(lines) and lines[index].startswith(">"):
        index += 1
    while index < len(lines) and not lines[index].strip():
        index += 1
    return "\n".join(lines[index:])


def parse_geo_uri(uri: str) -> Location | None:
    """``geo:-21.0,55.3;u=35`` -> Location; anything malformed or out of range -> None."""
    match = _GEO.match(uri.strip())
    if not match:
        return None
    lat, lon = float(match.group(1)), float(match.group(2))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return Location(lat, lon)


def reply_target(content: dict[str, Any]) -> str | None:
    relates = content.get("m.relates_to")
    if not isinstance(relates, dict):
        return None
    in_reply = relates.get("m.in_reply_to")
    if isinstance(in_reply, dict) and isinstance(in_reply.get("event_id"), str):
        return str(in_reply["event_id"])
    return None


def thread_root(content: dict[str, Any]) -> str | None:
    """The root event of the thread a message was written in, if any."""
    relates = content.get("m.relates_to")
    if isinstance(relates, dict) and relates.get("rel_type") == "m.thread":
        root = relates.get("event_id")
        return root if isinstance(root, str) else None
    return None


def is_edit(content: dict[str, Any]) -> bool:
    relates = content.get("m.relates_to")
    return isinstance(relates, dict) and relates.get("rel_type") == "m.replace"


def mentions(content: dict[str, Any], body: str, bot: BotIdentity) -> bool:
    """An intentional mention (``m.mentions``), a pill link, or the bot's name or id written
    at the start of the message (``communebot: …``) or anywhere as a full user id."""
    intentional = content.get("m.mentions")
    if isinstance(intentional, dict):
        users = intentional.get("user_ids")
        if isinstance(users, list) and bot.user_id in users:
            return True
    formatted = content.get("formatted_body")
    if isinstance(formatted, str) and f"matrix.to/#/{bot.user_id}" in formatted:
        return True
    if bot.user_id in body:
        return True
    return strip_mention(body, bot) != body


def strip_mention(body: str, bot: BotIdentity) -> str:
    """``communebot: search crèche`` -> ``search crèche``; also ``@communebot search`` and
    the name alone. A bare name followed by a space is not a mention: "Annuaire de la
    mairie" must not wake a bot called Annuaire."""
    text = body.lstrip()
    for name in bot.names():
        for candidate in ("@" + name, name):
            if not text.lower().startswith(candidate.lower()):
                continue
            rest = text[len(candidate) :]
            if not rest.strip():
                return ""
            if rest[:1] in (":", ","):
                return rest[1:].strip()
            if candidate.startswith("@") and rest[:1].isspace():
                return rest.strip()
    return body


def command_text(text: str) -> str | None:
    """``!search crèche`` or ``/search crèche`` -> ``/search crèche``; other text -> None."""
    match = _COMMAND.match(text.strip())
    if not match:
        return None
    rest = (match.group(2) or "").strip()
    return f"/{match.group(1).lower()}" + (f" {rest}" if rest else "")


def to_incoming(event: dict[str, Any], room: RoomFacts, bot: BotIdentity) -> Incoming | None:
    """One ``m.room.message`` (already decrypted) -> Incoming, or None when the bot must
    stay silent (its own event, a notice, an edit, an unknown type)."""
    sender = event.get("sender")
    content = event.get("content")
    if not isinstance(sender, str) or not isinstance(content, dict):
        return None
    if sender == bot.user_id or is_edit(content):
        return None
    msgtype = content.get("msgtype")
    body = content.get("body")
    if not isinstance(body, str):
        return None
    kind = ChatKind.DIRECT if room.direct else ChatKind.GROUP
    common: dict[str, Any] = {
        "platform": "matrix",
        "user_id": sender,
        "chat_id": room.room_id,
        "display_name": room.sender_display_name or sender,
        "chat_kind": kind,
        "event_id": event.get("event_id") if isinstance(event.get("event_id"), str) else None,
        "chat_moderator": (not room.direct) and room.sender_power >= 50,
    }
    if msgtype == "m.location":
        location = parse_geo_uri(str(content.get("geo_uri", "")))
        if location is None:
            return None
        return Incoming(location=location, addressed=room.direct or room.reply_to_bot, **common)
    if msgtype not in _TEXT_TYPES:
        return None
    text = strip_reply_fallback(body).strip()
    mentioned = mentions(content, text, bot)
    if mentioned:
        text = strip_mention(text, bot)
    command = command_text(text)
    if command is not None:
        text = command
    addressed = room.direct or command is not None or mentioned or room.reply_to_bot
    return Incoming(text=text, addressed=addressed, **common)
