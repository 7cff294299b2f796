"""What monitoring costs (issue 15): recording per message, and one scrape / health check
against the database, each beside a baseline measured in the same run.

    python benchmarks/bench_metrics.py                   # 200k delivered + 2k pending outbox rows
    python benchmarks/bench_metrics.py --quick           # tiny sizes
    python benchmarks/bench_metrics.py --db postgresql+psycopg://postgres@127.0.0.1:5432/bench

* recording: ``metrics.message_handled`` (a labelled counter and a histogram observation,
  what the engine adds to each message) against a plain function call with the same
  arguments, in microseconds per message;
* scraping: ``/metrics``' work (``generate_latest``, whose backlog gauge counts the
  pending outbox rows) and ``/healthz``' database probe (``SELECT 1`` and the same
  count), against a bare ``SELECT 1`` on the same store; the outbox holds ``--sent``
  delivered rows, which a scrape must not read, and ``--pending`` waiting ones.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from prometheus_client import generate_latest  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from bot import metrics  # noqa: E402
from bot.health import probe  # noqa: E402
from directory.db import open_store  # noqa: E402
from directory.models import OutboxMessage  # noqa: E402

PLATFORMS = ("telegram", "matrix", "console")


def per_call_us(fn: Callable[[], object], calls: int) -> float:
    """Best of five runs, microseconds per call."""
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        runs.append((time.perf_counter() - started) / calls * 1e6)
    return min(runs)


def median_ms(fn: Callable[[], object], times: int) -> float:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1e3)
    return statistics.median(samples)


def fill(factory: sessionmaker[Session], sent: int, pending: int) -> None:
    now = datetime.now(UTC)
    rows = [{"platform": PLATFORMS[i % 3], "chat_id": str(i), "payload": {}, "created_at": now,
             "sent_at": now if i < sent else None, "attempts": 1 if i < sent else 0}
            for i in range(sent + pending)]
    with factory() as session, session.begin():
        for start in range(0, len(rows), 20_000):
            session.execute(insert(OutboxMessage), rows[start:start + 20_000])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="a database URL (default: a temporary SQLite file)")
    parser.add_argument("--sent", type=int, default=200_000)
    parser.add_argument("--pending", type=int, default=2_000)
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.sent, args.pending, args.calls = 2_000, 100, 5_000

    def baseline(platform: str, intent: str, seconds: float) -> None:
        return None

    record = per_call_us(lambda: metrics.message_handled("telegram", "search", 0.012), args.calls)
    bare = per_call_us(lambda: baseline("telegram", "search", 0.012), args.calls)
    print(f"recording per message: {record:.2f} us (a plain call: {bare:.2f} us, ratio "
          f"{record / bare:.1f}x; the engine spends milliseconds per message)")

    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine, factory = open_store(url)
        try:
            with factory() as session, session.begin():
                session.execute(text("DELETE FROM outbox"))
            fill(factory, args.sent, args.pending)
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE outbox" if engine.dialect.name == "postgresql"
                                  else "ANALYZE"))  # what autovacuum would have done

            def select_one() -> None:
                with factory() as session:
                    session.execute(text("SELECT 1"))

            def group_by() -> None:  # the backlog's first query, for comparison
                with factory() as session:
                    session.execute(text(
                        "SELECT platform, count(*) FROM outbox WHERE sent_at IS NULL"
                        " AND attempts < 5 GROUP BY platform")).all()

            metrics.watch_outbox(factory)
            try:
                backlog = metrics.outbox_backlog(factory)
                assert sum(backlog.values()) == args.pending, backlog
                base = median_ms(select_one, 50)
                grouped = median_ms(group_by, 50)
                scrape = median_ms(lambda: generate_latest(metrics.REGISTRY), 50)
                health = median_ms(lambda: probe(factory), 50)
            finally:
                metrics.unwatch_outbox()
            print(f"{engine.dialect.name}, outbox {args.sent:,} delivered + {args.pending:,} pending:")
            print(f"  SELECT 1 (baseline)      {base:7.2f} ms")
            print(f"  one GROUP BY platform    {grouped:7.2f} ms  ratio {grouped / base:.1f}x"
                  " (the backlog's first query)")
            print(f"  /metrics (with backlog)  {scrape:7.2f} ms  ratio {scrape / base:.1f}x")
            print(f"  /healthz database probe  {health:7.2f} ms  ratio {health / base:.1f}x")
        finally:
            engine.dispose()


if __name__ == "__main__":
    main()
