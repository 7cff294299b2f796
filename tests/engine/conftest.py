"""Fixtures for the engine's tests: a real Engine over a migrated store (SQLite and
PostgreSQL through ``db_url``), and a small "talk" helper that plays one user in one chat."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import Engine as SqlEngine
from sqlalchemy.orm import Session, sessionmaker

from bot.engine import Engine
from bot.messages import ChatKind, Incoming, Location, Outgoing, plain_text
from directory.db import open_store

ADMIN = "console:root"
_events = itertools.count(1)


def texts(replies: list[Outgoing]) -> str:
    return "\n".join(plain_text(r.spans) for r in replies)


@dataclass
class Talk:
    """One user in one chat; every message gets a fresh event id unless one is given."""

    engine: Engine
    user: str = "u1"
    chat: str | None = None
    lang: str | None = "fr"
    kind: ChatKind = ChatKind.DIRECT
    platform: str = "console"
    moderator: bool = False
    last: list[Outgoing] = field(default_factory=list)

    def incoming(self, text: str = "", **kw: Any) -> Incoming:
        values: dict[str, Any] = {
            "platform": self.platform,
            "user_id": self.user,
            "chat_id": self.chat or f"chat-{self.user}",
            "text": text,
            "chat_kind": self.kind,
            "language_hint": self.lang,
            "event_id": f"ev{next(_events)}",
            "chat_moderator": self.moderator,
        }
        values.update(kw)
        return Incoming(**values)

    def send(self, text: str = "", **kw: Any) -> list[Outgoing]:
        self.last = self.engine.handle_sync(self.incoming(text, **kw))
        return self.last

    def say(self, text: str = "", **kw: Any) -> str:
        return texts(self.send(text, **kw))

    def at(self, lat: float, lon: float) -> str:
        return self.say(location=Location(lat, lon))

    def choices(self) -> list[tuple[str, str]]:
        return [(c.id, c.label) for r in self.last for c in r.choices]

    def press(self, label_part: str) -> str:
        found = [cid for cid, label in self.choices() if label_part in label]
        assert len(found) == 1, (label_part, self.choices())
        return self.say(choice_id=found[0])


@pytest.fixture
def engine_store(db_url: str) -> Iterator[tuple[SqlEngine, sessionmaker[Session]]]:
    engine, factory = open_store(db_url)
    yield engine, factory
    engine.dispose()


@pytest.fixture
def bot(engine_store: tuple[SqlEngine, sessionmaker[Session]]) -> Engine:
    return Engine(engine_store[1], admins=[ADMIN])


@pytest.fixture
def talk(bot: Engine) -> Callable[..., Talk]:
    def make(**kw: Any) -> Talk:
        return Talk(bot, **kw)

    return make
