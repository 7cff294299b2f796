"""Runs every benchmark and writes ``benchmarks/RESULTS.md`` (issue 15): the machine, the
date, the commit, the command, and one table per benchmark with each figure beside the
baseline that benchmark measured in the same run, the ratio and the target met or missed.

    python benchmarks/run_all.py                       # 10k, 100k, 1M; PostgreSQL if configured
    python benchmarks/run_all.py --sizes 10000,100000  # skip the 1M sizes
    python benchmarks/run_all.py --quick               # a smoke run of a few minutes
    python benchmarks/run_all.py --only engine,startup --output /tmp/RESULTS.md

Each benchmark runs as its own process with its own command line (so a benchmark another
engineer is changing is called, never imported). Figures come from the benchmark's
``--json`` file where it has one, else from its printed table; the full output is kept
in the report. PostgreSQL runs (``--pg-url`` or ``COMMUNEBOT_TEST_PG_URL``) get a fresh
database each, dropped afterwards. A missing script is "not available"; a failed or
timed-out benchmark is reported with its error, and the run goes on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (2_000,)


@dataclass
class Figure:
    """One measured figure beside its same-run baseline (None when it has none)."""

    figure: str
    value: float
    baseline: float | None = None
    unit: str = ""
    #: "lower" (times, memory) or "higher" (rates) is better
    better: str = "lower"
    target: float | None = None

    @property
    def ratio(self) -> float | None:
        """How many times better than the baseline (> 1: ours wins)."""
        if self.baseline is None or not self.value or not self.baseline:
            return None
        return self.baseline / self.value if self.better == "lower" else self.value / self.baseline

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.value < self.target if self.better == "lower" else self.value >= self.target


@dataclass
class Job:
    """One benchmark run: its script, arguments, and how its figures are read."""

    name: str
    script: str
    args: list[str]
    parse: Callable[[Any, str], list[Figure]]
    json_flag: bool = True
    fresh_pg: bool = False  # appends --db <a fresh PostgreSQL database>
    pg_server: bool = False  # appends --db <the server URL> (the script makes its databases)
    timeout: float = 3600.0


@dataclass
class Outcome:
    job: Job
    status: str  # "ok", "failed", "not available"
    seconds: float = 0.0
    command: str = ""
    figures: list[Figure] = field(default_factory=list)
    output: str = ""
    error: str = ""


# --- parsers: a benchmark's JSON (or printed text) to figures -------------------------------
def parse_directory(data: Any, _text: str) -> list[Figure]:
    """bench_directory.py --json: searches with a place per size, import, resolution."""
    figures: list[Figure] = []
    for size in data.get("sizes", []):
        n = size["size"]
        for s in size.get("searches", []):
            target = 25.0 if n >= 1_000_000 else None
            figures.append(Figure(f"{s['query']} p50 @ {n:,}", s["p50_ms"], s["baseline_p50_ms"], "ms"))
            figures.append(Figure(f"{s['query']} p95 @ {n:,}", s["p95_ms"], s["baseline_p95_ms"], "ms",
                                  target=target))
        if size.get("import_rows_per_s"):
            figures.append(Figure(f"import @ {n:,}", size["import_rows_per_s"],
                                  size.get("baseline_import_rows_per_s"), "rows/s", "higher", 20_000))
    res = data.get("resolution")
    if res:
        figures.append(Figure("commune resolution p95", res["p95_ms"], res["baseline_p95_ms"], "ms",
                              target=5.0))
    return figures


_IMPORT_RATE = re.compile(r"^\s+((?:import|re-import)(?: \(\w+\))?)\s+([\d,]+) rows/s")
_NAIVE_RATE = re.compile(r"^\s+naive\s+([\d,]+) rows/s")
_SEARCH = re.compile(r"^\s+(.+?)\s+p50\s+([\d.]+) ms\s+p95\s+([\d.]+) ms")
_HEAD = re.compile(r"^([\d,]+) rows on (\w+)")


def parse_import(_data: Any, text: str) -> list[Figure]:
    """bench_import.py's printed lines: import rates beside the naive one, then searches."""
    naive: float | None = None
    rates: list[tuple[str, float]] = []
    searches: list[Figure] = []
    where = ""
    for line in text.splitlines():
        if m := _HEAD.match(line):
            where = f" @ {m.group(1)} ({m.group(2)})"
        elif m := _IMPORT_RATE.match(line):
            rates.append((m.group(1), float(m.group(2).replace(",", ""))))
        elif m := _NAIVE_RATE.match(line):
            naive = float(m.group(1).replace(",", ""))
        elif m := _SEARCH.match(line):
            searches.append(Figure(f"{m.group(1)} p50{where}", float(m.group(2)), unit="ms"))
            searches.append(Figure(f"{m.group(1)} p95{where}", float(m.group(3)), unit="ms",
                                   target=25.0 if "1,000,000" in where else None))
    return [Figure(f"{label}{where}", rate, naive, "rows/s", "higher",
                   20_000 if label.startswith("import") else None) for label, rate in rates] + searches


