"""The kill suite for ``communebot run`` on Matrix (issue 14): SIGKILL between two
messages of a registration and right after a message, on SQLite and PostgreSQL, against
a real Synapse. The dialog goes on, each message gets exactly the answers an undisturbed
run gives (a control user's, step by step), no process survives its parent.

An event whose sync token was not saved comes back after the restart; the engine keeps
its answer until it is delivered, so a kill between the turn's commit and the sending
loses nothing (``bot.engine.forget_replies``)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.messages import Outgoing

from .conftest import PASSWORD, register_bot
from .homeserver import Synapse

pytestmark = pytest.mark.synapse

SCRIPT = ("/start", "Saint-Paul", "non merci")


def _descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Run:
    def __init__(self, config: Path, log: Path) -> None:
        self.config, self.log = config, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "MATRIX_PASSWORD": PASSWORD}
        env.pop("COMMUNEBOT_DB", None)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from bot.cli import main; main()", "run", "-c", str(self.config)],
                env=env, stdout=out, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        assert self.process is not None
        children = _descendants(self.process.pid)
        self.process.send_signal(signal.SIGKILL)
        assert self.process.wait(timeout=10) == -signal.SIGKILL
        deadline = time.monotonic() + 5
        while any(_alive(p) for p in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [p for p in children if _alive(p)], "a child of run survived it"

    def stop(self) -> str:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=20)
        return self.log.read_text(errors="replace")


async def test_sigkill_mid_dialog_on_matrix(people: Any, synapse: Synapse, tmp_path: Path,
                                            db_url: str) -> None:
    bot_id, _ = await register_bot(synapse)
    config = {
        "database": {"url": db_url},
        "geocoder": {"enabled": False},
        "matrix": {"enabled": True, "homeserver": synapse.url, "user_id": bot_id,
                   "store_path": str(tmp_path / "matrix-store"), "sync_timeout_ms": 500,
                   "allowed_servers": [synapse.server_name], "encryption": False},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    run = Run(path, tmp_path / "run.log")
    run.start()
    try:
        async def chat(name: str) -> tuple[Any, str]:
            person = await people(name)
            room = await person.dm(bot_id)
            await person.wait_joined(room, bot_id, timeout=60)
            return person, room

        def answers(person: Any, room: str) -> list[str]:
            return [s["content"]["body"] for s in person.in_room(room) if s["sender"] == bot_id]

        async def say(person: Any, room: str, text: str, expected: int | None = None) -> list[str]:
            before = len(answers(person, room))
            await person.say(room, text)
            await person.wait_for(lambda r, s: r == room and s["sender"] == bot_id
                                  and len(answers(person, room)) >= before + (expected or 1), timeout=60)
            await asyncio.sleep(1.5)  # an extra answer would come now
            return answers(person, room)[before:]

        control, control_room = await chat("control")
        expected = [len(await say(control, control_room, text)) for text in SCRIPT]
        assert all(expected), expected

        # killed between two messages
        between, between_room = await chat("between")
        first = await say(between, between_room, SCRIPT[0], expected[0])
        assert len(first) == expected[0] and "commune" in first[-1].lower()
        run.kill()
        run.start()
        second = await say(between, between_room, SCRIPT[1], expected[1])
        assert len(second) == expected[1] and "Saint-Paul" in " ".join(second), second

        # killed right after a message: before it was read, while it was answered or once
        # answered, the answer comes exactly once after the restart
        racer, racer_room = await chat("racer")
        first = await say(racer, racer_room, SCRIPT[0], expected[0])
        await racer.say(racer_room, SCRIPT[1])
        await asyncio.sleep(0.1)
        run.kill()
        run.start()
        await racer.wait_for(lambda r, s: r == racer_room and s["sender"] == bot_id
                             and len(answers(racer, racer_room)) >= expected[0] + expected[1], timeout=90)
        await asyncio.sleep(3.0)
        assert len(answers(racer, racer_room)) == expected[0] + expected[1], answers(racer, racer_room)
        assert "Saint-Paul" in " ".join(answers(racer, racer_room)[expected[0]:])
        last = await say(racer, racer_room, SCRIPT[2], expected[2])  # serving, and the dialog goes on
        assert len(last) == expected[2], last
    finally:
        log = run.stop()
    assert run.process is not None and run.process.returncode == 0, log[-3000:]
    for bad in ("Unclosed", "Traceback"):
        assert bad not in log, log[-3000:]


async def test_an_answer_sent_again_after_a_restart_shows_once(
    people: Any, bot_factory: Any, fake_engine: Any, tmp_path: Path
) -> None:
    """The transaction id of an answer is derived from the event it answers: the same
    answer sent again by the restarted bot (same access token) is the same event."""
    store = tmp_path / "bot-store"
    bot = await bot_factory(fake_engine, store=store)
    me = bot.identity.user_id
    alice = await people("alice")
    room = await alice.dm(me)
    await alice.wait_joined(room, me)
    await bot.wait_for_room(room)
    answer = Outgoing.text("Votre commune : Saint-Paul (974).")
    assert await bot.send_outgoing(room, answer, txn="answer:$event1:0")
    await bot.stop()
    again = await bot_factory(fake_engine, user_id=me, store=store)
    assert await again.send_outgoing(room, answer, txn="answer:$event1:0")  # the crash's resend
    assert await again.send_outgoing(room, Outgoing.text("Suivante"), txn="answer:$event2:0")
    await alice.wait_for(lambda r, s: r == room and s["content"]["body"] == "Suivante")
    await asyncio.sleep(1.0)
    bodies = [s["content"]["body"] for s in alice.in_room(room) if s["sender"] == me]
    assert bodies == ["Votre commune : Saint-Paul (974).", "Suivante"], bodies
