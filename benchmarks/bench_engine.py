"""Messages per second through the engine, in-process, with the console adapter.

Builds a SQLite directory of synthetic entries (default 100,000: a third on La Réunion,
the rest over France by population), registers a crowd of console users, then plays a
realistic mix of messages — searches in free text and by command, "near me", picking a
result, the next page, greetings, /help, /me, settings, starting a recommendation and
cancelling it, bad input — one after the other on ONE thread (one core), each through
``ConsoleChat.send`` (engine + rendering, no network). Prints throughput and p50/p99
latency per intent.

    python benchmarks/bench_engine.py                 # 100k entries, 3,000 messages
    python benchmarks/bench_engine.py --quick         # tiny sizes (what the test runs)
    python benchmarks/bench_engine.py --db /tmp/b.db  # build once, then reuse the file

Targets: >= 500 messages/s on one core, p99 < 20 ms.
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
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from adapters.console import ConsoleChat  # noqa: E402
from bot.engine import Engine  # noqa: E402
from directory.categories import get_taxonomy  # noqa: E402
from directory.db import open_store  # noqa: E402
from directory.gazetteer import get_gazetteer  # noqa: E402
from directory.importer import import_file  # noqa: E402
from directory.models import Entry  # noqa: E402

REUNION_SHARE = 1 / 3
SYLLABLES = ("ka", "lo", "ti", "ba", "zo", "ré", "mi", "na", "pou", "ver", "son", "la", "di",
             "mar", "ten", "cha", "vo", "lu", "gi", "ron")

#: (intent label, message) played by each user in turn; "{n}" -> a small number
SCRIPT: tuple[tuple[str, str], ...] = (
    ("search", "garagiste au Port"),
    ("choose", "1"),
    ("search", "quelle crèche près de chez moi ?"),
    ("more", "plus"),
    ("search", "/search boulangerie"),
    ("search", "medecin a saint pierre"),
    ("search", "pharmacie"),
    ("greeting", "bonjour"),
    ("help", "/help"),
    ("me", "/me"),
    ("settings", "/settings"),
    ("cancel", "annuler"),
    ("recommend", "je recommande le garage Ti Boulon au Port"),
    ("cancel", "annuler"),
    ("bad_input", "😀😀"),
    ("bad_input", ""),
    ("search", "club de foot a saint andre"),
    ("search", "coiffeur"),
)


def pseudo_words(rng: random.Random, count: int) -> list[str]:
    words: set[str] = set()
    while len(words) < count:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize())
    return sorted(words)


def write_entries(path: Path, size: int, seed: int) -> None:
    """A CSV of synthetic entries in the importer's format."""
    rng = random.Random(seed)
    communes = [c for c in get_gazetteer() if c.lat is not None and c.population > 0]
    reunion = [c for c in communes if c.departement == "974"]
    weights = list(itertools.accumulate(c.population for c in communes))
    categories = list(get_taxonomy())
    words = pseudo_words(rng, 2000)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["id", "name", "category", "kind", "commune", "lat", "lon"])
        for n in range(size):
            if rng.random() < REUNION_SHARE:
                commune = rng.choice(reunion)
            else:
                commune = communes[bisect.bisect(weights, rng.random() * weights[-1])]
            category = rng.choice(categories)
            name = f"{category.name_fr} {rng.choice(words)} {rng.choice(words)}"
            assert commune.lat is not None and commune.lon is not None
            d, b = rng.uniform(0, 3), rng.uniform(0, 2 * math.pi)
            lat = commune.lat + d * math.cos(b) / 111.2
            lon = commune.lon + d * math.sin(b) / (111.2 * math.cos(math.radians(commune.lat)))
            writer.writerow([f"b{n}", name, category.slug, category.kind, commune.insee,
                             f"{lat:.6f}", f"{lon:.6f}"])


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


def run(entries: int, messages: int, users: int, seed: int, workdir: Path,
        db: Path | None = None) -> dict[str, Any]:
    """Build (or reuse ``db``, when it already holds entries) and play the messages."""
    database = db or workdir / "bench.db"
    _sql, factory = open_store(f"sqlite:///{database}")
    with factory() as session:
        existing = int(session.scalar(select(func.count()).select_from(Entry)) or 0)
    started = time.perf_counter()
    if existing == 0:
        csv_path = workdir / "entries.csv"
        write_entries(csv_path, entries, seed)
        import_file(factory, csv_path, batch_size=5000)
    build_s = time.perf_counter() - started
    with factory() as session:
        total = int(session.scalar(select(func.count()).select_from(Entry)) or 0)
    engine = Engine(factory)
    rng = random.Random(seed)
    reunion = [c.insee for c in get_gazetteer() if c.departement == "974"]
    chats = [ConsoleChat(engine, user_id=f"bench{n}", lang="fr") for n in range(users)]
    for chat in chats:  # registration is not measured: every user starts at home
        chat.send(f"/start {rng.choice(reunion)}")
    # warm-up: NLU tables, taxonomy, first queries
    for label_text in SCRIPT[:4]:
        chats[0].send(label_text[1])
    chats[0].send("annuler")

    timings: dict[str, list[float]] = defaultdict(list)
    positions = [rng.randrange(len(SCRIPT)) for _ in chats]
    total_start = time.perf_counter()
    cpu_start = time.process_time()
    for n in range(messages):
        who = n % users
        label, text = SCRIPT[positions[who] % len(SCRIPT)]
        positions[who] += 1
        t0 = time.perf_counter()
        chats[who].send(text)
        timings[label].append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - total_start
    cpu = time.process_time() - cpu_start
    every = [v for values in timings.values() for v in values]
    return {
        "entries": total,
        "build_s": build_s,
        "messages": messages,
        "users": users,
        "seconds": elapsed,
        "rate": messages / elapsed,
        "cpu_seconds": cpu,
        "cpu_rate": messages / cpu if cpu > 0 else float("inf"),
        "p50": percentile(every, 50),
        "p99": percentile(every, 99),
        "per_intent": {
            label: {
                "count": len(values),
                "p50": percentile(values, 50),
                "p99": percentile(values, 99),
                "mean": statistics.fmean(values),
            }
            for label, values in sorted(timings.items())
        },
    }


def print_report(result: dict[str, Any]) -> None:
    built = f"built in {result['build_s']:.1f} s" if result["build_s"] > 0.5 else "reused"
    print(f"directory: {result['entries']:,} entries ({built})")
    print(f"{result['messages']:,} messages from {result['users']} users in "
          f"{result['seconds']:.2f} s on one thread: {result['rate']:.0f} msg/s "
          f"(target >= 500); {result['cpu_rate']:.0f} msg per CPU-second "
          f"({result['cpu_seconds']:.2f} s of CPU: what one core does without contention)")
    print(f"all messages: p50 {result['p50']:.2f} ms, p99 {result['p99']:.2f} ms "
          f"(target p99 < 20 ms)")
    print(f"{'intent':<10} {'count':>6} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for label, row in result["per_intent"].items():
        print(f"{label:<10} {row['count']:>6} {row['p50']:>8.2f} {row['p99']:>8.2f} "
              f"{row['mean']:>8.2f}")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=3_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seed", type=int, default=974)
    parser.add_argument("--db", type=Path, help="SQLite file to build once and reuse")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the test suite")
    parser.add_argument("--json", type=Path, help="also write the results as JSON (run_all.py)")
    args = parser.parse_args(argv)
    if args.quick:
        args.entries, args.messages, args.users = 500, 60, 4
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as folder:
        result = run(args.entries, args.messages, args.users, args.seed, Path(folder), args.db)
    print_report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
