"""Telegram under load (issue 19): simulated users against the real ``communebot run``,
and a python-telegram-bot echo bot as the floor, in the same run, through a Bot API
emulator whose getUpdates long-polls as Telegram's does (``load_emulator.py``).

Each bot runs as its own process (so its CPU time and peak RSS are its own) polling the
emulator on 127.0.0.1. Every simulated user owns a private chat and plays the same 25
messages (registration by deep link, searches, picking a result, the next page, /help,
/me, /settings, a recommendation started then cancelled...), waiting for the whole answer
then ``--think`` seconds before the next. How many messages each step's answer has is
learnt first from one calibration user (silence for ``--quiet`` seconds ends an answer),
so a step is complete when its messages are all there, an answer with fewer messages in
10 s is incomplete, none at all is lost, and messages beyond the expected total are
duplicates. ``--closed-loop`` sends the next message as soon as the answer is complete
(no think time): the capacity in messages per second.

    python benchmarks/bench_telegram_load.py                          # 200 x 25, think 2-6 s, SQLite
    python benchmarks/bench_telegram_load.py --backend sqlite,postgres  # PG: COMMUNEBOT_TEST_PG_URL
    python benchmarks/bench_telegram_load.py --closed-loop            # capacity
    python benchmarks/bench_telegram_load.py --users 20 --messages 10 # a quick look

Printed for both bots: p50/p95/p99/max latency of the first message of each answer,
lost, incomplete, duplicated, errors logged, peak RSS, CPU ms per message, messages/s;
then communebot against the targets: p99 at most 100 ms above the echo bot's, closed-loop
capacity at least half the echo bot's. The machine's load average is printed first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for folder in (ROOT, Path(__file__).resolve().parent):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from load_emulator import LoadEmulator  # noqa: E402

TOKEN = "123456:LOAD-token"
#: a user's messages, in order (French, as most users of a Réunion directory write)
SCRIPT: tuple[str, ...] = (
    "/start 97415", "bonjour", "boulangerie", "plus", "/help", "garagiste au Port", "1",
    "je recommande une crèche", "annuler", "pharmacie à saint pierre", "/me", "merci",
    "coiffeur", "aide", "médecin", "je recommande le garage Ti Boulon au Port", "annuler",
    "club de foot a saint andre", "/settings", "annuler", "quelle crèche près de chez moi ?",
    "1", "ok", "salut", "/cancel",
)
#: a step with no message at all within this many seconds is lost
LOST_AFTER = 10.0
FIRST_USER = 10_000_000


# --- the two bots ------------------------------------------------------------------------------
def echo_bot_main(base_url: str, poll_timeout: int) -> None:
    """The floor: python-telegram-bot's echo bot, polling with the same timeout."""
    import logging

    from telegram import Update
    from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text(update.message.text or "?")

    app = ApplicationBuilder().token(TOKEN).base_url(base_url).build()
    app.add_handler(MessageHandler(filters.ALL, echo))
    app.run_polling(timeout=poll_timeout, allowed_updates=["message", "callback_query"])


def communebot_config(path: Path, db_url: str, base_url: str, poll_timeout: int,
                      extra: dict[str, Any], closed_loop: bool = False) -> None:
    """Production settings (pacing included) pointed at the emulator. A closed loop lifts
    the per-person flood control too: its simulated people type 25 messages in a few
    seconds each, which the bot rightly silences after 20 (they would count as lost)."""
    lines = ["database:", f"  url: {db_url!r}", "telegram:", "  enabled: true",
             f"  token: {TOKEN!r}", f"  base_url: {base_url!r}",
             f"  poll_timeout: {poll_timeout}"]
    lines += [f"  {key}: {value}" for key, value in extra.items()]
    if closed_loop:
        lines += ["moderation:", "  flood_burst: 1000", "  flood_per_minute: 6000"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def prepare_database(backend: str, workdir: Path, pg_url: str | None) -> tuple[str, Any]:
    """A database with the sample directory; returns its URL and a clean-up function."""
    from sqlalchemy import create_engine, text

    from directory.db import normalise_url, open_store, transaction
    from directory.sample import load_sample

    drop: Any = lambda: None  # noqa: E731
    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'bench.db'}"
    else:
        if not pg_url:
            raise SystemExit("--backend postgres needs --pg-url or COMMUNEBOT_TEST_PG_URL")
        from sqlalchemy.engine import make_url

        base = normalise_url(pg_url)
        name = f"bench_tg_{uuid.uuid4().hex[:8]}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(base).set(database=name).render_as_string(hide_password=False)

        def drop() -> None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    engine, factory = open_store(url)
    with transaction(factory) as session:
        load_sample(session)
    engine.dispose()
    return url, drop


