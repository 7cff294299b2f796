"""Bulk import of directory entries from CSV and GeoJSON (OpenStreetMap exports included):
the entry points and the writer.

The file formats are described in :mod:`directory.import_read`, the validation of a
record in :mod:`directory.import_convert`, the (parallel) converting processes in
:mod:`directory.import_parallel`, the preparation and writing of a batch in
:mod:`directory.import_batches`, what a bulk load drops and rebuilds in
:mod:`directory.import_bulk`.

Rows are written in batches, each in its own transaction (bulk ``executemany``, not one ORM
object per row): an interrupted import keeps whole batches only. A bad row is reported
with its line (CSV) or feature number (GeoJSON) and reason, skipped and counted.
"""

from __future__ import annotations

import gc
import signal
import sys
import traceback
from collections.abc import Callable, Generator, Iterable
from pathlib import Path

from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session, sessionmaker

from directory.import_batches import Written, write_batch
from directory.import_bulk import drop_for_bulk, rebuild_after_bulk, restore_indexes
from directory.import_convert import (
    ImportInterrupted,
    ImportReport,
    convert,
    drop_duplicates,
    to_entry,
)
from directory.import_parallel import (
    CHUNK_ROWS,
    Chunk,
    ForkedConverters,
    can_fork,
    converted_chunks,
)
from directory.import_read import (
    CSV_COLUMNS,
    ImportFailed,
    Record,
    count_records,
    csv_records,
    detect_format,
    records_of,
)
from directory.models import Entry
from directory.search_index import add_vocabulary

#: what other modules import from here (each defined in the module that does the work)
__all__ = [
    "BATCH_SIZE",
    "CSV_COLUMNS",
    "ImportFailed",
    "ImportInterrupted",
    "ImportReport",
    "Record",
    "can_fork",
    "convert",
    "count_records",
    "csv_records",
    "drop_duplicates",
    "import_file",
    "import_records",
    "restore_indexes",
    "to_entry",
]

BATCH_SIZE = 2000


def import_records(
    factory: sessionmaker[Session],
    records: Iterable[Record],
    source: str,
    *,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    bulk: bool = False,
    parallel: bool = False,
    copy: bool = True,
) -> ImportReport:
    """Convert and write, one transaction per batch of ``batch_size`` records (an
    interruption keeps whole batches; a batch holds fewer entries when rows are refused).

    ``bulk`` (SQLite and PostgreSQL; for large loads such as a first import or the
    benchmark): secondary indexes of ``entries`` and ``entry_terms`` are dropped for the
    load and rebuilt at the end (one sort instead of millions of random B-tree inserts),
    and the search vocabulary is written once. On PostgreSQL the foreign key of
    ``entry_terms`` is dropped too and validated once at the end (one join instead of a
    check per index row), the batches commit without waiting for the disk (the last
    commit waits for them all) and the index rows go in as COPY text made in one piece
    (see :mod:`directory.import_bulk`). Searches are slow while it runs; the unique
    (source, source_id) index stays, so re-imports still update. The indexes and the key
    are rebuilt even when the load fails, and any import first restores what a killed
    bulk load may have left missing.

    On PostgreSQL, when the source has no entry yet, every row is new: the look-up of
    known source ids is skipped, and so are the statistics refreshes it needs along the
    way (:func:`_analyze`; one runs at the end).

    ``parallel`` (where :func:`can_fork`): rows are validated in forked child processes
    (:func:`converter_count`) while this one writes what they sent; same rows, errors and
    batches as without.

    ``copy`` (PostgreSQL with psycopg 3): new and updated rows go through ``COPY … FROM
    STDIN`` (see :func:`directory.import_batches.write_batch`); off, the older
    ``executemany`` path, kept to compare them (benchmarks, tests).

    ``progress`` is told how many records were handled (written or refused) after each
    500 or so and at the end, so a bar whose total is the file's row count ends full.

    An interruption (Ctrl-C's ``KeyboardInterrupt``, or SIGTERM turned into one by the CLI)
    comes out as :class:`ImportInterrupted` carrying the report of the batches committed,
    once the batch in progress was rolled back and the converting processes stopped.
    """
    report = ImportReport(source)
    try:
        return _import_records(factory, records, report, batch_size, progress, bulk, parallel, copy)
    except ImportInterrupted as exc:
        exc.report = report
        raise
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        raise ImportInterrupted(report, signum) from None


