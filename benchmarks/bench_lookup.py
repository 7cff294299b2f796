"""Understanding benchmark: what every message pays before search — point to commune,
gazetteer start-up and NLU parsing — each beside a naive baseline measured in the same run.

    .venv/bin/python benchmarks/bench_lookup.py            # full
    .venv/bin/python benchmarks/bench_lookup.py --quick    # a few hundred queries

Baselines: ``nearest`` against a scan of every commune with a haversine distance; the
cached ``Gazetteer.load()`` against a build from the packaged CSV (no cache); ``parse``
against one ``rapidfuzz.process.extractOne`` of the whole text over every commune name and
category term (what one would write first, and still less than parse does).
Times are CPU time (``time.process_time``) so a busy machine does not distort them.
Targets: nearest p95 < 5 ms, cached load < 0.8 s, parse median < 2 ms.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from rapidfuzz import fuzz, process

from bot.nlu import parse
from directory.categories import get_taxonomy
from directory.gazetteer import Gazetteer, get_gazetteer
from directory.gazetteer_geo import haversine_km


def _timings(calls: Sequence[Callable[[], object]]) -> list[float]:
    out = []
    for call in calls:
        started = time.process_time()
        call()
        out.append((time.process_time() - started) * 1000)
    return sorted(out)


def _pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))]


def _row(label: str, ours: list[float], base: list[float]) -> dict[str, float | str]:
    p50, p95 = statistics.median(ours), _pct(ours, 0.95)
    b50, b95 = statistics.median(base), _pct(base, 0.95)
    ratio = b95 / p95 if p95 > 0 else math.inf
    print(f"{label:<28} p50 {p50:8.3f} ms  p95 {p95:8.3f} ms | baseline p50 {b50:8.3f} ms "
          f"p95 {b95:8.3f} ms | x{ratio:,.0f}")
    return {"figure": label, "p50_ms": p50, "p95_ms": p95, "baseline_p50_ms": b50,
            "baseline_p95_ms": b95}


def main(argv: Sequence[str] | None = None) -> list[dict[str, float | str]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results as JSON (run_all.py)")
    args = parser.parse_args(argv)
    rows: list[dict[str, float | str]] = []
    n = 100 if args.quick else 2000
    rng = random.Random(7)
    gaz = get_gazetteer()
    points = [c for c in gaz if c.lat is not None and c.lon is not None]

    # 1. nearest commune to a point
    queries = [(rng.uniform(42.5, 50.5), rng.uniform(-4.5, 7.5)) for _ in range(n)]
    queries += [(rng.uniform(-21.35, -20.9), rng.uniform(55.25, 55.8)) for _ in range(n // 5)]

    def scan(lat: float, lon: float) -> object:
        return min(points, key=lambda c: haversine_km(lat, lon, c.lat, c.lon))  # type: ignore[arg-type]

    base_n = max(20, n // 20)
    nearest = _row("nearest(lat, lon)", _timings([lambda q=q: gaz.nearest(*q) for q in queries]),  # type: ignore[misc]
         _timings([lambda q=q: scan(*q) for q in queries[:base_n]]))  # type: ignore[misc]
    rows.append(nearest)

    # 2. start-up
    Gazetteer.load()
    cached = _timings([Gazetteer.load for _ in range(3)])
    built = _timings([lambda: Gazetteer.load(use_cache=False)])
    print(f"{'Gazetteer.load()':<28} cached {statistics.median(cached):8.1f} ms | "
          f"baseline (build from CSV) {built[0]:8.1f} ms | x{built[0] / statistics.median(cached):.1f}")
    rows.append({"figure": "Gazetteer.load()", "p50_ms": statistics.median(cached),
                 "p95_ms": max(cached), "baseline_p50_ms": built[0], "baseline_p95_ms": built[0]})

    # 3. NLU
    samples = [
        "g cherche 1 garagiste st paul", "je recommande le garage Dupont au Port",
        "une crèche à moins de 5 km", "is there a good doctor in Saint-Denis?",
        "j'habite à Saint-Pierre", "bonjour", "je fais partie de la troupe de théâtre du Port",
        "pharmacie de garde à St Denis svp", "boulangerie ouverte dimanche a l'etang sale",
        "any vet near me?", "je lance un projet de jardin partagé à Saint-Leu",
    ]
    parse("warm up")
    vocabulary = [c.name for c in gaz] + [t for cat in get_taxonomy() for t in get_taxonomy().terms(cat.slug)]
    texts = [rng.choice(samples) for _ in range(n)]
    parsing = _row("parse(text)", _timings([lambda t=t: parse(t, home="97415") for t in texts]),  # type: ignore[misc]
         _timings([lambda t=t: process.extractOne(t, vocabulary, scorer=fuzz.WRatio)  # type: ignore[misc]
                   for t in texts[:base_n]]))
    rows.append(parsing)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return rows


if __name__ == "__main__":
    main()