# --- one process's figures ------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its finished children, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} CPUs)"


# --- the users ------------------------------------------------------------------------------
@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    lost: int = 0
    incomplete: int = 0
    sent: int = 0


def set_lost_after(seconds: float) -> None:
    global LOST_AFTER
    LOST_AFTER = seconds


async def wait_count(emu: LoadEmulator, chat: int, count: int, deadline: float) -> bool:
    """True once ``chat`` shows ``count`` bot messages; False at ``deadline``."""
    log = emu.chats[chat]
    while len(log.stamps) < count:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        log.changed.clear()
        try:
            await asyncio.wait_for(log.changed.wait(), left)
        except TimeoutError:
            return len(log.stamps) >= count
    return True


async def calibrate(emu: LoadEmulator, script: Sequence[str], quiet: float) -> list[int]:
    """How many messages each step's answer has: one user, silence ends an answer."""
    chat = FIRST_USER - 1
    expected: list[int] = []
    for text in script:
        before = len(emu.chats[chat].stamps)
        emu.send_text(chat, text)
        if not await wait_count(emu, chat, before + 1, time.monotonic() + LOST_AFTER):
            raise SystemExit(f"calibration: no answer to {text!r}")
        while await wait_count(emu, chat, len(emu.chats[chat].stamps) + 1,
                               time.monotonic() + quiet):
            pass
        expected.append(len(emu.chats[chat].stamps) - before)
    return expected


async def play_user(emu: LoadEmulator, chat: int, script: Sequence[str], expected: Sequence[int],
                    think: tuple[float, float], rng: random.Random, tally: Tally) -> None:
    await asyncio.sleep(rng.uniform(0, max(think[1], 0.5)))  # users arrive over a few seconds
    done = 0
    for text, count in zip(script, expected, strict=True):
        sent_at = time.monotonic()
        emu.send_text(chat, text)
        tally.sent += 1
        if await wait_count(emu, chat, done + 1, sent_at + LOST_AFTER):
            tally.latencies.append(emu.chats[chat].stamps[done] - sent_at)
            if not await wait_count(emu, chat, done + count, sent_at + LOST_AFTER + count * 2):
                tally.incomplete += 1
        else:
            tally.lost += 1
        done += count
        if think[1] > 0:
            await asyncio.sleep(rng.uniform(*think))


# --- one bot, start to end ------------------------------------------------------------------
@dataclass
class Result:
    name: str
    tally: Tally
    expected_total: int
    duplicated: int
    errors: int
    rss_mb: float
    cpu_ms: float
    seconds: float
    error_lines: list[str]
    #: Bot API calls by method during the run (what a message costs in HTTP)
    calls: dict[str, int] = field(default_factory=dict)

    def percentile(self, q: float) -> float:
        values = sorted(self.tally.latencies)
        if not values:
            return float("nan")
        return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))] * 1000


async def run_bot(name: str, command: Callable[[str], list[str]], users: int, script: Sequence[str],
                  think: tuple[float, float], seed: int, quiet: float | None,
                  workdir: Path) -> Result:
    emu = LoadEmulator(TOKEN)
    await emu.start()
    stderr_path = workdir / f"{name}.log"
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(command(emu.base_url), cwd=ROOT, stdout=stderr, stderr=stderr)
    try:
        deadline = time.monotonic() + 60
        while emu.calls["getUpdates"] == 0:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{name} did not start: see {stderr_path}\n"
                                 + stderr_path.read_text(errors="replace")[-2000:])
            await asyncio.sleep(0.05)
        expected = ([1] * len(script) if quiet is None
                    else await calibrate(emu, script, quiet))
        rng = random.Random(seed)
        tally = Tally()
        chats = [FIRST_USER + i for i in range(users)]
        cpu_before = cpu_seconds(proc.pid)
        calls_before = dict(emu.calls)
        started = time.monotonic()
        await asyncio.gather(*(play_user(emu, chat, script, expected, think,
                                         random.Random(rng.random()), tally)
                               for chat in chats))
        seconds = time.monotonic() - started
        cpu = cpu_seconds(proc.pid) - cpu_before
        calls = {method: count - calls_before.get(method, 0) for method, count in emu.calls.items()
                 if count > calls_before.get(method, 0)}
        await asyncio.sleep(max(3.0, quiet or 0))  # late or doubled messages show up
        expected_total = sum(expected)
        duplicated = sum(max(0, len(emu.chats[chat].stamps) - expected_total) for chat in chats)
        rss = peak_rss_mb(proc.pid)
        during = stderr_path.read_text(errors="replace")  # errors at stop are counted apart
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        await emu.stop()
    error_lines = _errors(during) + emu.errors
    at_stop = _errors(stderr_path.read_text(errors="replace")[len(during):])
    error_lines += [f"(at stop) {line}" for line in at_stop]
    return Result(name, tally, expected_total, duplicated, len(error_lines) - len(at_stop),
                  rss, cpu * 1000 / max(1, tally.sent), seconds, error_lines, calls)


