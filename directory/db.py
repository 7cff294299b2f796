"""Database wiring: engines with the right SQLite pragmas, sessions, migrations.

Any SQLAlchemy URL works. SQLite gets WAL (readers never block the writer), foreign keys
and a busy timeout, because several bot processes may share one file.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from directory.schema_head import at_head

if TYPE_CHECKING:  # alembic is imported only when a migration is due (issue 15)
    from alembic.config import Config

DEFAULT_URL = "sqlite:///communebot.db"
MIGRATIONS = Path(__file__).with_name("migrations")


class DatabaseError(RuntimeError):
    """A database that cannot be used as it is (bad URL, unreachable, wrong schema)."""


def resolve_url(url: str | None = None) -> str:
    """``--db`` first, then ``COMMUNEBOT_DB``, then the embedded SQLite file."""
    return url or os.environ.get("COMMUNEBOT_DB") or DEFAULT_URL


def normalise_url(url: str) -> str:
    """Plain ``postgresql://`` means psycopg 3 here (the driver we ship)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # freed pages are overwritten with zeros: what a citizen erases (``/forget``) leaves
    # no bytes behind in the file (the WAL is checkpointed after such a commit)
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


#: set in ``session.info`` to checkpoint (and truncate) the SQLite WAL after the commit:
#: the old page images a deletion leaves in the WAL are gone too
SCRUB = "scrub_after_commit"


def _scrub_after_commit(session: Session) -> None:
    if not session.info.pop(SCRUB, False):
        return
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return  # PostgreSQL: VACUUM reclaims dead rows (see README, "Privacy")
    engine = bind if isinstance(bind, Engine) else bind.engine
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    url = normalise_url(resolve_url(url))
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse text
        raise DatabaseError(f"not a database URL: {url!r}") from exc
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise DatabaseError(
            f"unsupported database {parsed.get_backend_name()!r}: communebot runs on SQLite "
            "(sqlite:///file.db) or PostgreSQL (postgresql://user@host/db)")
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine)
    return engine


#: seconds after which a pooled PostgreSQL connection is tested before it is used again
PING_AFTER_IDLE = 10.0


def _ping_when_idle(engine: Engine) -> None:
    """Test a pooled connection before use only when it sat idle for ``PING_AFTER_IDLE``
    seconds: a server restart, a failover or an idle timeout closes connections that wait
    in the pool, not those in steady use. SQLAlchemy's ``pool_pre_ping`` tests at every
    checkout, a round trip per transaction: about 7 % of the bot's capacity under load on
    PostgreSQL (issue 19). A connection found dead is replaced (the pool retries the
    checkout), and one that dies in use is invalidated by SQLAlchemy and the engine's turn
    tried again (``bot/engine.py``)."""

    def stamp(_dbapi_conn: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    def ping(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE:
            return  # fresh, or in steady use
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # the driver's error for a closed socket
            raise DisconnectionError(str(exc)) from exc
        if not alive:
            raise DisconnectionError("the database connection did not answer")

    event.listen(engine, "checkin", stamp)
    event.listen(engine, "checkout", ping)


#: where a pooled connection's record keeps when it was last given back
_IDLE_SINCE = "communebot_idle_since"


def session_factory(engine: Engine) -> sessionmaker[Session]:
    factory = sessionmaker(engine, expire_on_commit=False)
    event.listen(factory, "after_commit", _scrub_after_commit)
    return factory


_WRITERS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()
_WRITERS_GUARD = threading.Lock()


@contextmanager
def sqlite_writer(factory: sessionmaker[Session]) -> Iterator[None]:
    """Around a writing transaction: on SQLite, one at a time in this process, the next
    one woken the moment the last ends. SQLite lets one writer in and makes the others
    poll with sleeps of up to 100 ms (its busy handler); under load those sleeps were
    most of the slowest answers (issue 19). Writers in other processes still meet the
    busy timeout as before. On PostgreSQL it does nothing."""
    bind = factory.kw.get("bind")
    if not isinstance(bind, Engine) or bind.dialect.name != "sqlite":
        yield
        return
    with _WRITERS_GUARD:
        lock = _WRITERS.get(bind)
        if lock is None:
            lock = _WRITERS[bind] = threading.RLock()
    with lock:
        yield


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: committed when the block ends, rolled back on any error."""
    with factory() as session, session.begin():
        yield session


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply pending migrations (``communebot db upgrade``; also done at start)."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def pending_revisions(engine: Engine) -> list[str]:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(engine))
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    heads = set(script.get_heads())
    if current == heads:
        return []
    lower = tuple(current) if current else "base"
    return [rev.revision for rev in script.iterate_revisions(tuple(heads), lower)]


def open_store(url: str | None = None, *, migrate: bool = True) -> tuple[Engine, sessionmaker[Session]]:
    """Engine and sessions for a ready database: migrations applied, or a clear refusal."""
    engine = make_engine(url)
    try:
        if migrate:
            if not at_head(engine, MIGRATIONS):  # the usual start: no alembic to import
                upgrade(engine)
        elif pending := pending_revisions(engine):
            raise DatabaseError(
                f"the database needs {len(pending)} migration(s): run `communebot db upgrade`"
            )
    except DatabaseError:
        raise
    except Exception as exc:
        raise DatabaseError(f"cannot open database {engine.url!r}: {exc}") from exc
    return engine, session_factory(engine)
