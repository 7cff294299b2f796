"""Digest subscriptions, their schedule in local time, and periods claimed exactly once.

A subscriber (a citizen, or a bound room or group) gets a daily or weekly digest at an
hour of its first commune's local time. ``next_due_at`` is stored in UTC and indexed: who
is due at an instant is one range query, whatever the number of subscribers.
:func:`claim_due` takes the due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two
workers never take the same one), records each period in ``digest_runs`` (unique per
subscription and period: a period claimed once is never claimed again), and moves
``next_due_at`` past the instant: after downtime across several periods, one catch-up
digest covers everything since the last one sent. :func:`content` reads what is new for a
period, never an entry listed before (``digest_items``).

Knows nothing of chat: the engine renders and queues (``bot/digests.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Table, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from directory.gazetteer import get_gazetteer
from directory.models import (
    DigestItem,
    DigestRun,
    DigestSubscription,
    Entry,
    EntryKind,
    EntryStatus,
    Recommendation,
)

Frequency = Literal["daily", "weekly"]
FREQUENCIES: tuple[str, ...] = ("daily", "weekly")
DEFAULT_HOUR = 8
#: weekly digests go out on Monday unless said otherwise
DEFAULT_WEEKDAY = 0
#: how many items of each kind a digest lists (the rest is counted)
TOP = 5
#: "the coming week's events"
COMING = timedelta(days=7)
DEFAULT_TZ = "Europe/Paris"


class InvalidSubscription(ValueError):
    """A frequency, hour or commune that cannot be scheduled."""


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _local_instant(day: date, hour: int, zone: ZoneInfo) -> datetime:
    """``hour`` o'clock on ``day`` in ``zone``, in UTC; an hour the clocks skip (spring
    forward) is taken at the same offset as before the change, i.e. one hour later."""
    return datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC)


def _scheduled_days(frequency: str, weekday: int, around: date, backwards: bool) -> list[date]:
    step = -1 if backwards else 1
    days = [around + timedelta(days=step * i) for i in range(-1, 16)]
    return [d for d in days if frequency == "daily" or d.weekday() == weekday]


def next_due(frequency: str, hour: int, weekday: int, tz: str, after: datetime) -> datetime:
    """The first scheduled instant strictly after ``after`` (pure)."""
    zone = ZoneInfo(tz)
    moment = _utc(after)
    local_day = moment.astimezone(zone).date()
    for day in sorted(_scheduled_days(frequency, weekday, local_day, backwards=False)):
        instant = _local_instant(day, hour, zone)
        if instant > moment:
            return instant
    raise AssertionError("a schedule with no day in two weeks")  # pragma: no cover


def latest_due(frequency: str, hour: int, weekday: int, tz: str, at: datetime) -> datetime:
    """The last scheduled instant at or before ``at`` (pure): the period a late run covers."""
    zone = ZoneInfo(tz)
    moment = _utc(at)
    local_day = moment.astimezone(zone).date()
    for day in sorted(_scheduled_days(frequency, weekday, local_day, backwards=True), reverse=True):
        instant = _local_instant(day, hour, zone)
        if instant <= moment:
            return instant
    raise AssertionError("a schedule with no day in two weeks")  # pragma: no cover


# --- subscribing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subscriber:
    """Who gets it: a citizen (``citizen_id``) or a bound chat (``platform``, ``chat_id``)."""

    citizen_id: int | None = None
    platform: str | None = None
    chat_id: str | None = None

    def where(self) -> list[ColumnElement[bool]]:
        if self.citizen_id is not None:
            return [DigestSubscription.citizen_id == self.citizen_id]
        return [DigestSubscription.chat_platform == self.platform, DigestSubscription.chat_id == self.chat_id]


def subscription_of(session: Session, who: Subscriber) -> DigestSubscription | None:
    return session.scalars(select(DigestSubscription).where(*who.where())).first()


def subscribe(
    session: Session,
    who: Subscriber,
    *,
    frequency: str,
    communes: list[str],
    now: datetime,
    hour: int | None = None,
    weekday: int | None = None,
    categories: list[str] | None = None,
) -> DigestSubscription:
    """Create or change a subscription; its next digest is the next scheduled instant. A
    change keeps what was already covered (nothing is sent twice, nothing skipped)."""
    if frequency not in FREQUENCIES:
        raise InvalidSubscription("frequency")
    hour = DEFAULT_HOUR if hour is None else hour
    if not 0 <= hour <= 23:
        raise InvalidSubscription("hour")
    weekday = DEFAULT_WEEKDAY if weekday is None else weekday
    if not 0 <= weekday <= 6:
        raise InvalidSubscription("weekday")
    gazetteer = get_gazetteer()
    places = [gazetteer.current(code) for code in dict.fromkeys(communes)]
    if not places or any(p is None for p in places):
        raise InvalidSubscription("communes")
    codes = [p.insee for p in places if p is not None]
    tz = next((p.timezone for p in places if p is not None and p.timezone), DEFAULT_TZ)
    moment = _utc(now)
    row = subscription_of(session, who)
    if row is None:
        row = DigestSubscription(citizen_id=who.citizen_id, chat_platform=who.platform, chat_id=who.chat_id,
                                 covered_until=moment, created_at=moment)
        session.add(row)
    row.frequency, row.hour, row.weekday, row.timezone = frequency, hour, weekday, tz
    row.communes, row.categories = codes, list(categories or [])
    row.next_due_at = next_due(frequency, hour, weekday, tz, moment)
    session.flush()
    return row


def unsubscribe(session: Session, who: Subscriber) -> bool:
    """Stop at once (the row goes, with its periods and listed items); True if there was one."""
    result = session.execute(delete(DigestSubscription).where(*who.where()))
    return bool(getattr(result, "rowcount", 0))


# --- claiming due periods ------------------------------------------------------------------------


@dataclass
class Due:
    """One claimed period: what to send covers (``start``, ``end``]."""

    subscription: DigestSubscription
    end: datetime
    start: datetime
    items: int = 0


def _insert_ignoring_duplicates(session: Session, table: Any, rows: list[dict[str, Any]]) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` on both backends (one statement for a batch)."""
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table).values(rows).on_conflict_do_nothing()


