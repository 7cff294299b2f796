"""Import batches: validated rows made ready for the database driver, then written.

Two steps, because during a large import they run in different processes.
:func:`prepare_batch` runs where rows are validated (the forked child of a parallel
import, which has CPU to spare). It applies each column's bind processor (JSON, dates),
leaves out columns that are NULL in every row, and lists the index terms by row
position. :func:`write_batch` runs in the writer, which is the slower side. It is left
with ``executemany`` calls and no per-row Python work. On SQLite the new rows' ids are
known without reading them back, and SQLite itself adds them to the positions of the
index rows.

Both steps go through the DB-API directly for the same reason: SQLAlchemy's per-row
statement bookkeeping would dominate a bulk import. Drivers with named parameters (none
that we ship) get plain SQLAlchemy Core statements instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Connection, Table, bindparam, insert, select, update
from sqlalchemy.engine import Dialect

from directory.driver import positional_placeholder
from directory.models import Entry
from directory.search_index import (
    copy_entry_terms,
    delete_entry_terms,
    entry_terms_copy_text,
    insert_positioned_terms,
    send_entry_terms_copy,
    write_term_rows,
)

#: the columns of a converted row, in order; a row is these values then its index part
ROW_COLUMNS: tuple[str, ...] = (
    "kind", "org_type", "name", "name_folded", "category", "tags", "description",
    "commune_insee", "address", "postcode", "lat", "lon", "phone", "website", "email",
    "opening_hours", "status", "stage", "needs", "starts_at", "ends_at", "source", "source_id",
)
_SOURCE = ROW_COLUMNS.index("source")
_SOURCE_ID = ROW_COLUMNS.index("source_id")
#: a converted row: :data:`ROW_COLUMNS` values, then (index terms, index lat, index lon)
Row = tuple[Any, ...]
IndexPart = tuple[list[str], float | None, float | None]
#: the index of one row: (its position in the batch, lat, lon, its terms as a sorted JSON
#: array). One string per entry rather than one tuple per term: a third of the pickled
#: size, and SQLite unpacks it (see :func:`insert_positioned_terms`)
EntryTerms = tuple[int, float | None, float | None, str]
_NEVER_UPDATED = frozenset({"source", "source_id"})


def _entries() -> Table:
    table = Entry.__table__
    assert isinstance(table, Table)
    return table


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    """One batch as the driver will receive it. Plain tuples and strings only: it crosses
    from the converting process to the writer."""

    source: str
    #: ``entries`` columns present in :attr:`rows` (the others are NULL in every row)
    columns: tuple[str, ...]
    #: values of :attr:`columns`, bind processors applied when :attr:`processed`
    rows: list[tuple[Any, ...]]
    source_ids: list[str]
    #: each row's line (CSV) or feature (GeoJSON) number, for reporting it
    numbers: list[int]
    #: index terms by row position, in position order, each entry's terms sorted:
    #: primary-key order once the positions become consecutive ids
    terms: list[EntryTerms]
    #: distinct name terms (the search vocabulary's new words)
    vocabulary: frozenset[str]
    processed: bool

    def without(self, positions: Sequence[int]) -> PreparedBatch:
        """This batch without the rows at ``positions`` (the others keep their order and
        are renumbered; columns and vocabulary stay as they were, a superset)."""
        dropped = set(positions)
        kept = [p for p in range(len(self.rows)) if p not in dropped]
        renumbered = {old: new for new, old in enumerate(kept)}
        return PreparedBatch(
            source=self.source,
            columns=self.columns,
            rows=[self.rows[p] for p in kept],
            source_ids=[self.source_ids[p] for p in kept],
            numbers=[self.numbers[p] for p in kept],
            terms=[(renumbered[p], lat, lon, names) for p, lat, lon, names in self.terms
                   if p in renumbered],
            vocabulary=self.vocabulary,
            processed=self.processed,
        )


def prepare_batch(rows: Sequence[Row], dialect: Dialect, numbers: Sequence[int]) -> PreparedBatch:
    """Driver-ready values of converted rows, with their record numbers (pure: no database
    access)."""
    table = _entries()
    width = len(ROW_COLUMNS)
    by_column = list(zip(*rows, strict=True)) if rows else [()] * (width + 1)
    processed = positional_placeholder(dialect) is not None
    columns: list[str] = []
    values: list[Sequence[Any]] = []
    for i, name in enumerate(ROW_COLUMNS):
        cells = by_column[i]
        if _null_by_default(table, name) and all(v is None for v in cells):
            continue  # left to its NULL default: fewer values to bind, the same rows
        process = _bind_processor(table, name, dialect) if processed else None
        columns.append(name)
        values.append(_processed(cells, process) if process is not None else cells)
    indexes: Sequence[IndexPart] = by_column[width]
    dumps = json.dumps
    terms: list[EntryTerms] = [
        (position, lat, lon, dumps(sorted(names)))
        for position, (names, lat, lon) in enumerate(indexes)
    ]
    vocabulary = frozenset(t for names, _, _ in indexes for t in names if not t.startswith("@"))
    return PreparedBatch(
        source=rows[0][_SOURCE] if rows else "",
        columns=tuple(columns),
        rows=list(zip(*values, strict=True)) if rows else [],
        source_ids=list(by_column[_SOURCE_ID]),
        numbers=list(numbers),
        terms=terms,
        vocabulary=vocabulary,
        processed=processed,
    )


def _bind_processor(table: Table, column: str, dialect: Dialect) -> Any:
    """What turns a value of ``column`` into what the driver is given.

    JSON on psycopg: the JSON text, where SQLAlchemy's processor gives a ``Json`` wrapper
    that psycopg serializes when the writer sends the row (``json.dumps`` at every row,
    in the writer). The text is made here instead, once per distinct value
    (:func:`_processed`); psycopg sends a ``str`` untyped, and PostgreSQL reads it as
    JSON, in ``COPY`` and ``INSERT`` alike."""
    column_type = table.c[column].type
    if dialect.driver == "psycopg" and isinstance(column_type, JSON):
        return getattr(dialect, "_json_serializer", None) or json.dumps
    return column_type._cached_bind_processor(dialect)


_EMPTY_LIST_KEY = -1  # never an object id


def _processed(cells: Sequence[Any], process: Any) -> list[Any]:
    """``process`` applied once per distinct value object: processors are pure, so one
    result serves every cell holding the same object (``None``) or an empty list. Ids are
    stable because ``cells`` keeps every value alive during the loop."""
    memo: dict[int, Any] = {}
    out: list[Any] = []
    for value in cells:
        key = _EMPTY_LIST_KEY if value == [] and type(value) is list else id(value)
        if key not in memo:
            memo[key] = process(value)
        out.append(memo[key])
    return out


def _null_by_default(table: Table, column: str) -> bool:
    """Whether leaving ``column`` out of an INSERT stores NULL."""
    col = table.c[column]
    return bool(col.nullable) and col.server_default is None and not col.primary_key


# --- writing --------------------------------------------------------------------------------


@dataclass
class Written:
    """What one write did: entries created and updated."""

    created: int = 0
    updated: int = 0


def write_batch(
    conn: Connection, batch: PreparedBatch, vocabulary: set[str] | None = None, *, copy: bool = True,
    new_source: bool = False,
) -> Written:
    """Insert new rows and update known ones (same source and source id), then index them.

    Runs inside the caller's transaction. With a ``vocabulary`` set (a bulk load), new
    search words are collected there instead of being written batch by batch.

    ``new_source``: the caller knows that no row of the batch's source existed when the
    import began, and that its rows are each written once (:func:`directory.import_convert.drop_duplicates`):
    every row is new, and the look-up of known source ids is skipped.

    On PostgreSQL through psycopg 3 (and ``copy``), entries go in with ``COPY … FROM
    STDIN``: new ones under ids drawn from the sequence first, updated ones through a
    staging table (:func:`_copy_insert`, :func:`_copy_update`).
    """
    written = Written()
    if not batch.rows:
        return written
    known = {} if new_source else ids_of(conn, batch.source, batch.source_ids)
    now = datetime.now(UTC)
    positions = range(len(batch.rows))
    fresh = [p for p in positions if batch.source_ids[p] not in known] if known else positions
    stale = [p for p in positions if batch.source_ids[p] in known] if known else []
    ids: dict[int, int] = {}
    copying = copy and conn.dialect.driver == "psycopg" and batch.processed
    if fresh and copying and vocabulary is not None and not known:
        # a bulk load of new rows only: their index rows are made while the server still
        # reads the entries (the writer would otherwise wait for it, then make them)
        index_text: list[str] = []

        def make_index_text(new_ids: list[int]) -> None:
            index_text.append(entry_terms_copy_text(
                (new_ids[p], lat, lon, names) for p, lat, lon, names in batch.terms))

        _copy_insert(conn, batch, fresh, now, make_index_text)
        send_entry_terms_copy(conn, index_text[0])
        vocabulary.update(batch.vocabulary)
        written.created = len(fresh)
        return written
    if fresh and copying:
        ids.update(zip(fresh, _copy_insert(conn, batch, fresh, now), strict=True))
        written.created = len(fresh)
    elif fresh:
        first = _insert(conn, batch, fresh, now)
        if first is not None and len(fresh) == len(batch.rows) and vocabulary is not None:
            # every row is new and numbered in order: SQLite adds ``first`` itself
            insert_positioned_terms(conn, batch.terms, first)
            vocabulary.update(batch.vocabulary)
            written.created = len(fresh)
            return written
        if first is not None:
            ids.update(zip(fresh, range(first, first + len(fresh)), strict=True))
        else:
            found = ids_of(conn, batch.source, [batch.source_ids[p] for p in fresh])
            ids.update((p, found[batch.source_ids[p]]) for p in fresh)
        written.created = len(fresh)
    if stale:
        for p in stale:
            ids[p] = known[batch.source_ids[p]]
        _update(conn, batch, stale, ids, now, copy=copying)
        written.updated = len(stale)
    if copying and vocabulary is not None:
        # a bulk load (no term index to fill in term order): the index rows by entry id,
        # which is the primary key's order, in COPY's text format made here
        if stale:
            delete_entry_terms(conn, [ids[p] for p in stale])
        entries = sorted((ids[p], lat, lon, names) for p, lat, lon, names in batch.terms)
        copy_entry_terms(conn, entries)
        vocabulary.update(batch.vocabulary)
        return written
    rows = [(ids[p], term, lat, lon) for p, lat, lon, names in batch.terms for term in json.loads(names)]
    write_term_rows(
        conn, rows, replace_ids=[ids[p] for p in stale] or None, vocabulary=vocabulary,
        vocabulary_terms=batch.vocabulary,
    )
    return written


def _timestamp(conn: Connection, batch: PreparedBatch, now: datetime) -> Any:
    if not batch.processed:
        return now
    process = _entries().c.created_at.type._cached_bind_processor(conn.dialect)
    return now if process is None else process(now)


def _copy_timestamp(now: datetime) -> str:
    """``now`` for a ``timestamptz`` cell of a COPY: its ISO text, which PostgreSQL reads as
    the same instant. psycopg formats a ``datetime`` at every row it is in (2.5 µs for a
    row's two timestamps, measured; a string costs nothing)."""
    return now.isoformat()


def _insert(conn: Connection, batch: PreparedBatch, positions: Sequence[int], now: datetime) -> int | None:
    """Insert the rows at ``positions``; the first new id when SQLite numbered them in
    order (see :func:`_sqlite_first_id`), else None."""
    stamp = _timestamp(conn, batch, now)
    tail = (stamp, stamp, 0)
    columns = (*batch.columns, "created_at", "updated_at", "recommendation_count")
    if len(positions) == len(batch.rows):
        rows = [row + tail for row in batch.rows]
    else:
        rows = [batch.rows[p] + tail for p in positions]
    mark = positional_placeholder(conn.dialect)
    if mark is None or not batch.processed:  # pragma: no cover - named-parameter drivers
        conn.execute(insert(_entries()), [dict(zip(columns, r, strict=True)) for r in rows])
        return None
    quote = conn.dialect.identifier_preparer.quote
    conn.exec_driver_sql(
        f"INSERT INTO {quote('entries')} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join([mark] * len(columns))})",
        rows,
    )
    return _sqlite_first_id(
        conn, len(rows), batch.source_ids[positions[0]], batch.source_ids[positions[-1]]
    )


def _copy_insert(conn: Connection, batch: PreparedBatch, positions: Sequence[int],
                 now: datetime, then: Callable[[list[int]], None] | None = None) -> list[int]:
    """PostgreSQL: the rows at ``positions`` through ``COPY … FROM STDIN`` (psycopg 3), with
    ids drawn from the table's sequence first, in one round trip. COPY streams the rows
    in one command where ``executemany`` sends one INSERT per row: about three times the
    rows per second at 100k (README, "Directory benchmark"). ``then`` is given the ids
    once the rows are sent, before the COPY ends: its work overlaps the server's."""
    # The sequence is looked up once (OFFSET 0 keeps the planner from inlining the
    # look-up into every row), the ids come back as one array: 0.43 ms per 1,000 ids,
    # against 3.5 ms for one row per id with the look-up in each ``nextval`` call.
    drawn = conn.exec_driver_sql(
        "SELECT array_agg(nextval(q.seq)) FROM (SELECT pg_get_serial_sequence('entries', 'id')"
        "::regclass AS seq OFFSET 0) AS q, generate_series(1, %s)",
        (len(positions),)).scalar_one()
    ids = sorted(int(new_id) for new_id in drawn)
    stamp = _copy_timestamp(now)
    quote = conn.dialect.identifier_preparer.quote
    columns = ("id", *batch.columns, "created_at", "updated_at", "recommendation_count")
    statement = f"COPY {quote('entries')} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    raw: Any = conn.connection.dbapi_connection
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for new_id, position in zip(ids, positions, strict=True):
            copy.write_row((new_id, *batch.rows[position], stamp, stamp, 0))
        if then is not None:
            then(ids)
    return ids


def _sqlite_first_id(conn: Connection, count: int, first_source_id: str, last_source_id: str) -> int | None:
    """First id of the ``count`` rows SQLite just inserted in one statement.

    Inside one write transaction, SQLite gives each new row of a table whose ``id`` is its
    rowid the largest rowid plus one, so one executemany's rows hold consecutive ids ending
    at ``last_insert_rowid()``. Checked on the first and last rows; None (read the ids
    back) if that ever does not hold, or on other databases."""
    if conn.dialect.name != "sqlite":
        return None
    last = conn.exec_driver_sql("SELECT last_insert_rowid()").scalar_one()
    first = last - count + 1
    found: dict[int, str] = dict(
        conn.exec_driver_sql("SELECT id, source_id FROM entries WHERE id IN (?, ?)", (first, last)).all()
    )
    if found.get(first) != first_source_id or found.get(last) != last_source_id:
        return None  # pragma: no cover - SQLite's documented rowid choice did not hold
    return int(first)


def _update(
    conn: Connection, batch: PreparedBatch, positions: Sequence[int], ids: dict[int, int], now: datetime,
    *, copy: bool = False,
) -> None:
    """Every column of the rows at ``positions`` (those absent from the batch become NULL)."""
    present = [i for i, c in enumerate(batch.columns) if c not in _NEVER_UPDATED]
    cleared = [c for c in ROW_COLUMNS if c not in batch.columns and c not in _NEVER_UPDATED]
    stamp = _timestamp(conn, batch, now)
    mark = positional_placeholder(conn.dialect)
    if mark is None or not batch.processed:  # pragma: no cover - named-parameter drivers
        table = _entries()
        params = [
            {**{batch.columns[i]: batch.rows[p][i] for i in present},
             **dict.fromkeys(cleared), "updated_at": now, "b_id": ids[p]}
            for p in positions
        ]
        conn.execute(update(table).where(table.c.id == bindparam("b_id")), params)
        return
    if copy:
        _copy_update(conn, batch, positions, ids, _copy_timestamp(now), present, cleared)
        return
    quote = conn.dialect.identifier_preparer.quote
    assignments = [f"{quote(batch.columns[i])} = {mark}" for i in present]
    assignments += [f"{quote(c)} = NULL" for c in cleared]
    assignments.append(f"{quote('updated_at')} = {mark}")
    statement = f"UPDATE {quote('entries')} SET {', '.join(assignments)} WHERE {quote('id')} = {mark}"
    conn.exec_driver_sql(
        statement,
        [(*(batch.rows[p][i] for i in present), stamp, ids[p]) for p in positions],
    )


def _copy_update(conn: Connection, batch: PreparedBatch, positions: Sequence[int],
                 ids: dict[int, int], stamp: Any, present: Sequence[int], cleared: Sequence[str]) -> None:
    """PostgreSQL: the new values are copied into a temporary table shaped like
    ``entries`` (one per connection, emptied at commit), then one ``UPDATE … FROM`` sets
    them, instead of one UPDATE per row."""
    quote = conn.dialect.identifier_preparer.quote
    conn.exec_driver_sql(
        "CREATE TEMP TABLE IF NOT EXISTS import_stage ON COMMIT DELETE ROWS AS "
        "SELECT * FROM entries WITH NO DATA")
    conn.exec_driver_sql("TRUNCATE import_stage")
    names = [batch.columns[i] for i in present]
    columns = ("id", *names, "updated_at")
    raw: Any = conn.connection.dbapi_connection
    with raw.cursor() as cursor, cursor.copy(
            f"COPY import_stage ({', '.join(quote(c) for c in columns)}) FROM STDIN") as copy:
        for p in positions:
            row = batch.rows[p]
            copy.write_row((ids[p], *(row[i] for i in present), stamp))
    assignments = [f"{quote(c)} = s.{quote(c)}" for c in (*names, "updated_at")]
    assignments += [f"{quote(c)} = NULL" for c in cleared]
    conn.exec_driver_sql(
        f"UPDATE entries SET {', '.join(assignments)} FROM import_stage AS s "
        "WHERE entries.id = s.id")


def ids_of(conn: Connection, source: str, source_ids: list[str]) -> dict[str, int]:
    """Entry ids by source id, through the unique (source, source_id) index."""
    known: dict[str, int] = {}
    mark = positional_placeholder(conn.dialect)
    quote = conn.dialect.identifier_preparer.quote
    for start in range(0, len(source_ids), 500):
        part = source_ids[start : start + 500]
        found: Any
        if mark is None:  # pragma: no cover - named-parameter drivers
            found = conn.execute(
                select(Entry.source_id, Entry.id).where(
                    Entry.source == source, Entry.source_id.in_(part)
                )
            )
        else:
            found = conn.exec_driver_sql(
                f"SELECT {quote('source_id')}, {quote('id')} FROM {quote('entries')} "
                f"WHERE {quote('source')} = {mark} AND {quote('source_id')} IN "
                f"({', '.join([mark] * len(part))})",
                (source, *part),
            )
        known.update((str(source_id), int(entry_id)) for source_id, entry_id in found)
    return known
