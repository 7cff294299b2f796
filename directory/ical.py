"""Upcoming public events as an iCalendar file (RFC 5545), written with the ``icalendar``
library: each event in its commune's time zone, with the VTIMEZONE components calendar
applications need, a stable UID (re-importing the file updates rather than duplicates),
its place and, when known, its point.

Public data only, like every export: active events, never who added them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TextIO
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vGeo
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from directory.gazetteer import get_gazetteer
from directory.models import Entry, EntryKind, EntryStatus

#: identifies this directory's events in calendar applications (UID domain, PRODID)
UID_DOMAIN = "communebot.directory"
PRODID = "-//communebot//citizen directory//FR"
#: an event given without an end lasts this long in calendars
DEFAULT_LENGTH = timedelta(hours=2)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def upcoming_events(session: Session, now: datetime, commune: str | None = None) -> list[Entry]:
    """Active events that have not ended at ``now``, soonest first (one commune, or all)."""
    statement = (
        select(Entry)
        .where(Entry.kind == EntryKind.EVENT.value, Entry.status == EntryStatus.ACTIVE.value,
               Entry.starts_at.is_not(None),
               or_(Entry.ends_at >= now, Entry.ends_at.is_(None) & (Entry.starts_at >= now)))
        .order_by(Entry.starts_at, Entry.id)
    )
    if commune is not None:
        statement = statement.where(Entry.commune_insee == commune)
    return list(session.scalars(statement))


def event_component(entry: Entry, stamp: datetime) -> Event:
    """One VEVENT, its times in the event's commune's time zone."""
    place = get_gazetteer().get(entry.commune_insee)
    zone = ZoneInfo(place.timezone if place is not None else "Europe/Paris")
    assert entry.starts_at is not None
    starts = _aware(entry.starts_at).astimezone(zone)
    ends = _aware(entry.ends_at).astimezone(zone) if entry.ends_at is not None else starts + DEFAULT_LENGTH
    event = Event()
    event.add("uid", f"entry-{entry.id}@{UID_DOMAIN}")
    event.add("dtstamp", stamp)
    event.add("dtstart", starts)
    event.add("dtend", ends)
    event.add("summary", entry.name)
    where = ", ".join(p for p in (entry.address, entry.postcode, place.label if place else None) if p)
    if where:
        event.add("location", where)
    if entry.description:
        event.add("description", entry.description)
    if entry.website:
        event.add("url", entry.website if "://" in entry.website else "https://" + entry.website)
    if entry.lat is not None and entry.lon is not None:
        event.add("geo", vGeo((entry.lat, entry.lon)))
    return event


def events_calendar(entries: list[Entry], stamp: datetime) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    for entry in entries:
        calendar.add_component(event_component(entry, stamp))
    calendar.add_missing_timezones()
    return calendar


def write_ics(session: Session, out: TextIO, *, commune: str | None = None,
              now: datetime | None = None) -> int:
    """Write the upcoming public events (of ``commune``, or all) to ``out``; how many."""
    moment = now or datetime.now(UTC)
    entries = upcoming_events(session, moment, commune)
    out.write(events_calendar(entries, moment).to_ical().decode("utf-8"))
    return len(entries)
