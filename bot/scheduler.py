"""Jobs the bot runs on a clock while it serves (APScheduler): for now, housekeeping.

Two tables only grow while the bot runs: the ids of handled platform events (kept so
that a redelivered update or replayed Matrix event changes nothing) and the delivered
outbox messages. Platforms stop redelivering after a day or so, so a week of event ids
is plenty; delivered messages are kept a month for an admin to look at. The commune
digests will be jobs of this same scheduler.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.orm import Session, sessionmaker

from bot.engine import prune_processed_events
from bot.outbox import prune_sent

log = logging.getLogger("communebot.scheduler")

HOUSEKEEPING_EVERY = timedelta(hours=1)


@dataclass(frozen=True)
class Retention:
    processed_events: timedelta = timedelta(days=7)
    sent_messages: timedelta = timedelta(days=30)


@dataclass(frozen=True)
class Swept:
    processed_events: int
    sent_messages: int


def sweep(factory: sessionmaker[Session], now: datetime, retention: Retention = Retention()) -> Swept:
    """Forget event ids and delivered messages older than ``retention``, in one transaction."""
    with factory() as session, session.begin():
        swept = Swept(
            processed_events=prune_processed_events(session, now - retention.processed_events),
            sent_messages=prune_sent(session, now - retention.sent_messages),
        )
    if swept.processed_events or swept.sent_messages:
        log.info(
            "housekeeping: forgot %d handled event ids and %d delivered messages",
            swept.processed_events, swept.sent_messages,
        )
    return swept


def _housekeeping(factory: sessionmaker[Session], retention: Retention) -> None:
    try:
        sweep(factory, datetime.now(UTC), retention)
    except Exception:  # the next run tries again; serving goes on either way
        log.exception("housekeeping failed")


def start_scheduler(
    factory: sessionmaker[Session],
    *,
    every: timedelta = HOUSEKEEPING_EVERY,
    retention: Retention = Retention(),
) -> AsyncIOScheduler:
    """A started scheduler (call from the running event loop) whose housekeeping runs at
    once, then every ``every``, in its own worker thread (database work stays off the
    loop, and :func:`stop_scheduler` can wait for it). Runs missed while the machine
    slept are merged into one."""
    scheduler = AsyncIOScheduler(
        timezone=UTC, executors={"default": ThreadPoolExecutor(max_workers=1)}
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
    scheduler.start()
    return scheduler


async def stop_scheduler(scheduler: AsyncIOScheduler) -> None:
    """Stop ``scheduler`` and wait for a job in progress, before the event loop closes
    (AsyncIOScheduler shuts down from the loop, on its next turn)."""
    if scheduler.running:
        scheduler.shutdown(wait=True)
        await asyncio.sleep(0)
