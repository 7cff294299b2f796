"""Import batches: what the child prepares and what the writer makes of it.

The writer's shortcuts (ids numbered by SQLite, index rows placed by position, columns
left out when NULL in a whole batch) must write exactly what the ORM would: every test
here ends by comparing the index with what :func:`term_tuples` derives from each entry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from directory import search_index
from directory.import_batches import ROW_COLUMNS, prepare_batch
from directory.importer import ImportReport, Record, convert, import_records
from directory.models import Entry, EntryTerm
from directory.search_index import index_point, source_of, term_tuples


def _records(rows: list[dict[str, str]]) -> Iterator[Record]:
    for number, values in enumerate(rows, start=2):
        yield Record(number, values)


def _row(n: int, **extra: str) -> dict[str, str]:
    values = {"id": f"e{n}", "name": f"Garage Vacoa {n}", "category": "garage", "commune": "97415"}
    values.update(extra)
    return values


def assert_index_matches_entries(session: Session) -> None:
    """Every entry's index rows are those the ORM path would write for it, no more."""
    expected: set[tuple[Any, ...]] = set()
    for entry in session.scalars(select(Entry)):
        expected.update(term_tuples(source_of(entry)))
    stored = set(session.execute(
        select(EntryTerm.entry_id, EntryTerm.term, EntryTerm.lat, EntryTerm.lon)
    ))
    assert stored == expected


def _entries(session: Session, source: str) -> dict[str, tuple[Any, ...]]:
    found = session.execute(
        select(Entry.source_id, Entry.name, Entry.phone, Entry.website, Entry.tags, Entry.lat,
               Entry.lon, Entry.description).where(Entry.source == source)
    )
    return {source_id: tuple(rest) for source_id, *rest in found}


def test_prepare_leaves_out_columns_null_in_every_row_and_lists_terms_by_position() -> None:
    report = ImportReport("t")
    numbered = list(convert(_records([_row(1, tags="a;b"), _row(2, phone="0262 11 22 33")]), "t", report))
    batch = prepare_batch([r for _, r in numbered], create_engine("sqlite://").dialect, [2, 3])
    assert "website" not in batch.columns and "phone" in batch.columns
    assert "tags" in batch.columns  # NOT NULL columns are always bound
    tags = batch.columns.index("tags")
    assert [r[tags] for r in batch.rows] == ['["a", "b"]', "[]"]  # JSON, as SQLite stores it
    assert batch.source_ids == ["e1", "e2"]
    assert [p for p, *_ in batch.terms] == [0, 1]
    _, lat, lon, names = batch.terms[1]
    # sorted, as the primary key (entry_id, term) wants them; "2" is too short to index
    assert json.loads(names) == ["@c:garage", "@k:organization", "garage", "vacoa"]
    assert (lat, lon) == index_point(None, None, "97415")  # no point: the commune's centre
    assert batch.vocabulary == {"garage", "vacoa"}
    assert set(batch.columns) <= set(ROW_COLUMNS)


@pytest.mark.parametrize("bulk", [False, True], ids=["indexed", "bulk"])
def test_a_batch_mixing_new_changed_and_cleared_rows_writes_what_a_fresh_import_writes(
    store, bulk: bool
) -> None:
    _, factory = store
    first = [_row(n, phone="0262 11 22 33", website="vacoa.re", tags="pneus;vidange",
                  lat="-21.01", lon="55.27") for n in range(6)]
    report = import_records(factory, _records(first), "src", batch_size=4, bulk=bulk)
    assert (report.created, report.updated) == (6, 0)
    # the second file: e0-e3 changed (phone, website, tags and point cleared in every row of
    # the batch, names changed), e4-e5 gone from it, e6-e9 new; batches of 4 mix both kinds
    second = [_row(n, name=f"Mécano Zembrocal {n}") for n in range(4)]
    second += [_row(n, description="nouveau") for n in range(6, 10)]
    report = import_records(factory, _records(second), "src", batch_size=3, bulk=bulk)
    assert (report.created, report.updated, report.skipped) == (4, 4, 0)
    import_records(factory, _records(second), "fresh", batch_size=3, bulk=bulk)
    with factory() as session:
        updated, fresh = _entries(session, "src"), _entries(session, "fresh")
        assert {k: updated[k] for k in fresh} == fresh
        assert updated["e0"] == ("Mécano Zembrocal 0", None, None, [], None, None, "")
        assert updated["e4"][1] == "0262 11 22 33"  # absent from the file: left as it was
        assert_index_matches_entries(session)


def test_a_bulk_load_numbers_rows_after_existing_and_deleted_ones(store) -> None:
    """SQLite numbers new rows after the largest id: entries added in between and a
    deleted last row must not shift the index onto the wrong entries."""
    _, factory = store
    import_records(factory, _records([_row(n) for n in range(5)]), "a", batch_size=5, bulk=True)
    with factory() as session, session.begin():
        last = session.scalars(select(Entry).order_by(Entry.id.desc())).first()
        assert last is not None
        session.delete(last)
    import_records(factory, _records([_row(n) for n in range(7)]), "b", batch_size=3, bulk=True)
    with factory() as session:
        assert len(_entries(session, "b")) == 7
        assert_index_matches_entries(session)


@pytest.mark.parametrize("json_each", [True, False], ids=["json_each", "one-row-per-term"])
def test_bulk_index_rows_are_right_with_or_without_sqlite_json(
    store, json_each: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, factory = store
    engine, _ = store
    if not json_each:  # as with an SQLite built without JSON support
        monkeypatch.setitem(search_index._JSON_EACH, id(engine.dialect.dbapi), False)
    rows = [_row(n, lat="-21.0", lon="55.27") if n % 2 else _row(n) for n in range(9)]
    import_records(factory, _records(rows), "j", batch_size=4, bulk=True)
    with factory() as session:
        assert_index_matches_entries(session)
