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

from sqlalchemy.orm import Session, sessionmaker

from bot.i18n import translator
from bot.messages import Outgoing, Platform, Target, TargetKind
from bot.outbox import citizen_target, enqueue
from dialogs.digest_view import digest_message
from directory import digests
from directory.models import Citizen, DigestSubscription

log = logging.getLogger("communebot.digests")

#: subscriptions claimed per transaction (a batch's rows stay locked until it commits)
BATCH = 200


@dataclass(frozen=True)
class RunResult:
    """``communebot digest run-due --json``: due, queued, and due but empty."""

    due: int = 0
    queued: int = 0
    empty: int = 0


def _recipient(session: Session, subscription: DigestSubscription) -> tuple[Target, str] | None:
    """Where the digest goes and in which language; None for a banned or vanished citizen."""
    if subscription.citizen_id is not None:
        citizen = session.get(Citizen, subscription.citizen_id)
        if citizen is None or citizen.banned:
            return None
        return citizen_target(citizen.id), citizen.lang or "fr"
    if subscription.chat_platform and subscription.chat_id:
        platform = cast("Platform", subscription.chat_platform)
        return Target(TargetKind.CHAT, platform=platform, ref=subscription.chat_id), "fr"
    return None


def compose(session: Session, subscription: DigestSubscription, content: digests.Content) -> Outgoing | None:
    """The digest message for ``subscription``, or None when it has no recipient."""
    found = _recipient(session, subscription)
    if found is None:
        return None
    target, lang = found
    return digest_message(translator(lang), content, subscription.communes, subscription.frequency, target)


def run_batch(session: Session, now: datetime, limit: int = BATCH) -> RunResult:
    """Claim up to ``limit`` due digests and queue them (call inside a transaction)."""
    queued = empty = 0
    claimed = digests.claim_due(session, now, limit)
    for due in claimed:
        content = digests.content(session, due.subscription, due.start, due.end)
        message = None if content.empty else compose(session, due.subscription, content)
        if message is None or not enqueue(session, message):
            empty += 1
            continue
        digests.record(session, due, content)
        queued += 1
    return RunResult(due=len(claimed), queued=queued, empty=empty)


def run_due(factory: sessionmaker[Session], now: datetime, *, batch: int = BATCH) -> RunResult:
    """Every digest due at ``now``, batch after batch, each batch its own transaction."""
    due = queued = empty = 0
    while True:
        with factory() as session, session.begin():
            result = run_batch(session, now, batch)
        due, queued, empty = due + result.due, queued + result.queued, empty + result.empty
        if result.due < batch:
            break
    if due:
        log.info("digests: %d due, %d queued, %d with nothing new", due, queued, empty)
    return RunResult(due=due, queued=queued, empty=empty)


def preview(session: Session, who: digests.Subscriber, now: datetime) -> Outgoing | None:
    """What ``who`` would get if their digest were due at ``now``, recording nothing."""
    subscription = digests.subscription_of(session, who)
    if subscription is None:
        return None
    content = digests.content(session, subscription, subscription.covered_until, now)
    return None if content.empty else compose(session, subscription, content)
