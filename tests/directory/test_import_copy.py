"""PostgreSQL's COPY import path (issue 15) against the older executemany path: the same
entries, ids, index rows and vocabulary after an import and a re-import; bad rows in the
middle of a batch; cells COPY's text format must escape. Run on both backends: on SQLite
there is one path, so the same assertions hold on the rows it writes."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from directory import import_batches
from directory.db import open_store
from directory.import_batches import prepare_batch
from directory.import_convert import ImportReport, convert
from directory.import_read import Record
from directory.importer import import_file
from directory.models import Entry, EntryTerm, SearchVocab

COLUMNS = ("id", "name", "category", "commune", "lat", "lon", "kind", "description", "tags",
           "address", "starts_at")
_CATEGORIES = ("creche", "garage", "jardin-partage", "nounou")
_WORDS = ("Ti Bouts", "Lontan", "Soleil", "Kaz", "Zoizo", "Bwa", "Lagon", "Piton", "Vanille")

Snapshot = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]], set[int]]


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def directory_rows(count: int, *, generation: int = 0) -> list[dict[str, str]]:
    """``count`` varied rows; a later ``generation`` renames, moves and re-describes some and
    empties every description (a column absent from a batch is cleared on update)."""
    rows = []
    for i in range(count):
        changed = generation and i % 3 == 0
        word = _WORDS[(i + (5 if changed else 0)) % len(_WORDS)]
        event = i % 11 == 0
        rows.append({
            "id": f"c{i}",
            "name": f"{'Fête' if event else 'Lieu'} {word} {i}" + (" bis" if changed else ""),
            "category": "association" if event else _CATEGORIES[i % len(_CATEGORIES)],
            "commune": "97416" if (i + generation) % 4 == 0 else "97415",
            "lat": "" if i % 5 == 0 else f"{-21.0 - i / 1000:.4f}",
            "lon": "" if i % 5 == 0 else f"{55.3 + i / 1000:.4f}",
            "kind": "event" if event else "",
            "description": "" if generation else (f"Ouvert le {word}" if i % 2 else ""),
            "tags": "jardin;bébés" if i % 7 == 0 else "",
            "address": f"{i} rue des Lilas" if i % 3 else "",
            "starts_at": f"2027-0{1 + i % 9}-15T10:00" if event else "",
        })
    return rows


def snapshot(url: str) -> Snapshot:
    """Entries (all but their timestamps), index rows and vocabulary, in key order, and the
    ids a re-import updated (updated_at moved past created_at)."""
    engine, _ = open_store(url)
    table = Entry.__table__
    columns = [c for c in table.c if c.name not in ("created_at", "updated_at")]
    try:
        with engine.connect() as conn:
            entries = [tuple(r) for r in conn.execute(select(*columns).order_by(table.c.id))]
            terms = [tuple(r) for r in conn.execute(
                select(EntryTerm.entry_id, EntryTerm.term, EntryTerm.lat, EntryTerm.lon)
                .order_by(EntryTerm.entry_id, EntryTerm.term))]
            vocab = [tuple(r) for r in conn.execute(
                select(SearchVocab.term, SearchVocab.prefix).order_by(SearchVocab.term))]
            updated = {int(i) for (i,) in conn.execute(
                select(table.c.id).where(table.c.updated_at > table.c.created_at))}
    finally:
        engine.dispose()
    return entries, terms, vocab, updated


@pytest.fixture
def two_stores(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> tuple[str, str]:
    """Two empty databases on the backend of ``db_url``."""
    if db_url.startswith("sqlite"):
        return db_url, f"sqlite:///{tmp_path / 'other.db'}"
    make: Callable[[str], str] = request.getfixturevalue("pg_database_factory")
    return db_url, make("copy_other")


@pytest.fixture
def copies(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Rows written by each COPY (inserts and updates), to show which path ran."""
    counts: list[int] = []
    insert, update = import_batches._copy_insert, import_batches._copy_update

    def counting_insert(conn: Any, batch: Any, positions: Any, *args: Any) -> list[int]:
        counts.append(len(positions))
        return insert(conn, batch, positions, *args)

    def counting_update(conn: Any, batch: Any, positions: Any, *args: Any) -> None:
        counts.append(len(positions))
        update(conn, batch, positions, *args)

    monkeypatch.setattr(import_batches, "_copy_insert", counting_insert)
    monkeypatch.setattr(import_batches, "_copy_update", counting_update)
    yield counts


def _import(url: str, path: Path, *, copy: bool, parallel: bool = False) -> tuple[int, int, int]:
    engine, factory = open_store(url)
    try:
        report = import_file(factory, path, source="csv:copy", batch_size=7, copy=copy,
                             parallel=parallel)
    finally:
        engine.dispose()
    return report.created, report.updated, report.skipped


