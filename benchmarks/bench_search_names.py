"""Name-only search (no place: all of France) at 10k / 100k / 1M entries, SQLite or
PostgreSQL, beside a naive baseline measured in the same run.

    .venv/bin/python benchmarks/bench_search_names.py                          # SQLite
    .venv/bin/python benchmarks/bench_search_names.py --sizes 10000 --queries 50
    .venv/bin/python benchmarks/bench_search_names.py --db postgresql://postgres@127.0.0.1:5432/postgres

Data: ``bench_directory.write_synthetic_csv`` (name words with Zipf-like frequencies,
each shared by ~200 names on average, a category word in every name, 2 % reordered
namesakes), imported by the real importer. ``--pair-cap 2`` (the default): at most two
names share any two name words (``bench_directory.PairCap``), as in a real directory;
independent draws put the same two common words in hundreds of names, so their
"distinctive words" were not distinctive (``--pair-cap 0`` rebuilds that data). On
PostgreSQL, ``--db`` is a server URL: a database ``communebot_names_<size>_s<seed>p<cap>``
is created (dropped first) for each size, and vacuumed. ``--reuse`` keeps a database built
by an earlier run (``--workdir`` for the SQLite files): building 1M takes minutes.

Queries, drawn from random entries: the *full* name, its *distinctive* words (the name
without its category word), and the full name with *one typo* per word (of 5+ letters).
For each kind: p50/p95 latency, top-1 exact (the first hit's name is the wanted name,
for the untouched kinds), top-5 (an entry with the wanted name among the first five; a
same-name namesake counts, it is indistinguishable), and top-5 without the *ambiguous*
queries (all their words in more than 5 names: no ranking can promise the wanted one among
five ties), with their share. The baseline reads every name and
scores it with ``rapidfuzz.fuzz.token_sort_ratio`` (``--baseline-queries`` of each kind).
Targets: p95 < 25 ms at 1M on both backends; top-5 >= 98 % for full names and
distinctive words, >= 90 % with one typo per word.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import create_engine, select, text

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "benchmarks"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from bench_directory import CommunePicker, Stats, typo, write_synthetic_csv  # noqa: E402

from directory.db import open_store  # noqa: E402
from directory.importer import import_file  # noqa: E402
from directory.models import Entry  # noqa: E402
from directory.search import SearchQuery, search  # noqa: E402
from directory.search_index import folded_terms, name_terms  # noqa: E402
from directory.text import fold  # noqa: E402

KINDS = ("full name", "distinctive words", "one typo per word")


#: a query whose words are all in more names than this cannot promise the wanted one in
#: the first five (they tie on text): counted apart as *ambiguous*
AMBIGUOUS = 5


@dataclass
class Quality:
    """Latency and accuracy of one query kind; ``top5_clear``: top-5 over the queries that
    are not ambiguous, ``ambiguous``: their share; ``slowest``: (ms, query)."""

    kind: str
    stats: Stats
    top1: float
    top5: float
    top5_clear: float = float("nan")
    ambiguous: float = 0.0
    slowest: list[tuple[float, str]] = field(default_factory=list)


def make_queries(names: list[str], count: int, seed: int) -> dict[str, list[tuple[str, str]]]:
    """(query text, wanted name) of each kind, from ``count`` random names."""
    rng = random.Random(seed + 7)
    picked = [rng.choice(names) for _ in range(count)]
    return {
        "full name": [(n, n) for n in picked],
        "distinctive words": [(" ".join(n.split()[1:]), n) for n in picked],
        "one typo per word": [(" ".join(typo(w, rng) for w in n.split()), n) for n in picked],
    }


def holders(folded: list[str], queries: list[tuple[str, str]]) -> dict[str, int]:
    """For each query text, how many names hold all its words (one pass over the names,
    keeping only the queries' words)."""
    wanted = {q: frozenset(name_terms(q)) for q, _ in queries}
    words = set().union(*wanted.values()) if wanted else set()
    postings: dict[str, set[int]] = {w: set() for w in words}
    for i, name in enumerate(folded):
        for w in folded_terms(name):
            if w in postings:
                postings[w].add(i)
    counts: dict[str, int] = {}
    for query, terms in wanted.items():
        sets = sorted((postings[w] for w in terms), key=len)
        counts[query] = len(set.intersection(*sets)) if sets else 0
    return counts


def measure(kind: str, queries: list[tuple[str, str]],
            run: Callable[[str], list[str]], held: dict[str, int] | None = None) -> Quality:
    """Time each query and score its answer (``held``: see :func:`holders`)."""
    samples: list[float] = []
    first = top5 = clear = clear_top5 = 0
    slow: list[tuple[float, str]] = []
    for query, wanted in queries:
        start = time.perf_counter()
        found = run(query)
        took = (time.perf_counter() - start) * 1000.0
        samples.append(took)
        slow.append((took, query))
        first += bool(found) and found[0] == wanted
        top5 += wanted in found[:5]
        if held is None or held.get(query, 0) <= AMBIGUOUS:
            clear += 1
            clear_top5 += wanted in found[:5]
    n = max(1, len(queries))
    return Quality(kind, Stats(kind, samples), first / n, top5 / n,
                   clear_top5 / clear if clear else float("nan"), 1 - clear / n,
                   sorted(slow, reverse=True)[:5])


def naive(names: list[str], folded: list[str]) -> Callable[[str], list[str]]:
    """Every name scored with rapidfuzz, best five."""
    def run(query: str) -> list[str]:
        found = process.extract(fold(query), folded, scorer=fuzz.token_sort_ratio, limit=5)
        return [names[i] for _, _, i in found]
    return run


def ours(session: Any) -> Callable[[str], list[str]]:
    def run(query: str) -> list[str]:
        return [h.name for h in search(session, SearchQuery(text=query, limit=5)).hits]
    return run


def db_url(server: str | None, size: int, work: Path, tag: str, reuse: bool) -> tuple[str, bool]:
    """The database of one size and data (``tag``), and whether it must be built: an
    existing one is kept with ``reuse`` (building 1M entries takes minutes)."""
    if server is None:
        path = work / f"names_{size}_{tag}.db"
        if reuse and path.exists():
            return f"sqlite:///{path}", False
        path.unlink(missing_ok=True)
        return f"sqlite:///{path}", True
    name = f"communebot_names_{size}_{tag}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if not (reuse and exists):
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
            conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return server.rsplit("/", 1)[0] + "/" + name, not (reuse and exists)


def bench_size(size: int, server: str | None, work: Path, queries: int, baseline: int,
               seed: int, pair_cap: int, reuse: bool) -> list[tuple[Quality, Quality | None]]:
    url, build = db_url(server, size, work, f"s{seed}p{pair_cap}", reuse)
    engine, factory = open_store(url)
    try:
        if build:
            csv_path = work / f"names_{size}.csv"
            write_synthetic_csv(csv_path, size, seed, CommunePicker(), pair_cap)
            report = import_file(factory, csv_path, batch_size=5000, bulk=True)  # both backends
            assert report.skipped == 0, report.errors[:3]
            csv_path.unlink(missing_ok=True)
            if server is not None:
                # what autovacuum does minutes after a bulk load: without it the visibility
                # map is empty and every index-only scan also reads the table
                with engine.connect() as conn:
                    conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                    conn.execute(text("VACUUM (ANALYZE) entry_terms"))
                    conn.execute(text("VACUUM (ANALYZE) entries"))
        with factory() as session:
            rows = session.execute(select(Entry.name, Entry.name_folded).order_by(Entry.id)).all()
            if len(rows) != size:
                raise SystemExit(f"{url}: {len(rows)} entries, not {size}: run without --reuse")
            names = [r[0] for r in rows]
            folded = [r[1] for r in rows]
            # a million Row objects would make every full collection of this process (not
            # the bot's) walk them, inflating latencies measured here
            del rows
            gc.collect()
            asked = make_queries(names, queries, seed)
            run = ours(session)
            for query, _ in asked["full name"][:5]:  # warm caches (taxonomy, gazetteer)
                run(query)
            results = []
            for kind in KINDS:
                held = holders(folded, asked[kind]) if kind == "distinctive words" else None
                mine = measure(kind, asked[kind], run, held)
                base = (measure(kind, asked[kind][:baseline], naive(names, folded))
                        if baseline > 0 else None)
                results.append((mine, base))
    finally:
        engine.dispose()
    return results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="a PostgreSQL server URL (default: SQLite files)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--baseline-queries", type=int, default=20)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--pair-cap", type=int, default=2,
                        help="at most this many names share two name words (0: no cap, the "
                             "data of runs before the cap; see bench_directory.PairCap)")
    parser.add_argument("--workdir", type=Path,
                        help="keep the SQLite files here (default: a temporary folder)")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse a database built by an earlier run with the same size, "
                             "seed and pair cap (SQLite: in --workdir)")
    parser.add_argument("--slowest", action="store_true", help="print each kind's 5 slowest")
    args = parser.parse_args(argv)
    backend = "postgresql" if args.db else "sqlite"
    print(f"name-only search on {backend}; baseline: rapidfuzz token_sort_ratio over every name")
    print(f"pair cap {args.pair_cap}; top5*: top5 without the ambiguous queries (all their "
          f"words in more than {AMBIGUOUS} names), amb: their share")
    # run_all.py parses these lines up to the baseline's top5: new columns go last
    print(f"{'size':>9} {'query':<20} {'p50':>8} {'p95':>8} {'top1':>6} {'top5':>6}"
          f" | {'naive p50':>10} {'naive p95':>10} {'top5':>6} {'ratio p50':>9}"
          f" | {'top5*':>6} {'amb':>5}")
    with tempfile.TemporaryDirectory(prefix="communebot-names-") as folder:
        work = args.workdir or Path(folder)
        work.mkdir(parents=True, exist_ok=True)
        for size in args.sizes:
            for mine, base in bench_size(size, args.db, work, args.queries,
                                         args.baseline_queries, args.seed, args.pair_cap,
                                         args.reuse):
                naive_part = f"{'(no baseline)':<41}"
                if base is not None:
                    ratio = base.stats.p50 / mine.stats.p50 if mine.stats.p50 else float("nan")
                    naive_part = (f"{base.stats.p50:8.1f}ms {base.stats.p95:8.1f}ms"
                                  f" {base.top5:6.1%} {ratio:8.0f}x")
                print(f"{size:>9,} {mine.kind:<20} {mine.stats.p50:6.2f}ms {mine.stats.p95:6.2f}ms"
                      f" {mine.top1:6.1%} {mine.top5:6.1%} | {naive_part}"
                      f" | {mine.top5_clear:6.1%} {mine.ambiguous:5.1%}", flush=True)
                if args.slowest:
                    for took, query in mine.slowest:
                        print(f"{'':>9}   slow {took:7.1f}ms  {query}")


if __name__ == "__main__":
    main()
