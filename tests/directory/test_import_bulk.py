"""Bulk loads (``communebot import --bulk``, issue 15) on SQLite and PostgreSQL: what they
drop comes back (every index, and PostgreSQL's foreign key of the index rows) after a
load, a failed one, and one killed outright (the next import restores it); searches work
after; a new source's rows skip the look-up of known ids; COPY text of the index rows
escapes what it must."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from directory import import_batches, importer
from directory.import_batches import prepare_batch
from directory.import_bulk import drop_for_bulk
from directory.import_convert import ImportReport, convert
from directory.import_read import Record
from directory.importer import import_records
from directory.models import Entry, EntryTerm
from directory.search import SearchQuery, search
from directory.search_index import copy_entry_terms
from tests.directory.test_import_batches import assert_index_matches_entries

Store = tuple[Engine, sessionmaker[Session]]


def _records(count: int, *, word: str = "Vacoa", start: int = 0) -> Iterator[Record]:
    for n in range(start, start + count):
        yield Record(n + 2, {"id": f"b{n}", "name": f"Boulangerie {word} {n}", "category": "boulangerie",
                             "commune": "97416" if n % 2 else "97415",
                             "lat": f"{-21.2 - n / 1000:.4f}" if n % 3 else "",
                             "lon": f"{55.4 + n / 1000:.4f}" if n % 3 else "",
                             "tags": "pain;gâteaux" if n % 4 == 0 else ""})


def schema(engine: Engine) -> dict[str, Any]:
    """The indexes of ``entries`` and ``entry_terms`` and the foreign keys of
    ``entry_terms`` (on PostgreSQL, as PostgreSQL defines them, and whether validated)."""
    inspector = inspect(engine)
    found: dict[str, Any] = {
        "indexes": sorted(
            (table, str(ix["name"]), tuple(ix["column_names"]), bool(ix["unique"]))
            for table in ("entries", "entry_terms") for ix in inspector.get_indexes(table)),
        "foreign keys": sorted(
            (tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"]),
             (fk.get("options") or {}).get("ondelete"))
            for fk in inspector.get_foreign_keys("entry_terms")),
    }
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            found["constraints"] = sorted(tuple(r) for r in conn.execute(text(
                "SELECT conname, contype, convalidated, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid IN ('entries'::regclass, 'entry_terms'::regclass)")))
    return found


def _searches(session: Session, word: str) -> int:
    """Hits of a category search near a point; a misspelt name word (found only through
    the vocabulary) finds what the word spelt right finds."""
    near = search(session, SearchQuery(category="boulangerie", point=(-21.25, 55.45), radius_km=50,
                                       limit=100))
    typo = word[:2] + word[3] + word[2] + word[4:]  # "vacoa" -> "vaoca"
    misspelt = search(session, SearchQuery(text=typo, commune="97416", limit=100))
    spelt = search(session, SearchQuery(text=word, commune="97416", limit=100))
    assert {h.entry_id for h in misspelt.hits} == {h.entry_id for h in spelt.hits}
    assert spelt.hits and all(word in h.name.lower() for h in spelt.hits)
    return len(near.hits)


def _orphans(session: Session) -> int:
    return session.scalar(text(
        "SELECT count(*) FROM entry_terms AS t WHERE NOT EXISTS "
        "(SELECT 1 FROM entries AS e WHERE e.id = t.entry_id)")) or 0


@pytest.mark.parametrize("parallel", [False, True], ids=["inline", "forked"])
def test_a_bulk_load_ends_with_every_index_and_key_back_and_searches_work(
    store: Store, parallel: bool
) -> None:
    engine, factory = store
    before = schema(engine)
    assert any(name == "ix_entry_terms_term_geo" for _, name, _, _ in before["indexes"])
    assert before["foreign keys"] == [(("entry_id",), "entries", ("id",), "CASCADE")]
    report = import_records(factory, _records(60), "bulk", batch_size=9, bulk=True, parallel=parallel)
    assert (report.created, report.updated, report.skipped) == (60, 0, 0)
    assert schema(engine) == before
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Entry)) == 60
        assert_index_matches_entries(session)
        assert _searches(session, "vacoa") == 60
    # a bulk re-import renames every entry: the old words leave the index, the new come in
    again = import_records(factory, _records(60, word="Tamarin"), "bulk", batch_size=9, bulk=True,
                           parallel=parallel)
    assert (again.created, again.updated, again.skipped) == (0, 60, 0)
    assert schema(engine) == before
    with factory() as session:
        assert_index_matches_entries(session)
        assert _searches(session, "tamarin") == 60
        old_word = select(func.count()).select_from(EntryTerm).where(EntryTerm.term == "vacoa")
        assert not session.scalar(old_word)


def test_a_failed_bulk_load_puts_everything_back_and_keeps_its_batches(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, factory = store
    before = schema(engine)
    write, calls = import_batches.write_batch, []

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("the database went away")
        return write(*args, **kwargs)

    monkeypatch.setattr(importer, "write_batch", failing)
    with pytest.raises(RuntimeError):
        import_records(factory, _records(50), "bulk", batch_size=10, bulk=True)
    assert schema(engine) == before
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Entry)) == 30  # 3 whole batches
        assert_index_matches_entries(session)
        assert _searches(session, "vacoa") == 30


def test_what_a_killed_bulk_load_left_down_comes_back_with_the_next_import(store: Store) -> None:
    """``kill -9`` during a bulk load leaves the indexes (and PostgreSQL's foreign key)
    dropped: the next import, bulk or not, of any source, puts them back. An entry deleted
    meanwhile left its index rows (nothing cascaded): they go when the key comes back."""
    engine, factory = store
    before = schema(engine)
    import_records(factory, _records(20), "bulk", batch_size=10, bulk=True)
    with engine.begin() as conn:
        drop_for_bulk(conn)  # what the killed load had done before its first batch
    down = schema(engine)
    assert down != before
    assert not any(name == "ix_entry_terms_term_geo" for _, name, _, _ in down["indexes"])
    postgresql = engine.dialect.name == "postgresql"
    assert (down["foreign keys"] == []) is postgresql
    with factory() as session, session.begin():
        gone = session.scalar(select(Entry.id).where(Entry.source_id == "b3"))
        terms = session.scalar(select(func.count()).select_from(EntryTerm).where(EntryTerm.entry_id == gone))
        assert terms == 4  # boulangerie, vacoa, its category and its kind
        session.execute(Entry.__table__.delete().where(Entry.id == gone))
    with factory() as session:
        assert _orphans(session) == (4 if postgresql else 0)  # b3's index rows stayed behind
    report = import_records(factory, _records(10, start=100), "other", batch_size=4)
    assert (report.created, report.updated) == (10, 0)
    assert schema(engine) == before
    with factory() as session:
        assert _orphans(session) == 0
        assert_index_matches_entries(session)
        assert _searches(session, "vacoa") == 29


def test_a_new_source_skips_the_look_up_of_known_ids(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: a source with no entry yet has only new rows (repeats in the file are
    refused before the writer); one that has entries is looked up as before. SQLite
    always looks up."""
    engine, factory = store
    lookups: list[int] = []
    ids_of = import_batches.ids_of

    def counting(conn: Any, source: str, source_ids: list[str]) -> dict[str, int]:
        lookups.append(len(source_ids))
        return ids_of(conn, source, source_ids)

    monkeypatch.setattr(import_batches, "ids_of", counting)
    postgresql = engine.dialect.name == "postgresql"
    for bulk in (False, True):
        lookups.clear()
        source = f"new-{bulk}"
        records = [*_records(12), *_records(3)]  # the last three repeat the first ones
        report = import_records(factory, iter(records), source, batch_size=5, bulk=bulk)
        assert (report.created, report.updated, report.skipped) == (12, 0, 3)
        assert [e.reason for e in report.errors] == ["duplicate_in_file"] * 3
        assert (lookups == []) is postgresql
        lookups.clear()
        again = import_records(factory, _records(14), source, batch_size=5, bulk=bulk)
        assert (again.created, again.updated, again.skipped) == (2, 12, 0)
        assert sum(lookups) == 14
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Entry)) == 28
        assert_index_matches_entries(session)


