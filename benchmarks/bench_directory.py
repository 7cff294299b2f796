"""Directory benchmark: import speed, search latency and commune resolution, each beside
a naive baseline measured in the same run.

    .venv/bin/python benchmarks/bench_directory.py                 # 10k, 100k and 1M entries
    .venv/bin/python benchmarks/bench_directory.py --quick         # tiny, for a smoke test
    .venv/bin/python benchmarks/bench_directory.py --sizes 100000 --json out.json

For each size it writes a synthetic CSV (entries spread over France by commune
population, names made of category words and pseudo-words), imports it into a fresh
SQLite file through the real importer (validation in a second process, bulk executemany,
search index; as ``communebot import --bulk`` does), then
times:

* "category near a point": ``SearchQuery(category=…, point=…)`` (default 15 km radius);
* "free text in a commune": a word of an existing name, sometimes with a typo, plus the
  commune; and, once per run, commune resolution (``gazetteer.resolve``) over all
  communes' names with a typo in each.

Baselines are what one would write without an index: read every entry, score names with
rapidfuzz, compute every distance, sort (for searches); ``rapidfuzz.process.extractOne``
over all commune names (for resolution); one ORM object added and flushed per row
(``services.add_entry``, on the first 5,000 rows, for import). Ratios are baseline / ours
(ours / baseline for import rates).
Targets on a 2-core machine: search p95 < 25 ms at 1M, resolution p95 < 5 ms, import
>= 20,000 rows/s.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import itertools
import json
import math
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from directory.categories import get_taxonomy  # noqa: E402
from directory.db import open_store  # noqa: E402
from directory.gazetteer import get_gazetteer  # noqa: E402
from directory.import_convert import ConvertContext  # noqa: E402
from directory.importer import csv_records, import_file, to_entry  # noqa: E402
from directory.models import Entry  # noqa: E402
from directory.search import SearchQuery, haversine_km, search  # noqa: E402
from directory.services import add_entry  # noqa: E402
from directory.text import fold  # noqa: E402

NAIVE_IMPORT_ROWS = 5_000  # the naive import is timed on this many rows at most
SYLLABLES = [c + v for c in "bcdklmnprstvz" for v in "aeiou"]


@dataclass
class Stats:
    name: str
    samples: list[float]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000.0


def pseudo_words(rng: random.Random, count: int) -> list[str]:
    words: set[str] = set()
    while len(words) < count:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize())
    return sorted(words)


class CommunePicker:
    """Communes drawn by population (where people are, entries are)."""

    def __init__(self) -> None:
        self.communes = [c for c in get_gazetteer() if c.lat is not None and c.population > 0]
        self.cumulative = list(itertools.accumulate(c.population for c in self.communes))

    def pick(self, rng: random.Random) -> Any:
        return self.communes[bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])]


def offset(lat: float, lon: float, rng: random.Random, max_km: float = 3.0) -> tuple[float, float]:
    d, b = rng.uniform(0, max_km), rng.uniform(0, 2 * math.pi)
    return lat + d * math.cos(b) / 111.195, lon + d * math.sin(b) / (111.195 * math.cos(math.radians(lat)))


#: average number of names sharing one name word (surname / place word frequencies)
NAMES_PER_WORD = 200
#: share of names that repeat an earlier name's words in another order (namesakes)
REORDERED_SHARE = 0.02


class NameWords:
    """Name words drawn Zipf-like (weight 1/rank^0.8) from a vocabulary sized so that a
    word is shared by about :data:`NAMES_PER_WORD` names on average: a few words are in
    thousands of names (as "Saint" or "Martin" are), most in tens to hundreds."""

    def __init__(self, rng: random.Random, size: int) -> None:
        count = max(300, size * 5 // (2 * NAMES_PER_WORD))
        self.words = pseudo_words(rng, count)
        rng.shuffle(self.words)
        self.cumulative = list(itertools.accumulate(1.0 / (r + 1) ** 0.8 for r in range(count)))

    def pick(self, rng: random.Random) -> str:
        return self.words[bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])]


class PairCap:
    """At most ``cap`` names share any two name words (0: no cap). Independent Zipf draws
    put the same two common words together in hundreds of names (at 1M, one name in eight
    had 6+ names holding both its words, one in 25 had 50+), which a real directory does
    not: there, two surname-like words rarely meet twice. Reordered namesakes are added on
    purpose and not counted."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.seen: dict[tuple[str, str], int] = {}

    @staticmethod
    def pairs(own: list[str]) -> list[tuple[str, str]]:
        distinct = sorted({w.lower() for w in own})
        return list(itertools.combinations(distinct, 2))

    def allows(self, own: list[str]) -> bool:
        return self.cap <= 0 or all(self.seen.get(p, 0) < self.cap for p in self.pairs(own))

    def add(self, own: list[str]) -> None:
        if self.cap > 0:
            for p in self.pairs(own):
                self.seen[p] = self.seen.get(p, 0) + 1


