"""Start-up time and peak RSS of ``communebot run`` (issue 15), beside the floor of any
python-telegram-bot bot measured in the same run.

    python benchmarks/bench_startup.py                            # 10k entries, 3 runs
    python benchmarks/bench_startup.py --entries 1000000 --db /tmp/s1m.db  # built once, reused
    python benchmarks/bench_startup.py --quick                    # tiny, what the test runs
    python benchmarks/bench_startup.py --json out.json

The database (SQLite) is filled by the real importer (``communebot import --bulk``) from a
synthetic CSV. Each run starts a Bot API emulator on 127.0.0.1 (``load_emulator.py``),
starts the bot as its own process, and times from the spawn to its first ``getUpdates``
(the moment it can take messages). Then one user registers, searches by name, by
category in a commune and near home; once those answers are in, the process's peak RSS
(``VmHWM`` in ``/proc/PID/status``) is read. The baseline is the echo bot of
``bench_telegram_load.py`` (a bare PTB Application) playing the same messages; the time
of ``python -c "import telegram"`` is printed too.
Targets: start-up < 2 s, peak RSS < 200 MB with 1M entries.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for folder in (ROOT, Path(__file__).resolve().parent):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from bench_telegram_load import communebot_config, echo_command, peak_rss_mb  # noqa: E402
from load_emulator import LoadEmulator  # noqa: E402

STARTUP_TARGET_S = 2.0
RSS_TARGET_MB = 200.0
#: a name search is added once the database's first name is known
MESSAGES: tuple[str, ...] = ("/start 97415", "pharmacie à saint pierre",
                             "quelle crèche près de chez moi ?")
USER = 20_000_000


@dataclass
class Run:
    """One bot's figures (medians over the runs for times)."""

    name: str
    startup_s: float
    peak_rss_mb: float
    answered: int
    messages: int


def write_csv(path: Path, size: int, seed: int) -> str:
    """Synthetic entries over France's communes; returns one entry's name (for a name search)."""
    from directory.categories import get_taxonomy
    from directory.gazetteer import get_gazetteer

    rng = random.Random(seed)
    communes = [c for c in get_gazetteer() if c.lat is not None and c.lon is not None]
    categories = list(get_taxonomy())
    syllables = [c + v for c in "bcdklmnprstvz" for v in "aeiou"]
    words = ["".join(rng.choice(syllables) for _ in range(3)).capitalize() for _ in range(2000)]
    first = ""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["id", "name", "category", "kind", "commune", "lat", "lon"])
        for n in range(size):
            commune, category = rng.choice(communes), rng.choice(categories)
            name = f"{category.name_fr} {rng.choice(words)} {rng.choice(words)}"
            first = first or name
            lat = (commune.lat or 0.0) + rng.uniform(-0.02, 0.02)
            lon = (commune.lon or 0.0) + rng.uniform(-0.02, 0.02)
            writer.writerow([f"s{n}", name, category.slug, category.kind, commune.insee,
                             f"{lat:.6f}", f"{lon:.6f}"])
    return first