def claim_due(session: Session, now: datetime, limit: int = 500) -> list[Due]:
    """Claim up to ``limit`` due subscriptions in this transaction (rows other workers hold
    are skipped, not waited for). Each gets one period ending at its latest scheduled
    instant, recorded in ``digest_runs`` (a period recorded before, by a run that
    committed, is not claimed again); its next due time moves past ``now``. Committing the
    transaction is the claim: roll it back and nothing happened."""
    moment = _utc(now)
    rows = session.scalars(
        select(DigestSubscription)
        .where(DigestSubscription.next_due_at <= moment)
        .order_by(DigestSubscription.next_due_at, DigestSubscription.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return []
    ends = {row.id: latest_due(row.frequency, row.hour, row.weekday, row.timezone, moment) for row in rows}
    statement = _insert_ignoring_duplicates(session, DigestRun, [
        {"subscription_id": row.id, "period_end": ends[row.id], "items": 0, "claimed_at": moment}
        for row in rows
    ]).returning(DigestRun.subscription_id)
    fresh = set(session.scalars(statement))
    claimed: list[Due] = []
    for row in rows:
        start = _utc(row.covered_until)
        row.next_due_at = next_due(row.frequency, row.hour, row.weekday, row.timezone, moment)
        if row.id not in fresh:
            continue  # this period went out already (a run interrupted after its commit)
        row.covered_until = max(start, ends[row.id])
        claimed.append(Due(row, ends[row.id], start))
    session.flush()
    return claimed


# --- content -------------------------------------------------------------------------------------


@dataclass
class Content:
    """What one digest lists: new entries, the coming week's events, the most recommended
    of the period (each at most :data:`TOP`), and how many more new ones there are."""

    new: list[Entry] = field(default_factory=list)
    coming: list[Entry] = field(default_factory=list)
    recommended: list[tuple[Entry, int]] = field(default_factory=list)
    more: int = 0

    @property
    def empty(self) -> bool:
        return not (self.new or self.coming or self.recommended)

    def entries(self) -> list[Entry]:
        return [*self.new, *self.coming, *(entry for entry, _n in self.recommended)]


def _aware(moment: datetime | None) -> datetime:
    assert moment is not None
    return _utc(moment)


def contents(session: Session, dues: list[Due]) -> dict[int, Content]:
    """Every digest of a batch, by subscription id, in a few queries whatever the batch's
    size: the candidates of all its communes and periods at once, then each subscriber's
    own filter in memory (its communes, categories, period, and what it was sent before)."""
    if not dues:
        return {}
    communes = sorted({c for due in dues for c in (due.subscription.communes or [])})
    first = min(due.start for due in dues)
    last = max(due.end for due in dues)
    active = [Entry.commune_insee.in_(communes), Entry.status == EntryStatus.ACTIVE.value]
    created = list(session.scalars(select(Entry).where(
        *active, Entry.created_at > first, Entry.created_at <= last)))
    ends = func.coalesce(Entry.ends_at, Entry.starts_at)
    upcoming = list(session.scalars(select(Entry).where(
        *active, Entry.kind == EntryKind.EVENT.value, Entry.starts_at.is_not(None),
        Entry.starts_at < last + COMING, ends >= first)))
    counts = session.execute(
        select(Recommendation.entry_id, Recommendation.created_at)
        .join(Entry, Entry.id == Recommendation.entry_id)
        .where(*active, Recommendation.created_at > first, Recommendation.created_at <= last)
    ).all()
    recommended_ids = {entry_id for entry_id, _at in counts}
    known = {e.id: e for e in (*created, *upcoming)}
    missing = recommended_ids - set(known)
    if missing:
        known.update({e.id: e for e in session.scalars(select(Entry).where(Entry.id.in_(missing)))})
    candidate_ids = set(known)
    seen: dict[int, set[int]] = {}
    if candidate_ids:
        for sub_id, entry_id in session.execute(
            select(DigestItem.subscription_id, DigestItem.entry_id).where(
                DigestItem.subscription_id.in_([due.subscription.id for due in dues]),
                DigestItem.entry_id.in_(candidate_ids))
        ):
            seen.setdefault(sub_id, set()).add(entry_id)
    by_commune_created: dict[str, list[Entry]] = {}
    for entry in sorted(created, key=lambda e: (_aware(e.created_at), e.id), reverse=True):
        by_commune_created.setdefault(entry.commune_insee, []).append(entry)
    by_commune_upcoming: dict[str, list[Entry]] = {}
    for entry in sorted(upcoming, key=lambda e: (_aware(e.starts_at), e.id)):
        by_commune_upcoming.setdefault(entry.commune_insee, []).append(entry)
    found: dict[int, Content] = {}
    for due in dues:
        found[due.subscription.id] = _one(due, seen.get(due.subscription.id, set()), by_commune_created,
                                          by_commune_upcoming, counts, known)
    return found


def _one(due: Due, seen: set[int], created: dict[str, list[Entry]], upcoming: dict[str, list[Entry]],
         counts: Any, known: dict[int, Entry]) -> Content:
    """One subscriber's digest from the batch's candidates (pure)."""
    subscription = due.subscription
    places = subscription.communes or []
    categories = set(subscription.categories or [])

    def wanted(entry: Entry) -> bool:
        return entry.id not in seen and (not categories or entry.category in categories)

    fresh = [e for code in places for e in created.get(code, [])
             if wanted(e) and due.start < _aware(e.created_at) <= due.end]
    fresh.sort(key=lambda e: (_aware(e.created_at), e.id), reverse=True)
    new = fresh[:TOP]
    listed = {e.id for e in new}
    soon = [e for code in places for e in upcoming.get(code, [])
            if wanted(e) and e.id not in listed and _aware(e.starts_at) < due.end + COMING
            and _aware(e.ends_at or e.starts_at) >= due.end]
    soon.sort(key=lambda e: (_aware(e.starts_at), e.id))
    coming = soon[:TOP]
    listed |= {e.id for e in coming}
    tally: dict[int, int] = {}
    for entry_id, at in counts:
        entry = known.get(entry_id)
        if entry is not None and entry.commune_insee in places and due.start < _utc(at) <= due.end:
            tally[entry_id] = tally.get(entry_id, 0) + 1
    ranked = sorted(((known[i], n) for i, n in tally.items() if wanted(known[i]) and i not in listed),
                    key=lambda pair: (-pair[1], pair[0].id))
    return Content(new=new, coming=coming, recommended=ranked[:3], more=max(0, len(fresh) - len(new)))


def content(session: Session, subscription: DigestSubscription, start: datetime, end: datetime) -> Content:
    """The digest of (``start``, ``end``] for one subscription (a preview)."""
    due = Due(subscription, _utc(end), _utc(start))
    return contents(session, [due])[subscription.id]


def record(session: Session, listed: dict[int, Content], dues: list[Due]) -> None:
    """Remember what each digest listed (one statement), so no later digest lists it again;
    and how many items each period's run listed."""
    rows = [{"subscription_id": sub_id, "entry_id": entry_id}
            for sub_id, found in listed.items() for entry_id in dict.fromkeys(e.id for e in found.entries())]
    if rows:
        session.execute(_insert_ignoring_duplicates(session, DigestItem, rows))
    counted = []
    for due in dues:
        found = listed.get(due.subscription.id)
        due.items = len(found.entries()) if found is not None else 0
        if due.items:
            counted.append({"sid": due.subscription.id, "end": due.end, "n": due.items})
    if counted:
        runs = cast("Table", DigestRun.__table__)  # Core: one executemany UPDATE, no ORM bulk-by-key
        session.execute(
            update(runs)
            .where(runs.c.subscription_id == bindparam("sid"), runs.c.period_end == bindparam("end"))
            .values(items=bindparam("n")),
            counted,
        )