def synthetic_name(category_word: str, rng: random.Random, words: NameWords,
                   earlier: list[list[str]], pairs: PairCap | None = None) -> str:
    """"<Category word> W1 W2 [W3]"; sometimes an earlier name's words reordered. With
    ``pairs``, a draw whose words already met too often is drawn again (50 tries)."""
    if earlier and rng.random() < REORDERED_SHARE:
        own = list(reversed(rng.choice(earlier)))
    else:
        for _ in range(50):
            own = [words.pick(rng) for _ in range(3 if rng.random() < 0.3 else 2)]
            if pairs is None or pairs.allows(own):
                break
        if pairs is not None:
            pairs.add(own)
        if len(earlier) < 10_000:
            earlier.append(own)
        else:
            earlier[rng.randrange(len(earlier))] = own
    return " ".join([category_word, *own])


def write_synthetic_csv(path: Path, size: int, seed: int, picker: CommunePicker,
                        pair_cap: int = 0) -> None:
    """Entries spread by commune population; names are a category word ("Garage",
    "Boulangerie": the category's French name's first word) and two or three name words
    drawn with realistic frequencies (see :class:`NameWords`), 2 % reordered namesakes;
    ``pair_cap``: see :class:`PairCap` (0 keeps the data of earlier runs)."""
    rng = random.Random(seed)
    categories = list(get_taxonomy())
    words = NameWords(rng, size)
    earlier: list[list[str]] = []
    pairs = PairCap(pair_cap) if pair_cap > 0 else None
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["id", "name", "category", "kind", "commune", "lat", "lon"])
        for n in range(size):
            commune = picker.pick(rng)
            category = rng.choice(categories)
            kind = category.kind if rng.random() > 0.1 else rng.choice(("project", "event"))
            name = synthetic_name(category.name_fr.split()[0], rng, words, earlier, pairs)
            lat, lon = offset(commune.lat, commune.lon, rng)
            writer.writerow([f"s{n}", name, category.slug, kind, commune.insee, f"{lat:.6f}", f"{lon:.6f}"])


def typo(word: str, rng: random.Random) -> str:
    """One deleted, doubled or swapped letter, away from the first two."""
    if len(word) < 5:
        return word
    i = rng.randrange(2, len(word) - 1)
    action = rng.choice(("delete", "double", "swap"))
    if action == "delete":
        return word[:i] + word[i + 1 :]
    if action == "double":
        return word[:i] + word[i] + word[i:]
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


# --- naive baselines ------------------------------------------------------------------------


def load_all(session: Any) -> list[tuple[int, str, str, str, float, float, int]]:
    """A full scan: what a search without an index has to read, every time."""
    result = session.execute(select(
        Entry.id, Entry.name_folded, Entry.category, Entry.commune_insee, Entry.lat, Entry.lon,
        Entry.recommendation_count,
    ))
    return [tuple(row) for row in result]


def naive_category(session: Any, slug: str, point: tuple[float, float]) -> list[int]:
    rows = load_all(session)
    near = [(haversine_km(point, (r[4], r[5])), r[0]) for r in rows if r[2] == slug]
    return [i for d, i in sorted(near)[:10] if d <= 15]


def naive_text(session: Any, text: str, point: tuple[float, float]) -> list[int]:
    rows = load_all(session)
    names = [r[1] for r in rows]
    found = process.extract(fold(text), names, scorer=fuzz.partial_ratio, score_cutoff=80, limit=None)
    scored = [(-(s / 100) + haversine_km(point, (rows[i][4], rows[i][5])) / 100, rows[i][0])
              for _, s, i in found]
    return [i for _, i in sorted(scored)[:10]]


