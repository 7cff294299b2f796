"""What a bulk load (``communebot import --bulk``) takes down for its duration, and puts
back: the secondary indexes of ``entries`` and ``entry_terms`` (SQLite and PostgreSQL),
and on PostgreSQL the foreign key of ``entry_terms``.

Why: filling an index row by row costs a random B-tree insert per row, building it once
at the end is one sort; and PostgreSQL checks the foreign key of every index row with a
query of its own (``SELECT … FOR KEY SHARE``). Measured at 100k rows on PostgreSQL:
8.2 s with the foreign key, 6.1 s without (the constraint is then validated once, by
one join, when it is added back).

They are dropped in a committed transaction of their own, so the load keeps its
one-transaction-per-batch guarantee; :func:`restore_indexes`, run at the start of every
import and at the end of a bulk one (even a failed one), puts back whatever is missing.
A bulk load killed with ``kill -9`` leaves them missing until the next import, of any
file, with or without ``--bulk``. While the foreign key is missing, deleting an entry
leaves its index rows behind (nothing cascades): they are deleted when the key is put
back, as the cascade would have done.
"""

from __future__ import annotations

import os

from sqlalchemy import Connection, Index, Table
from sqlalchemy.exc import IntegrityError

from directory.models import Entry, EntryTerm

#: the foreign key a bulk load drops on PostgreSQL (the name PostgreSQL gives the
#: migrations' unnamed constraint)
TERMS_FOREIGN_KEY = "entry_terms_entry_id_fkey"
_ADD_TERMS_FOREIGN_KEY = (
    f"ALTER TABLE entry_terms ADD CONSTRAINT {TERMS_FOREIGN_KEY} FOREIGN KEY (entry_id) "
    "REFERENCES entries (id) ON DELETE CASCADE"
)
#: PostgreSQL's memory for each index build's sort at the end of a bulk load, for this
#: transaction only (the server's default is 64 MB): sorts in memory rather than in
#: temporary files
BUILD_MEMORY = "256MB"


def secondary_indexes() -> list[Index]:
    """Indexes a bulk load may drop: all but primary keys and unique constraints."""
    tables = [Entry.__table__, EntryTerm.__table__]
    return [index for table in tables if isinstance(table, Table) for index in table.indexes]


def drop_for_bulk(conn: Connection) -> None:
    """Drop the secondary indexes (and, on PostgreSQL, the index rows' foreign key)."""
    for index in secondary_indexes():
        index.drop(conn, checkfirst=True)
    if conn.dialect.name == "postgresql":
        for name in _terms_foreign_keys(conn):
            conn.exec_driver_sql(f'ALTER TABLE entry_terms DROP CONSTRAINT "{name}"')


def restore_indexes(conn: Connection) -> None:
    """Create any secondary index or foreign key that is missing (cheap when all exist)."""
    for index in secondary_indexes():
        index.create(conn, checkfirst=True)
    if conn.dialect.name == "postgresql" and not _terms_foreign_keys(conn):
        _restore_terms_foreign_key(conn)


def _terms_foreign_keys(conn: Connection) -> list[str]:
    """Names of the foreign keys of ``entry_terms`` (its one key, to ``entries``)."""
    found = conn.exec_driver_sql(
        "SELECT conname FROM pg_constraint WHERE conrelid = 'entry_terms'::regclass AND contype = 'f'"
    )
    return [str(name) for (name,) in found]


def _restore_terms_foreign_key(conn: Connection) -> None:
    """Add the foreign key back: one join checks every index row. Should some index rows
    belong to entries deleted meanwhile, they are deleted (what the cascade would have
    done), then the key is added."""
    try:
        with conn.begin_nested():
            conn.exec_driver_sql(_ADD_TERMS_FOREIGN_KEY)
    except IntegrityError:
        conn.exec_driver_sql(
            "DELETE FROM entry_terms AS t WHERE NOT EXISTS "
            "(SELECT 1 FROM entries AS e WHERE e.id = t.entry_id)")
        conn.exec_driver_sql(_ADD_TERMS_FOREIGN_KEY)


def rebuild_after_bulk(conn: Connection) -> None:
    """Put back what :func:`drop_for_bulk` took, with each database's fastest sort."""
    if conn.dialect.name == "postgresql":
        # each index's sort in memory rather than in temporary files
        conn.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'")
        restore_indexes(conn)
        return
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
