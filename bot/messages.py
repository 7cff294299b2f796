"""Platform-neutral message types: the only language adapters and the engine share.

An adapter turns a platform event into an :class:`Incoming`, hands it to the engine and
renders the :class:`Outgoing` items it gets back. Nothing here knows Telegram or Matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

Platform = Literal["telegram", "matrix", "console"]


class ChatKind(StrEnum):
    DIRECT = "direct"
    GROUP = "group"


@dataclass(frozen=True, slots=True)
class Location:
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Incoming:
    """One thing a user did: a text, a shared location or a pressed choice."""

    platform: Platform
    user_id: str
    chat_id: str
    text: str = ""
    display_name: str = ""
    chat_kind: ChatKind = ChatKind.DIRECT
    location: Location | None = None
    choice_id: str | None = None
    language_hint: str | None = None
    event_id: str | None = None
    #: True when, in a group, the message is addressed to the bot (command, mention, reply).
    addressed: bool = True
    #: the sender moderates this group/room (Telegram chat admin, Matrix power level >= 50)
    chat_moderator: bool = False
    #: the adapter keeps this event until its answer is out and hands it in again after a
    #: crash (Telegram's inbox): the engine keeps the answer with the event id until the
    #: adapter clears it (``bot.engine.forget_replies``) and gives it back on the replay
    redeliverable: bool = False
    #: the engine may hand back an answer kept for this event if it was handled already:
    #: the adapter replays its own inbox after a crash (Telegram), or sending again cannot
    #: show it twice (Matrix transaction ids). Otherwise a handled event gets ``[]``: it
    #: is a redelivery another worker (or an earlier delivery) is answering
    replay: bool = False


# --- light semantic markup -------------------------------------------------------------
# An Outgoing text is a sequence of spans; each adapter escapes and renders them.


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Bold:
    text: str


@dataclass(frozen=True, slots=True)
class Italic:
    text: str


@dataclass(frozen=True, slots=True)
class Link:
    text: str
    url: str


@dataclass(frozen=True, slots=True)
class StartLink:
    """Opens the bot on something (``/start <payload>``, e.g. an entry to share): a deep
    link where the platform has them (Telegram's ``t.me/<bot>?start=``), else the command
    to type, in the platform's own command syntax."""

    text: str
    payload: str


@dataclass(frozen=True, slots=True)
class LineBreak:
    pass


@dataclass(frozen=True, slots=True)
class ListItems:
    """A bulleted (or numbered) list; each item is itself a sequence of inline spans."""

    items: tuple[tuple[Inline, ...], ...]
    numbered: bool = False


Inline = Text | Bold | Italic | Link | StartLink | LineBreak
Span = Inline | ListItems


@dataclass(frozen=True, slots=True)
class Choice:
    """A button (Telegram), or a numbered option (Matrix, console)."""

    id: str
    label: str


@dataclass(frozen=True, slots=True)
class MapPin:
    name: str
    lat: float
    lon: float
    address: str = ""


@dataclass(frozen=True, slots=True)
class Document:
    """A file to hand over (an event's ``.ics``, a citizen's data): a Telegram document, a
    Matrix file upload, a file written by the console (its path printed)."""

    filename: str
    mime: str
    data: bytes


class TargetKind(StrEnum):
    REPLY = "reply"  # the chat the Incoming came from
    USER = "user"  # a direct message to a platform account
    COMMUNE_ROOM = "commune_room"  # every chat bound to a commune
    CHAT = "chat"  # one chat of a platform (a bound room's digest): ``ref`` is its id


@dataclass(frozen=True, slots=True)
class Target:
    kind: TargetKind = TargetKind.REPLY
    platform: Platform | None = None
    #: platform user id (USER), INSEE code (COMMUNE_ROOM) or chat id (CHAT)
    ref: str | None = None


REPLY = Target()


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to show. `spans` carry the markup; `choices` become buttons or numbers.

    `edit_key` lets an adapter edit a previous message instead of sending a new one
    (pagination): two Outgoing items with the same key in the same chat are the same
    message on screen.
    """

    spans: tuple[Span, ...] = ()
    choices: tuple[Choice, ...] = ()
    request_location: bool = False
    pin: MapPin | None = None
    document: Document | None = None
    target: Target = REPLY
    edit_key: str | None = None
    #: the language of this message, so adapters can localize their own chrome
    lang: str = "fr"

    @classmethod
    def text(cls, *parts: Span | str, **kwargs: object) -> Outgoing:
        spans = tuple(Text(p) if isinstance(p, str) else p for p in parts)
        return cls(spans=spans, **kwargs)  # type: ignore[arg-type]


def plain_text(spans: Sequence[Span]) -> str:
    """Render spans as plain text (console, Matrix `body`, logs)."""
    out: list[str] = []
    for span in spans:
        if isinstance(span, LineBreak):
            out.append("\n")
        elif isinstance(span, Link):
            out.append(span.text if span.text == span.url else f"{span.text} ({span.url})")
        elif isinstance(span, StartLink):
            out.append(f"{span.text} (/start {span.payload})")
        elif isinstance(span, ListItems):
            if out and not out[-1].endswith("\n"):
                out.append("\n")
            for number, item in enumerate(span.items, start=1):
                bullet = f"{number}. " if span.numbered else "• "
                out.append(bullet + plain_text(item) + "\n")
        else:
            out.append(span.text)
    return "".join(out).rstrip("\n") if out and isinstance(spans[-1], ListItems) else "".join(out)


def listed_choices(out: Outgoing) -> int:
    """How many choices the text already numbers: dialogs show results as a numbered list
    whose numbers are the first choices, so adapters without buttons must not list them
    twice (they number the remaining choices on from there)."""
    lists = [s for s in out.spans if isinstance(s, ListItems) and s.numbered]
    if not lists or len(lists[-1].items) > len(out.choices):
        return 0
    items = lists[-1].items
    same = all(
        plain_text(item).strip().startswith(choice.label.strip().rstrip("…").rstrip())
        for item, choice in zip(items, out.choices, strict=False)
    )
    return len(items) if same else 0


class MessageHandler(Protocol):
    """What an adapter needs from the engine."""

    async def handle(self, incoming: Incoming) -> list[Outgoing]: ...


@runtime_checkable
class EngineWithSessions(MessageHandler, Protocol):
    """An engine that also lends its session factory: adapters keep their offsets and
    chat bindings and deliver the outbox in the same store."""

    @property
    def sessions(self) -> sessionmaker[Session]: ...
