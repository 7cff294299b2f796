"""Time expressions: this project's grammar (``bot/nlu/when.py``) beside ``dateparser``, on
the 118 expressions of the time corpus (tests/nlu/test_when_corpus.py), measured in the
same run.

    .venv/bin/python benchmarks/bench_when.py            # dateparser measured if installed
    .venv/bin/python benchmarks/bench_when.py --rounds 3

Prints, for each reader, p50/p95 CPU time per message and how many expected windows it
gives (dateparser reads a date, not a window: it is scored on the window's first day).
dateparser is not a dependency: ``pip install dateparser`` to include it.
Target: the whole ``parse`` p95 < 5 ms (see bench_nlu.py); the time reading is a part of it.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.nlu.when import read_clock, read_when, window  # noqa: E402
from directory.text import fold  # noqa: E402
from tests.nlu.test_when_corpus import CORPUS  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ours(text: str, tz: str, now: datetime) -> tuple[str, str] | None:
    when = read_when(fold(text), bare_day=True)
    read_clock(fold(text))
    span = window(when, now, tz) if when is not None else None
    return (span[0].isoformat(), span[1].isoformat()) if span else None


def theirs(parser: Any) -> Any:
    def read(text: str, tz: str, now: datetime) -> tuple[str, str] | None:
        found = parser.parse(text, languages=["fr", "en"], settings={
            "RELATIVE_BASE": now.astimezone(ZoneInfo(tz)).replace(tzinfo=None),
            "PREFER_DATES_FROM": "future", "TIMEZONE": tz, "RETURN_AS_TIMEZONE_AWARE": True})
        if found is None:
            return None
        return found.isoformat(), ""
    return read


def measure(name: str, reader: Any, rounds: int) -> None:
    times: list[float] = []
    right = 0
    for _ in range(rounds):
        right = 0
        for text, tz, instant, start, end in CORPUS:
            now = datetime.fromisoformat(instant)
            began = time.process_time()
            got = reader(text, tz, now)
            times.append((time.process_time() - began) * 1000)
            if got is not None and got[0][:10] == start[:10] and (not got[1] or got[1] == end):
                right += 1
    print(f"{name:<12} p50 {percentile(times, 0.5):7.3f} ms  p95 {percentile(times, 0.95):7.3f} ms  "
          f"right {right}/{len(CORPUS)}")
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    measure("when.py", ours, args.rounds)
    try:
        import dateparser  # type: ignore[import-untyped]
    except ImportError:
        print("dateparser    not installed (pip install dateparser to compare)")
        return
    theirs(dateparser)("demain", "Europe/Paris", datetime.now(ZoneInfo("UTC")))  # load its data once
    measure("dateparser", theirs(dateparser), max(1, args.rounds // 5))


if __name__ == "__main__":
    main()
