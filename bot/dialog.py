"""The contract between the engine and the dialogs in ``dialogs/``.

A dialog is a small state machine: ``start`` opens it (from a command or an NLU intent),
``resume`` receives each later message while it is open. Both return a :class:`Step`: the
replies and the next state (a JSON-able dict), or ``state=None`` when the dialog is over.
The engine persists that state in the same transaction as the directory changes the
dialog made through ``ctx.session``, so a crash never leaves one without the other.

Dialogs are synchronous and pure apart from ``ctx.session``: no platform library, no
network, no global state.

Choices: offer ``Choice`` items with your own readable ids (``"yes"``, ``"hit:42"``); the
engine makes them opaque and bound to this state before they leave, and maps a pressed
button, a typed number or a typed label back to your id in ``ctx.incoming.choice_id``.
Prefer ``Step.wait`` when offering choices. If a dialog finishes (``state=None``) with
choices in its replies, they stay valid for the user's next message only: picking one
resumes the dialog with an empty state ``{}`` and the choice id (a plain "oui" or "non"
typed at lingering choices with ids ``yes`` and ``no`` picks one too; "ok" does not);
anything else is routed as a new message.

``Step.pass_on()``: the message is not an answer to this dialog (the user asked something
else): the engine closes the dialog and routes the message as if none were open.

``Step.then``: a text the engine routes as a new message once a finishing step is applied
(registration uses it to answer the question a newcomer asked before registering).

``Step.shown``: what the step put on screen, remembered by the engine beyond the dialog's
end (``ctx.memory`` on later messages). A dialog may also define
``interrupted(ctx, state) -> list[Outgoing] | Step | None``: called when the engine leaves it for a
new request typed instead of an answer, to keep what was already settled (registration
saves the commune it was confirming); returning a ``Step`` keeps the dialog open instead
(a newcomer's question waits until their commune is known); returning None leaves quietly
(nothing was under way: no "I leave aside what we were doing").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from bot.conversation import Memory, Shown
from bot.i18n import Translator
from bot.messages import Incoming, Outgoing

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from directory.models import Account, Citizen

JSON = dict[str, Any]


class AddressGeocoder(Protocol):
    """Turns a typed address in a commune into a point (``directory.geocoding.Geocoder``);
    returns None on any failure, bounded by its timeout."""

    def geocode_address(self, address: str, commune: Any) -> Any: ...


@dataclass(frozen=True)
class Services:
    """What the engine wires in for the dialogs beyond the store: things with I/O or
    configuration. None means "not available": dialogs fall back (the commune's centre)."""

    geocoder: AddressGeocoder | None = None
    #: how long traces naming a person are kept (config ``privacy.retention_days``), as said
    #: in /privacy
    retention_days: int = 30


@dataclass
class DialogContext:
    """Everything a dialog may use to answer one message."""

    session: Session
    citizen: Citizen
    account: Account
    incoming: Incoming
    t: Translator
    now: datetime
    #: the commune a group chat / room is bound to, which questions there default to
    chat_commune: str | None = None
    #: the engine's one understanding of this message (``bot.nlu.Parse``; of a command's
    #: argument text for a command); dialogs read it and never call the NLU themselves
    parse: Any = None
    #: set by the engine: is this account an admin (config ``admins``)
    is_admin: bool = False
    #: what the engine wires in beyond the store (the address geocoder)
    services: Services = field(default_factory=Services)
    #: what this chat last showed and the last shared location (expired parts dropped)
    memory: Memory = field(default_factory=Memory)

    @property
    def lang(self) -> str:
        return self.t.lang


@dataclass
class Step:
    replies: list[Outgoing] = field(default_factory=list)
    #: the state to keep, or None when the dialog is finished
    state: JSON | None = None
    #: True: not an answer for this dialog; close it and route the message afresh
    handoff: bool = False
    #: when the dialog finishes: a text to route afresh right after (once per message)
    then: str | None = None
    #: what this step put on screen (a result list, an entry's card): the engine remembers
    #: it so that follow-ups ("la troisième", "son téléphone ?") can refer to it
    shown: Shown | None = None
    #: small facts to keep in the conversation's memory a while (see ``Memory.notes``)
    remember: dict[str, str] | None = None

    @classmethod
    def done(cls, *replies: Outgoing) -> Step:
        return cls(list(replies), None)

    @classmethod
    def wait(cls, state: JSON, *replies: Outgoing) -> Step:
        return cls(list(replies), state)

    @classmethod
    def pass_on(cls) -> Step:
        """Close this dialog and let the engine route the message as a new one."""
        return cls([], None, handoff=True)


class Dialog(Protocol):
    """One conversation. ``name`` is stored with the state to find the dialog again."""

    name: ClassVar[str]

    def start(self, ctx: DialogContext, args: JSON) -> Step: ...

    def resume(self, ctx: DialogContext, state: JSON) -> Step: ...