def _import_records(
    factory: sessionmaker[Session],
    records: Iterable[Record],
    report: ImportReport,
    batch_size: int,
    progress: Callable[[int], None] | None,
    bulk: bool,
    parallel: bool,
    copy: bool = True,
) -> ImportReport:
    source = report.source
    reported = 0  # records last reported to ``progress``
    with factory() as probe:  # no connection: the engine's dialect
        bind = probe.get_bind()
    dialect = bind.dialect
    sqlite = dialect.name == "sqlite"
    postgresql = dialect.name == "postgresql"
    vocabulary: set[str] | None = set() if bulk and (sqlite or postgresql) else None
    chunks: ForkedConverters | Generator[Chunk, None, None]
    if parallel and can_fork():
        engine = bind if isinstance(bind, Engine) else None
        chunks = ForkedConverters(records, source, report, batch_size, dialect, engine=engine)
    else:
        chunks = converted_chunks(records, source, report, batch_size, dialect)
    collecting = gc.isenabled()
    gc.disable()  # rows hold no cycles; collections would rescan the heap every few batches
    seen: set[str] = set()  # source ids so far: a file's repeated rows are refused
    planned = 0.0  # PostgreSQL: rows of ``entries`` its statistics know of (-1: none)
    created_then = 0  # rows created when those statistics were taken
    open_batch: Session | None = None  # the transaction of the batch being written
    pending = Written()  # its counts, added to the report once it commits
    new_source = False  # PostgreSQL: the source had no rows, so every row is new
    try:
        with factory() as session, session.begin():
            conn = session.connection()
            restore_indexes(conn)
            if vocabulary is not None:
                drop_for_bulk(conn)
            if postgresql:
                new_source = _source_is_empty(conn, source)
                planned = _planned_rows(conn)
        for chunk, ends_batch in chunks:
            if open_batch is None:
                open_batch = factory()
                open_batch.begin()
                if sqlite:
                    # a bigger page cache for this connection: index pages stay in memory
                    open_batch.connection().exec_driver_sql("PRAGMA cache_size=-131072")
                elif postgresql and vocabulary is not None:
                    # A bulk load's batch commits without waiting for the disk: the
                    # commit at its end (:func:`_end_bulk_load`, run even when it fails)
                    # waits for all of them. A server crash meanwhile may lose the last
                    # batches, never half of one (WAL order).
                    open_batch.connection().exec_driver_sql("SET LOCAL synchronous_commit = off")
            chunk = drop_duplicates(chunk, seen, report)
            written = write_batch(open_batch.connection(), chunk, vocabulary, copy=copy,
                                  new_source=new_source)
            pending.created += written.created
            pending.updated += written.updated
            if ends_batch:
                open_batch.commit()
                open_batch.close()
                open_batch = None
                report.created += pending.created
                report.updated += pending.updated
                pending = Written()
                done = report.created + report.updated
                handled = done + report.skipped  # records, refused ones included
                if progress is not None and handled // 500 != reported // 500:
                    progress(handled)
                    reported = handled
                if postgresql and not new_source and (
                        planned <= 0 or report.created - created_then >= planned):
                    # the table doubled since its statistics (or they are missing): the
                    # look-up of known source ids would be planned on a much smaller one
                    planned = _analyze(factory)
                    created_then = report.created
    finally:
        if open_batch is not None:
            abandon(open_batch)  # the batch in progress goes as a whole
        if collecting:
            gc.enable()
        chunks.close()  # stops the converting processes, if any
        if vocabulary is not None:
            if sqlite:
                _release_interrupted_statement()
            _end_bulk_load(factory, vocabulary)
    done = report.created + report.updated
    if postgresql and done:
        _analyze(factory)  # searches plan on the imported rows at once
    report.errors.sort(key=lambda e: e.number)  # repeated rows are found after the others
    if progress is not None:
        progress(done + report.skipped)
    return report


