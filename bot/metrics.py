"""Prometheus metrics (``prometheus-client``): what the bot did, for an operator's graphs.

One registry of our own rather than the library's global one, so a test or a second
engine in one process reads only communebot's figures, and ``/metrics`` shows nothing
a library registered by itself. Recording is a counter increment in the code that
already knows the fact (the engine, the senders, the digest tick); the outbox backlog is
read from the database at scrape time (:class:`OutboxBacklog`), so it is never stale.

Labels are bounded sets: platforms, the intents and dialogs the engine knows, error
kinds named here; nothing a user typed becomes a label.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Literal, get_args

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)

MESSAGES = Counter(
    "communebot_messages_handled", "Messages the engine answered, by platform and intent.",
    ["platform", "intent"], registry=REGISTRY)
#: chat answers: most take a few milliseconds, a slow database or geocoder seconds
REPLY_SECONDS = Histogram(
    "communebot_reply_seconds", "Time from a message reaching the engine to its answer.",
    ["platform"], registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
OUTBOX_FAILURES = Counter(
    "communebot_outbox_failures", "Outbox messages (digests, announcements) whose sending failed.",
    ["platform"], registry=REGISTRY)
DIGESTS_SENT = Counter(
    "communebot_digests_queued", "Digests composed and queued for delivery.", registry=REGISTRY)
ERRORS = Counter(
    "communebot_errors", "Errors by kind.", ["kind"], registry=REGISTRY)

ErrorKind = Literal["engine", "delivery", "platform_api", "database"]
#: every kind shows from the start (at 0), so a graph or an alert has a series to read
for _kind in ("engine", "delivery", "platform_api", "database"):
    ERRORS.labels(kind=_kind)


def message_handled(platform: str, intent: str, seconds: float) -> None:
    MESSAGES.labels(platform=platform, intent=intent).inc()
    REPLY_SECONDS.labels(platform=platform).observe(seconds)


def error(kind: ErrorKind) -> None:
    ERRORS.labels(kind=kind).inc()


def kind_of(exc: BaseException) -> ErrorKind:
    """A failed turn's kind: the database's when it was unreachable or refused the
    work (a connection lost, a lock timeout), else the engine's (a bug)."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    return "database" if isinstance(exc, OperationalError | InterfaceError) else "engine"


def outbox_failed(platform: str) -> None:
    OUTBOX_FAILURES.labels(platform=platform).inc()


def digests_queued(count: int) -> None:
    if count > 0:
        DIGESTS_SENT.inc(count)


def outbox_backlog(sessions: sessionmaker[Session]) -> dict[str, int]:
    """Undelivered outbox messages per platform, those still to be tried (zeros left out).

    One count per platform, each a range of the ``(platform, sent_at)`` index: a single
    ``GROUP BY platform`` made SQLite walk the whole index, delivered rows included
    (42 ms instead of under 1 ms with 200k delivered rows; benchmarks/bench_metrics.py)."""
    from bot.messages import Platform
    from bot.outbox import MAX_ATTEMPTS
    from directory.models import OutboxMessage

    platforms = get_args(Platform)
    counts = select(*(
        select(func.count()).where(OutboxMessage.platform == platform,
                                   OutboxMessage.sent_at.is_(None),
                                   OutboxMessage.attempts < MAX_ATTEMPTS)
        .scalar_subquery().label(platform)
        for platform in platforms))
    with sessions() as session:
        row = session.execute(counts).one()
    return {platform: int(count) for platform, count in zip(platforms, row, strict=True) if count}


class OutboxBacklog(Collector):
    """``communebot_outbox_backlog``, counted when Prometheus scrapes."""

    def __init__(self, backlog: Callable[[], dict[str, int]]) -> None:
        self.backlog = backlog

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("communebot_outbox_backlog",
                                   "Outbox messages waiting to be delivered, by platform.",
                                   labels=["platform"])
        try:
            counts = self.backlog()
        except Exception as exc:  # the database is down: /healthz says so, /metrics still answers
            log.warning("outbox backlog unavailable: %s", exc)
            error("database")
            counts = {}
        for platform in sorted({"telegram", "matrix", "console", *counts}):
            family.add_metric([platform], counts.get(platform, 0))
        yield family

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily("communebot_outbox_backlog", "", labels=["platform"])


def watch_outbox(sessions: sessionmaker[Session]) -> OutboxBacklog:
    """Register the backlog gauge for this store (once per process: a second call replaces
    the first, as a restarted engine in one process would need)."""
    global _backlog
    if _backlog is not None:
        REGISTRY.unregister(_backlog)
    _backlog = OutboxBacklog(lambda: outbox_backlog(sessions))
    REGISTRY.register(_backlog)
    return _backlog


def unwatch_outbox() -> None:
    """Stop counting the backlog (the monitoring server stopped, its store may be gone:
    a later scrape must not count a database error for it)."""
    global _backlog
    if _backlog is not None:
        REGISTRY.unregister(_backlog)
        _backlog = None


_backlog: OutboxBacklog | None = None
