"""What one chat's row remembers: the open dialog's typed envelope and the conversation's
memory (the last question, what is on screen, the last shared location).

Stored as JSON in ``dialog_states.state``, versioned: :func:`Conversation.from_json` reads
every shape ever written (version 1 had no ``v`` key and called some steps ``stage``) and
never raises, so an old row loads after an upgrade. Pure: no database, no clock of its own.

Why the memory lives here and not in a dialog: people talk about what they just saw ("et à
Saint-Benoît ?", "son téléphone ?", "la troisième") after the dialog that showed it has
finished, so the memory outlives dialogs; each part expires on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from bot.state import Offer

JSON = dict[str, Any]

STATE_VERSION = 2
#: what was on screen (a list, a card) stays talkable-to this long
SHOWN_TTL = timedelta(minutes=30)
#: a shared location serves the searches of this long a while, then is forgotten
LOCATION_TTL = timedelta(hours=1)
#: dialogs whose version-1 states called their step ``stage``
_STAGE_DIALOGS = frozenset({"register", "settings", "admin"})


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class Shown:
    """The last question and what it put on screen."""

    #: the search as the ask dialog keeps it (text, category, kind, point, commune, how, radius)
    query: JSON
    #: entry ids listed, in the order the user sees them
    hits: tuple[int, ...] = ()
    #: the entry whose card is on screen, if any
    entry: int | None = None
    page: int = 1
    at: datetime | None = None

    def to_json(self) -> JSON:
        return {"query": self.query, "hits": list(self.hits), "entry": self.entry,
                "page": self.page, "at": self.at.isoformat() if self.at else None}

    @classmethod
    def from_json(cls, data: Any) -> Shown | None:
        if not isinstance(data, dict) or not isinstance(data.get("query"), dict):
            return None
        try:
            hits = tuple(int(h) for h in data.get("hits") or ())
            entry = int(data["entry"]) if data.get("entry") is not None else None
            page = int(data.get("page") or 1)
        except (TypeError, ValueError):
            return None
        return cls(query=data["query"], hits=hits, entry=entry, page=page, at=_time(data.get("at")))


@dataclass(frozen=True)
class SharedPoint:
    lat: float
    lon: float
    at: datetime | None = None

    def to_json(self) -> JSON:
        return {"lat": self.lat, "lon": self.lon, "at": self.at.isoformat() if self.at else None}

    @classmethod
    def from_json(cls, data: Any) -> SharedPoint | None:
        if not isinstance(data, dict):
            return None
        try:
            return cls(float(data["lat"]), float(data["lon"]), _time(data.get("at")))
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class Memory:
    """The conversation's short memory; every part expires (see :meth:`fresh`)."""

    shown: Shown | None = None
    location: SharedPoint | None = None
    #: small facts a dialog asked to keep a while ("offered_commune": the commune offered
    #: as the new home for a shared location, so that it is asked once), with their time
    notes: dict[str, str] = field(default_factory=dict)
    noted_at: datetime | None = None

    @property
    def empty(self) -> bool:
        return self.shown is None and self.location is None and not self.notes

    def fresh(self, now: datetime) -> Memory:
        """This memory without its expired parts."""
        shown = self.shown
        if shown is not None and (shown.at is None or now - shown.at > SHOWN_TTL):
            shown = None
        location = self.location
        if location is not None and (location.at is None or now - location.at > LOCATION_TTL):
            location = None
        notes, noted_at = self.notes, self.noted_at
        if notes and (noted_at is None or now - noted_at > LOCATION_TTL):
            notes, noted_at = {}, None
        if shown is self.shown and location is self.location and notes is self.notes:
            return self  # nothing expired (the usual case): no new object
        return Memory(shown=shown, location=location, notes=notes, noted_at=noted_at)

    def noting(self, notes: dict[str, str], now: datetime) -> Memory:
        return replace(self, notes={**self.notes, **notes}, noted_at=now)

    def to_json(self) -> JSON:
        out: JSON = {}
        if self.shown is not None:
            out["shown"] = self.shown.to_json()
        if self.location is not None:
            out["location"] = self.location.to_json()
        if self.notes:
            out["notes"] = dict(self.notes)
            out["noted_at"] = self.noted_at.isoformat() if self.noted_at else None
        return out

    @classmethod
    def from_json(cls, data: Any) -> Memory:
        if not isinstance(data, dict):
            return cls()
        notes = data.get("notes")
        return cls(
            shown=Shown.from_json(data.get("shown")),
            location=SharedPoint.from_json(data.get("location")),
            notes={str(k): str(v) for k, v in notes.items()} if isinstance(notes, dict) else {},
            noted_at=_time(data.get("noted_at")),
        )


@dataclass(frozen=True)
class Conversation:
    """One chat's row: the open dialog (``dialog`` is "" when none), its own state, the
    choices on screen and the memory."""

    dialog: str = ""
    data: JSON = field(default_factory=dict)
    offer: Offer | None = None
    #: the dialog finished but left choices on screen (valid for the next message only)
    closed: bool = False
    memory: Memory = field(default_factory=Memory)
    #: the version of the dialog's state model that wrote ``data`` (its spec's ``state``)
    state_version: int = 1
    #: ``data`` was checked against that model when written (no need to check it again)
    checked: bool = False

    @property
    def open(self) -> bool:
        """A dialog is waiting for an answer, or its last choices are still on screen."""
        return bool(self.dialog)

    @property
    def step(self) -> str | None:
        step = self.data.get("step")
        return str(step) if step is not None else None

    @property
    def worth_keeping(self) -> bool:
        return self.open or not self.memory.empty

    def without_dialog(self) -> Conversation:
        return replace(self, dialog="", data={}, offer=None, closed=False)

    def to_json(self) -> JSON:
        out: JSON = {"v": STATE_VERSION, "data": self.data}
        if self.state_version != 1:
            out["sv"] = self.state_version
        if self.checked:
            out["ck"] = True
        if self.offer is not None:
            out["offer"] = self.offer.to_json()
        if self.closed:
            out["closed"] = True
        memory = self.memory.to_json()
        if memory:
            out["memory"] = memory
        return out

    @classmethod
    def from_json(cls, dialog: str, stored: Any) -> Conversation:
        """Read any stored shape; what cannot be read is dropped, never raised."""
        stored = stored if isinstance(stored, dict) else {}
        data = stored.get("data")
        data = dict(data) if isinstance(data, dict) else {}
        version = stored.get("v", 1)
        if version == 1 and dialog in _STAGE_DIALOGS and "stage" in data and "step" not in data:
            data["step"] = data.pop("stage")
        return cls(
            dialog=dialog or "",
            data=data,
            offer=Offer.from_json(stored.get("offer")),
            closed=bool(stored.get("closed")),
            memory=Memory.from_json(stored.get("memory")),
            state_version=int(stored["sv"]) if isinstance(stored.get("sv"), int) else 1,
            checked=stored.get("ck") is True,
        )
