"""Fixtures: a Bot API emulator on a free port, and adapters pointed at it."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
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
    await emu.stop()


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
        await adapter.stop()