def naive_import(csv_path: Path, url: str, limit: int) -> float:
    """Rows/s of the obvious import: each row validated, added as one ORM object and
    flushed (``services.add_entry``, the index kept by its mapper events), a commit every
    1,000 rows. On the first ``limit`` rows of the same file, into the database at ``url``."""
    engine, factory = open_store(url)
    ctx = ConvertContext()
    records = list(itertools.islice(csv_records(csv_path.read_text(encoding="utf-8")), limit))
    start = time.perf_counter()
    session = factory()
    try:
        for n, record in enumerate(records, start=1):
            data, _ = to_entry(record.values, ctx)
            add_entry(session, data, force=True)
            if n % 1000 == 0:
                session.commit()
        session.commit()
    finally:
        session.close()
        engine.dispose()
    return len(records) / (time.perf_counter() - start)


CategoryQuery = tuple[str, tuple[float, float]]
TextQuery = tuple[str, str]


def search_queries(
    session: Any, picker: CommunePicker, count: int, max_id: int, seed: int
) -> tuple[list[CategoryQuery], list[TextQuery]]:
    """``count`` searches of each kind: a category near a point in a commune drawn by
    population; a word of an existing entry's name (a typo in 30 %) in its commune."""
    rng = random.Random(seed + 1)
    slugs = [c.slug for c in get_taxonomy()]
    cat_queries: list[CategoryQuery] = []
    for _ in range(count):
        commune = picker.pick(rng)
        cat_queries.append((rng.choice(slugs), offset(commune.lat, commune.lon, rng)))
    text_queries: list[TextQuery] = []
    while len(text_queries) < count:
        entry = session.get(Entry, rng.randint(1, max_id))
        if entry is None:
            continue
        word = rng.choice(entry.name.split()[-2:])
        text = typo(word, rng) if rng.random() < 0.3 else word
        text_queries.append((text, entry.commune_insee))
    return cat_queries, text_queries


def time_searches(
    session: Any, cat_queries: list[CategoryQuery], text_queries: list[TextQuery]
) -> tuple[Stats, Stats]:
    """Latency of each search, after three to warm caches (taxonomy phrases, gazetteer)."""
    for slug, point in cat_queries[:3]:
        search(session, SearchQuery(category=slug, point=point))
    cat = Stats("category near a point", [
        timed(lambda s=slug, p=point: search(session, SearchQuery(category=s, point=p)))  # type: ignore[misc]
        for slug, point in cat_queries
    ])
    txt = Stats("free text in a commune", [
        timed(lambda t=text, c=insee: search(session, SearchQuery(text=t, commune=c)))  # type: ignore[misc]
        for text, insee in text_queries
    ])
    return cat, txt


# --- the run --------------------------------------------------------------------------------


def bench_size(size: int, workdir: Path, queries: int, baseline_queries: int, seed: int,
               picker: CommunePicker, keep: bool = False) -> dict[str, Any]:
    csv_path = workdir / f"synthetic_{size}_{seed}.csv"
    db_path = workdir / f"bench_{size}_{seed}.db"
    reuse = keep and db_path.exists()
    engine, factory = open_store(f"sqlite:///{db_path}")
    import_seconds, rate, naive_rate = float("nan"), float("nan"), float("nan")
    if not reuse:
        write_synthetic_csv(csv_path, size, seed, picker)
        start = time.perf_counter()
        report = import_file(factory, csv_path, batch_size=5000, bulk=True)
        import_seconds = time.perf_counter() - start
        assert report.skipped == 0, report.errors[:5]
        rate = size / import_seconds
        naive_rate = naive_import(
            csv_path, f"sqlite:///{workdir / f'naive_{size}_{seed}.db'}", min(size, NAIVE_IMPORT_ROWS)
        )
        csv_path.unlink()

    with factory() as session:
        cat_queries, text_queries = search_queries(session, picker, queries, size, seed)
        cat, txt = time_searches(session, cat_queries, text_queries)
        gaz = get_gazetteer()
        cat_base = Stats("baseline category", [
            timed(lambda s=slug, p=point: naive_category(session, s, p))  # type: ignore[misc]
            for slug, point in cat_queries[:baseline_queries]
        ])
        txt_base = Stats("baseline text", [
            timed(lambda t=text, c=insee: naive_text(session, t, gaz.current(c).point))  # type: ignore[misc, union-attr, arg-type]
            for text, insee in text_queries[:baseline_queries]
        ])
    engine.dispose()
    return {
        "size": size,
        "import_rows_per_s": None if math.isnan(rate) else round(rate),
        "import_seconds": None if math.isnan(import_seconds) else round(import_seconds, 2),
        "baseline_import_rows_per_s": None if math.isnan(naive_rate) else round(naive_rate),
        "searches": [summary(cat, cat_base), summary(txt, txt_base)],
    }


