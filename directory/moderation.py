"""Keeping the directory clean: roles, reports, hide/restore/delete/edit/merge/verify, bans,
statistics, and the audit log every one of these actions writes in its own transaction.

Accounts are named ``platform:id`` (``telegram:123``, ``matrix:@ana:example.org``,
``console:boss``): ids, never display names, which anyone can copy. Superadmins come from
the configuration; commune moderators are granted here (and platform moderators of a
bound room or group are recognised by the engine). Knows nothing of chat.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, Integer, bindparam, delete, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from directory import services
from directory.models import (
    Account,
    Activity,
    AuditEntry,
    Ban,
    Citizen,
    CommuneModerator,
    DigestItem,
    DigestRun,
    Entry,
    EntryStatus,
    Follow,
    Membership,
    Recommendation,
    Report,
)
from directory.text import fold

#: the reasons a citizen may give for a report (and "other", with their words)
REPORT_REASONS: tuple[str, ...] = ("closed", "wrong", "duplicate", "abuse", "other")
#: moderators of a commune hear of an entry's reports at most once in this time
NOTIFY_EVERY = timedelta(hours=1)
#: an entry's fields a moderator may edit from the chat
EDITABLE: tuple[str, ...] = ("name", "description", "address", "phone", "website", "email", "category",
                             "opening_hours")


class ModerationError(ValueError):
    """A refused action: ``reason`` is a catalog-friendly code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def account_key(platform: str, user_id: str) -> str:
    return f"{platform}:{user_id}"


def valid_account_key(text: str) -> bool:
    """``telegram:123``, ``matrix:@ana:example.org``, ``console:boss``: a known platform,
    a colon, an id (an ``admins`` entry without a prefix is refused at load)."""
    platform, sep, rest = text.partition(":")
    return bool(sep) and platform in {"telegram", "matrix", "console"} and bool(rest.strip())


def audit(session: Session, actor: str, action: str, *, commune: str | None = None,
          entry_id: int | None = None, target: str | None = None, now: datetime | None = None,
          **details: Any) -> AuditEntry:
    """Write who did what to what; call in the action's transaction."""
    row = AuditEntry(actor=actor, action=action, commune_insee=commune, entry_id=entry_id, target=target,
                     details=details, created_at=now or datetime.now(UTC))
    session.add(row)
    return row


def audit_log(session: Session, communes: Iterable[str] | None = None, limit: int = 20) -> list[AuditEntry]:
    """The latest actions, newest first (of ``communes`` only, when given)."""
    statement = select(AuditEntry).order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc()).limit(limit)
    if communes is not None:
        statement = statement.where(AuditEntry.commune_insee.in_(list(communes)))
    return list(session.scalars(statement))


# --- roles -----------------------------------------------------------------------------------------


def moderated_communes(session: Session, account: str) -> set[str]:
    statement = select(CommuneModerator.commune_insee).where(CommuneModerator.account == account)
    return set(session.scalars(statement))


def grant(session: Session, account: str, commune: str, by: str, now: datetime) -> bool:
    """Make ``account`` a moderator of ``commune``; False if it already was."""
    if not valid_account_key(account):
        raise ModerationError("bad_account")
    if session.get(CommuneModerator, (account, commune)) is not None:
        return False
    session.add(CommuneModerator(account=account, commune_insee=commune, granted_by=by, created_at=now))
    audit(session, by, "grant", commune=commune, target=account, now=now)
    return True


def revoke(session: Session, account: str, commune: str, by: str, now: datetime) -> bool:
    row = session.get(CommuneModerator, (account, commune))
    if row is None:
        return False
    session.delete(row)
    audit(session, by, "revoke", commune=commune, target=account, now=now)
    return True


def moderators_of(session: Session, commune: str) -> list[str]:
    return list(session.scalars(select(CommuneModerator.account).where(
        CommuneModerator.commune_insee == commune).order_by(CommuneModerator.account)))


# --- reports --------------------------------------------------------------------------------------


def file_report(session: Session, citizen: Citizen, entry: Entry, reason: str, details: str,
                now: datetime) -> tuple[Report, bool]:
    """Record a citizen's report; True when the commune's moderators should be told (the
    entry's first report in :data:`NOTIFY_EVERY`)."""
    if reason not in REPORT_REASONS:
        raise ModerationError("bad_reason")
    recent = session.scalar(select(func.count()).select_from(Report).where(
        Report.entry_id == entry.id, Report.created_at > now - NOTIFY_EVERY))
    report = Report(entry_id=entry.id, citizen_id=citizen.id, reason=reason, details=details[:1000],
                    created_at=now)
    session.add(report)
    session.flush()
    return report, not recent


def open_reports(session: Session, communes: Iterable[str] | None = None, limit: int = 10) -> list[Report]:
    statement = (select(Report).join(Entry, Entry.id == Report.entry_id)
                 .where(Report.resolved.is_(False)).order_by(Report.created_at, Report.id).limit(limit))
    if communes is not None:
        statement = statement.where(Entry.commune_insee.in_(list(communes)))
    return list(session.scalars(statement))


