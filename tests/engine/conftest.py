"""Fixtures for the engine's tests: a real Engine over a migrated store (SQLite and
PostgreSQL through ``db_url``), and a small "talk" helper that plays one user in one chat."""

from __future__ import annotations

import itertools
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bot.engine import Engine
from bot.messages import ChatKind, Incoming, Location, Outgoing, plain_text
from directory.db import make_engine, open_store, session_factory

# the dialog harness (tests/engine/dialog_support.py) is imported by name in the tests
sys.path.insert(0, str(Path(__file__).parent))
import dialog_support

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


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating takes longer than copying)."""
    path = tmp_path_factory.mktemp("engine-template") / "template.db"
    engine, _ = open_store(f"sqlite:///{path}")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def _pg_engine_store(pg_server_url: str) -> Iterator[tuple[SqlEngine, sessionmaker[Session]]]:
    """A PostgreSQL database of the engine tests' own, migrated once, emptied per test."""
    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    name = f"communebot_engine_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    engine, factory = open_store(url)
    try:
        yield engine, factory
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine_store(
    request: pytest.FixtureRequest, tmp_path: Path, _sqlite_template: Path
) -> Iterator[tuple[SqlEngine, sessionmaker[Session]]]:
    """A migrated, empty store on SQLite and on PostgreSQL (like ``store``, but faster)."""
    if request.param == "sqlite":
        path = tmp_path / "communebot.db"
        shutil.copyfile(_sqlite_template, path)
        engine = make_engine(f"sqlite:///{path}")
        yield engine, session_factory(engine)
        engine.dispose()
        return
    engine, factory = request.getfixturevalue("_pg_engine_store")
    tables = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE TABLE " + ", ".join(f'"{t}"' for t in tables)
                          + " RESTART IDENTITY CASCADE"))
    yield engine, factory


@pytest.fixture
def bot(engine_store: tuple[SqlEngine, sessionmaker[Session]]) -> Engine:
    return Engine(engine_store[1], admins=[ADMIN])


@pytest.fixture
def talk(bot: Engine) -> Callable[..., Talk]:
    def make(**kw: Any) -> Talk:
        return Talk(bot, **kw)

    return make


@pytest.fixture
def seeded(store: Any) -> tuple[sessionmaker[Session], dict[str, int]]:
    """A migrated store (both backends) seeded with the dialog harness's entries."""
    _engine, factory = store
    return factory, dialog_support.seed(factory)


# the seeded SQLite store is copied from a per-session template (fast)
seeded_template = dialog_support.seeded_template
sqlite_seeded = dialog_support.sqlite_seeded
