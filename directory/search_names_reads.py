"""The SQL reads of a name-only search (:mod:`directory.search_names`), each one round trip
and portable (SQLite and PostgreSQL): capped counts of index terms, the rows of chosen
terms, an intersection of two words, and the terms some entries hold.

Why counts first: a word's rows were read with a cap to learn whether it was rare, which
sent up to 2,000 rows of every common word (a category word in the name) over the wire
for nothing; a capped count per term answers the same question from the index alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from directory.search_candidates import _core

#: entries of a SQLite look-up per statement (SQLite's bound-parameter limit)
LOOKUP_CHUNK = 500


def _postgresql(session: Session) -> bool:
    """PostgreSQL through psycopg 3 (list parameters are sent as arrays)."""
    dialect = session.connection().dialect
    return dialect.name == "postgresql" and dialect.driver == "psycopg"


def _marks(session: Session, count: int) -> str:
    mark = "?" if session.connection().dialect.paramstyle == "qmark" else "%s"
    return ",".join([mark] * count)


def _rows(session: Session, sql: str, values: Sequence[object]) -> Sequence[Any]:
    return _core(session).exec_driver_sql(sql, tuple(values)).fetchall()


def int_array(ids: Sequence[int]) -> str:
    """A PostgreSQL array literal of ``ids``, for a ``%s::int[]`` parameter: psycopg's
    array dumper spent ~0.5 ms per thousand ids in Python; ``str.join`` is C."""
    return "{" + ",".join(map(str, ids)) + "}"


def term_counts(session: Session, terms: Sequence[str], cap: int) -> dict[str, int]:
    """Index rows of each term, counted up to ``cap`` (index-only, one statement)."""
    if not terms:
        return {}
    mark = _marks(session, 1)
    one = f"(SELECT count(*) FROM (SELECT 1 FROM entry_terms WHERE term = {mark} LIMIT {int(cap)}) AS c)"
    row = _rows(session, "SELECT " + ", ".join([one] * len(terms)), terms)[0]
    return {term: int(n) for term, n in zip(terms, row, strict=True)}


def term_rows(session: Session, terms: Sequence[str], limit: int) -> Sequence[Any]:
    """(entry_id, term) of ``terms``, at most ``limit`` rows."""
    sql = (
        "SELECT entry_id, term FROM entry_terms WHERE term IN ("
        + _marks(session, len(terms)) + f") LIMIT {int(limit)}"
    )
    return _rows(session, sql, terms)


def joined_rows(
    session: Session, driver: Sequence[str], other: Sequence[str], limit: int
) -> Sequence[Any]:
    """(entry_id, term) of ``driver`` terms whose entry also has an ``other`` term."""
    sql = (
        "SELECT a.entry_id, a.term FROM entry_terms a WHERE a.term IN ("
        + _marks(session, len(driver)) + ") AND EXISTS (SELECT 1 FROM entry_terms b "
        "WHERE b.entry_id = a.entry_id AND b.term IN (" + _marks(session, len(other))
        + f")) LIMIT {int(limit)}"
    )
    return _rows(session, sql, [*driver, *other])


def _unprepared_rows(session: Session, sql: str, values: Sequence[object]) -> list[Any]:
    """Rows of ``sql`` run through psycopg with ``prepare=False`` (same connection and
    transaction as the session).

    psycopg prepares a statement after five runs, and PostgreSQL then may keep a generic
    plan, blind to the arrays' values: for the look-up below it probed the primary key for
    each of 2,000 candidates (18 ms where a scan of the terms' rows takes 0.5 ms), or
    re-parsed the id array for every row scanned (245 ms). Unprepared, each run is planned
    with its arrays known (folded to constants, hashed)."""
    raw: Any = _core(session).connection.dbapi_connection
    with raw.cursor() as cursor:
        cursor.execute(sql, tuple(values), prepare=False)
        return list(cursor.fetchall())


def held_terms(session: Session, ids: Sequence[int], terms: Sequence[str]) -> list[Any]:
    """(entry_id, term) of ``terms`` held by the entries ``ids``.

    PostgreSQL: one statement with array parameters, planned for them (see
    :func:`_unprepared_rows`). Chunks of 500 ids each rescanned the looked-up terms' rows
    (the planner reads the term index and filters the ids). SQLite: primary-key probes,
    chunked under its parameter limit."""
    if not ids or not terms:
        return []
    if _postgresql(session):
        return _unprepared_rows(
            session,
            "SELECT entry_id, term FROM entry_terms WHERE entry_id = ANY(%s::int[]) "
            "AND term = ANY(%s::text[])",
            [int_array(ids), list(terms)],
        )
    found: list[Any] = []
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[start : start + LOOKUP_CHUNK]
        sql = (
            "SELECT entry_id, term FROM entry_terms WHERE entry_id IN ("
            + _marks(session, len(chunk)) + ") AND term IN (" + _marks(session, len(terms)) + ")"
        )
        found.extend(_rows(session, sql, [*chunk, *terms]))
    return found