_NAMES = re.compile(r"^\s*([\d,]+) (.+?)\s+([\d.]+)ms\s+([\d.]+)ms\s+([\d.]+)%\s+([\d.]+)% \|"
                    r"\s+([\d.]+)ms\s+([\d.]+)ms\s+([\d.]+)%")


def parse_names(_data: Any, text: str) -> list[Figure]:
    """bench_search_names.py's printed table: p95 and top-5 beside the naive scan's."""
    figures = []
    for line in text.splitlines():
        if m := _NAMES.match(line):
            size, kind = m.group(1), m.group(2)
            big = int(size.replace(",", "")) >= 1_000_000
            figures.append(Figure(f"{kind} p95 @ {size}", float(m.group(4)), float(m.group(8)), "ms",
                                  target=25.0 if big else None))
            figures.append(Figure(f"{kind} top-5 @ {size}", float(m.group(6)), float(m.group(9)), "%",
                                  "higher", 90.0 if "typo" in kind else 98.0))
    return figures


def parse_engine(data: Any, _text: str) -> list[Figure]:
    """bench_engine.py --json: no baseline of its own (its targets stand in)."""
    return [Figure(f"messages/s @ {data['entries']:,} entries", data["rate"], None, "msg/s",
                   "higher", 500.0),
            Figure("messages per CPU-second", data["cpu_rate"], None, "msg/s", "higher"),
            Figure("p50", data["p50"], None, "ms"),
            Figure("p99", data["p99"], None, "ms", target=20.0)]


def parse_digests(data: Any, _text: str) -> list[Figure]:
    return [Figure("digests/s (one core)", data["rate"], data["baseline"], "digests/s", "higher",
                   2_000.0),
            Figure("peak RSS after a tenth", data["memory_tenth"], None, "MB"),
            Figure("peak RSS after all", data["memory_all"], data["memory_tenth"], "MB")]


def parse_lookup(data: Any, _text: str) -> list[Figure]:
    targets = {"nearest(lat, lon)": ("p95_ms", 5.0), "Gazetteer.load()": ("p50_ms", 800.0),
               "parse(text)": ("p50_ms", 2.0)}
    figures = []
    for row in data:
        for key in ("p50_ms", "p95_ms"):
            wanted = targets.get(row["figure"])
            target = wanted[1] if wanted and wanted[0] == key else None
            figures.append(Figure(f"{row['figure']} {key[:3]}", row[key], row[f"baseline_{key}"],
                                  "ms", target=target))
    return figures


def parse_telegram(data: Any, _text: str) -> list[Figure]:
    """bench_telegram_load.py --json: each communebot beside the echo bot (the floor)."""
    bots = data["bots"]
    floor = next((b for b in bots if b["name"].startswith("echo")), None)
    figures = []
    for bot in bots:
        if bot is floor:
            continue
        base = floor or {}
        for key, unit, better in (("p50_ms", "ms", "lower"), ("p99_ms", "ms", "lower"),
                                  ("messages_per_s", "msg/s", "higher"),
                                  ("rss_mb", "MB", "lower"), ("cpu_ms", "ms/msg", "lower")):
            target = base["p99_ms"] + 100 if key == "p99_ms" and floor else None
            figures.append(Figure(f"{bot['name']} {key}", bot[key], base.get(key), unit, better,
                                  target))
        figures.append(Figure(f"{bot['name']} lost+incomplete+dup+errors",
                              bot["lost"] + bot["incomplete"] + bot["duplicated"] + bot["errors"],
                              None, "", target=1))
    return figures


