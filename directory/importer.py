"""Bulk import of directory entries from CSV and GeoJSON (OpenStreetMap exports included):
the entry points and the writer.

The file formats are described in :mod:`directory.import_read`, the validation of a
record in :mod:`directory.import_convert`, the (parallel) converting processes in
:mod:`directory.import_parallel`, the preparation and writing of a batch in
:mod:`directory.import_batches`.

Rows are written in batches, each in its own transaction (bulk ``executemany``, not one ORM
object per row): an interrupted import keeps whole batches only. A bad row is reported
with its line (CSV) or feature number (GeoJSON) and reason, skipped and counted.
"""

from __future__ import annotations

import gc
import os
import signal
from collections.abc import Callable, Generator, Iterable
from pathlib import Path

from sqlalchemy import Connection, Engine, Index, Table
from sqlalchemy.orm import Session, sessionmaker

from directory.import_batches import Written, write_batch
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
from directory.models import Entry, EntryTerm
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

    ``bulk`` (SQLite; for large loads such as a first import or the benchmark): secondary
    indexes of ``entries`` and ``entry_terms`` are dropped for the load and rebuilt at the
    end (one sort instead of millions of random B-tree inserts), and the search vocabulary
    is written once. Searches are slow while it runs; the unique (source, source_id) index
    stays, so re-imports still update. The indexes are rebuilt even when the load fails,
    and any import first restores indexes a killed bulk load may have left missing.

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
    vocabulary: set[str] | None = set() if bulk and sqlite else None
    chunks: ForkedConverters | Generator[Chunk, None, None]
    if parallel and can_fork():
        engine = bind if isinstance(bind, Engine) else None
        chunks = ForkedConverters(records, source, report, batch_size, dialect, engine=engine)
    else:
        chunks = converted_chunks(records, source, report, batch_size, dialect)
    collecting = gc.isenabled()
    gc.disable()  # rows hold no cycles; collections would rescan the heap every few batches
    seen: set[str] = set()  # source ids so far: a file's repeated rows are refused
    postgresql = dialect.name == "postgresql"
    analyze_at = 1  # rows written when PostgreSQL's statistics are next refreshed
    open_batch: Session | None = None  # the transaction of the batch being written
    pending = Written()  # its counts, added to the report once it commits
    try:
        with factory() as session, session.begin():
            restore_indexes(session.connection())
            if vocabulary is not None:
                for index in _secondary_indexes():
                    index.drop(session.connection(), checkfirst=True)
        for chunk, ends_batch in chunks:
            if open_batch is None:
                open_batch = factory()
                open_batch.begin()
                if sqlite:
                    # a bigger page cache for this connection: index pages stay in memory
                    open_batch.connection().exec_driver_sql("PRAGMA cache_size=-131072")
            chunk = drop_duplicates(chunk, seen, report)
            written = write_batch(open_batch.connection(), chunk, vocabulary, copy=copy)
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
                if postgresql and done >= analyze_at:
                    _analyze(factory)
                    analyze_at = 2 * done
    finally:
        if open_batch is not None:
            open_batch.rollback()  # the batch in progress goes as a whole
            open_batch.close()
        if collecting:
            gc.enable()
        chunks.close()  # stops the converting processes, if any
        if vocabulary is not None:
            with factory() as session, session.begin():
                conn = session.connection()
                # The index builds' sorts may use helper threads (the converters are done).
                # SQLite's sorter hands work to them only once the data outgrows the page
                # cache, so the cache is back at its default size here: measured on 540k
                # index rows, 0.46 s with a 2 MB cache against 1.0 s with the 128 MB one.
                conn.exec_driver_sql("PRAGMA cache_size=-2000")
                conn.exec_driver_sql(f"PRAGMA threads={min(4, os.cpu_count() or 1)}")
                try:
                    restore_indexes(conn)
                finally:
                    conn.exec_driver_sql("PRAGMA threads=0")
                add_vocabulary(conn, vocabulary)
    done = report.created + report.updated
    if postgresql and done:
        _analyze(factory)  # searches plan on the imported rows at once
    report.errors.sort(key=lambda e: e.number)  # repeated rows are found after the others
    if progress is not None:
        progress(done + report.skipped)
    return report


def _analyze(factory: sessionmaker[Session]) -> None:
    """Refresh PostgreSQL's statistics of the tables an import fills.

    Planned on the statistics of a table much smaller than it has become, the look-up of
    a batch's known source ids reads every row of the source (the planner expects five)
    and an import slows down as it goes: 100k rows took 228 s. Called after the first
    batch, then whenever the rows written have doubled: a few quick ANALYZEs per import.
    """
    with factory() as session, session.begin():
        conn = session.connection()
        conn.exec_driver_sql("ANALYZE entries")
        conn.exec_driver_sql("ANALYZE entry_terms")


def _secondary_indexes() -> list[Index]:
    """Indexes a bulk load may drop: all but primary keys and unique constraints."""
    tables = [Entry.__table__, EntryTerm.__table__]
    return [index for table in tables if isinstance(table, Table) for index in table.indexes]


def restore_indexes(conn: Connection) -> None:
    """Create any secondary index that is missing (cheap when all exist)."""
    for index in _secondary_indexes():
        index.create(conn, checkfirst=True)


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
