"""Issue 15, several workers: two real ``communebot run`` processes in webhook mode on one
PostgreSQL database, behind one URL. A loopback front spreads Telegram's update POSTs
over both, round robin, and posts some updates to the other worker too, as a retried
delivery reaching another worker would. Each update is answered exactly once, and a
conversation carries on whichever worker gets the next message. The scheduler ticks on
both, and each due digest and outbox message goes out once."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web
from sqlalchemy import func, select

from bot import outbox
from bot.messages import Outgoing, Target, TargetKind
from directory import services
from directory.db import open_store, transaction
from directory.digests import Subscriber, subscribe
from directory.models import Account, Citizen, DigestRun, OutboxMessage, ProcessedEvent
from directory.sample import load_sample
from tests.telegram.emulator import BotAPIEmulator

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SECRET = "shared_secret_of_both_workers"
USERS = [7101, 7102, 7103, 7104, 7105]  # an odd number: round robin alternates per person
#: one person's conversation: each step answered before the next is typed
STEPS = [("/start", "commune"), ("97460", "Saint-Paul (974) ?"), ("oui", "votre commune est Saint-Paul"),
         ("boulangerie", "Boulangerie"), ("/settings", "Saint-Paul")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Front:
    """One public URL for two workers (what a reverse proxy does), plus redeliveries: every
    third update is also posted to the other worker once the first one took it."""

    def __init__(self, workers: list[str]) -> None:
        self.workers = workers
        self.turn = itertools.cycle(range(len(workers)))
        self.taken: dict[int, list[int]] = {}  # update id -> workers it was posted to
        self.port = free_port()
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        update_id = int((await request.json())["update_id"])
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() in ("content-type", "x-telegram-bot-api-secret-token")}
        first = next(self.turn)
        targets = [first] + ([1 - first] if len(self.taken) % 3 == 2 else [])
        self.taken[update_id] = targets
        status = 502
        async with aiohttp.ClientSession() as http:
            for number, worker in enumerate(targets):
                async with http.post(self.workers[worker], data=body, headers=headers) as resp:
                    if number == 0:
                        status = resp.status
        return web.Response(status=status, text="ok")


@pytest.fixture
def shared_pg(pg_database_factory: Callable[[str], str]) -> Iterator[str]:
    url = pg_database_factory("workers")
    engine, factory = open_store(url)
    with transaction(factory) as session:
        load_sample(session)
    engine.dispose()
    yield url


def worker_config(tmp_path: Path, name: str, db_url: str, api: str, hook: str, port: int,
                  **telegram: Any) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({
        "database": {"url": db_url},
        "geocoder": {"enabled": False},
        "telegram": {"enabled": True, "token": "123456:TEST-token", "base_url": api,
                     "mode": "webhook", "webhook_url": hook, "listen": "127.0.0.1",
                     "port": port, "secret_token": SECRET, "worker_id": name,
                     "set_commands": False, "chat_interval_seconds": 0, **telegram},
    }))
    return path


async def test_two_webhook_workers_answer_each_update_once_and_share_conversations(
        shared_pg: str, tmp_path: Path) -> None:
    emulator = BotAPIEmulator()
    await emulator.start()
    ports = [free_port(), free_port()]
    front = Front([f"http://127.0.0.1:{port}/hook" for port in ports])
    await front.start()
    hook = f"http://127.0.0.1:{front.port}/hook"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "COMMUNEBOT_DB"))}
    processes = [
        subprocess.Popen([sys.executable, "-c", "from bot.cli import main; main()", "run", "-c",
                          str(worker_config(tmp_path, name, shared_pg, emulator.base_url, hook, port)),
                          "--log-level", "WARNING"],
                         env=env, stdout=(tmp_path / f"{name}.log").open("w"),
                         stderr=subprocess.STDOUT, text=True)
        for name, port in zip(("a", "b"), ports, strict=True)]

    def logs_so_far() -> str:
        return "\n".join((tmp_path / f"{name}.log").read_text()[-3000:] for name in ("a", "b"))

    try:
        await emulator.wait_calls("setWebhook", 2, timeout=60)  # both workers are serving
        for user in USERS:
            emulator.user(user, f"Person{user}")
            emulator.chat(user)

        sent: dict[int, list[int]] = {user: [] for user in USERS}

        async def converse(user: int) -> list[list[str]]:
            answers = []
            for text, expected in STEPS:
                before = len(emulator.texts(user))
                sent[user].append(emulator.send_text(user, text))
                try:
                    await emulator.wait_for(lambda u=user, b=before, e=expected: any(
                        e in t for t in emulator.texts(u)[b:]), timeout=30)
                except TimeoutError:
                    raise AssertionError(f"{user}: no {expected!r} after {text!r}: "
                                         f"{emulator.texts(user)}\n{logs_so_far()}") from None
                await asyncio.sleep(0.8)  # anything late (a second copy) shows up too
                answers.append(emulator.texts(user)[before:])
            return answers

        conversations = await asyncio.gather(*(converse(user) for user in USERS))
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        await front.stop()
        await emulator.stop()
    logs = logs_so_far()
    assert all(p.returncode == 0 for p in processes), logs[-3000:]
    assert "Traceback" not in logs and " ERROR " not in logs, logs[-3000:]

    # the same conversation for everyone: any answer sent twice would show as a longer list
    reference = conversations[0]
    for user, conversation in zip(USERS, conversations, strict=True):
        assert [len(step) for step in conversation] == [len(step) for step in reference], (
            user, conversation)
        for step, (_text, expected) in zip(conversation, STEPS, strict=True):
            assert any(expected in answer for answer in step), (user, step)
    assert all(len(step) == len(set(step)) for c in conversations for step in c)
    # both workers took part, some updates reached both, and every update was handled once
    posted = list(front.taken.values())
    assert {targets[0] for targets in posted} == {0, 1}
    assert sum(len(targets) == 2 for targets in posted) >= len(USERS) * len(STEPS) // 3
    engine, factory = open_store(shared_pg)
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(ProcessedEvent)) == len(posted)
    engine.dispose()
    # conversations went on across workers: someone's commune question and their "oui" to
    # it were taken by different workers, and still got "votre commune est Saint-Paul"
    # (checked above for everyone)
    assert any(front.taken[ids[1]][0] != front.taken[ids[2]][0] for ids in sent.values())


# --- the scheduler on every worker, work claimed once ------------------------------------------

PEOPLE = range(7201, 7231)  # 30 subscribers on Telegram
NOTICES = 4  # outbox messages queued for each of them before the workers start


@pytest.fixture
def queued_work(shared_pg: str) -> str:
    """Due weekly digests (subscribed two weeks ago, one entry new since) and outbox rows
    waiting for Telegram, in the shared database, before any worker starts."""
    now = datetime.now(UTC)
    engine, factory = open_store(shared_pg)
    with transaction(factory) as session:
        entry = services.add_entry(session, services.NewEntry(
            name="Boulangerie des Deux Ouvriers", category="boulangerie", commune_insee="97415"),
            force=True)
        entry.created_at = now - timedelta(days=14, hours=-1)
        for user in PEOPLE:
            person = Citizen(display_name=f"p{user}", lang="fr", home_insee="97415")
            session.add(person)
            session.flush()
            session.add(Account(citizen_id=person.id, platform="telegram", platform_user_id=str(user)))
            subscribe(session, Subscriber(citizen_id=person.id), frequency="weekly", communes=["97415"],
                      now=now - timedelta(days=14))
            for number in range(NOTICES):
                outbox.enqueue(session, Outgoing.text(
                    f"Avis {number} pour {user}",
                    target=Target(kind=TargetKind.USER, platform="telegram", ref=str(user))))
    engine.dispose()
    return shared_pg


async def test_two_workers_send_each_due_digest_and_outbox_message_exactly_once(
        queued_work: str, tmp_path: Path) -> None:
    emulator = BotAPIEmulator()
    await emulator.start()
    for user in PEOPLE:
        emulator.user(user, f"Person{user}")
        emulator.chat(user)
    ports = [free_port(), free_port()]
    hook = "http://127.0.0.1:9/hook"  # no update comes in: only the scheduler and the outbox work
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "COMMUNEBOT_DB"))}
    processes = [
        subprocess.Popen([sys.executable, "-c", "from bot.cli import main; main()", "run", "-c",
                          str(worker_config(tmp_path, name, queued_work, emulator.base_url, hook, port,
                                            outbox_interval_seconds=0.2, overall_per_second=1000)),
                          "--log-level", "WARNING"],
                         env=env, stdout=(tmp_path / f"{name}.log").open("w"),
                         stderr=subprocess.STDOUT, text=True)
        for name, port in zip(("a", "b"), ports, strict=True)]
    expected = len(PEOPLE) * (NOTICES + 1)
    try:
        await emulator.wait_calls("setWebhook", 2, timeout=60)
        await emulator.wait_calls("sendMessage", expected, timeout=60)
        await asyncio.sleep(2.0)  # a second copy of anything shows up by now
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        await emulator.stop()
    logs = "\n".join((tmp_path / f"{name}.log").read_text()[-3000:] for name in ("a", "b"))
    assert all(p.returncode == 0 for p in processes), logs
    assert "Traceback" not in logs and " ERROR " not in logs, logs
    for user in PEOPLE:
        texts = emulator.texts(user)
        notices = [t for t in texts if t.startswith("Avis ")]
        assert sorted(notices) == [f"Avis {n} pour {user}" for n in range(NOTICES)], (user, texts)
        digests = [t for t in texts if "Boulangerie des Deux Ouvriers" in t]
        assert len(digests) == 1, (user, texts)
        assert len(texts) == NOTICES + 1, (user, texts)
    engine, factory = open_store(queued_work)
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.sent_at.is_(None))) == 0
        assert session.scalar(select(func.count()).select_from(DigestRun)) == len(PEOPLE)
    engine.dispose()
