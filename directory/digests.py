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
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.exc import IntegrityError
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
    run: DigestRun
    start: datetime
    end: datetime


def claim_due(session: Session, now: datetime, limit: int = 500) -> list[Due]:
    """Claim up to ``limit`` due subscriptions in this transaction (rows other workers hold
    are skipped, not waited for). Each gets one period ending at its latest scheduled
    instant, recorded in ``digest_runs``; its next due time moves past ``now``. Committing
    the transaction is the claim: roll it back and nothing happened."""
    moment = _utc(now)
    rows = session.scalars(
        select(DigestSubscription)
        .where(DigestSubscription.next_due_at <= moment)
        .order_by(DigestSubscription.next_due_at, DigestSubscription.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    claimed: list[Due] = []
    for row in rows:
        end = latest_due(row.frequency, row.hour, row.weekday, row.timezone, moment)
        start = _utc(row.covered_until)
        row.next_due_at = next_due(row.frequency, row.hour, row.weekday, row.timezone, moment)
        try:
            with session.begin_nested():
                run = DigestRun(subscription_id=row.id, period_end=end, claimed_at=moment)
                session.add(run)
                session.flush()
        except IntegrityError:
            continue  # this period went out already (a run interrupted after its commit)
        row.covered_until = max(start, end)
        claimed.append(Due(row, run, start, end))
    session.flush()
    return claimed


# --- content -------------------------------------------------------------------------------------


@dataclass
class Content:
    """What one digest lists: new entries, the coming week's events, the most recommended
    of the period (each at most :data:`TOP`), and how many more there are."""

    new: list[Entry] = field(default_factory=list)
    coming: list[Entry] = field(default_factory=list)
    recommended: list[tuple[Entry, int]] = field(default_factory=list)
    more: int = 0

    @property
    def empty(self) -> bool:
        return not (self.new or self.coming or self.recommended)

    def entries(self) -> list[Entry]:
        return [*self.new, *self.coming, *(entry for entry, _n in self.recommended)]


def content(session: Session, subscription: DigestSubscription, start: datetime, end: datetime) -> Content:
    """The digest of (``start``, ``end``] for ``subscription``: never an entry it listed
    before, nor one listed twice in this digest."""
    start, end = _utc(start), _utc(end)
    seen = select(DigestItem.entry_id).where(DigestItem.subscription_id == subscription.id)
    scope = [
        Entry.commune_insee.in_(subscription.communes or []),
        Entry.status == EntryStatus.ACTIVE.value,
        Entry.id.not_in(seen),
    ]
    if subscription.categories:
        scope.append(Entry.category.in_(subscription.categories))
    window = [Entry.created_at > start, Entry.created_at <= end]
    new_count = session.scalar(select(func.count()).select_from(Entry).where(*scope, *window)) or 0
    new = list(session.scalars(
        select(Entry).where(*scope, *window).order_by(Entry.created_at.desc(), Entry.id.desc()).limit(TOP)))
    listed = {e.id for e in new}
    ends = func.coalesce(Entry.ends_at, Entry.starts_at)
    coming = [e for e in session.scalars(
        select(Entry)
        .where(*scope, Entry.kind == EntryKind.EVENT.value, Entry.starts_at.is_not(None),
               Entry.starts_at < end + COMING, ends >= end)
        .order_by(Entry.starts_at, Entry.id)
        .limit(TOP * 2)
    ) if e.id not in listed][:TOP]
    listed |= {e.id for e in coming}
    recent = (
        select(Recommendation.entry_id, func.count().label("n"))
        .where(Recommendation.created_at > start, Recommendation.created_at <= end)
        .group_by(Recommendation.entry_id)
        .subquery()
    )
    recommended = [
        (entry, int(n)) for entry, n in session.execute(
            select(Entry, recent.c.n).join(recent, recent.c.entry_id == Entry.id)
            .where(*scope).order_by(recent.c.n.desc(), Entry.id).limit(TOP * 2))
        if entry.id not in listed
    ][:3]
    return Content(new=new, coming=coming, recommended=recommended, more=max(0, new_count - len(new)))


def record(session: Session, due: Due, listed: Content) -> None:
    """Remember what this digest listed, so that no later digest lists it again."""
    ids = list(dict.fromkeys(e.id for e in listed.entries()))
    for entry_id in ids:
        session.add(DigestItem(subscription_id=due.subscription.id, entry_id=entry_id))
    due.run.items = len(ids)
    session.flush()