def summary(ours: Stats, base: Stats) -> dict[str, Any]:
    return {
        "query": ours.name,
        "p50_ms": round(ours.p50, 2),
        "p95_ms": round(ours.p95, 2),
        "baseline_p50_ms": round(base.p50, 2),
        "baseline_p95_ms": round(base.p95, 2),
        "speedup_p50": round(base.p50 / ours.p50, 1) if ours.p50 else None,
        "n": len(ours.samples),
        "baseline_n": len(base.samples),
    }


def bench_resolution(count: int | None, seed: int) -> dict[str, Any]:
    """gazetteer.resolve on commune names with a typo, over all communes (or a sample)."""
    gaz = get_gazetteer()
    rng = random.Random(seed + 2)
    communes = [c for c in gaz if c.lat is not None]
    if count is not None and count < len(communes):
        communes = rng.sample(communes, count)
    names = [typo(c.name, rng) for c in communes]
    gaz.resolve("Saint-Paul")  # warm
    ours = Stats("commune resolution", [timed(lambda n=n: gaz.resolve(n, limit=5)) for n in names])  # type: ignore[misc]
    found = sum(
        1 for c, n in zip(communes, names, strict=True)
        if any(m.commune.insee == c.insee for m in gaz.resolve(n, limit=5))
    )
    all_names = [fold(c.name) for c in gaz]
    base_names = names[: max(20, len(names) // 50)]
    base = Stats("baseline resolution", [
        timed(lambda n=n: process.extractOne(fold(n), all_names, scorer=fuzz.WRatio)) for n in base_names  # type: ignore[misc]
    ])
    result = summary(ours, base)
    result["found_in_top5"] = round(found / len(names), 3)
    return result


def print_report(results: Sequence[dict[str, Any]], resolution: dict[str, Any]) -> None:
    print(f"{'size':>9} {'query':<24} {'p50 ms':>8} {'p95 ms':>8} {'naive p50':>10} "
          f"{'naive p95':>10} {'ratio':>7}")
    for r in results:
        for s in r["searches"]:
            print(f"{r['size']:>9,} {s['query']:<24} {s['p50_ms']:>8} {s['p95_ms']:>8} "
                  f"{s['baseline_p50_ms']:>10} {s['baseline_p95_ms']:>10} {s['speedup_p50']:>6}x")
        if r["import_rows_per_s"] is not None:
            naive = r["baseline_import_rows_per_s"]
            print(f"{r['size']:>9,} {'import':<24} {r['import_rows_per_s']:>,} rows/s "
                  f"({r['import_seconds']} s); naive {naive:,} rows/s, "
                  f"{r['import_rows_per_s'] / naive:.1f}x")
    s = resolution
    print(f"{'communes':>9} {s['query']:<24} {s['p50_ms']:>8} {s['p95_ms']:>8} "
          f"{s['baseline_p50_ms']:>10} {s['baseline_p95_ms']:>10} {s['speedup_p50']:>6}x"
          f"  (n={s['n']}, right commune in top 5: {s['found_in_top5']:.1%})")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")],
                        help="comma-separated sizes (default 10000,100000,1000000)")
    parser.add_argument("--queries", type=int, help="timed searches per kind and size")
    parser.add_argument("--workdir", type=Path, help="where the SQLite files go (default: a temp dir)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--communes", type=int, help="resolve this many communes (default: all)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the built databases in --workdir and reuse them (searches only)")
    args = parser.parse_args(argv)
    sizes = args.sizes or ([2000] if args.quick else [10_000, 100_000, 1_000_000])
    queries = args.queries or (20 if args.quick else 200)
    baseline_queries = 3 if args.quick else 10
    picker = CommunePicker()
    if args.keep:
        workdir = args.workdir or Path(tempfile.gettempdir()) / "communebot-bench"
        workdir.mkdir(parents=True, exist_ok=True)
        results = [bench_size(n, workdir, queries, baseline_queries, args.seed, picker, keep=True)
                   for n in sizes]
    else:
        with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
            results = [bench_size(n, Path(tmp), queries, baseline_queries, args.seed, picker)
                       for n in sizes]
    resolution = bench_resolution(args.communes or (200 if args.quick else None), args.seed)
    print_report(results, resolution)
    output = {"sizes": results, "resolution": resolution}
    if args.json:
        args.json.write_text(json.dumps(output, indent=1))
    return output


if __name__ == "__main__":
    main()
