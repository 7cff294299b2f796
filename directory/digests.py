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
        # the first digest covers its whole period, as everyone's does: subscribers of a
        # commune then share one period, read once per run
        since = latest_due(frequency, hour, weekday, tz, moment)
        row = DigestSubscription(citizen_id=who.citizen_id, chat_platform=who.platform, chat_id=who.chat_id,
                                 covered_until=since, created_at=moment)
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


def _insert_ignoring_duplicates(session: Session, model: Any) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` on both backends, on the Core table: executed
    with a list of rows it is one cached statement sent in batches (insertmanyvalues)."""
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    return module.insert(model.__table__).on_conflict_do_nothing()


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
    runs = cast("Table", DigestRun.__table__)
    statement = _insert_ignoring_duplicates(session, DigestRun).returning(runs.c.subscription_id)
    fresh = set(session.connection().execute(statement, [
        {"subscription_id": row.id, "period_end": ends[row.id], "items": 0, "claimed_at": moment}
        for row in rows
    ]).scalars())
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


@dataclass(frozen=True)
class Item:
    """What a digest shows of an entry (read as a plain row: a run reads thousands)."""

    id: int
    name: str
    category: str
    commune_insee: str
    kind: str
    created_at: datetime
    starts_at: datetime | None = None
    ends_at: datetime | None = None


@dataclass
class Content:
    """What one digest lists: new entries, the coming week's events, the most recommended
    of the period (each at most :data:`TOP`), and how many more new ones there are."""

    new: list[Item] = field(default_factory=list)
    coming: list[Item] = field(default_factory=list)
    recommended: list[tuple[Item, int]] = field(default_factory=list)
    more: int = 0

    @property
    def empty(self) -> bool:
        return not (self.new or self.coming or self.recommended)

    def entries(self) -> list[Item]:
        return [*self.new, *self.coming, *(item for item, _n in self.recommended)]


#: per commune and period, how many candidates are read (more than shown: some were
#: listed before, some are filtered by category)
DEPTH = 4 * TOP
_ITEM_COLUMNS = (Entry.id, Entry.name, Entry.category, Entry.commune_insee, Entry.kind, Entry.created_at,
                 Entry.starts_at, Entry.ends_at)


def _item(row: Any) -> Item:
    return Item(row.id, row.name, row.category, row.commune_insee, row.kind, _utc(row.created_at),
                _utc(row.starts_at) if row.starts_at is not None else None,
                _utc(row.ends_at) if row.ends_at is not None else None)


@dataclass
class _Period:
    """One commune's candidates for one period."""

    new: list[Item] = field(default_factory=list)
    new_count: int = 0
    coming: list[Item] = field(default_factory=list)
    recommended: list[tuple[Item, int]] = field(default_factory=list)


class Candidates:
    """Each commune's newest entries, coming events and most recommended for a period, read
    once per run and shared by every subscriber of that commune and period (a few queries
    per batch of communes, however many subscribers)."""

    def __init__(self) -> None:
        self.periods: dict[tuple[str, datetime, datetime], _Period] = {}

    def get(self, commune: str, start: datetime, end: datetime) -> _Period:
        return self.periods.get((commune, start, end)) or _Period()

    def load(self, session: Session, wanted: set[tuple[str, datetime, datetime]]) -> None:
        missing = wanted - set(self.periods)
        by_window: dict[tuple[datetime, datetime], list[str]] = {}
        for commune, start, end in missing:
            by_window.setdefault((start, end), []).append(commune)
        for (start, end), communes in by_window.items():
            self._load(session, sorted(communes), start, end)

    @staticmethod
    def _ranked(session: Session, statement: Any, order: Any) -> Any:
        """The first :data:`DEPTH` rows of each commune (a window function, both backends)."""
        rank = func.row_number().over(partition_by=Entry.commune_insee, order_by=order).label("rank")
        inner = statement.add_columns(rank).subquery()
        return session.execute(select(inner).where(inner.c.rank <= DEPTH)).all()

    def _load(self, session: Session, communes: list[str], start: datetime, end: datetime) -> None:
        found = {code: _Period() for code in communes}
        for code in communes:
            self.periods[(code, start, end)] = found[code]
        active = [Entry.commune_insee.in_(communes), Entry.status == EntryStatus.ACTIVE.value]
        window = [Entry.created_at > start, Entry.created_at <= end]
        for code, count in session.execute(
            select(Entry.commune_insee, func.count()).where(*active, *window).group_by(Entry.commune_insee)
        ):
            found[code].new_count = int(count)
        for row in self._ranked(session, select(*_ITEM_COLUMNS).where(*active, *window),
                                (Entry.created_at.desc(), Entry.id.desc())):
            found[row.commune_insee].new.append(_item(row))
        ends = func.coalesce(Entry.ends_at, Entry.starts_at)
        for row in self._ranked(
            session,
            select(*_ITEM_COLUMNS).where(*active, Entry.kind == EntryKind.EVENT.value,
                                         Entry.starts_at.is_not(None), Entry.starts_at < end + COMING,
                                         ends >= end),
            (Entry.starts_at, Entry.id),
        ):
            found[row.commune_insee].coming.append(_item(row))
        tally = (
            select(Recommendation.entry_id, func.count().label("n"))
            .where(Recommendation.created_at > start, Recommendation.created_at <= end)
            .group_by(Recommendation.entry_id).subquery()
        )
        for row in self._ranked(
            session,
            select(*_ITEM_COLUMNS, tally.c.n).join(tally, tally.c.entry_id == Entry.id).where(*active),
            (tally.c.n.desc(), Entry.id),
        ):
            found[row.commune_insee].recommended.append((_item(row), int(row.n)))


def contents(session: Session, dues: list[Due], candidates: Candidates | None = None) -> dict[int, Content]:
    """Every digest of a batch, by subscription id. The communes' candidates come from
    ``candidates`` (shared across a run's batches); each subscriber is then filtered in
    memory: its communes, categories, period, and what it was sent before."""
    if not dues:
        return {}
    cache = candidates or Candidates()
    plain = [due for due in dues if not due.subscription.categories]
    cache.load(session, {(code, due.start, due.end)
                         for due in plain for code in due.subscription.communes or []})
    shown = {item.id for due in plain for code in due.subscription.communes or []
             for item in _all(cache.get(code, due.start, due.end))}
    seen: dict[int, set[int]] = {}
    if shown:
        for sub_id, entry_id in session.execute(
            select(DigestItem.subscription_id, DigestItem.entry_id).where(
                DigestItem.subscription_id.in_([due.subscription.id for due in plain]),
                DigestItem.entry_id.in_(shown))
        ):
            seen.setdefault(sub_id, set()).add(entry_id)
    found = {due.subscription.id: _merge([cache.get(code, due.start, due.end)
                                          for code in due.subscription.communes or []],
                                         seen.get(due.subscription.id, set()))
             for due in plain}
    for due in dues:  # a category filter: read for this subscriber alone (rarer)
        if due.subscription.categories:
            found[due.subscription.id] = _filtered(session, due)
    return found


def _all(period: _Period) -> list[Item]:
    return [*period.new, *period.coming, *(item for item, _n in period.recommended)]


def _merge(periods: list[_Period], seen: set[int]) -> Content:
    """One subscriber's digest from its communes' candidates (pure)."""
    fresh = sorted((i for p in periods for i in p.new if i.id not in seen),
                   key=lambda i: (i.created_at, i.id), reverse=True)
    new = fresh[:TOP]
    listed = {i.id for i in new}
    coming = sorted((i for p in periods for i in p.coming if i.id not in seen and i.id not in listed),
                    key=lambda i: (i.starts_at or i.created_at, i.id))[:TOP]
    listed |= {i.id for i in coming}
    recommended = sorted(((i, n) for p in periods for i, n in p.recommended
                          if i.id not in seen and i.id not in listed),
                         key=lambda pair: (-pair[1], pair[0].id))[:3]
    total = sum(p.new_count for p in periods)
    return Content(new=new, coming=coming, recommended=recommended, more=max(0, total - len(new)))


def _filtered(session: Session, due: Due) -> Content:
    """The digest of a subscriber who chose categories: its own queries."""
    row = due.subscription
    seen = select(DigestItem.entry_id).where(DigestItem.subscription_id == row.id)
    scope = [Entry.commune_insee.in_(row.communes or []), Entry.status == EntryStatus.ACTIVE.value,
             Entry.category.in_(row.categories), Entry.id.not_in(seen)]
    window = [Entry.created_at > due.start, Entry.created_at <= due.end]
    count = session.scalar(select(func.count()).select_from(Entry).where(*scope, *window)) or 0
    new = [_item(r) for r in session.execute(
        select(*_ITEM_COLUMNS).where(*scope, *window).order_by(Entry.created_at.desc(), Entry.id.desc())
        .limit(TOP))]
    ends = func.coalesce(Entry.ends_at, Entry.starts_at)
    listed = {i.id for i in new}
    coming = [i for i in (_item(r) for r in session.execute(
        select(*_ITEM_COLUMNS).where(*scope, Entry.kind == EntryKind.EVENT.value,
                                     Entry.starts_at.is_not(None), Entry.starts_at < due.end + COMING,
                                     ends >= due.end)
        .order_by(Entry.starts_at, Entry.id).limit(TOP * 2))) if i.id not in listed][:TOP]
    return Content(new=new, coming=coming, more=max(0, count - len(new)))


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
        session.connection().execute(_insert_ignoring_duplicates(session, DigestItem), rows)
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