def reports_today(session: Session, citizen: Citizen, now: datetime) -> int:
    return session.scalar(select(func.count()).select_from(Report).where(
        Report.citizen_id == citizen.id, Report.created_at > now - timedelta(days=1))) or 0


def _resolve_reports(session: Session, entry_id: int) -> None:
    session.execute(update(Report).where(Report.entry_id == entry_id, Report.resolved.is_(False))
                    .values(resolved=True).execution_options(synchronize_session=False))


# --- entries ----------------------------------------------------------------------------------------


def hide(session: Session, entry: Entry, by: str, now: datetime) -> bool:
    if entry.status == EntryStatus.HIDDEN.value:
        return False
    entry.status = EntryStatus.HIDDEN.value
    _resolve_reports(session, entry.id)
    audit(session, by, "hide", commune=entry.commune_insee, entry_id=entry.id, target=entry.name, now=now)
    return True


def restore(session: Session, entry: Entry, by: str, now: datetime) -> bool:
    if entry.status == EntryStatus.ACTIVE.value:
        return False
    entry.status = EntryStatus.ACTIVE.value
    audit(session, by, "restore", commune=entry.commune_insee, entry_id=entry.id, target=entry.name, now=now)
    return True


def delete_entry(session: Session, entry: Entry, by: str, now: datetime) -> None:
    """Delete for good (its recommendations, memberships, follows and reports go with it)."""
    audit(session, by, "delete", commune=entry.commune_insee, entry_id=entry.id, target=entry.name, now=now)
    session.execute(delete(Entry).where(Entry.id == entry.id))
    session.expunge(entry)


def verify(session: Session, entry: Entry, by: str, now: datetime, verified: bool = True) -> bool:
    if entry.verified == verified:
        return False
    entry.verified = verified
    audit(session, by, "verify" if verified else "unverify", commune=entry.commune_insee, entry_id=entry.id,
          target=entry.name, now=now)
    return True


def edit(session: Session, entry: Entry, field_name: str, value: str, by: str, now: datetime) -> None:
    """Change one field, validated like a new entry (raises ``services.InvalidEntry``)."""
    if field_name not in EDITABLE:
        raise ModerationError("not_editable")
    before = getattr(entry, field_name)
    data = services.NewEntry(
        name=entry.name, category=entry.category, commune_insee=entry.commune_insee, kind=entry.kind,
        description=entry.description, address=entry.address, phone=entry.phone, website=entry.website,
        email=entry.email, stage=entry.stage, needs=tuple(entry.needs or ()), starts_at=entry.starts_at,
        ends_at=entry.ends_at)
    if field_name != "opening_hours":
        typed: Any = value if field_name in {"description", "name", "category"} else (value or None)
        clean = services.validate_entry(replace(data, **{field_name: typed}), refuse_formulas=True)
        value = getattr(clean, field_name)
    setattr(entry, field_name, value)
    if field_name == "name":
        entry.name_folded = fold(str(value))[:200]
    audit(session, by, "edit", commune=entry.commune_insee, entry_id=entry.id, target=entry.name, now=now,
          field=field_name, before=str(before or ""), after=str(value or ""))


@dataclass
class Merged:
    recommendations: int = 0
    memberships: int = 0
    follows: int = 0
    events: int = 0


def merge(session: Session, keep: Entry, drop: Entry, by: str, now: datetime) -> Merged:
    """Move ``drop``'s recommendations, memberships and follows (and the events it
    organises) to ``keep``, counting a citizen who had both once, then delete ``drop``."""
    if keep.id == drop.id:
        raise ModerationError("same_entry")
    moved = Merged()
    for model, attribute in ((Recommendation, "recommendations"), (Membership, "memberships"),
                             (Follow, "follows")):
        already = select(model.citizen_id).where(model.entry_id == keep.id)
        result = session.execute(
            update(model).where(model.entry_id == drop.id, model.citizen_id.not_in(already))
            .values(entry_id=keep.id).execution_options(synchronize_session="fetch"))
        setattr(moved, attribute, int(getattr(result, "rowcount", 0) or 0))
    result = session.execute(update(Entry).where(Entry.organizer_id == drop.id).values(organizer_id=keep.id)
                             .execution_options(synchronize_session="fetch"))
    moved.events = int(getattr(result, "rowcount", 0) or 0)
    session.execute(update(Report).where(Report.entry_id == drop.id).values(entry_id=keep.id)
                    .execution_options(synchronize_session=False))
    session.execute(delete(DigestItem).where(DigestItem.entry_id == drop.id))
    keep.recommendation_count = session.scalar(
        select(func.count()).select_from(Recommendation).where(Recommendation.entry_id == keep.id)) or 0
    audit(session, by, "merge", commune=keep.commune_insee, entry_id=keep.id, target=drop.name, now=now,
          dropped=drop.id, recommendations=moved.recommendations, memberships=moved.memberships,
          follows=moved.follows)
    session.execute(delete(Entry).where(Entry.id == drop.id))
    session.expunge(drop)
    session.flush()
    return moved