def _errors(log_text: str) -> list[str]:
    """Each ERROR or CRITICAL line, and for a traceback the exception it ended with (what
    the summary shows: "Traceback (most recent call last):" alone says nothing)."""
    found: list[str] = []
    in_traceback = False
    for line in log_text.splitlines():
        if " ERROR " in line or " CRITICAL " in line:
            found.append(line)
        elif line.startswith("Traceback"):
            in_traceback = True
        elif in_traceback and line and not line.startswith((" ", "During handling",
                                                             "The above exception")):
            found.append(f"  raised {line}")
            in_traceback = False
    return found


def communebot_command(config: Path, profile: str | None = None) -> list[str]:
    """``communebot run``; under cProfile (written at a clean stop) with ``profile``."""
    prefix = ["-m", "cProfile", "-o", profile] if profile else []
    return [sys.executable, *prefix, "-m", "bot.cli", "run", "-c", str(config),
            "--log-level", "WARNING"]


def echo_command(base_url: str, poll_timeout: int) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--echo-bot", base_url,
            "--poll-timeout", str(poll_timeout)]


def report(results: Sequence[Result], closed_loop: bool) -> list[str]:
    lines = [f"{'bot':<22} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7} {'lost':>5} "
             f"{'incompl':>7} {'dup':>4} {'errors':>6} {'RSS MB':>7} {'CPU ms/msg':>10} "
             f"{'msg/s':>7}"]
    for r in results:
        lines.append(
            f"{r.name:<22} {r.percentile(50):7.1f} {r.percentile(95):7.1f} "
            f"{r.percentile(99):7.1f} {r.percentile(100):7.1f} {r.tally.lost:5d} "
            f"{r.tally.incomplete:7d} {r.duplicated:4d} {r.errors:6d} {r.rss_mb:7.1f} "
            f"{r.cpu_ms:10.2f} {r.tally.sent / r.seconds:7.1f}")
    for r in results:
        if r.calls and r.tally.sent:
            lines.append(f"  {r.name} Bot API calls per message: " + ", ".join(
                f"{method} {count / r.tally.sent:.2f}"
                for method, count in sorted(r.calls.items(), key=lambda kv: -kv[1])))
        for line in r.error_lines[:5]:
            lines.append(f"  {r.name} logged: {line[:200]}")
    floor = results[0]
    for r in results[1:]:
        if closed_loop:
            ratio = (r.tally.sent / r.seconds) / (floor.tally.sent / floor.seconds)
            verdict = "met" if ratio >= 0.5 else "MISSED"
            lines.append(f"{r.name}: capacity {ratio:.2f} x the echo bot's "
                         f"(target >= 0.5: {verdict})")
        else:
            gap = r.percentile(99) - floor.percentile(99)
            verdict = "met" if gap <= 100 else "MISSED"
            lines.append(f"{r.name}: p99 {gap:+.1f} ms against the echo bot's "
                         f"(target <= +100 ms: {verdict})")
        clean = r.tally.lost == 0 and r.duplicated == 0 and r.errors == 0 and not r.tally.incomplete
        lines.append(f"{r.name}: {'nothing lost, doubled or failed' if clean else 'NOT CLEAN'}")
    return lines


class _Printed(list[Result]):
    """Results, each printed as it comes (a long run shows its figures as it goes)."""

    def append(self, result: Result) -> None:
        super().append(result)
        print(report([result], closed_loop=False)[1], flush=True)


