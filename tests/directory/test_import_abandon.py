"""A batch abandoned while its connection is mid-command (Ctrl-C or SIGTERM landing inside
psycopg's wait for the server) is rolled back by closing the connection, with no second
error replacing the interruption and no "Exception during reset" from the pool. Seen once
in a full run as ``test_sigterm_stops_an_import_as_ctrl_c_does[postgresql]`` exiting 1."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from directory.db import open_store
from directory.importer import abandon

pytestmark = pytest.mark.postgres


def test_a_batch_whose_connection_is_mid_command_is_discarded_not_reset(
        pg_database_factory: Callable[[str], str], caplog: pytest.LogCaptureFixture) -> None:
    engine, factory = open_store(pg_database_factory("communebot_abandon"))
    try:
        batch = factory()
        batch.begin()
        batch.execute(text("CREATE TABLE half_written (x int)"))  # the batch's writes
        pid = batch.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        raw = batch.connection().connection.dbapi_connection
        assert raw is not None
        raw.pgconn.send_query(b"SELECT pg_sleep(0.5)")  # the call the signal interrupted
        with caplog.at_level(logging.ERROR, logger="sqlalchemy.pool"):
            abandon(batch)  # must not raise "another command is already in progress"
        assert not [r for r in caplog.records if "reset" in r.getMessage().lower()]
        # the server ends that session once its statement finds the client gone (each
        # look in a transaction of its own: pg_stat_activity is a per-transaction snapshot)
        deadline = time.monotonic() + 10
        while _alive(factory, pid):
            assert time.monotonic() < deadline, "the abandoned session is still there"
            time.sleep(0.05)
        with factory() as session:
            assert session.scalar(text("SELECT to_regclass('half_written')")) is None
    finally:
        engine.dispose()


def _alive(factory: sessionmaker[Session], pid: int) -> bool:
    with factory() as session:
        return bool(session.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                                   {"pid": pid}))


def test_a_healthy_batch_is_rolled_back_and_its_connection_reused(
        pg_database_factory: Callable[[str], str]) -> None:
    engine, factory = open_store(pg_database_factory("communebot_abandon"))
    try:
        batch = factory()
        batch.begin()
        pid = batch.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        batch.execute(text("CREATE TEMP TABLE scratch (x int)"))
        abandon(batch)
        with factory() as session:
            assert session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one() == pid
            assert session.scalar(text("SELECT to_regclass('pg_temp.scratch')")) is None
    finally:
        engine.dispose()
