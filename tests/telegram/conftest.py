"""Fixtures: a Bot API emulator on a free port, and adapters pointed at it."""

from __future__ import annotations

import asyncio
import sys
import warnings
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from adapters.telegram.config import TelegramConfig
from adapters.telegram.runner import TelegramAdapter
from bot.messages import MessageHandler
from directory.db import open_store

# no __init__.py here (the package would shadow python-telegram-bot's ``telegram``):
# the emulator is imported from this folder by its own name
sys.path.insert(0, str(Path(__file__).parent))

from emulator import AdapterFactory, BotAPIEmulator

TOKEN = "123456:TEST-token"


@pytest.fixture
async def emulator() -> AsyncIterator[BotAPIEmulator]:
    emu = BotAPIEmulator(token=TOKEN, timeout_sleep=1.5)
    await emu.start()
    yield emu
    await bounded(emu.stop(), "the Bot API emulator's stop")


@pytest.fixture
def sessions(sqlite_url: str) -> sessionmaker[Session]:
    _engine, factory = open_store(sqlite_url)
    return factory


def fast_config(emulator: BotAPIEmulator, **overrides: Any) -> TelegramConfig:
    """Production behaviour with test-sized waits (pacing itself is tested on its own)."""
    values: dict[str, Any] = {
        "enabled": True, "token": TOKEN, "base_url": emulator.base_url,
        "poll_timeout": 1, "request_timeout": 1.0, "connect_timeout": 1.0,
        "backoff_seconds": 0.05, "backoff_max_seconds": 0.2, "chat_interval_seconds": 0.0,
        "outbox_interval_seconds": 0.2, "set_commands": False,
    }
    values.update(overrides)
    return TelegramConfig.model_validate(values)


@pytest.fixture
async def make_adapter(
    emulator: BotAPIEmulator, sessions: sessionmaker[Session]
) -> AsyncIterator[AdapterFactory]:
    started: list[TelegramAdapter] = []

    async def factory(handler: MessageHandler, start: bool = True,
                      session_factory: sessionmaker[Session] | None = None,
                      **overrides: Any) -> TelegramAdapter:
        adapter = TelegramAdapter(fast_config(emulator, **overrides), handler,
                                  session_factory or sessions)
        if start:
            await adapter.start()
            started.append(adapter)
        return adapter

    yield factory
    for adapter in started:
        await bounded(adapter.stop(), "an adapter's stop")


#: a teardown that takes longer is reported and left behind
TEARDOWN_LIMIT = 30.0


async def bounded(stop: Coroutine[Any, Any, None], what: str) -> None:
    """A teardown that hangs must not hang the whole suite (a full run once sat for
    minutes in one of these, cause not found yet): past ``TEARDOWN_LIMIT`` it is
    abandoned with a warning that the run's summary shows."""
    task = asyncio.ensure_future(stop)
    done, _ = await asyncio.wait({task}, timeout=TEARDOWN_LIMIT)
    if done:
        task.result()
        return
    task.cancel()  # not awaited: a task that swallows its cancellation would hang here
    warnings.warn(f"{what} did not finish in {TEARDOWN_LIMIT:.0f} s: abandoned",
                  RuntimeWarning, stacklevel=1)