def parse_startup(data: Any, _text: str) -> list[Figure]:
    ours, base = data["communebot"], data["baseline"]
    n = data["entries"]
    return [Figure(f"start-up to first getUpdates @ {n:,}", ours["startup_s"], base["startup_s"],
                   "s", target=data["targets"]["startup_s"]),
            Figure(f"peak RSS after answering @ {n:,}", ours["peak_rss_mb"], base["peak_rss_mb"],
                   "MB", target=data["targets"]["peak_rss_mb"] if n >= 1_000_000 else None)]


def parse_generic(data: Any, text: str) -> list[Figure]:
    """A JSON whose keys come in pairs ``x`` / ``baseline_x`` (else: the output only)."""
    figures: list[Figure] = []

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                base = node.get(f"baseline_{key}")
                if isinstance(value, int | float) and isinstance(base, int | float):
                    figures.append(Figure(f"{prefix}{key}", float(value), float(base)))
                elif isinstance(value, dict | list):
                    label = node.get("query") or node.get("name") or node.get("size") or ""
                    walk(value, f"{prefix}{label} " if label else prefix)
        elif isinstance(node, list):
            for item in node:
                walk(item, prefix)

    walk(data, "")
    return figures


# --- the jobs ----------------------------------------------------------------------------------
def plan(sizes: Sequence[int], quick: bool, pg: bool, workdir: Path,
         startup_entries: Sequence[int]) -> list[Job]:
    """Every benchmark run, in order, for these sizes."""
    csv_sizes = ",".join(str(n) for n in sizes)
    jobs = [Job("directory (SQLite, search with a place, import)", "bench_directory.py",
                ["--quick"] if quick else ["--sizes", csv_sizes], parse_directory),
    ]
    names = (["--sizes", *(str(n) for n in sizes)]
             + (["--queries", "20", "--baseline-queries", "3"] if quick else []))
    jobs.append(Job("name-only search (no place) on SQLite", "bench_search_names.py", names,
                    parse_names, json_flag=False))
    if pg:
        jobs.append(Job("name-only search (no place) on PostgreSQL", "bench_search_names.py",
                        names, parse_names, json_flag=False, pg_server=True))
    for n in sizes:
        jobs.append(Job(f"import on SQLite @ {n:,}", "bench_import.py", ["--rows", str(n), "--bulk"],
                        parse_import, json_flag=False))
        if pg:
            jobs.append(Job(f"import and search on PostgreSQL @ {n:,}", "bench_import.py",
                            ["--rows", str(n), "--paths", "copy", "--bulk",
                             "--searches", "20" if quick else "200"],
                            parse_import, json_flag=False, fresh_pg=True))
    jobs += [
        Job("engine messages/s", "bench_engine.py", ["--quick"] if quick else [], parse_engine),
        Job("digests/s", "bench_digests.py", ["--quick"] if quick else [], parse_digests),
        Job("lookup (point to commune, gazetteer, NLU)", "bench_lookup.py",
            ["--quick"] if quick else [], parse_lookup),
        Job("NLU accuracy and speed", "bench_nlu.py", ["--rounds", "1"], parse_generic,
            json_flag=False),
        Job("time expressions", "bench_when.py", ["--rounds", "1" if quick else "3"], parse_generic,
            json_flag=False),
        Job("Telegram end to end (emulator)", "bench_telegram_load.py",
            (["--users", "10", "--messages", "5", "--think", "0.2-0.5"] if quick else [])
            + ["--backend", "sqlite,postgres" if pg else "sqlite"], parse_telegram),
    ]
    for n in startup_entries:
        jobs.append(Job(f"start-up and peak RSS @ {n:,}", "bench_startup.py",
                        ["--quick"] if quick else
                        ["--entries", str(n), "--db", str(workdir / f"startup_{n}.db")],
                        parse_startup))
    return jobs


