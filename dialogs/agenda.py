"""Events and projects as answers. Events: what is on in a time window, soonest first,
each with its date and time in its commune's time zone; an event that has ended is never
listed. Projects: filtered by what they need and their stage, listed with both.

Pure apart from reading the events' dates through ``ctx.session``. The ask dialog uses it
for questions about events ("quoi de neuf ce week-end au Port ?", "what's on tomorrow").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from bot.dialog import DialogContext
from bot.messages import Bold, Inline, ListItems, Text
from dialogs import common
from directory.models import Entry

#: no time said: what is on from now, for this long
DEFAULT_SPAN = timedelta(days=30)
#: how the start of an event reads, per language (Babel patterns)
_PATTERNS = {"fr": "EEE d MMM, HH:mm", "en": "EEE, MMM d, h:mm a"}
_DAY_PATTERNS = {"fr": "EEE d MMM", "en": "EEE, MMM d"}
_CLOCK_PATTERNS = {"fr": "HH:mm", "en": "h:mm a"}


def default_window(now: datetime) -> tuple[datetime, datetime]:
    return now, now + DEFAULT_SPAN


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _zone(entry: Any) -> ZoneInfo:
    place = common.commune(entry.commune_insee)
    return ZoneInfo(place.timezone if place is not None else "Europe/Paris")


def upcoming(entries: Sequence[Entry], start: datetime, end: datetime, now: datetime) -> list[Entry]:
    """The events among ``entries`` that overlap [start, end) and have not ended at ``now``,
    soonest first (pure)."""
    found = []
    for entry in entries:
        if entry.kind != "event" or entry.starts_at is None:
            continue
        begins = _aware(entry.starts_at)
        finishes = _aware(entry.ends_at) if entry.ends_at is not None else begins
        if finishes < now or begins >= end or finishes < start:
            continue
        found.append(entry)
    return sorted(found, key=lambda e: _aware(e.starts_at or now))


def when_text(lang: str, entry: Any) -> str:
    """ "sam. 5 déc., 19:00 – 22:00" / "Sat, Dec 5, 7:00 PM – 10:00 PM", in the event's
    commune's time zone, with its end when given (its day when it ends on another day)."""
    zone = _zone(entry)
    begins = _aware(entry.starts_at).astimezone(zone)
    text = format_datetime(begins, _PATTERNS.get(lang, _PATTERNS["en"]), locale=lang)
    if entry.ends_at is not None:
        finishes = _aware(entry.ends_at).astimezone(zone)
        if finishes.date() != begins.date():
            text += " – " + format_datetime(finishes, _DAY_PATTERNS.get(lang, "EEE d MMM"), locale=lang)
        elif finishes > begins:
            text += " – " + format_datetime(finishes, _CLOCK_PATTERNS.get(lang, "HH:mm"), locale=lang)
    return text


def window_text(lang: str, start: datetime, end: datetime, tz: str) -> str:
    """ "sam. 5 déc. – dim. 6 déc." for a window (its last day is the day before ``end``)."""
    zone = ZoneInfo(tz)
    first = start.astimezone(zone)
    last = (end - timedelta(seconds=1)).astimezone(zone)
    pattern = _DAY_PATTERNS.get(lang, _DAY_PATTERNS["en"])
    if first.date() == last.date():
        return format_datetime(first, pattern, locale=lang)
    return f"{format_datetime(first, pattern, locale=lang)} – {format_datetime(last, pattern, locale=lang)}"


def event_lines(ctx: DialogContext, entries: Sequence[Entry]) -> ListItems:
    """Each event: **name** — category · commune · when."""
    items: list[tuple[Inline, ...]] = []
    for entry in entries:
        meta = [common.category_name(entry.category, ctx.lang), common.commune_label(entry.commune_insee),
                when_text(ctx.lang, entry)]
        items.append((Bold(entry.name), Text(" — " + " · ".join(m for m in meta if m))))
    return ListItems(items=tuple(items), numbered=True)


def load_events(ctx: DialogContext, ids: Sequence[int]) -> list[Entry]:
    entries = [ctx.session.get(Entry, entry_id) for entry_id in ids]
    return [e for e in entries if e is not None]


# --- projects ---------------------------------------------------------------------------------


def project_matches(entry: Any, needs: Sequence[str], stage: str | None) -> bool:
    """A project that needs every need asked and is at the stage asked (pure)."""
    if entry.kind != "project":
        return False
    if stage and entry.stage != stage:
        return False
    return all(need in (entry.needs or ()) for need in needs)


def project_line(ctx: DialogContext, entry: Any, distance_km: float | None) -> tuple[Inline, ...]:
    """**name** — category · commune · 2 km · Stage : démarré · Cherche : bénévoles."""
    meta = [common.category_name(entry.category, ctx.lang), common.commune_label(entry.commune_insee)]
    if distance_km is not None:
        meta.append(common.distance_text(ctx.t, distance_km))
    if entry.stage:
        meta.append(ctx.t("entry.card.stage", stage=ctx.t(f"entry.stage.{entry.stage}")))
    if entry.needs:
        meta.append(ctx.t("entry.card.needs", needs=", ".join(ctx.t(f"entry.need.{n}") for n in entry.needs)))
    return (Bold(entry.name), Text(" — " + " · ".join(m for m in meta if m)))
