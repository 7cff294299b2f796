"""A parallel ``communebot import`` killed or stopped while it runs, in real processes
(issue 14): its converting children never outlive it nor hold a database connection, the
next import neither waits on a lock nor finds half a batch, and SIGTERM stops it as
Ctrl-C does. SQLite and PostgreSQL; Linux (``/proc``)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from directory.db import open_store
from directory.importer import BATCH_SIZE, can_fork
from directory.models import Entry
from tests.directory.test_import_bulk import schema

pytestmark = pytest.mark.skipif(
    not can_fork() or not Path("/proc/self/stat").exists(), reason="needs fork, two CPUs and /proc"
)

ROOT = Path(__file__).resolve().parents[2]
ROWS = 60_000  # a few seconds of work: killed after its first batch, well before its end
PG_PORT_HEX = ":1538"  # 5432 in /proc/net/tcp


def _csv(path: Path, rows: int = ROWS) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        fh.write("id,name,category,commune,tags,phone\n")
        for n in range(rows):
            fh.write(f"k{n},Boulangerie Vacoa {n},boulangerie,97415,pain;gâteaux,0262 00 00 00\n")
    return path


def _command(path: Path, url: str, *options: str) -> list[str]:
    return [sys.executable, "-m", "bot.cli", "import", str(path), "--db", url, "--lang", "en", *options]


def _start(path: Path, url: str, *options: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        _command(path, url, *options), cwd=ROOT, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def _stat(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the command name (state first), or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return raw.rsplit(")", 1)[1].split()


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] not in {"Z", "X"}


def fd_targets(pid: int) -> set[str]:
    targets = set()
    base = Path(f"/proc/{pid}/fd")
    for fd in base.iterdir() if base.exists() else ():
        with contextlib.suppress(OSError):
            targets.add(os.readlink(fd))
    return targets


def pg_sockets() -> set[str]:
    """``socket:[inode]`` of every TCP connection to port 5432 on this machine."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            if fields[2].upper().endswith(PG_PORT_HEX):  # remote address:port
                found.add(f"socket:[{fields[9]}]")
    return found


def count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(Entry)) or 0


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def migrated(db_url: str) -> Iterator[tuple[str, Engine, sessionmaker[Session]]]:
    engine, factory = open_store(db_url)
    yield db_url, engine, factory
    engine.dispose()


def _mid_run(proc: subprocess.Popen[str], factory: sessionmaker[Session]) -> list[int]:
    """Waits until the import has committed a batch and its converters run; their pids."""
    wait_until(
        lambda: proc.poll() is not None or (count(factory) >= BATCH_SIZE and len(children_of(proc.pid)) >= 1),
        60, "a first committed batch",
    )
    assert proc.poll() is None, "the import ended before it could be interrupted"
    children = children_of(proc.pid)
    assert children
    return children


def _assert_no_database_handle(url: str, parent: int, children: list[int]) -> None:
    """The converting children hold no connection of the writer's (nor their own)."""
    backend = make_url(url).get_backend_name()
    for child in children:
        targets = fd_targets(child)
        if backend == "postgresql":
            assert not targets & pg_sockets(), f"converter {child} holds a PostgreSQL socket"
        else:
            database = str(make_url(url).database)
            assert not [t for t in targets if t.startswith(database)], targets
    if backend == "postgresql":  # the check above can see one: the writer's
        assert fd_targets(parent) & pg_sockets()


def _assert_gone(children: list[int], within: float = 5) -> None:
    wait_until(lambda: not any(alive(c) for c in children), within, "the converters to die")


def _idle_in_transaction(engine: Engine) -> int:
    if engine.dialect.name != "postgresql":
        return 0
    with engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
        )).scalar_one())


