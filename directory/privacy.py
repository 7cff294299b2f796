"""What is stored about a citizen, given back, withdrawn, erased, and accounts linked.

* :func:`export`: everything stored about a citizen, as one JSON-able dict (``/mydata``).
* :func:`forget`: the citizen and everything that names them go (``/forget``); entries
  they created stay public but no longer link to them; recommendation counts go down.
  On SQLite, ``secure_delete`` (set on every connection, ``directory.db``) overwrites the
  freed bytes, and the session asks for a WAL checkpoint after its commit, so nothing of
  theirs stays in the files.
* :func:`withdraw_recommendation`, :func:`leave`, :func:`unfollow`, :func:`delete_own`:
  taking back what one gave (counts kept right under concurrent withdrawals).
* :func:`new_link_code` / :func:`redeem_link_code`: two platforms' accounts become one
  citizen (a code valid ten minutes, used once, five wrong tries then a pause);
  duplicates merge, counted once.

Knows nothing of chat.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from directory.db import SCRUB
from directory.models import (
    Account,
    Activity,
    AuditEntry,
    Citizen,
    CommuneModerator,
    DialogState,
    DigestSubscription,
    Entry,
    Follow,
    LinkCode,
    LinkFailure,
    Membership,
    OutboxMessage,
    Recommendation,
    Report,
)

#: ``session.info`` key: the citizen just forgotten in this transaction (the engine then
#: writes nothing more about them)
FORGOTTEN = "forgotten_citizen"
#: a link code is good for this long, once
LINK_VALID = timedelta(minutes=10)
#: wrong codes an account may type before it must wait :data:`LINK_PAUSE`
LINK_TRIES = 5
LINK_PAUSE = timedelta(minutes=15)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def _keys(session: Session, citizen: Citizen) -> list[tuple[str, str]]:
    return [(p, u) for p, u in session.execute(
        select(Account.platform, Account.platform_user_id).where(Account.citizen_id == citizen.id))]


# --- /mydata ---------------------------------------------------------------------------------------


def export(session: Session, citizen: Citizen) -> dict[str, Any]:
    """Everything stored about ``citizen`` (their accounts, settings, recommendations with
    comments, memberships, follows, digest subscription, entries created, reports filed)."""
    accounts = session.scalars(select(Account).where(Account.citizen_id == citizen.id).order_by(Account.id))
    recommendations = session.execute(
        select(Recommendation, Entry.name).join(Entry, Entry.id == Recommendation.entry_id)
        .where(Recommendation.citizen_id == citizen.id).order_by(Recommendation.id))
    memberships = session.execute(
        select(Membership, Entry.name).join(Entry, Entry.id == Membership.entry_id)
        .where(Membership.citizen_id == citizen.id).order_by(Membership.id))
    follows = session.execute(
        select(Follow, Entry.name).join(Entry, Entry.id == Follow.entry_id)
        .where(Follow.citizen_id == citizen.id).order_by(Follow.id))
    digest = session.scalars(
        select(DigestSubscription).where(DigestSubscription.citizen_id == citizen.id)).first()
    created = session.scalars(select(Entry).where(Entry.created_by_id == citizen.id).order_by(Entry.id))
    reports = session.execute(
        select(Report, Entry.name).join(Entry, Entry.id == Report.entry_id)
        .where(Report.citizen_id == citizen.id).order_by(Report.id))
    return {
        "citizen": {"id": citizen.id, "display_name": citizen.display_name, "language": citizen.lang,
                    "home_commune": citizen.home_insee,
                    "home_point": ([citizen.home_lat, citizen.home_lon]
                                   if citizen.home_lat is not None else None),
                    "keep_location": citizen.keep_location, "banned": citizen.banned,
                    "created_at": _iso(citizen.created_at)},
        "accounts": [{"platform": a.platform, "id": a.platform_user_id, "display_name": a.display_name,
                      "created_at": _iso(a.created_at)} for a in accounts],
        "recommendations": [{"entry_id": r.entry_id, "entry": name, "comment": r.comment,
                             "created_at": _iso(r.created_at)} for r, name in recommendations],
        "memberships": [{"entry_id": m.entry_id, "entry": name, "role": m.role,
                         "created_at": _iso(m.created_at)} for m, name in memberships],
        "follows": [{"entry_id": f.entry_id, "entry": name, "created_at": _iso(f.created_at)}
                    for f, name in follows],
        "digest": None if digest is None else {
            "frequency": digest.frequency, "hour": digest.hour, "weekday": digest.weekday,
            "timezone": digest.timezone, "communes": list(digest.communes),
            "categories": list(digest.categories)},
        "entries_created": [{"id": e.id, "name": e.name, "kind": e.kind, "category": e.category,
                             "commune": e.commune_insee, "status": e.status, "created_at": _iso(e.created_at)}
                            for e in created],
        "reports": [{"entry_id": r.entry_id, "entry": name, "reason": r.reason, "details": r.details,
                     "created_at": _iso(r.created_at)} for r, name in reports],
    }


# --- withdrawing ------------------------------------------------------------------------------------


def withdraw_recommendation(session: Session, citizen: Citizen, entry_id: int) -> bool:
    """Take a recommendation (and its comment) back; the count goes down by exactly one,
    even when two withdrawals race (only the one that deleted the row decrements)."""
    result = session.execute(delete(Recommendation).where(
        Recommendation.citizen_id == citizen.id, Recommendation.entry_id == entry_id))
    if not getattr(result, "rowcount", 0):
        return False
    session.execute(update(Entry).where(Entry.id == entry_id, Entry.recommendation_count > 0)
                    .values(recommendation_count=Entry.recommendation_count - 1)
                    .execution_options(synchronize_session="fetch"))
    return True


def leave(session: Session, citizen: Citizen, entry_id: int) -> bool:
    result = session.execute(delete(Membership).where(Membership.citizen_id == citizen.id,
                                                      Membership.entry_id == entry_id))
    return bool(getattr(result, "rowcount", 0))


def unfollow(session: Session, citizen: Citizen, entry_id: int) -> bool:
    result = session.execute(delete(Follow).where(Follow.citizen_id == citizen.id,
                                                  Follow.entry_id == entry_id))
    return bool(getattr(result, "rowcount", 0))


def relied_on(session: Session, citizen: Citizen, entry: Entry) -> bool:
    """Whether someone else recommends, belongs to or follows ``entry`` (then its author
    may no longer delete it: it is theirs too)."""
    for model in (Recommendation, Membership, Follow):
        others = session.scalar(select(func.count()).select_from(model).where(
            model.entry_id == entry.id, model.citizen_id != citizen.id))
        if others:
            return True
    return False


def delete_own(session: Session, citizen: Citizen, entry: Entry) -> bool:
    """Delete an entry the citizen created, if no one else relies on it."""
    if entry.created_by_id != citizen.id or relied_on(session, citizen, entry):
        return False
    session.execute(delete(Entry).where(Entry.id == entry.id))
    session.expunge(entry)
    return True


# --- /forget ---------------------------------------------------------------------------------------


@dataclass
class Forgotten:
    recommendations: int = 0
    accounts: int = 0


def forget(session: Session, citizen: Citizen) -> Forgotten:
    """Delete the citizen and everything that names them (see the module docstring)."""
    found = Forgotten()
    for entry_id in list(session.scalars(select(Recommendation.entry_id).where(
            Recommendation.citizen_id == citizen.id))):
        if withdraw_recommendation(session, citizen, entry_id):
            found.recommendations += 1
    keys = _keys(session, citizen)
    account_ids = set(session.scalars(select(Account.id).where(Account.citizen_id == citizen.id)))
    found.accounts = len(keys)
    names = [f"{platform}:{user}" for platform, user in keys]
    chats = [f"user:{user}" for _platform, user in keys]
    if chats:
        session.execute(delete(OutboxMessage).where(OutboxMessage.chat_id.in_(chats)))
    session.execute(delete(Report).where(Report.citizen_id == citizen.id))
    if names:
        session.execute(delete(CommuneModerator).where(CommuneModerator.account.in_(names)))
        session.execute(delete(AuditEntry).where(or_(AuditEntry.actor.in_(names),
                                                     AuditEntry.target.in_(names))))
    session.execute(delete(AuditEntry).where(AuditEntry.target == f"citizen:{citizen.id}"))
    session.execute(update(Entry).where(Entry.created_by_id == citizen.id).values(created_by_id=None))
    # the database's cascades take accounts, memberships, follows, the digest
    # subscription, dialog states, bans, link codes and activity with the citizen
    session.flush()
    session.execute(delete(Citizen).where(Citizen.id == citizen.id))
    # what the session still holds of them is gone from the database: forget it here too
    for obj in list(session.identity_map.values()):
        theirs = getattr(obj, "citizen_id", None) == citizen.id or obj is citizen
        if theirs or (isinstance(obj, (DialogState, Activity)) and obj.account_id in account_ids):
            session.expunge(obj)
    session.info[SCRUB] = True
    session.info[FORGOTTEN] = citizen.id
    return found


# --- linking accounts ------------------------------------------------------------------------------


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()


def new_link_code(session: Session, citizen: Citizen, now: datetime) -> str:
    """A fresh six-digit code (the citizen's earlier codes are dropped)."""
    session.execute(delete(LinkCode).where(or_(LinkCode.citizen_id == citizen.id, LinkCode.expires_at < now)))
    code = f"{secrets.randbelow(1_000_000):06d}"
    session.add(LinkCode(code_hash=_hash(code), citizen_id=citizen.id, expires_at=now + LINK_VALID))
    session.flush()
    return code


class LinkRefused(ValueError):
    """``reason``: paused, wrong, same."""

    def __init__(self, reason: str, wait: timedelta | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


def redeem_link_code(session: Session, account: Account, code: str, now: datetime) -> Citizen:
    """Make ``account``'s citizen and the code's citizen one: the code's citizen stays,
    every account, recommendation, membership, follow, created entry and report of the
    other moves to it (duplicates merged, counted once). Raises :class:`LinkRefused`."""
    failures = session.get(LinkFailure, account.id)
    if failures is not None and failures.failures >= LINK_TRIES:
        last = failures.last_at if failures.last_at.tzinfo else failures.last_at.replace(tzinfo=UTC)
        if now - last < LINK_PAUSE:
            raise LinkRefused("paused", LINK_PAUSE - (now - last))
        failures.failures = 0
    row = session.get(LinkCode, _hash(code)) if code.strip().isdigit() else None
    expires = None
    if row is not None:
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    if row is None or expires is None or expires < now:
        if failures is None:
            failures = LinkFailure(account_id=account.id, failures=0, last_at=now)
            session.add(failures)
        failures.failures += 1
        failures.last_at = now
        if row is not None:
            session.delete(row)
        raise LinkRefused("wrong")
    target = session.get(Citizen, row.citizen_id)
    session.delete(row)  # single use, whatever happens next
    if failures is not None:
        session.delete(failures)
    if target is None:
        raise LinkRefused("wrong")
    if target.id == account.citizen_id:
        raise LinkRefused("same")
    source = session.get(Citizen, account.citizen_id)
    assert source is not None
    _merge_citizens(session, keep=target, drop=source)
    return target


def _merge_citizens(session: Session, *, keep: Citizen, drop: Citizen) -> None:
    for model in (Recommendation, Membership, Follow):
        already = select(model.entry_id).where(model.citizen_id == keep.id)
        session.execute(update(model).where(model.citizen_id == drop.id, model.entry_id.not_in(already))
                        .values(citizen_id=keep.id))
        session.execute(delete(model).where(model.citizen_id == drop.id))
    # a recommendation counted twice (both accounts recommended) now counts once
    for entry_id, in session.execute(select(Entry.id).where(Entry.id.in_(
            select(Recommendation.entry_id).where(Recommendation.citizen_id == keep.id)))):
        count = session.scalar(select(func.count()).select_from(Recommendation).where(
            Recommendation.entry_id == entry_id)) or 0
        session.execute(update(Entry).where(Entry.id == entry_id).values(recommendation_count=count))
    session.execute(update(Entry).where(Entry.created_by_id == drop.id).values(created_by_id=keep.id))
    session.execute(update(Report).where(Report.citizen_id == drop.id).values(citizen_id=keep.id))
    session.execute(update(Account).where(Account.citizen_id == drop.id).values(citizen_id=keep.id))
    if keep.home_insee is None:
        keep.home_insee = drop.home_insee
    keep.banned = keep.banned or drop.banned
    if session.scalars(select(DigestSubscription).where(DigestSubscription.citizen_id == keep.id)).first():
        session.execute(delete(DigestSubscription).where(DigestSubscription.citizen_id == drop.id))
    else:
        session.execute(update(DigestSubscription).where(DigestSubscription.citizen_id == drop.id)
                        .values(citizen_id=keep.id))
    session.execute(delete(Citizen).where(Citizen.id == drop.id))
    session.expunge(drop)
    session.flush()


# --- retention --------------------------------------------------------------------------------------


def expire_personal_logs(session: Session, before: datetime) -> int:
    """Forget what names a person and is only a trace: conversations left open, messages
    counted per day, the audit log, link codes and wrong-code counts older than
    ``before`` (the housekeeping's retention, 30 days by default). Returns rows deleted."""
    deleted = 0
    for statement in (
        delete(DialogState).where(DialogState.updated_at < before),
        delete(Activity).where(Activity.day < before.date()),
        delete(AuditEntry).where(AuditEntry.created_at < before),
        delete(LinkCode).where(LinkCode.expires_at < before),
        delete(LinkFailure).where(LinkFailure.last_at < before),
    ):
        deleted += int(getattr(session.execute(statement), "rowcount", 0) or 0)
    return deleted