def test_statistics_are_refreshed_only_when_the_table_outgrew_them(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: none during the load of a new source, nor during a re-import that only
    updates; whenever the rows created double the table, when a known source grows; and
    once at the end. SQLite: never."""
    engine, factory = store
    analyzed: list[int] = []
    analyze = importer._analyze

    def counting(factory: Any) -> float:
        analyzed.append(1)
        return analyze(factory)

    monkeypatch.setattr(importer, "_analyze", counting)
    postgresql = engine.dialect.name == "postgresql"
    runs = []
    for count in (10, 10, 80):  # a new source, its re-import, then 70 more rows
        analyzed.clear()
        import_records(factory, _records(count), "stats", batch_size=5, bulk=True)
        runs.append(len(analyzed))
    if not postgresql:
        assert runs == [0, 0, 0]
        return
    assert runs[:2] == [1, 1]  # the one at the end
    assert runs[2] >= 3  # the table of 10 doubled at 10 and 30 more rows (at least), then the end
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT reltuples FROM pg_class WHERE oid = 'entries'::regclass")) == 80


@pytest.mark.postgres
def test_index_rows_in_copy_text_escape_what_they_must(pg_url: str) -> None:
    from directory.db import open_store

    engine, factory = open_store(pg_url)
    awkward = ["a\\b", "tab\there", "new\nline", "cr\rx", "\\N", "\\.", "é ü 🥖", "plain"]
    try:
        import_records(factory, _records(2), "awkward", batch_size=5)
        with engine.begin() as conn:
            ids = sorted(conn.scalars(select(Entry.id)))
            conn.execute(EntryTerm.__table__.delete())
            copy_entry_terms(conn, [(ids[0], None, 55.5, json.dumps(sorted(awkward))),
                                    (ids[1], -21.25, None, json.dumps(["plain"]))])
        with engine.connect() as conn:
            rows = {tuple(r) for r in conn.execute(select(EntryTerm.entry_id, EntryTerm.term,
                                                          EntryTerm.lat, EntryTerm.lon))}
    finally:
        engine.dispose()
    assert rows == {(ids[0], t, None, 55.5) for t in awkward} | {(ids[1], "plain", -21.25, None)}


def test_json_cells_are_prepared_as_text_for_psycopg() -> None:
    """The converting processes serialize JSON cells once (the writer no longer does it
    per row): psycopg sends the text untyped and PostgreSQL reads it as JSON."""
    from sqlalchemy import create_engine

    engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")  # never connects
    records = [Record(2 + n, row) for n, row in enumerate(
        [{"id": "j1", "name": "Garage Vacoa", "category": "garage", "commune": "97415",
          "tags": "pain;gâteaux"},
         {"id": "j2", "name": "Garage Zoizo", "category": "garage", "commune": "97415"}])]
    rows = [row for _, row in convert(records, "j", ImportReport("j"))]
    batch = prepare_batch(rows, engine.dialect, [2, 3])
    tags = batch.columns.index("tags")
    assert [r[tags] for r in batch.rows] == [json.dumps(["pain", "gâteaux"]), "[]"]
