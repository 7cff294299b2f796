"""run_all.py: a smoke run writes RESULTS.md with its sections, and each benchmark's JSON
(or printed table) becomes figures beside their baselines. Figures are not asserted for
speed (targets live in benchmarks/), only for being read right."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str) -> ModuleType:
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def run_all() -> ModuleType:
    return _load("run_all")


def test_quick_run_of_one_bench_writes_every_section(run_all: ModuleType, tmp_path: Path) -> None:
    output = tmp_path / "RESULTS.md"
    outcomes = run_all.main(["--quick", "--only", "bench_engine", "--no-pg", "--output", str(output)])
    assert [o.status for o in outcomes] == ["ok"], [o.error for o in outcomes]
    text = output.read_text(encoding="utf-8")
    for section in ("# Benchmark results", "## Machine", "| CPU |", "| Python |", "## Summary",
                    "## engine messages/s", "| figure | ours | baseline | ratio | target |"):
        assert section in text
    assert "--only bench_engine" in text  # the command
    rate = next(f for f in outcomes[0].figures if f.figure.startswith("messages/s"))
    assert rate.value > 0 and rate.target == 500.0


def test_missing_and_failing_benchmarks_are_reported_and_the_run_goes_on(
        run_all: ModuleType, tmp_path: Path) -> None:
    missing = run_all.Job("gone", "no_such_bench.py", [], run_all.parse_generic)
    failing = run_all.Job("fails", "run_all.py", ["--no-such-flag"], run_all.parse_generic,
                          json_flag=False)
    outcomes = [run_all.run_job(job, tmp_path, None, {}) for job in (missing, failing)]
    assert [o.status for o in outcomes] == ["not available", "failed"]
    assert "--no-such-flag" in outcomes[1].error
    text = run_all.render(outcomes, {"CPU": "x"}, "cmd", "abc", run_all.datetime.now(run_all.UTC))
    assert "Not available: no_such_bench.py does not exist" in text and "**Failed**" in text


def test_figure_ratio_and_target_follow_which_way_is_better(run_all: ModuleType) -> None:
    fast = run_all.Figure("p95", 2.0, 10.0, "ms", target=5.0)
    assert fast.ratio == 5.0 and fast.met is True
    slow_rate = run_all.Figure("rows/s", 100.0, 400.0, "rows/s", "higher", 200.0)
    assert slow_rate.ratio == 0.25 and slow_rate.met is False
    assert run_all.Figure("x", 1.0).ratio is None and run_all.Figure("x", 1.0).met is None


def test_parsers_read_each_benchmarks_json(run_all: ModuleType) -> None:
    directory = run_all.parse_directory({"sizes": [{"size": 1_000_000, "import_rows_per_s": 30_000,
        "baseline_import_rows_per_s": 500, "searches": [{"query": "category near a point",
        "p50_ms": 3.0, "p95_ms": 30.0, "baseline_p50_ms": 900.0, "baseline_p95_ms": 950.0}]}],
        "resolution": {"p95_ms": 1.0, "baseline_p95_ms": 80.0}}, "")
    p95 = next(f for f in directory if f.figure == "category near a point p95 @ 1,000,000")
    assert (p95.value, p95.baseline, p95.met) == (30.0, 950.0, False)
    assert next(f for f in directory if f.figure.startswith("import")).met is True

    engine = run_all.parse_engine({"entries": 500, "rate": 600.0, "cpu_rate": 700.0, "p50": 1.0,
                                   "p99": 25.0}, "")
    assert [f.met for f in engine if f.target] == [True, False]

    digests = run_all.parse_digests({"rate": 3000.0, "baseline": 300.0, "memory_tenth": 100.0,
                                     "memory_all": 101.0}, "")
    assert digests[0].ratio == 10.0 and digests[0].met is True

    lookup = run_all.parse_lookup([{"figure": "parse(text)", "p50_ms": 1.0, "p95_ms": 3.0,
                                    "baseline_p50_ms": 50.0, "baseline_p95_ms": 80.0}], "")
    assert [(f.figure, f.met) for f in lookup] == [("parse(text) p50", True), ("parse(text) p95", None)]

    bot = {"p50_ms": 20.0, "p99_ms": 250.0, "messages_per_s": 50.0, "rss_mb": 150.0, "cpu_ms": 5.0,
           "lost": 0, "incomplete": 0, "duplicated": 0, "errors": 0}
    telegram = run_all.parse_telegram({"bots": [{"name": "echo (PTB)", **bot, "p99_ms": 100.0},
                                                {"name": "communebot (sqlite)", **bot}]}, "")
    p99 = next(f for f in telegram if f.figure == "communebot (sqlite) p99_ms")
    assert (p99.baseline, p99.target, p99.met) == (100.0, 200.0, False)

    startup = run_all.parse_startup({"entries": 1_000_000, "targets": {"startup_s": 2.0,
        "peak_rss_mb": 200.0}, "communebot": {"startup_s": 1.5, "peak_rss_mb": 250.0},
        "baseline": {"startup_s": 1.0, "peak_rss_mb": 60.0}}, "")
    assert [f.met for f in startup] == [True, False]


def test_parsers_read_the_printed_tables(run_all: ModuleType) -> None:
    imported = run_all.parse_import(None, "100,000 rows on postgresql:\n"
        "  import        25,000 rows/s    50.0x the naive import\n"
        "  re-import     10,000 rows/s    20.0x the naive import\n"
        "  naive            500 rows/s   (one ORM object per row, 2,000 rows)\n"
        "  category near a point    p50   2.00 ms   p95   9.50 ms\n")
    assert [(f.figure, f.value, f.baseline) for f in imported[:2]] == [
        ("import @ 100,000 (postgresql)", 25_000.0, 500.0),
        ("re-import @ 100,000 (postgresql)", 10_000.0, 500.0)]
    assert imported[3].figure == "category near a point p95 @ 100,000 (postgresql)"
    assert imported[3].value == 9.5
    names = run_all.parse_names(None, "    2,000 one typo per word      9.73ms  17.00ms 100.0%  "
                                      "85.0% |      0.8ms     12.7ms 100.0%        0x\n")
    assert [(f.value, f.baseline, f.met) for f in names] == [(17.0, 12.7, None), (85.0, 100.0, False)]


def test_an_error_names_the_exception_a_traceback_ended_with(run_all: ModuleType) -> None:
    stderr = ("Traceback (most recent call last):\n  File x\n"
              "sqlalchemy.exc.OperationalError: (psycopg.errors.ObjectInUse) database in use\n"
              + "".join(f"  detail {n}\n" for n in range(12))
              + "(Background on this error at: https://sqlalche.me/e/21/e3q8)\n")
    summary = run_all.error_summary(stderr)
    assert summary.startswith("sqlalchemy.exc.OperationalError: (psycopg.errors.ObjectInUse)")
    assert summary.endswith("(Background on this error at: https://sqlalche.me/e/21/e3q8)")