async def bench(args: argparse.Namespace) -> list[Result]:
    low, high = (0.0, 0.0) if args.closed_loop else (float(x) for x in args.think.split("-"))
    script = [SCRIPT[i % len(SCRIPT)] for i in range(args.messages)]
    results = _Printed()
    with tempfile.TemporaryDirectory(prefix="bench-tg-") as tmp:
        workdir = Path(args.keep_logs or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        if not args.no_echo:
            results.append(await run_bot(
                "echo (PTB)", lambda base_url: echo_command(base_url, args.poll_timeout),
                args.users, script, (low, high), args.seed, None, workdir))
        extra = dict(item.split("=", 1) for item in args.set)
        if args.closed_loop:
            # capacity is what the process can answer: the echo bot paces nothing, so
            # Telegram's 1 message/s per chat (a deliberate wait, no work) is lifted here
            # unless --set says otherwise
            extra.setdefault("chat_interval_seconds", "0")
        if extra:
            print("communebot settings: " + ", ".join(f"{k}={v}" for k, v in extra.items()))
        for backend in args.backend.split(","):
            url, drop = prepare_database(backend, workdir,
                                         args.pg_url or os.environ.get("COMMUNEBOT_TEST_PG_URL"))
            config = workdir / f"{backend}.yaml"

            profile = f"{args.profile}.{backend}" if args.profile else None

            def command(base_url: str, url: str = url, config: Path = config,
                        profile: str | None = profile) -> list[str]:
                communebot_config(config, url, base_url, args.poll_timeout, extra,
                                  args.closed_loop)
                return communebot_command(config, profile)
            try:
                results.append(await run_bot(
                    f"communebot ({backend})", command, args.users, script, (low, high),
                    args.seed, args.quiet, workdir))
            finally:
                drop()
    return results


def main(argv: Sequence[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--messages", type=int, default=25, help="messages per user")
    parser.add_argument("--think", default="2-6", help="seconds between an answer and the "
                        "next message, min-max")
    parser.add_argument("--closed-loop", action="store_true", help="no think time: capacity")
    parser.add_argument("--backend", default="sqlite", help="sqlite, postgres, or both: "
                        "sqlite,postgres")
    parser.add_argument("--pg-url", default=None)
    parser.add_argument("--keep-logs", default=None, metavar="DIR",
                        help="write each bot's log (and the SQLite file) to DIR and keep them")
    parser.add_argument("--poll-timeout", type=int, default=10)
    parser.add_argument("--quiet", type=float, default=1.5,
                        help="calibration: seconds of silence that end an answer")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--lost-after", type=float, default=LOST_AFTER,
                        help="seconds without any answer before a message counts as lost")
    parser.add_argument("--no-echo", action="store_true", help="skip the echo bot")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a telegram: setting for communebot (e.g. chat_interval_seconds=0)")
    parser.add_argument("--profile", metavar="PATH", help="run communebot under cProfile, "
                        "written to PATH.<backend> (read it with python -m pstats)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--echo-bot", metavar="BASE_URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.echo_bot:
        echo_bot_main(args.echo_bot, args.poll_timeout)
        return []
    set_lost_after(args.lost_after)
    print(f"load average: {load_average()}")
    mode = "closed loop" if args.closed_loop else f"think {args.think} s"
    print(f"{args.users} users x {args.messages} messages, {mode}")
    results = asyncio.run(bench(args))
    print("--")
    for line in report(results, args.closed_loop):
        print(line)
    print(f"load average after: {load_average()}")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"closed_loop": args.closed_loop, "users": args.users, "messages": args.messages,
             "bots": [summary(r) for r in results]}, indent=1), encoding="utf-8")
    return results


def summary(result: Result) -> dict[str, Any]:
    """One bot's figures as plain numbers (the JSON ``run_all.py`` reads)."""
    return {"name": result.name, "p50_ms": result.percentile(50),
            "p95_ms": result.percentile(95), "p99_ms": result.percentile(99),
            "max_ms": result.percentile(100), "lost": result.tally.lost,
            "incomplete": result.tally.incomplete, "duplicated": result.duplicated,
            "errors": result.errors, "rss_mb": result.rss_mb, "cpu_ms": result.cpu_ms,
            "messages_per_s": result.tally.sent / result.seconds if result.seconds else 0.0}


if __name__ == "__main__":
    main()
