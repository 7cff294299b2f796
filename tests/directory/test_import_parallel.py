"""Parallel import (validation in a forked child): the same rows, errors, updates and
whole-batch guarantee as the in-process path. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory import import_parallel
from directory.importer import ImportFailed, Record, can_fork, import_file, import_records
from directory.models import Entry, EntryTerm

pytestmark = pytest.mark.skipif(not can_fork(), reason="needs fork and two CPUs")

HEADER = "id,name,category,commune,lat,lon,kind,tags,phone\n"


def _csv(rows: int) -> str:
    lines = [HEADER]
    for n in range(rows):
        if n % 7 == 3:
            lines.append(f"p{n},,garage,97415,,,,,\n")  # empty name
        elif n % 11 == 5:
            lines.append(f"p{n},Garage {n},garage,99999,,,,,\n")  # unknown commune
        elif n % 17 == 9:
            lines.append(f"p{n // 3},Garage repeated {n},garage,97415,,,,,\n")  # an earlier id
        elif n % 13 == 0:
            lines.append(f"p{n},Cre\u0300che {n} \u200bTi Bouts,creche,97416,-21.01,55.27,,"
                         "bébés;jardin,0262 00 00 00\n")
        else:
            lines.append(f"p{n},Boulangerie Vacoa {n},boulangerie,97415,,,,,\n")
    return "".join(lines)


def _snapshot(session: Session, source: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every column an import writes, and the index rows, of one source."""
    entries = session.execute(
        select(Entry.source_id, Entry.name, Entry.name_folded, Entry.category, Entry.kind,
               Entry.org_type, Entry.commune_insee, Entry.lat, Entry.lon, Entry.tags, Entry.needs,
               Entry.phone, Entry.address, Entry.status, Entry.description)
        .where(Entry.source == source).order_by(Entry.source_id)
    ).all()
    terms = session.execute(
        select(Entry.source_id, EntryTerm.term, EntryTerm.lat, EntryTerm.lon)
        .join(Entry, Entry.id == EntryTerm.entry_id)
        .where(Entry.source == source).order_by(Entry.source_id, EntryTerm.term)
    ).all()
    return [tuple(r) for r in entries], [tuple(r) for r in terms]


@pytest.mark.parametrize(
    ("chunk_rows", "converters"),
    [(1000, 1), (7, 1), (7, 2), (5, 3)],
    ids=["chunk-per-batch", "chunks-in-batches", "two-converters", "three-converters"],
)
def test_parallel_and_serial_imports_write_and_report_the_same(
    store, tmp_path: Path, chunk_rows: int, converters: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows of a file that repeat an earlier id are refused whichever process converted
    them: the writer, which sees every chunk, drops them."""
    _, factory = store
    monkeypatch.setattr(import_parallel, "CHUNK_ROWS", chunk_rows)  # the forked children inherit it
    monkeypatch.setattr(import_parallel, "PG_CHUNK_ROWS", chunk_rows)
    monkeypatch.setattr(import_parallel, "converter_count", lambda: converters)
    path = tmp_path / "grand.csv"
    path.write_text(_csv(230), encoding="utf-8")
    serial = import_file(factory, path, source="serial", batch_size=40, parallel=False)
    parallel = import_file(factory, path, source="parallel", batch_size=40, parallel=True)
    assert (parallel.created, parallel.updated, parallel.skipped) == (
        serial.created, serial.updated, serial.skipped)
    assert serial.skipped > 0 and serial.created > 150
    assert parallel.errors == serial.errors
    assert {e.reason for e in serial.errors} == {"empty", "unknown_commune", "duplicate_in_file"}
    assert [e.number for e in serial.errors] == sorted(e.number for e in serial.errors)
    with factory() as session:
        ours = _snapshot(session, "parallel")
        assert ours == _snapshot(session, "serial")
        assert len(ours[1]) > 3 * serial.created  # name words, category and kind terms
    # a parallel re-import of the same source updates every row, creates none
    again = import_file(factory, path, source="parallel", batch_size=40, parallel=True)
    assert (again.created, again.updated, again.skipped) == (0, serial.created, serial.skipped)
    with factory() as session:
        assert count(session) == 2 * serial.created
        assert _snapshot(session, "parallel") == ours


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Entry)) or 0


def test_a_failure_in_the_child_is_raised_with_its_reason(store) -> None:
    _, factory = store

    def records() -> Iterator[Record]:
        yield Record(2, {"id": "x", "name": "Garage X", "category": "garage", "commune": "97415"})
        raise ImportFailed("bad_json", "line 3")

    with pytest.raises(ImportFailed) as caught:
        import_records(factory, records(), "test", batch_size=10, parallel=True)
    assert (caught.value.reason, caught.value.detail) == ("bad_json", "line 3")
    with factory() as session:
        assert count(session) == 0  # the partial batch was never written


def test_a_writer_failure_stops_the_child(store) -> None:
    _, factory = store
    seen: list[int] = []

    def progress(done: int) -> None:
        seen.append(done)
        raise KeyboardInterrupt

    def records() -> Iterator[Record]:
        for n in range(5000):
            yield Record(n + 2, {"id": f"w{n}", "name": f"Garage {n}", "category": "garage",
                                 "commune": "97415"})

    with pytest.raises(KeyboardInterrupt):
        import_records(factory, records(), "test", batch_size=500, progress=progress, parallel=True)
    assert seen == [500]
    with factory() as session:
        assert count(session) == 500
