"""Jobs the bot runs on a clock while it serves (APScheduler): housekeeping, and the minute
tick that sends the digests that are due.

APScheduler is only the tick, one per worker: who is due is a query on the subscriptions'
indexed next-due time, and each period is claimed in the database (``bot/digests.py``),
so a tick missed while the machine slept, or run by two workers at once, neither loses
nor repeats a digest. Its job store and misfire grace play no part in that.

Two tables only grow while the bot runs: the ids of handled platform events (kept so
that a redelivered update or replayed Matrix event changes nothing) and the delivered
outbox messages. Platforms stop redelivering after a day or so, so a week of event ids
is plenty; delivered messages are kept a month for an admin to look at.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.orm import Session, sessionmaker

from bot.digests import run_due
from bot.engine import prune_processed_events
from bot.outbox import prune_sent
from directory.privacy import expire_personal_logs

log = logging.getLogger("communebot.scheduler")

HOUSEKEEPING_EVERY = timedelta(hours=1)
DIGEST_TICK = timedelta(minutes=1)


@dataclass(frozen=True)
class Retention:
    processed_events: timedelta = timedelta(days=7)
    sent_messages: timedelta = timedelta(days=30)
    #: conversations, messages per day, audit log, link codes (config ``privacy.retention_days``)
    personal_logs: timedelta = timedelta(days=30)


@dataclass(frozen=True)
class Swept:
    processed_events: int
    sent_messages: int
    personal_logs: int = 0


def sweep(factory: sessionmaker[Session], now: datetime, retention: Retention = Retention()) -> Swept:
    """Forget event ids and delivered messages older than ``retention``, in one transaction."""
    with factory() as session, session.begin():
        swept = Swept(
            processed_events=prune_processed_events(
                session, now - min(retention.processed_events, retention.personal_logs)),
            sent_messages=prune_sent(session, now - min(retention.sent_messages, retention.personal_logs)),
            personal_logs=expire_personal_logs(session, now - retention.personal_logs),
        )
    if swept.processed_events or swept.sent_messages or swept.personal_logs:
        log.info(
            "housekeeping: forgot %d handled event ids, %d delivered messages and %d personal log rows",
            swept.processed_events, swept.sent_messages, swept.personal_logs,
        )
    return swept


def _housekeeping(factory: sessionmaker[Session], retention: Retention) -> None:
    try:
        sweep(factory, datetime.now(UTC), retention)
    except Exception:  # the next run tries again; serving goes on either way
        log.exception("housekeeping failed")


def _digest_tick(factory: sessionmaker[Session]) -> None:
    try:
        run_due(factory, datetime.now(UTC))
    except Exception:  # the next tick claims what this one could not
        log.exception("sending the due digests failed")


def start_scheduler(
    factory: sessionmaker[Session],
    *,
    every: timedelta = HOUSEKEEPING_EVERY,
    retention: Retention = Retention(),
    digests: bool = True,
) -> AsyncIOScheduler:
    """A started scheduler (call from the running event loop): housekeeping at once, then
    every ``every``; the digest tick at once, then every minute (unless ``digests`` is
    False). Jobs run in worker threads (database work stays off the loop, and
    :func:`stop_scheduler` can wait for them); runs missed while the machine slept are
    merged into one."""
    scheduler = AsyncIOScheduler(
        timezone=UTC, executors={"default": ThreadPoolExecutor(max_workers=2)}
    )
    scheduler.add_job(
        _housekeeping,
        "interval",
        seconds=every.total_seconds(),
        args=(factory, retention),
        id="housekeeping",
        next_run_time=datetime.now(UTC),
        coalesce=True,
        max_instances=1,
        misfire_grace_time=int(every.total_seconds()),
    )
    if digests:
        scheduler.add_job(
            _digest_tick,
            "interval",
            seconds=DIGEST_TICK.total_seconds(),
            args=(factory,),
            id="digests",
            next_run_time=datetime.now(UTC),
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,  # a late tick still runs: the database says who is due
        )
    scheduler.start()
    return scheduler


async def stop_scheduler(scheduler: AsyncIOScheduler) -> None:
    """Stop ``scheduler`` and wait for a job in progress, before the event loop closes
    (AsyncIOScheduler shuts down from the loop, on its next turn)."""
    if scheduler.running:
        scheduler.shutdown(wait=True)
        await asyncio.sleep(0)