def build_database(db: Path, entries: int, seed: int) -> tuple[str, float]:
    """The store at ``db`` (built by the importer unless it exists); a name and build seconds."""
    marker = db.with_suffix(db.suffix + ".name")
    if db.exists() and marker.exists():
        return marker.read_text(encoding="utf-8"), 0.0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "entries.csv"
        name = write_csv(source, entries, seed)
        subprocess.run([sys.executable, "-m", "bot.cli", "import", "--bulk", "--db",
                        f"sqlite:///{db}", str(source)], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    marker.write_text(name, encoding="utf-8")
    return name, time.perf_counter() - start


def import_telegram_s() -> float:
    """Wall time of ``python -c "import telegram"``: the interpreter plus PTB's import."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import telegram.ext"], check=True)
    return time.perf_counter() - start


async def _wait_answers(emu: LoadEmulator, count: int, timeout: float) -> int:
    """Waits until ``count`` messages were answered (a new chat message after each)."""
    deadline = time.monotonic() + timeout
    log = emu.chats[USER]
    while len(log.stamps) < count and time.monotonic() < deadline:
        log.changed.clear()
        try:
            await asyncio.wait_for(log.changed.wait(), max(0.01, deadline - time.monotonic()))
        except TimeoutError:
            break
    return len(log.stamps)


async def one_run(command: Callable[[str], list[str]], messages: Sequence[str],
                  timeout: float) -> tuple[float, float, int]:
    """Start-up seconds, peak RSS (MB) after the messages, and how many got an answer."""
    emu = LoadEmulator()
    # Telegram's update ids only grow, across the bot's restarts too, and the bot drops an
    # update at or below the last one it stored as handled already. Numbered from 1 in
    # every run, each run after the first on the same database had all its messages
    # dropped (0 of 4 answered at 10k in the full run): number them from the clock instead.
    emu.next_update_id = time.time_ns() // 1_000_000
    await emu.start()
    # a file, not a pipe: a pipe nobody reads fills up and blocks the bot's logging
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in the finally below)
    proc = subprocess.Popen(command(emu.base_url), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=log)
    start = time.perf_counter()
    try:
        while not emu.calls["getUpdates"]:
            if proc.poll() is not None:
                log.seek(0)
                err = log.read().decode(errors="replace")
                raise RuntimeError(f"the bot exited ({proc.returncode}): {err[-800:]}")
            if time.perf_counter() - start > timeout:
                raise RuntimeError("no getUpdates within the timeout")
            await asyncio.sleep(0.005)
        startup = time.perf_counter() - start
        answered = 0
        for text in messages:
            before = len(emu.chats[USER].stamps)
            emu.send_text(USER, text)
            if await _wait_answers(emu, before + 1, timeout) > before:
                answered += 1
            await asyncio.sleep(0.3)  # let a many-message answer finish
        rss = peak_rss_mb(proc.pid)
        if answered < len(messages):
            log.seek(0)
            print("unanswered; the bot logged: "
                  + log.read().decode(errors="replace")[-1500:], file=sys.stderr)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        await emu.stop()
        log.close()
    return startup, rss, answered


def measure(name: str, command: Callable[[str], list[str]], messages: Sequence[str],
            runs: int, timeout: float) -> Run:
    results = [asyncio.run(one_run(command, messages, timeout)) for _ in range(runs)]
    return Run(name, statistics.median(r[0] for r in results),
               max(r[1] for r in results), min(r[2] for r in results), len(messages))


def report(ours: Run, floor: Run, import_s: float, entries: int) -> list[str]:
    """The printed table: each figure beside the floor, the ratio and the target."""
    rows = [("start-up to first getUpdates (s)", ours.startup_s, floor.startup_s, STARTUP_TARGET_S),
            ("peak RSS after answering (MB)", ours.peak_rss_mb, floor.peak_rss_mb, RSS_TARGET_MB)]
    lines = [f"entries: {entries:,}; python -c 'import telegram.ext': {import_s:.2f} s",
             f"{'figure':<34} {'communebot':>11} {'echo bot':>9} {'ratio':>6}  target",
             *(f"{label:<34} {a:>11.2f} {b:>9.2f} {a / b:>6.2f}  < {t:g}: "
               f"{'met' if a < t else 'MISSED'}" for label, a, b, t in rows),
             f"answered: communebot {ours.answered}/{ours.messages}, "
             f"echo bot {floor.answered}/{floor.messages}"]
    return lines


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--db", type=Path, help="SQLite file to build once and reuse")
    parser.add_argument("--runs", type=int, default=3, help="start-ups per bot (median)")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--quick", action="store_true",
                        help="tiny: 200 entries, two runs (the second on the first's database)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.entries, args.runs = 200, 2
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "startup.db"
        name, build_s = build_database(db, args.entries, args.seed)
        if build_s:
            print(f"built {args.entries:,} entries with the importer in {build_s:.1f} s")
        messages = [*MESSAGES[:1], name, *MESSAGES[1:]]
        config = Path(tmp) / "startup.yaml"

        def ours(base_url: str) -> list[str]:
            communebot_config(config, f"sqlite:///{db}", base_url, 10, {})
            return [sys.executable, "-m", "bot.cli", "run", "-c", str(config),
                    "--log-level", "WARNING"]

        import_s = import_telegram_s()
        floor = measure("echo bot", lambda url: echo_command(url, 10), messages, args.runs,
                        args.timeout)
        bot = measure("communebot", ours, messages, args.runs, args.timeout)
    for line in report(bot, floor, import_s, args.entries):
        print(line)
    result = {"entries": args.entries, "runs": args.runs, "import_telegram_s": import_s,
              "communebot": asdict(bot), "baseline": asdict(floor),
              "targets": {"startup_s": STARTUP_TARGET_S, "peak_rss_mb": RSS_TARGET_MB}}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
