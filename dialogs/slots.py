"""What a question asks for (category, commune, near me, radius, name, kind): read from the
engine's parse of the message, or from a dialog's start arguments.

Shared by the ask and recommend dialogs (so neither imports the other). Pure apart from
reading the packaged gazetteer through ``dialogs.common``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from bot.dialog import JSON, DialogContext
from bot.nlu.lexicon import word_set
from dialogs import common
from dialogs.entry_view import SEARCH_LEADS, strip_lead
from directory.text import fold

#: a radius over this many km is no radius a person means
MAX_RADIUS_KM = 100.0
#: entry kinds a question may be about on its own ("quels projets à Saint-Paul ?")
KINDS = frozenset({"project", "event"})
#: words of a "what is around?" question that ask for nothing in particular
NOTHING_IN_PARTICULAR = word_set(
    """anything something everything stuff what s is are there any good to do nearby near
    close by around here me us quoi quelque chose choses truc trucs tout ce qu il y a ya y
    qui quoi de bien interessant a faire pres proche ici cote moi nous dans le coin kosa
    nena na koi ke autour voir sympa"""
)
#: namesakes offered beside an answer ("Saint-Pierre (972) instead?")
MAX_NAMESAKES = 2


@dataclass(frozen=True)
class Slots:
    """What the question asks for; the NLU's ``Parse`` fields this dialog uses."""

    category: str | None = None
    commune: str | None = None
    near_me: bool = False
    radius_km: float | None = None
    name: str | None = None
    text: str | None = None
    #: "project" or "event": what kind of entry the question is about
    kind: str | None = None
    #: other communes the place's words could mean (namesakes), to offer beside the answer
    namesakes: tuple[str, ...] = ()
    #: projects asked about by what they need and their stage
    needs: tuple[str, ...] = ()
    stage: str | None = None

    @property
    def has_subject(self) -> bool:
        return bool(self.category or self.name or self.text or self.kind)


def _field(source: Any, name: str) -> Any:
    if isinstance(source, dict):
        return source.get(name)
    return getattr(source, name, None)


def slots_from(args: JSON | None, parse: Any = None) -> Slots:
    """Read the slots from ``start`` args (the engine's ``Parse``, as a dict or object),
    falling back to ``ctx.parse``. A bare ``text`` (``/search crèche``) is kept for
    :func:`understand`."""
    sources = [s for s in (args or {}, parse) if s is not None]

    def pick(name: str) -> Any:
        for source in sources:
            value = _field(source, name)
            if value not in (None, ""):
                return value
        return None

    radius = pick("radius_km")
    try:
        radius_km = float(radius) if radius is not None else None
    except (TypeError, ValueError):
        radius_km = None
    if radius_km is not None and not 0 < radius_km <= MAX_RADIUS_KM * 5:
        radius_km = None
    text = pick("text") or pick("query")
    commune = pick("commune")
    if commune is not None and common.commune(str(commune)) is None:
        commune = None  # an unknown code is no place to search
    kind = pick("kind")
    candidates = pick("commune_candidates") or ()
    namesakes = tuple(str(c) for c in candidates if c != commune and common.commune(str(c)))
    return Slots(
        category=pick("category"),
        commune=commune,
        near_me=bool(pick("near_me")),
        radius_km=radius_km,
        name=pick("name"),
        text=str(text) if text else None,
        kind=kind if kind in KINDS else None,
        namesakes=namesakes[:MAX_NAMESAKES] if commune else (),
        needs=tuple(str(n) for n in pick("needs") or ()) if kind == "project" else (),
        stage=str(pick("stage")) if kind == "project" and pick("stage") else None,
    )


def understand(ctx: DialogContext, text: str) -> Slots:
    """Slots from free text typed during the dialog ("une crèche", "garagiste au Port").

    The engine's parse of the message gives category, commune, "near me" and a name; when
    it finds neither a category nor a name, the text itself is what to look for.
    """
    slots = slots_from({}, ctx.parse)
    if slots.category or slots.name or slots.kind:
        return replace(slots, text=None)
    what = strip_lead(text, SEARCH_LEADS) or text  # "je cherche Ti Bouts" looks for "Ti Bouts"
    if slots.near_me and all(word in NOTHING_IN_PARTICULAR for word in fold(what).split()):
        what = ""  # "anything close by?", "kosa néna à côté": everything around, no name
    return Slots(commune=slots.commune, near_me=slots.near_me, radius_km=slots.radius_km,
                 text=what or None, namesakes=slots.namesakes)
