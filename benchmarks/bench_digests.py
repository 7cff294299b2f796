"""Digests computed per second, and memory, beside a naive baseline measured in the same run.

    python benchmarks/bench_digests.py                  # 100k subscribers, 1,000 communes, 1M entries
    python benchmarks/bench_digests.py --quick          # tiny sizes (what the test suite runs)
    python benchmarks/bench_digests.py --db /tmp/d.db   # build once, then reuse the file

Builds a SQLite store (bulk inserts, not the importer: the import has its own benchmark)
with ``--entries`` entries created over the last eight weeks in ``--communes`` communes of
the gazetteer, and ``--subscribers`` citizens each subscribed weekly to one or two of
them, all due on the same Monday. Then, on one core, CPU time:

* ``run_due``: what the scheduler's tick does (claim, compose, queue, record), in batches;
* naive: one query per subscriber for what is new in its communes, composed the same way,
  on a sample of ``--naive`` subscribers (rate extrapolated), without claiming.

Memory: the peak RSS after the first tenth of the subscribers and after all of them (the
batches keep it flat in the number of subscribers). Target: 2,000 digests/s on one core.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select, text, update  # noqa: E402

from bot.digests import compose, run_due  # noqa: E402
from directory.db import open_store  # noqa: E402
from directory.digests import Content, next_due  # noqa: E402
from directory.gazetteer import get_gazetteer  # noqa: E402
from directory.models import Account, Citizen, DigestSubscription, Entry  # noqa: E402

MONDAY = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)  # 08:00 in Paris
CATEGORIES = ("boulangerie", "garage", "association", "concert", "pharmacie", "jardin-partage")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(url: str, entries: int, subscribers: int, communes: int, seed: int) -> list[str]:
    """The store, filled in bulk; the communes used."""
    rng = random.Random(seed)
    gazetteer = get_gazetteer()
    codes = sorted(c.insee for c in gazetteer if c.is_current and c.insee[:2] not in ("97", "98"))[:communes]
    _engine, factory = open_store(url)
    start = MONDAY - timedelta(weeks=8)
    span = (MONDAY - start).total_seconds()
    with factory() as session, session.begin():
        rows: list[dict[str, Any]] = []
        for n in range(entries):
            created = start + timedelta(seconds=rng.random() * span)
            rows.append({"kind": "organization", "name": f"Entrée {n}", "name_folded": f"entree {n}",
                         "category": rng.choice(CATEGORIES), "tags": [], "description": "",
                         "commune_insee": rng.choice(codes), "status": "active", "needs": [],
                         "recommendation_count": 0, "created_at": created, "updated_at": created})
            if len(rows) == 20_000:
                session.execute(insert(Entry), rows)
                rows = []
        if rows:
            session.execute(insert(Entry), rows)
        session.execute(insert(Citizen), [{"display_name": f"c{n}", "lang": rng.choice(("fr", "en")),
                                            "home_insee": codes[n % len(codes)], "banned": False,
                                            "created_at": start} for n in range(subscribers)])
        ids = list(session.scalars(select(Citizen.id).order_by(Citizen.id)))
        session.execute(insert(Account), [{"citizen_id": cid, "platform": "console",
                                           "platform_user_id": f"u{cid}", "display_name": "",
                                           "created_at": start} for cid in ids])
        due = next_due("weekly", 8, 0, "Europe/Paris", MONDAY - timedelta(days=1))
        session.execute(insert(DigestSubscription), [
            {"citizen_id": cid, "frequency": "weekly", "hour": 8, "weekday": 0, "timezone": "Europe/Paris",
             "communes": rng.sample(codes, rng.choice((1, 1, 2))), "categories": [],
             "next_due_at": due, "covered_until": MONDAY - timedelta(weeks=1), "created_at": start}
            for cid in ids])
    return codes


def naive(factory: Any, sample: int) -> float:
    """Digests per second with one query per subscriber (what is new in its communes)."""
    with factory() as session:
        rows = list(session.scalars(select(DigestSubscription).order_by(DigestSubscription.id).limit(sample)))
        began = time.process_time()
        for row in rows:
            found = list(session.scalars(
                select(Entry).where(Entry.commune_insee.in_(row.communes),
                                    Entry.created_at > row.covered_until, Entry.created_at <= MONDAY)
                .order_by(Entry.created_at.desc()).limit(5)))
            if found:
                compose(row, Content(new=found), "fr")
        spent = time.process_time() - began
    return len(rows) / spent if spent else float("inf")


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--communes", type=int, default=1_000)
    parser.add_argument("--naive", type=int, default=2_000, help="subscribers the baseline runs on")
    parser.add_argument("--seed", type=int, default=974)
    parser.add_argument("--db", type=Path, help="SQLite file to build once and reuse")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the test suite")
    parser.add_argument("--json", type=Path, help="also write the results as JSON (run_all.py)")
    args = parser.parse_args(argv)
    if args.quick:
        args.entries, args.subscribers, args.communes, args.naive = 5_000, 600, 50, 100
    path = args.db or Path(tempfile.mkdtemp()) / "digests.db"
    url = f"sqlite:///{path}"
    fresh = not path.exists()
    if fresh:
        began = time.perf_counter()
        build(url, args.entries, args.subscribers, args.communes, args.seed)
        print(f"built {args.entries:,} entries, {args.subscribers:,} subscribers in "
              f"{time.perf_counter() - began:.1f} s ({path})")
    _engine, factory = open_store(url)
    with factory() as session, session.begin():  # a reused file: everyone due again
        session.execute(update(DigestSubscription).values(
            next_due_at=MONDAY - timedelta(minutes=1), covered_until=MONDAY - timedelta(weeks=1)))
        for table in ("outbox", "digest_items", "digest_runs"):
            session.execute(text(f"DELETE FROM {table}"))
    baseline = naive(factory, args.naive)
    # the first tenth, then the rest: the peak memory should not grow with subscribers
    tenth = max(1, args.subscribers // 10)
    with factory() as session, session.begin():
        ids = list(session.scalars(select(DigestSubscription.id).order_by(DigestSubscription.id)))
        session.execute(update(DigestSubscription).where(DigestSubscription.id.in_(ids[tenth:]))
                        .values(next_due_at=MONDAY + timedelta(hours=1)))
    began = time.process_time()
    first = run_due(factory, MONDAY)
    memory_tenth = rss_mb()
    rest = run_due(factory, MONDAY + timedelta(hours=1))
    spent = time.process_time() - began
    memory_all = rss_mb()
    done = first.due + rest.due
    rate = done / spent if spent else float("inf")
    print(f"run_due   {done:,} digests ({first.queued + rest.queued:,} queued) in {spent:.1f} s CPU: "
          f"{rate:,.0f} digests/s | naive baseline {baseline:,.0f} digests/s | x{rate / baseline:.1f}")
    print(f"peak RSS  after {first.due:,} subscribers {memory_tenth:.0f} MB, after {done:,} "
          f"{memory_all:.0f} MB (+{memory_all - memory_tenth:.0f} MB)")
    result = {"rate": rate, "baseline": baseline, "memory_tenth": memory_tenth,
              "memory_all": memory_all}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
