"""Sending the digests that are due: claim, compose, queue, in one transaction per batch.

``run_due`` is what the scheduler's minute tick and ``communebot digest run-due`` call.
Each batch claims due subscriptions (``directory.digests.claim_due``: rows other workers
hold are skipped), composes each digest in the subscriber's language, queues it in the
outbox and records what it listed, then commits: a crash before the commit leaves the
periods unclaimed (the next tick does them), a crash after it leaves them queued (the
adapters deliver them, paced, retried on failure). Nothing new: nothing is queued, and the
period still counts as sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session, sessionmaker

from bot import metrics
from bot.i18n import translator
from bot.messages import Outgoing, Platform, Target, TargetKind
from bot.outbox import citizen_target, outgoing_to_json, user_chat_id
from dialogs.digest_view import digest_message
from directory import digests
from directory.models import Account, Citizen, DigestSubscription, OutboxMessage

log = logging.getLogger("communebot.digests")

#: subscriptions claimed per transaction (a batch's rows stay locked until it commits)
BATCH = 200


@dataclass(frozen=True)
class RunResult:
    """``communebot digest run-due --json``: due, queued, and due but empty."""

    due: int = 0
    queued: int = 0
    empty: int = 0


def _recipients(session: Session, dues: list[digests.Due]) -> dict[int, tuple[list[tuple[str, str]], str]]:
    """Each subscription's (platform, chat id) pairs and language, in two queries: a
    citizen's every account (none for a banned or vanished one), a room's own chat."""
    citizen_ids = [d.subscription.citizen_id for d in dues if d.subscription.citizen_id is not None]
    langs: dict[int, str] = {}
    chats: dict[int, list[tuple[str, str]]] = {}
    if citizen_ids:
        for cid, lang in session.execute(
            select(Citizen.id, Citizen.lang).where(Citizen.id.in_(citizen_ids), Citizen.banned.is_(False))
        ):
            langs[cid] = lang or "fr"
        for cid, platform, user in session.execute(
            select(Account.citizen_id, Account.platform, Account.platform_user_id)
            .where(Account.citizen_id.in_(list(langs))).order_by(Account.id)
        ):
            chats.setdefault(cid, []).append((platform, user_chat_id(user)))
    found: dict[int, tuple[list[tuple[str, str]], str]] = {}
    for due in dues:
        row = due.subscription
        if row.citizen_id is not None and row.citizen_id in langs:
            found[row.id] = (chats.get(row.citizen_id, []), langs[row.citizen_id])
        elif row.chat_platform and row.chat_id:
            found[row.id] = ([(row.chat_platform, row.chat_id)], "fr")
    return found


def _target(subscription: DigestSubscription) -> Target:
    if subscription.citizen_id is not None:
        return citizen_target(subscription.citizen_id)
    platform = cast("Platform", subscription.chat_platform)
    return Target(TargetKind.CHAT, platform=platform, ref=subscription.chat_id)


def compose(subscription: DigestSubscription, content: digests.Content, lang: str) -> Outgoing:
    """The digest message for ``subscription`` in ``lang``."""
    return digest_message(translator(lang), content, subscription.communes, subscription.frequency,
                          _target(subscription))


def run_batch(session: Session, now: datetime, limit: int = BATCH,
              candidates: digests.Candidates | None = None) -> RunResult:
    """Claim up to ``limit`` due digests and queue them (call inside a transaction): a few
    statements per batch, not per subscriber; ``candidates`` carries what the run's
    earlier batches read of the same communes and periods."""
    claimed = digests.claim_due(session, now, limit)
    found = digests.contents(session, claimed, candidates)
    recipients = _recipients(session, claimed)
    rows: list[dict[str, object]] = []
    sent: dict[int, digests.Content] = {}
    for due in claimed:
        content = found[due.subscription.id]
        chats, lang = recipients.get(due.subscription.id, ([], "fr"))
        if content.empty or not chats:
            continue
        payload = outgoing_to_json(compose(due.subscription, content, lang))
        rows += [{"platform": platform, "chat_id": chat_id, "payload": payload}
                 for platform, chat_id in chats]
        sent[due.subscription.id] = content
    if rows:  # Core executemany: one cached statement, no ORM objects
        session.connection().execute(insert(cast("Table", OutboxMessage.__table__)), rows)
    digests.record(session, sent, claimed)
    return RunResult(due=len(claimed), queued=len(sent), empty=len(claimed) - len(sent))


def run_due(factory: sessionmaker[Session], now: datetime, *, batch: int = BATCH) -> RunResult:
    """Every digest due at ``now``, batch after batch, each batch its own transaction."""
    due = queued = empty = 0
    candidates = digests.Candidates()
    while True:
        with factory() as session, session.begin():
            result = run_batch(session, now, batch, candidates)
        due, queued, empty = due + result.due, queued + result.queued, empty + result.empty
        if result.due < batch:
            break
    if due:
        log.info("digests: %d due, %d queued, %d with nothing new", due, queued, empty)
        metrics.digests_queued(queued)
    return RunResult(due=due, queued=queued, empty=empty)


def preview(session: Session, who: digests.Subscriber, now: datetime) -> Outgoing | None:
    """What ``who`` would get if their digest were due at ``now``, recording nothing."""
    subscription = digests.subscription_of(session, who)
    if subscription is None:
        return None
    content = digests.content(session, subscription, subscription.covered_until, now)
    due = digests.Due(subscription, now, subscription.covered_until)
    chats, lang = _recipients(session, [due]).get(subscription.id, ([], "fr"))
    return None if content.empty or not chats else compose(subscription, content, lang)
