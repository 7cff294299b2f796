"""Shared fixtures: a migrated store on SQLite, and on PostgreSQL when
``COMMUNEBOT_TEST_PG_URL`` is set (each test session gets its own throw-away database)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from directory.db import normalise_url, open_store, transaction
from directory.sample import load_sample

PG_ENV = "COMMUNEBOT_TEST_PG_URL"


@pytest.fixture(scope="session")
def pg_database_factory() -> Iterator[Callable[[str], str]]:
    """Makes throw-away PostgreSQL databases (``make("prefix") -> URL``), all dropped when
    the test session ends. Skips when ``COMMUNEBOT_TEST_PG_URL`` is not set."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    base = normalise_url(base)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def make(prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return make_url(base).set(database=name).render_as_string(hide_password=False)

    try:
        yield make
    finally:
        with admin.connect() as conn:
            for name in made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_server_url(pg_database_factory: Callable[[str], str]) -> str:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    return pg_database_factory("communebot_test")


def _wipe_pg(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    return f"sqlite:///{tmp_path / 'communebot.db'}"


@pytest.fixture
def pg_url(pg_server_url: str) -> str:
    """An empty PostgreSQL database (schema wiped before each test)."""
    _wipe_pg(pg_server_url)
    return pg_server_url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """Each test using it runs on both backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'communebot.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(db_url: str) -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    """A migrated store (engine, session factory) on both backends."""
    engine, factory = open_store(db_url)
    yield engine, factory
    engine.dispose()


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample directory loaded once into a migrated SQLite file (its WAL folded in, so
    a plain file copy is whole); each test works on its own copy."""
    path = tmp_path_factory.mktemp("sample") / "sample.db"
    engine, factory = open_store(f"sqlite:///{path}")
    with transaction(factory) as session:
        load_sample(session)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


#: figures tests hand over with ``record_property("figures", ...)``: shown in the summary
#: of the run (a test's own prints are lost under xdist, and pass silently otherwise)
_FIGURES: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        _FIGURES.extend(str(value) for name, value in report.user_properties if name == "figures")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _FIGURES:
        terminalreporter.section("figures measured")
        for line in _FIGURES:
            terminalreporter.write_line(line)
