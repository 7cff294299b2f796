"""Follow-ups: a message that changes one part of the last question, or talks about what is
on screen ("et à Saint-Benoît ?", "et un vétérinaire ?", "la troisième", "son téléphone ?").

Pure: :func:`revise` reads the engine's parse against the remembered question and says
what to do; the ask dialog carries it out. Nothing here touches the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from bot.conversation import Shown

JSON = dict[str, Any]

#: widening without a figure multiplies the radius by this, up to the search's maximum
WIDEN_FACTOR = 3.0
MAX_RADIUS_KM = 100.0

Action = Literal[
    "pick", "field", "which", "recommend", "join", "share", "more", "nearest", "radius", "requery",
]


@dataclass(frozen=True)
class Revision:
    """What a follow-up asks: an action, and for a new search the revised query."""

    action: Action
    query: JSON | None = None
    #: "pick": the entry id; "field": the field asked ("phone", "hours"...)
    entry: int | None = None
    field: str | None = None
    weekday: int | None = None
    #: "pick" with an ordinal past the list: how many there were
    out_of: int = 0


def _get(parse: Any, name: str) -> Any:
    return getattr(parse, name, None)


def pick_index(ordinal: int, hits: tuple[int, ...], entry: int | None) -> int | None:
    """The index in ``hits`` an ordinal in words means: 1-based, -1 the last, 0 "the other"
    (the one not on screen when two were listed). None when there is no such item."""
    if ordinal > 0:
        return ordinal - 1 if ordinal <= len(hits) else None
    if ordinal == -1:
        return len(hits) - 1 if hits else None
    if ordinal == 0 and entry is not None and len(hits) == 2 and entry in hits:
        return 1 - hits.index(entry)
    return None


def revise(shown: Shown, parse: Any) -> Revision | None:
    """The follow-up this parse makes of what was shown, or None (a new question)."""
    query = dict(shown.query)
    intent = _get(parse, "intent")
    category = _get(parse, "category")
    name = _get(parse, "name")
    kind = _get(parse, "kind")
    commune = _get(parse, "commune")
    near_me = bool(_get(parse, "near_me"))
    ordinal = _get(parse, "ordinal")
    entry = shown.entry
    if ordinal is not None and shown.hits and not (category or name):
        index = pick_index(int(ordinal), shown.hits, entry)
        if index is None:
            return Revision("pick", out_of=len(shown.hits))
        return Revision("pick", entry=shown.hits[index])
    target = entry if entry is not None else (shown.hits[0] if len(shown.hits) == 1 else None)
    field = _get(parse, "field")
    if field and target is not None and not (category or commune):
        return Revision("field", entry=target, field=str(field), weekday=_get(parse, "weekday"))
    if field and target is None and shown.hits and not (category or commune or name):
        # "ils ouvrent le samedi ?" with several listed: which one?
        return Revision("which", field=str(field), weekday=_get(parse, "weekday"), out_of=len(shown.hits))
    if target is not None and intent in {"recommend", "join"} and not (name or category):
        return Revision(intent, entry=target)
    if target is not None and intent == "share":
        return Revision("share", entry=target)
    if intent == "more":
        return Revision("more", query=query)
    if _get(parse, "sort") == "distance" and not (category or commune or name):
        return Revision("nearest", query=query)
    radius = _get(parse, "radius_km")
    if (_get(parse, "widen") or radius) and not (category or commune or name):
        old = float(query.get("radius") or 10.0)
        wider = float(radius) if radius else min(old * WIDEN_FACTOR, MAX_RADIUS_KM)
        return Revision("radius", query={**query, "radius": min(wider, MAX_RADIUS_KM)})
    followup = bool(_get(parse, "followup"))
    if commune and not (category or name or kind):
        # "et à Saint-Benoît ?": another place, the same thing
        return Revision("requery", query={**query, "commune": commune, "point": None,
                                          "how": "commune", "namesakes": [],
                                          "radius": query.get("asked", query.get("radius"))})
    if (kind == "event" and not (category or name or commune or near_me) and _get(parse, "when")
            and query.get("kind") == "event"):
        # "et le mois prochain ?" under concerts: the same kind of event, another time
        return Revision("requery", query={**query, "radius": query.get("asked", query.get("radius"))})
    if (category or kind) and not commune and not near_me and followup:
        # "et un vétérinaire ?": another thing, the same place
        return Revision("requery", query={**query, "category": category, "kind": kind,
                                          "text": name or "",
                                          "radius": query.get("asked", query.get("radius"))})
    return None