def test_a_killed_import_leaves_no_converter_and_no_lock(
    migrated: tuple[str, Engine, sessionmaker[Session]], tmp_path: Path
) -> None:
    """``kill -9`` of the writer mid-run: its converters die within seconds (they would
    stay, PPID 1, holding the writer's PostgreSQL connection "idle in transaction"), the
    rolled-back batch is gone, and the same import run again finishes without waiting."""
    url, engine, factory = migrated
    path = _csv(tmp_path / "grand.csv")
    proc = _start(path, url)
    try:
        children = _mid_run(proc, factory)
        _assert_no_database_handle(url, proc.pid, children)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        _assert_gone(children)
        wait_until(lambda: _idle_in_transaction(engine) == 0, 10, "the killed transaction to end")
        saved = count(factory)
        assert saved % BATCH_SIZE == 0 and saved < ROWS  # whole batches only
        started = time.monotonic()
        again = subprocess.run(
            _command(path, url), cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert again.returncode == 0, again.stderr
        assert time.monotonic() - started < 60
        assert f"{ROWS - saved} created, {saved} updated, 0 skipped" in again.stdout
        assert count(factory) == ROWS
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigterm_stops_an_import_as_ctrl_c_does(
    migrated: tuple[str, Engine, sessionmaker[Session]], tmp_path: Path
) -> None:
    """SIGTERM (systemd, Docker, ``kill``): the batch in progress is rolled back, the saved
    ones are reported in the usual summary, the converters are stopped, the exit code is
    143 (128 + SIGTERM; Ctrl-C exits with 130) and the message is Ctrl-C's."""
    url, engine, factory = migrated
    path = _csv(tmp_path / "grand.csv")
    proc = _start(path, url)
    try:
        children = _mid_run(proc, factory)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143, err
    assert "Import interrupted: batches already saved are kept, the current one is rolled back." in err
    assert "Traceback" not in err
    saved = count(factory)
    assert saved % BATCH_SIZE == 0 and 0 < saved < ROWS
    assert f'Import "csv:grand": {saved} created, 0 updated, 0 skipped.' in out
    _assert_gone(children)
    assert _idle_in_transaction(engine) == 0


def test_sigterm_to_the_whole_group_is_an_interruption_too(
    migrated: tuple[str, Engine, sessionmaker[Session]], tmp_path: Path
) -> None:
    """systemd stops a service by sending SIGTERM to every process of it: a converter may
    die of it before the writer handles its own, which is still an interruption (143), not
    a crash."""
    url, _engine, factory = migrated
    path = _csv(tmp_path / "grand.csv")
    proc = subprocess.Popen(
        _command(path, url), cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        children = _mid_run(proc, factory)
        for child in children:  # the converters first: the worst order for the writer
            os.kill(child, signal.SIGTERM)
        os.kill(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143, err
    assert "Import interrupted" in err and "Traceback" not in err
    saved = count(factory)
    assert saved % BATCH_SIZE == 0 and f"{saved} created" in out
    _assert_gone(children)


def test_a_killed_bulk_load_leaves_what_the_next_import_puts_back(
    migrated: tuple[str, Engine, sessionmaker[Session]], tmp_path: Path
) -> None:
    """``kill -9`` of ``communebot import --bulk`` mid-run: the indexes it dropped (and on
    PostgreSQL the index rows' foreign key) stay dropped, whole batches only are kept, and
    the next import, without ``--bulk``, puts everything back before it writes."""
    url, engine, factory = migrated
    before = schema(engine)
    path = _csv(tmp_path / "grand.csv")
    proc = _start(path, url, "--bulk")
    try:
        children = _mid_run(proc, factory)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        _assert_gone(children)
        wait_until(lambda: _idle_in_transaction(engine) == 0, 10, "the killed transaction to end")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert schema(engine) != before  # killed before its end: nothing rebuilt them
    saved = count(factory)
    assert saved % BATCH_SIZE == 0 and saved < ROWS
    again = subprocess.run(_command(path, url), cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert f"{ROWS - saved} created, {saved} updated, 0 skipped" in again.stdout
    assert schema(engine) == before
    assert count(factory) == ROWS


def test_sigterm_stops_a_bulk_load_with_everything_rebuilt(
    migrated: tuple[str, Engine, sessionmaker[Session]], tmp_path: Path
) -> None:
    """SIGTERM to ``communebot import --bulk``: the saved batches are reported (143) and
    the indexes (and, on PostgreSQL, the key) are back before it exits. On SQLite a
    SIGTERM landing inside ``executemany`` used to leave the batch's connection holding
    its write lock until the interrupted statement was finalized, so the rebuild found
    the database locked (``_release_interrupted_statement``)."""
    url, engine, factory = migrated
    before = schema(engine)
    path = _csv(tmp_path / "grand.csv")
    proc = _start(path, url, "--bulk")
    try:
        _mid_run(proc, factory)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143, err
    saved = count(factory)
    assert saved % BATCH_SIZE == 0 and f"{saved} created" in out
    assert schema(engine) == before