@contextmanager
def fresh_pg_database(pg_url: str) -> Iterator[str]:
    """An empty PostgreSQL database for one benchmark, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    sys.path.insert(0, str(ROOT))
    from directory.db import normalise_url

    base = normalise_url(pg_url)
    name = f"bench_all_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_job(job: Job, workdir: Path, pg_url: str | None, env: dict[str, str]) -> Outcome:
    """Runs one benchmark; never raises (a failure is an outcome)."""
    script = HERE / job.script
    if not script.exists():
        return Outcome(job, "not available", error=f"{job.script} does not exist")
    json_path = workdir / f"{uuid.uuid4().hex}.json"
    argv = [sys.executable, str(script), *job.args]
    if job.json_flag:
        argv += ["--json", str(json_path)]
    start = time.perf_counter()
    try:
        with (fresh_pg_database(pg_url) if job.fresh_pg and pg_url else _no_db()) as db:
            if job.pg_server and pg_url:
                db = pg_url
            if db:
                argv += ["--db", db]
            label = "postgresql://…/<server>" if job.pg_server else "postgresql://…/<fresh>"
            shown = shlex.join(a.replace(db, label) if db else a for a in argv[1:])
            print(f"== {job.name}: python {shown}", flush=True)
            proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True,
                                  timeout=job.timeout, env=env)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout if isinstance(exc.stdout, str) else (exc.stdout or b"").decode()
        return Outcome(job, "failed", time.perf_counter() - start, shown, output=out,
                       error=f"timed out after {job.timeout:.0f} s")
    except Exception as exc:  # a database that cannot be created: reported, run goes on
        return Outcome(job, "failed", time.perf_counter() - start, error=repr(exc))
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        return Outcome(job, "failed", seconds, shown, output=proc.stdout,
                       error=f"exit {proc.returncode}: " + error_summary(proc.stderr))
    try:
        data = json.loads(json_path.read_text(encoding="utf-8")) if json_path.exists() else {}
        figures = job.parse(data, proc.stdout)
    except (ValueError, KeyError, TypeError) as exc:
        return Outcome(job, "failed", seconds, shown, output=proc.stdout,
                       error=f"figures not understood: {exc!r}")
    return Outcome(job, "ok", seconds, shown, figures, proc.stdout)


@contextmanager
def _no_db() -> Iterator[str]:
    yield ""


_EXCEPTION = re.compile(r"^[\w.]*(Error|Exception|Exit|Interrupt)\b.*")


def error_summary(stderr: str) -> str:
    """The exception a traceback ended with (SQLAlchemy adds a line after it), then the tail."""
    named = [line for line in stderr.splitlines() if _EXCEPTION.match(line)]
    tail = _tail(stderr, 10)
    return f"{named[-1][:500]}\n{tail}" if named and named[-1] not in tail else tail


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# --- the machine and the report -------------------------------------------------------------
def machine(pg_url: str | None) -> dict[str, str]:
    """What the figures were measured on."""
    cpu = next((line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines()
                if line.startswith("model name")), platform.processor() or "?")
    mem = next((line.split()[1] for line in _read("/proc/meminfo").splitlines()
                if line.startswith("MemTotal:")), "")
    info = {"CPU": cpu, "cores": str(os.cpu_count()),
            "RAM": f"{int(mem) / 1024 / 1024:.1f} GiB" if mem else "?",
            "OS": platform.platform(), "Python": platform.python_version(),
            "PostgreSQL": "not configured (SQLite only)"}
    if pg_url:
        try:
            from sqlalchemy import create_engine, text

            sys.path.insert(0, str(ROOT))
            from directory.db import normalise_url

            engine = create_engine(normalise_url(pg_url))
            with engine.connect() as conn:
                info["PostgreSQL"] = str(conn.execute(text("SHOW server_version")).scalar())
            engine.dispose()
        except Exception as exc:  # reported, not fatal
            info["PostgreSQL"] = f"unreachable ({exc.__class__.__name__})"
    info["load average"] = _read("/proc/loadavg").split(" ")[:3].__str__()
    return info


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}".rstrip("0").rstrip(".")


def render(outcomes: Sequence[Outcome], info: dict[str, str], command: str, commit: str,
           when: datetime) -> str:
    """RESULTS.md: pure (everything it shows is passed in)."""
    lines = ["# Benchmark results", "",
             f"Written by `benchmarks/run_all.py` on {when:%Y-%m-%d %H:%M} UTC, commit `{commit}`.", "",
             f"Command: `{command}`", "", "## Machine", "", "| | |", "|---|---|",
             *(f"| {k} | {v} |" for k, v in info.items()), "",
             "Ratio: how many times better than the baseline measured in the same run "
             "(above 1: ours is better). Target: met / MISSED / — (none).", "",
             "## Summary", "", "| benchmark | status | seconds | targets met |",
             "|---|---|---:|---|"]
    for o in outcomes:
        verdicts = [f.met for f in o.figures if f.met is not None]
        met = f"{sum(verdicts)}/{len(verdicts)}" if verdicts else "—"
        lines.append(f"| {o.job.name} | {o.status} | {o.seconds:.0f} | {met} |")
    for o in outcomes:
        lines += ["", f"## {o.job.name}", ""]
        if o.command:
            lines += [f"`python {o.command}`", ""]
        if o.status == "not available":
            lines += [f"Not available: {o.error}."]
            continue
        if o.status == "failed":
            lines += ["**Failed**:", "", "```", o.error, "```"]
        if o.figures:
            lines += ["| figure | ours | baseline | ratio | target | |", "|---|---:|---:|---:|---:|---|"]
            for f in o.figures:
                sign = "< " if f.better == "lower" else ">= "
                target = "—" if f.target is None else sign + _num(f.target)
                verdict = {True: "met", False: "**MISSED**", None: ""}[f.met]
                ratio = "—" if f.ratio is None else f"{f.ratio:.2f}x"
                lines.append(f"| {f.figure} | {_num(f.value)} {f.unit} | {_num(f.baseline)} | "
                             f"{ratio} | {target} | {verdict} |")
        elif o.status == "ok":
            lines += ["Figures as printed (each beside its baseline) below."]
        if o.output.strip():
            lines += ["", "<details><summary>output</summary>", "", "```",
                      _tail(o.output, 60), "```", "", "</details>"]
    return "\n".join(lines) + "\n"


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return out + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "?"


def main(argv: Sequence[str] | None = None) -> list[Outcome]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny sizes, a few minutes")
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")],
                        help="directory sizes (default 10000,100000,1000000)")
    parser.add_argument("--startup-entries", type=lambda s: [int(x) for x in s.split(",")],
                        help="bench_startup sizes (default 10000,1000000)")
    parser.add_argument("--only", help="comma-separated script stems or words of job names "
                        "(e.g. engine,startup)")
    parser.add_argument("--pg-url", default=os.environ.get("COMMUNEBOT_TEST_PG_URL"))
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per benchmark")
    parser.add_argument("--workdir", type=Path, help="where built databases go (kept for reuse)")
    args = parser.parse_args(argv)
    pg_url = None if args.no_pg else args.pg_url
    sizes = args.sizes or list(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    startup = args.startup_entries or ([200] if args.quick else [10_000, 1_000_000])
    with tempfile.TemporaryDirectory(prefix="bench-all-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        jobs = plan(sizes, args.quick, bool(pg_url), workdir, startup)
        if args.only:
            wanted = [w.strip().lower() for w in args.only.split(",")]
            jobs = [j for j in jobs if any(w in j.script.lower() or w in j.name.lower()
                                           for w in wanted)]
        for job in jobs:
            job.timeout = args.timeout
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        if pg_url:
            env["COMMUNEBOT_TEST_PG_URL"] = pg_url
        command = "python benchmarks/run_all.py " + shlex.join(
            argv if argv is not None else sys.argv[1:])
        info, commit, began = machine(pg_url), git_commit(), datetime.now(UTC)
        outcomes: list[Outcome] = []
        for job in jobs:
            outcome = run_job(job, workdir, pg_url, env)
            print(f"   {outcome.status} in {outcome.seconds:.0f} s"
                  + (f": {outcome.error.splitlines()[-1] if outcome.error else ''}"
                     if outcome.status != "ok" else ""), flush=True)
            outcomes.append(outcome)
            # rewritten after each benchmark: a run cut short still leaves its figures
            done = f" ({len(outcomes)} of {len(jobs)} benchmarks so far)" if len(outcomes) < len(jobs) else ""
            args.output.write_text(render(outcomes, info, command.strip() + done, commit, began),
                                   encoding="utf-8")
    print(f"wrote {args.output}")
    return outcomes


if __name__ == "__main__":
    main()
