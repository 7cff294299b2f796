"""Import speed on any database: a synthetic CSV imported, then imported again (updates).

    .venv/bin/python benchmarks/bench_import.py                       # SQLite, 100k rows
    .venv/bin/python benchmarks/bench_import.py --db postgresql://postgres@127.0.0.1:5432/bench
    .venv/bin/python benchmarks/bench_import.py --rows 20000 --bulk  # SQLite bulk load
    .venv/bin/python benchmarks/bench_import.py --db postgresql://… --rows 1000000 --paths copy --bulk
    .venv/bin/python benchmarks/bench_import.py --db postgresql://… --searches 200
    .venv/bin/python benchmarks/bench_import.py --db postgresql://… --rows 1000000 --paths copy

On PostgreSQL both writer paths run by default in the same run, on the same database
emptied in between: ``executemany`` (the older one) then ``copy`` (``COPY … FROM STDIN``;
see ``directory/import_batches.py``). On SQLite there is one path (``--paths`` is ignored).

The rows are those of ``bench_directory.py`` (same generator, same seed). The database
must be empty (a fresh SQLite file is made when ``--db`` is not given). The baseline is
the obvious import on the same database, one ORM object added and flushed per row, on
the first 2,000 rows; ratios are ours / baseline. ``--bulk`` is ``communebot import
--bulk``, on SQLite and PostgreSQL alike (indexes rebuilt at the end; on PostgreSQL the
index rows' foreign key too; see ``directory/import_bulk.py``), for the import and the
re-import.
``--searches N`` then times the two searches of ``bench_directory.py`` on the imported
rows, which is how PostgreSQL's search latency is measured.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "benchmarks"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from bench_directory import (  # noqa: E402
    CommunePicker,
    Stats,
    naive_import,
    search_queries,
    time_searches,
    write_synthetic_csv,
)

from directory.db import open_store  # noqa: E402
from directory.importer import import_file  # noqa: E402

NAIVE_ROWS = 2_000


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", help="an empty database's URL (default: a fresh SQLite file)")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--bulk", action="store_true", help="bulk load (communebot import --bulk)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--searches", type=int, default=0,
                        help="then time this many searches of each kind on the imported rows")
    parser.add_argument("--paths", default="executemany,copy",
                        help="PostgreSQL writer paths to time, in order (executemany, copy)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="communebot-bench-import-") as folder:
        work = Path(folder)
        url = args.db or f"sqlite:///{work / 'bench.db'}"
        csv_path = work / "synthetic.csv"
        write_synthetic_csv(csv_path, args.rows, args.seed, CommunePicker())
        engine, factory = open_store(url)
        try:
            rates: dict[str, float] = {}
            paths = [p.strip() for p in args.paths.split(",")] if url.startswith("postgres") else ["sqlite"]
            for n, path in enumerate(paths):
                if n:
                    _empty(engine)
                for label in ("import", "re-import"):
                    start = time.perf_counter()
                    report = import_file(factory, csv_path, batch_size=5000, bulk=args.bulk,
                                         copy=path != "executemany")
                    seconds = time.perf_counter() - start
                    rates[label if path == "sqlite" else f"{label} ({path})"] = args.rows / seconds
                    assert report.skipped == 0, report.errors[:3]
                    print(f"  {path} {label}: {seconds:.1f} s", flush=True)
            searches = _searches(factory, args.searches, args.rows, args.seed) if args.searches else []
        finally:
            engine.dispose()
        # the baseline on the same database (its entries have no source: no conflict)
        naive = naive_import(csv_path, url, min(args.rows, NAIVE_ROWS))
    backend = url.split(":", 1)[0]
    print(f"{args.rows:,} rows on {backend}{' (bulk)' if args.bulk else ''}:")
    for label, rate in rates.items():
        print(f"  {label:<22} {rate:>9,.0f} rows/s   {rate / naive:5.1f}x the naive import")
    if "import (copy)" in rates and "import (executemany)" in rates:
        for label in ("import", "re-import"):
            print(f"  copy / executemany, {label}: "
                  f"{rates[f'{label} (copy)'] / rates[f'{label} (executemany)']:.1f}x")
    print(f"  {'naive':<22} {naive:>9,.0f} rows/s   (one ORM object per row, "
          f"{min(args.rows, NAIVE_ROWS):,} rows)")
    for stats in searches:
        print(f"  {stats.name:<24} p50 {stats.p50:6.2f} ms   p95 {stats.p95:6.2f} ms")
    return {
        "rows": args.rows, "backend": backend, "naive": naive, **rates,
        "searches": {s.name: (s.p50, s.p95) for s in searches},
    }


def _empty(engine: Any) -> None:
    """PostgreSQL: the imported rows gone and the ids back at 1, for the next path."""
    with engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE entries, entry_terms, search_vocab RESTART IDENTITY CASCADE")


def _searches(factory: Any, count: int, rows: int, seed: int) -> list[Stats]:
    """The two searches of ``bench_directory.py``, on whatever database was imported into."""
    with factory() as session:
        cat_queries, text_queries = search_queries(session, CommunePicker(), count, rows, seed)
        return list(time_searches(session, cat_queries, text_queries))


if __name__ == "__main__":
    main()
