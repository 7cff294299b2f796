"""NLU accuracy and speed: per-field accuracy over every labelled set in tests/nlu, and parse
latency (p50/p95) over all their messages beside ``fold(text)`` on the same messages, the
floor any reading of the text pays.

    .venv/bin/python benchmarks/bench_nlu.py            # every set, 5 timing rounds
    .venv/bin/python benchmarks/bench_nlu.py --rounds 1

A field is scored only where an item gives it (intent, category and commune always).
Times are CPU time (``time.process_time``) so a busy machine does not distort them.
Target: parse p95 < 5 ms.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.nlu import parse, warm_up  # noqa: E402
from directory.text import fold  # noqa: E402
from tests.nlu.test_corpus import FIELDS, evaluate, load_corpus  # noqa: E402

SETS_DIR = ROOT / "tests" / "nlu"


def labelled_sets() -> list[Path]:
    """Every labelled set: corpus.yaml and the heldout*.yaml files, in name order."""
    return [SETS_DIR / "corpus.yaml", *sorted(SETS_DIR.glob("heldout*.yaml"))]


def _percentile(sorted_ms: Sequence[float], q: float) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, int(q * len(sorted_ms)))]


def _timings(call: Callable[[str], object], texts: Sequence[str], rounds: int) -> list[float]:
    out: list[float] = []
    for _ in range(rounds):
        for text in texts:
            started = time.process_time()
            call(text)
            out.append((time.process_time() - started) * 1000)
    return sorted(out)


def accuracy_table(paths: Sequence[Path]) -> str:
    """Markdown table: one row per field, one column per set."""
    scores = {path.stem: evaluate(load_corpus(path))[0] for path in paths}
    names = list(scores)
    lines = ["| field | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for field in FIELDS:
        cells = []
        for name in names:
            right, checked = scores[name][field]
            cells.append(f"{right / checked:.1%} ({right}/{checked})" if checked else "–")
        lines.append(f"| {field} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def latency_table(texts: Sequence[str], rounds: int) -> str:
    warm_up()
    for text in texts:  # first pass fills the taxonomy's typo memo, as a running bot has
        parse(text)
    rows = [("parse", _timings(parse, texts, rounds)), ("fold (floor)", _timings(fold, texts, rounds))]
    lines = ["| call | messages | p50 ms | p95 ms | max ms |", "|---|---|---|---|---|"]
    for label, ms in rows:
        lines.append(
            f"| {label} | {len(ms)} | {_percentile(ms, 0.5):.3f} | {_percentile(ms, 0.95):.3f} "
            f"| {ms[-1]:.3f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timing rounds over all messages")
    args = parser.parse_args(argv)
    paths = labelled_sets()
    texts = [item["text"] for path in paths for item in load_corpus(path)]
    print("NLU accuracy per field (scored where the item gives the field)\n")
    print(accuracy_table(paths))
    print(f"\nParse latency, CPU time, {args.rounds} rounds\n")
    print(latency_table(texts, args.rounds))


if __name__ == "__main__":
    main()