@pytest.mark.parametrize("parallel", [False, True], ids=["inline", "forked"])
def test_copy_and_executemany_write_the_same_rows(
    two_stores: tuple[str, str], tmp_path: Path, copies: list[int], parallel: bool
) -> None:
    copy_url, plain_url = two_stores
    first = write_csv(tmp_path / "first.csv", directory_rows(60))
    # the re-import changes a third of the rows and adds 20 new ones between the old ones:
    # batches holding new and known rows at once
    second_rows = directory_rows(80, generation=1)
    second_rows = second_rows[60:70] + second_rows[:30] + second_rows[70:] + second_rows[30:60]
    second = write_csv(tmp_path / "second.csv", second_rows)
    for path, expected in ((first, (60, 0, 0)), (second, (20, 60, 0))):
        assert _import(plain_url, path, copy=False, parallel=parallel) == expected
        before = len(copies)
        assert _import(copy_url, path, copy=True, parallel=parallel) == expected
        if copy_url.startswith("postgresql"):
            assert sum(copies[before:]) == 80 if path == second else sum(copies[before:]) == 60
    assert not copies or copy_url.startswith("postgresql")
    entries, terms, vocab, updated = snapshot(copy_url)
    assert (entries, terms, vocab, updated) == snapshot(plain_url)
    # and what both hold is the second file
    names = {row[Entry.__table__.c.keys().index("source_id")]: row for row in entries}
    assert len(entries) == 80 and len(updated) == 60
    assert sorted(names) == sorted(r["id"] for r in second_rows)
    assert [e[0] for e in entries] == list(range(1, 81))  # ids: first file's order, then new ones
    renamed = names["c3"][0]
    assert {t for e, t, _, _ in terms if e == renamed} >= {"bis", "vanille"}  # "Lieu Vanille 3 bis"
    assert "kaz" not in {t for e, t, _, _ in terms if e == renamed}
    assert {r[Entry.__table__.c.keys().index("description")] for r in entries} == {""}
    assert ("bis", "bi") in vocab


def test_a_bad_row_in_a_batch_is_reported_and_the_rest_imported(
    db_url: str, tmp_path: Path, copies: list[int]
) -> None:
    rows = directory_rows(12)
    rows[4]["lat"] = "200"  # line 6, the middle of the first batch of 7
    rows[9]["category"] = ""  # line 11
    path = write_csv(tmp_path / "bad.csv", rows)
    engine, factory = open_store(db_url)
    try:
        report = import_file(factory, path, batch_size=7, parallel=False)
        again = import_file(factory, path, batch_size=7, parallel=False)
    finally:
        engine.dispose()
    assert (report.created, report.updated, report.skipped) == (10, 0, 2)
    assert (again.created, again.updated, again.skipped) == (0, 10, 2)
    assert [(e.number, e.field) for e in report.errors] == [(6, "lat"), (11, "category")]
    assert [(e.number, e.field) for e in again.errors] == [(6, "lat"), (11, "category")]
    if db_url.startswith("postgresql"):
        assert sum(copies) == 20
    entries, terms, _, _ = snapshot(db_url)
    source_id = Entry.__table__.c.keys().index("source_id")
    kept = [r["id"] for i, r in enumerate(rows) if i not in (4, 9)]
    assert [(e[0], e[source_id]) for e in entries] == list(enumerate(kept, start=1))
    assert {e for e, _, _, _ in terms} == set(range(1, 11))


AWKWARD = [
    "tab\there, newline\nthere, CRLF\r\nand CR\ralone",
    "back\\slash \\N \\. \\t \\\\ end\\",
    "quotes \" ' `` « » “ ” and a comma, too",
    "unicode: é ü ß œ Ø 🥖🌋 中文 العربية ṩ \u00a0nbsp \u200b zero width",
    "\\.\nline of its own above",
    "",
]


def _awkward_batch(dialect: Any, reverse: bool) -> import_batches.PreparedBatch:
    """Valid rows whose text cells are then set to :data:`AWKWARD` (which the importer's
    validation would tidy: here they reach the writer as they are)."""
    records = [Record(i + 2, row) for i, row in enumerate(directory_rows(len(AWKWARD)))]
    rows = [row for _, row in convert(records, "csv:awkward", ImportReport("csv:awkward"))]
    batch = prepare_batch(rows, dialect, [r.number for r in records])
    at = {name: batch.columns.index(name) for name in ("name", "description", "address", "tags")}
    texts = [t[::-1] if reverse else t for t in AWKWARD]
    tags = Entry.__table__.c.tags.type._cached_bind_processor(dialect) if batch.processed else None
    cells = []
    for row, text in zip(batch.rows, texts, strict=True):
        values = list(row)
        values[at["name"]] = f"N {text}"
        values[at["description"]] = text
        values[at["address"]] = text or None
        values[at["tags"]] = tags([text, "a\\b"]) if tags else [text, "a\\b"]
        cells.append(tuple(values))
    return replace(batch, rows=cells)


def test_awkward_cells_round_trip_through_copy_exactly(db_url: str, copies: list[int]) -> None:
    engine, factory = open_store(db_url)
    try:
        read = []
        for reverse in (False, True):  # new rows, then the same rows updated
            with engine.begin() as conn:
                written = import_batches.write_batch(conn, _awkward_batch(conn.dialect, reverse))
            assert (written.created, written.updated) == ((0, len(AWKWARD)) if reverse else (len(AWKWARD), 0))
            with factory() as session:
                read.append({e.source_id: (e.name, e.description, e.address, e.tags)
                             for e in session.scalars(select(Entry))})
    finally:
        engine.dispose()
    if db_url.startswith("postgresql"):
        assert sum(copies) == 2 * len(AWKWARD)
    for stored, reverse in zip(read, (False, True), strict=True):
        for i, text in enumerate(AWKWARD):
            text = text[::-1] if reverse else text
            assert stored[f"c{i}"] == (f"N {text}", text, text or None, [text, "a\\b"])