def abandon(batch: Session) -> None:
    """Roll back and close the batch in progress, whatever state its connection is in.

    Ctrl-C or SIGTERM may arrive inside a driver call (psycopg's wait for the server):
    the connection is then left mid-command and refuses the ROLLBACK ("another command is
    already in progress"); that error replaced the interruption (exit 1 and a traceback
    instead of 130/143 and the summary) and the pool logged a failed reset. Such a
    connection is discarded instead: closing it ends its transaction on the server as
    surely as a ROLLBACK."""
    connection = batch.connection()
    if _mid_command(connection):
        connection.invalidate()  # closed now: no ROLLBACK sent, no reset by the pool
    batch.close()  # the rollback, on a connection that can take it


def _mid_command(connection: Connection) -> bool:
    """Whether the driver is still waiting for the server's answer (psycopg 3's libpq
    status ACTIVE); SQLite's calls cannot be left half-way. SQLAlchemy itself discards a
    connection whose ``execute`` was interrupted; the raw COPY calls are not its own."""
    if connection.invalidated:
        return False
    pgconn = getattr(connection.connection.dbapi_connection, "pgconn", None)
    return pgconn is not None and int(pgconn.transaction_status) == PQ_ACTIVE


#: libpq's PQTRANS_ACTIVE: a command is in progress on the connection
PQ_ACTIVE = 1


def _release_interrupted_statement() -> None:
    """Let SQLite close the connection of a batch that a signal interrupted inside
    ``executemany``, so that the index rebuild can take the write lock.

    SQLAlchemy closes such a connection at once, but SQLite keeps it open, with its write
    transaction, until the interrupted statement is finalized, and that statement lives as
    long as the cursor that the propagating exception's frames still hold. Clearing those
    frames (they have finished running) and collecting frees it."""
    exc = sys.exception()
    if exc is None or exc.__traceback__ is None:
        return
    traceback.clear_frames(exc.__traceback__)
    gc.collect()


def _end_bulk_load(factory: sessionmaker[Session], vocabulary: set[str]) -> None:
    """Rebuild what a bulk load dropped, then write its search vocabulary."""
    with factory() as session, session.begin():
        conn = session.connection()
        rebuild_after_bulk(conn)
        add_vocabulary(conn, vocabulary)


def _source_is_empty(conn: Connection, source: str) -> bool:
    """Whether no entry comes from ``source`` (one probe of its unique index)."""
    return conn.execute(select(Entry.id).where(Entry.source == source).limit(1)).first() is None


def _planned_rows(conn: Connection) -> float:
    """Rows of ``entries`` as PostgreSQL's statistics have it (-1 before any ANALYZE)."""
    found = conn.exec_driver_sql(
        "SELECT reltuples FROM pg_class WHERE oid = 'entries'::regclass").scalar()
    return float(found) if found is not None else -1.0


def _analyze(factory: sessionmaker[Session]) -> float:
    """Refresh PostgreSQL's statistics of the tables an import fills; the rows of
    ``entries`` they now know of.

    Planned on the statistics of a table much smaller than it has become, the look-up of
    a batch's known source ids reads every row of the source (the planner expects five)
    and an import slows down as it goes: 100k rows took 228 s. Called after a batch when
    the rows created have doubled the table since its statistics (or when it has none),
    and at the end: a few quick ANALYZEs per import, none during a re-import that only
    updates, nor while a new source is loaded (no look-up then; see ``new_source`` in
    :func:`directory.import_batches.write_batch`).
    """
    with factory() as session, session.begin():
        conn = session.connection()
        conn.exec_driver_sql("ANALYZE entries")
        conn.exec_driver_sql("ANALYZE entry_terms")
        return _planned_rows(conn)


def import_file(
    factory: sessionmaker[Session],
    path: Path,
    *,
    fmt: str | None = None,
    source: str | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    bulk: bool = False,
    parallel: bool | None = None,
    copy: bool = True,
) -> ImportReport:
    """Import one file; file-level problems raise :class:`ImportFailed` before any write.

    ``parallel`` (see :func:`import_records`) defaults to on for files of more than four
    chunks (:data:`CHUNK_ROWS`), where the second process pays for itself."""
    kind = detect_format(path, fmt)
    records, default_source = records_of(path, kind)
    if parallel is None:
        rows = len(records) if isinstance(records, list) else count_records(path)
        parallel = rows is not None and rows > 4 * min(batch_size, CHUNK_ROWS)
    return import_records(
        factory, records, (source or default_source)[:64], batch_size=batch_size,
        progress=progress, bulk=bulk, parallel=parallel, copy=copy,
    )
