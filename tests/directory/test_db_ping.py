"""PostgreSQL connections are tested before use only after sitting idle (issue 19): one
in steady use costs no extra round trip, one closed by the server while it waited in the
pool is replaced before anyone sees it, and one closed while in use costs the message a
second try, not an apology."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from bot.engine import Engine as BotEngine
from bot.messages import ChatKind, Incoming
from directory import db
from directory.db import open_store

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_store(pg_database_factory: Callable[[str], str]) -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    engine, factory = open_store(pg_database_factory("communebot_ping"))
    yield engine, factory
    engine.dispose()


@pytest.fixture
def pings(pg_store: tuple[Engine, sessionmaker[Session]],
          monkeypatch: pytest.MonkeyPatch) -> list[object]:
    engine, _ = pg_store
    seen: list[object] = []
    real = engine.dialect.do_ping

    def counted(dbapi_conn: Any) -> bool:
        seen.append(dbapi_conn)
        return real(dbapi_conn)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return seen


def _pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def _kill(engine: Engine, pid: int) -> None:
    admin = create_engine(engine.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
        while conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                           {"pid": pid}).scalar():
            time.sleep(0.02)
    admin.dispose()


def _age_the_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if every pooled connection had waited longer than PING_AFTER_IDLE."""
    monkeypatch.setattr(db, "PING_AFTER_IDLE", -1.0)


def test_a_connection_in_steady_use_is_not_tested(pg_store, pings) -> None:
    engine, _ = pg_store
    first = _pid(engine)
    for _ in range(20):
        assert _pid(engine) == first
    assert pings == []  # no round trip added to any of the 20 transactions


def test_an_idle_connection_is_tested_and_a_dead_one_replaced(pg_store, pings, monkeypatch) -> None:
    engine, _ = pg_store
    dead = _pid(engine)
    _kill(engine, dead)  # a server restart, an idle timeout, a failover
    _age_the_pool(monkeypatch)
    assert _pid(engine) != dead  # a working connection, no error seen
    assert len(pings) == 1


def test_a_connection_dead_in_use_costs_a_second_try_not_an_apology(pg_store) -> None:
    engine, factory = pg_store
    bot = BotEngine(factory)

    def aide(event: str) -> list[Any]:
        replies = bot.handle_sync(Incoming(platform="console", user_id="u1", chat_id="c1",
                                           text="aide", chat_kind=ChatKind.DIRECT,
                                           language_hint="fr", event_id=event))
        return [r.spans for r in replies]

    aide("e1")  # the first contact's greeting
    expected = aide("e2")
    _kill(engine, _pid(engine))  # closed right after use: not old enough to be tested
    assert aide("e3") == expected  # the help again, not "something went wrong"