# --- people -----------------------------------------------------------------------------------------


def citizen_of(session: Session, account: str) -> Citizen | None:
    platform, _sep, user_id = account.partition(":")
    return session.scalar(select(Citizen).join(Account, Account.citizen_id == Citizen.id).where(
        Account.platform == platform, Account.platform_user_id == user_id))


def ban(session: Session, citizen: Citizen, by: str, now: datetime, reason: str = "",
        commune: str | None = None) -> int:
    """Ban a citizen (they get one message, then silence); their pending content is
    hidden. Returns how many of their entries were hidden."""
    citizen.banned = True
    session.add(Ban(citizen_id=citizen.id, commune_insee=commune, reason=reason[:500], created_at=now))
    result = session.execute(
        update(Entry).where(Entry.created_by_id == citizen.id, Entry.status == EntryStatus.PENDING.value)
        .values(status=EntryStatus.HIDDEN.value).execution_options(synchronize_session="fetch"))
    audit(session, by, "ban", commune=commune, target=f"citizen:{citizen.id}", now=now, reason=reason[:200])
    return int(getattr(result, "rowcount", 0) or 0)


def unban(session: Session, citizen: Citizen, by: str, now: datetime) -> bool:
    if not citizen.banned:
        return False
    citizen.banned = False
    audit(session, by, "unban", target=f"citizen:{citizen.id}", now=now)
    return True


def citizens_of(session: Session, commune: str) -> list[int]:
    """The citizens whose home is ``commune`` and who are not banned (a broadcast's reach)."""
    return list(session.scalars(select(Citizen.id).where(Citizen.home_insee == commune,
                                                          Citizen.banned.is_(False)).order_by(Citizen.id)))


# --- statistics --------------------------------------------------------------------------------------


def count_message(session: Session, account_id: int, day: date) -> None:
    """One more message of ``account_id`` on ``day`` (the engine calls it once per message):
    one ``INSERT … ON CONFLICT DO UPDATE`` statement, built once per backend, rather than
    an ORM read then write (two round trips and the unit of work, on every message)."""
    session.execute(count_statement(session.get_bind().dialect.name),
                    {"day": day, "account_id": account_id})


@functools.cache
def count_statement(dialect: str) -> Any:
    """The upsert of :func:`count_message` (parameters ``day`` and ``account_id``); the
    engine also sends it inside its event-recording statement on PostgreSQL. An account
    erased earlier in the same transaction (``/forget``) is not counted."""
    module: Any = postgresql if dialect == "postgresql" else sqlite
    table = Activity.__table__
    account = bindparam("account_id", type_=Integer)
    rows = (select(bindparam("day", type_=Date), account, literal(1, Integer))
            .where(select(Account.id).where(Account.id == account).exists()))
    statement = module.insert(table).from_select(["day", "account_id", "messages"], rows)
    return statement.on_conflict_do_update(
        index_elements=[table.c.day, table.c.account_id],
        set_={"messages": table.c.messages + 1})


@dataclass
class Stats:
    citizens: int = 0
    entries: dict[str, int] = field(default_factory=dict)
    recommendations: int = 0
    days: list[tuple[date, int, int]] = field(default_factory=list)  # (day, messages, active users)
    digests: int = 0


def stats(session: Session, now: datetime, communes: Iterable[str] | None = None, days: int = 7) -> Stats:
    """The figures of ``/admin stats`` (of ``communes`` only, when given: a moderator's)."""
    scope = list(communes) if communes is not None else None
    found = Stats()
    citizens = select(func.count()).select_from(Citizen)
    entries = (select(Entry.kind, func.count()).where(Entry.status == EntryStatus.ACTIVE.value)
               .group_by(Entry.kind))
    recs = select(func.count()).select_from(Recommendation).join(Entry, Entry.id == Recommendation.entry_id)
    activity = (select(Activity.day, func.sum(Activity.messages), func.count(Activity.account_id))
                .where(Activity.day > (now - timedelta(days=days)).date()).group_by(Activity.day)
                .order_by(Activity.day))
    if scope is not None:
        citizens = citizens.where(Citizen.home_insee.in_(scope))
        entries = entries.where(Entry.commune_insee.in_(scope))
        recs = recs.where(Entry.commune_insee.in_(scope))
        activity = activity.join(Account, Account.id == Activity.account_id).join(
            Citizen, Citizen.id == Account.citizen_id).where(Citizen.home_insee.in_(scope))
    found.citizens = session.scalar(citizens) or 0
    found.entries = {kind: int(n) for kind, n in session.execute(entries)}
    found.recommendations = session.scalar(recs) or 0
    found.days = [(day, int(messages or 0), int(users)) for day, messages, users in session.execute(activity)]
    sent = select(func.count()).select_from(DigestRun).where(DigestRun.items > 0)
    found.digests = session.scalar(sent) or 0
    return found
