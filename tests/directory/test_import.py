"""Import: CSV and GeoJSON/OSM, re-imports that update, bad rows and bad files, batches
that survive interruption, the sample directory. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.cli import main as cli
from directory import import_parallel
from directory.gazetteer import get_gazetteer
from directory.importer import (
    CSV_COLUMNS,
    ImportFailed,
    Record,
    can_fork,
    csv_records,
    import_file,
    import_records,
)
from directory.models import Entry, EntryTerm
from directory.sample import REUNION, load_sample
from directory.search import SearchQuery, haversine_km, search

FIXTURES = Path(__file__).with_name("fixtures")
HEADER = "id,name,category,commune,lat,lon,kind,stage,needs,tags,starts_at\n"


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Entry)) or 0


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


def test_csv_import_keeps_good_rows_and_reports_bad_ones(store, tmp_path: Path) -> None:
    _, factory = store
    path = write(
        tmp_path / "annuaire.csv",
        HEADER
        + "a1,Crèche Ti Bouts (fictive),creche,97415,-21.03,55.33,,,,bébés;jardin,\n"  # line 2
        + "a2,,creche,97415,,,,,,,\n"  # line 3: empty name
        + f"a3,{'x' * 10_000},garage,97415,,,,,,,\n"  # line 4: too long
        + "a4,Garage Lat,garage,97415,200,55.3,,,,,\n"  # line 5: latitude 200
        + "a5,Garage Nulle Part,garage,99999,,,,,,,\n"  # line 6: unknown INSEE
        + "a6,Jardin Lontan (fictive),jardin-partage,97416,,,project,started,volunteers;funding,,\n"
        + "a7,\"Bob'); DROP TABLE entries;--\",garage,97416,,,,,,,\n"  # SQL-like, fine
        + "a8,\"Zéro\u200blargeur\x07 (fictive)\",nounou,97416,,,,,,,\n"  # synonym as category
        + "a9,Fête,association,97416,,,event,,,,demain\n"  # bad date
        + "a1,Doublon,creche,97415,,,,,,,\n"  # duplicate id in the file
        + "b1,Trop,de,cellules,97415,1,2,3,4,5,6,7\n"
        + "\n",
    )
    report = import_file(factory, path)
    assert report.source == "csv:annuaire"
    assert (report.created, report.updated, report.skipped) == (4, 0, 7)
    assert [(e.number, e.field, e.reason) for e in report.errors] == [
        (3, "name", "empty"),
        (4, "name", "too_long"),
        (5, "lat", "bad_latitude"),
        (6, "commune_insee", "unknown_commune"),
        (10, "starts_at", "bad_datetime"),
        (11, "id", "duplicate_in_file"),
        (12, "row", "too_many_cells"),
    ]
    with factory() as session:
        assert count(session) == 4
        entries = {e.source_id: e for e in session.scalars(select(Entry))}
    assert entries["a1"].tags == ["bébés", "jardin"]
    assert entries["a6"].kind == "project" and entries["a6"].needs == ["volunteers", "funding"]
    assert entries["a7"].name == "Bob'); DROP TABLE entries;--"
    assert entries["a8"].name == "Zérolargeur (fictive)"
    assert entries["a8"].category == "assistante-maternelle"


def test_reimporting_a_source_updates_and_never_duplicates(store, tmp_path: Path) -> None:
    _, factory = store
    rows = "k1,Garage Alpha,garage,97415,,,,,,,\nk2,Crèche Beta,creche,97415,,,,,,,\n"
    path = write(tmp_path / "src.csv", HEADER + rows)
    first = import_file(factory, path)
    assert (first.created, first.updated) == (2, 0)
    write(path, HEADER + "k1,Garage Zembrocal,garage,97415,,,,,,,\nk2,Crèche Beta,creche,97415,,,,,,,\n"
          + "k3,Snack Gamma,snack,97415,,,,,,,\n")
    second = import_file(factory, path)
    assert (second.created, second.updated, second.skipped) == (1, 2, 0)
    with factory() as session:
        assert count(session) == 3
        garage = session.scalars(select(Entry).where(Entry.source_id == "k1")).one()
        assert garage.name == "Garage Zembrocal" and garage.name_folded == "garage zembrocal"
        page = search(session, SearchQuery(text="zembrocal", commune="97415"))
        assert [h.entry_id for h in page.hits] == [garage.id]
        assert not search(session, SearchQuery(text="alpha", commune="97415")).hits
        terms = session.scalar(
            select(func.count()).select_from(EntryTerm).where(EntryTerm.entry_id == garage.id)
        )
        assert terms == 4  # garage, zembrocal, @c:garage, @k:organization: old terms gone


def test_rows_without_id_are_keyed_by_name_commune_and_category(store, tmp_path: Path) -> None:
    _, factory = store
    path = write(tmp_path / "noid.csv", "name,category,commune\nCrèche Ti Bouts,creche,97415\n")
    import_file(factory, path)
    report = import_file(factory, path)
    assert (report.created, report.updated) == (0, 1)


def test_commune_comes_from_the_point_when_absent(store, tmp_path: Path) -> None:
    _, factory = store
    path = write(tmp_path / "pts.csv", "name,category,lat,lon\nGarage Tangue,garage,-21.3,55.5\n"
                 "Garage Large,garage,-30,60\n")
    report = import_file(factory, path)
    assert (report.created, report.skipped) == (1, 1)
    assert report.errors[0].reason == "unknown_commune"
    with factory() as session:
        assert session.scalars(select(Entry.commune_insee)).one() == "97416"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("nom,catégorie,commune\nCrèche,creche,97415\n", "unknown_columns"),
        ("id,name\n1,Crèche\n", "missing_columns"),
        ("", "empty"),
        ("\n\n", "empty"),
    ],
)
def test_wrong_csv_columns_are_refused_before_writing(
    store, tmp_path: Path, content: str, reason: str
) -> None:
    _, factory = store
    with pytest.raises(ImportFailed) as info:
        import_file(factory, write(tmp_path / "bad.csv", content))
    assert info.value.reason == reason
    with factory() as session:
        assert count(session) == 0


def test_latin1_and_binary_files_are_refused(store, tmp_path: Path) -> None:
    _, factory = store
    latin = write(tmp_path / "latin.csv", "name,category,commune\nCrèche Été,creche,97415\n", "latin-1")
    with pytest.raises(ImportFailed) as info:
        import_file(factory, latin)
    assert info.value.reason == "not_utf8"
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(ImportFailed) as info:
        import_file(factory, binary)
    assert info.value.reason == "binary"
    with pytest.raises(ImportFailed) as info:
        import_file(factory, tmp_path / "missing.csv")
    assert info.value.reason == "not_found"
    with pytest.raises(ImportFailed) as info:
        import_file(factory, write(tmp_path / "x.geojson", '{"type": "Feature"}'))
    assert info.value.reason == "not_geojson"
    with pytest.raises(ImportFailed) as info:
        import_file(factory, write(tmp_path / "y.geojson", "{nope"))
    assert info.value.reason == "bad_json"
    with factory() as session:
        assert count(session) == 0


def test_osm_geojson_maps_tags_to_categories_and_points_to_communes(store) -> None:
    _, factory = store
    report = import_file(factory, FIXTURES / "osm_export.geojson")
    assert report.source == "osm"
    assert report.created == 4
    assert sorted((e.number, e.reason) for e in report.errors) == [
        (3, "no_category_for_tags"),
        (5, "unknown_commune"),
        (6, "empty"),
        (8, "not_a_feature"),
    ]
    with factory() as session:
        entries = {e.source_id: e for e in session.scalars(select(Entry))}
    creche = entries["node/1001"]
    assert (creche.category, creche.commune_insee) == ("creche", "97415")
    assert creche.address == "3 Rue des Filaos" and creche.postcode == "97460"
    assert creche.phone == "+262 262 00 00 01"
    bakery = entries["way/2002"]
    assert (bakery.category, bakery.commune_insee) == ("boulangerie", "97411")
    assert bakery.website == "https://example.org"
    assert bakery.lat == pytest.approx(-20.8804, abs=1e-3)
    assert entries["node/1004"].category == "garage"
    assert entries["node/1007"].category == "bibliotheque"
    again = import_file(factory, FIXTURES / "osm_export.geojson")
    assert (again.created, again.updated) == (0, 4)


_FORK = pytest.mark.skipif(not can_fork(), reason="needs fork and two CPUs")


@pytest.mark.parametrize(
    ("parallel", "chunk_rows", "converters"),
    [
        (False, None, 1),
        pytest.param(True, None, 1, marks=_FORK),
        pytest.param(True, 3, 1, marks=_FORK),
        pytest.param(True, 3, 2, marks=_FORK),
    ],
    ids=["in-process", "forked-validation", "forked-validation-in-chunks", "two-converters"],
)
def test_an_interrupted_import_keeps_whole_batches_only(
    store, parallel: bool, chunk_rows: int | None, converters: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In chunks, the writer has already written part of the third batch when a child
    fails: that part is rolled back with its batch."""
    _, factory = store
    if chunk_rows is not None:
        monkeypatch.setattr(import_parallel, "CHUNK_ROWS", chunk_rows)  # the forked children inherit it
        monkeypatch.setattr(import_parallel, "PG_CHUNK_ROWS", chunk_rows)
    monkeypatch.setattr(import_parallel, "converter_count", lambda: converters)

    def records() -> Iterator[Record]:
        for n in range(25):
            values = {"id": f"r{n}", "name": f"Garage {n}", "category": "garage", "commune": "97415"}
            yield Record(n + 2, values)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_records(factory, records(), "test", batch_size=10, parallel=parallel)
    with factory() as session:
        assert count(session) == 20
        indexed = session.scalar(select(func.count(func.distinct(EntryTerm.entry_id))))
        assert indexed == 20


def test_the_sample_directory(store) -> None:
    _, factory = store
    with factory() as session, session.begin():
        loaded = load_sample(session)
    with factory() as session, session.begin():
        assert load_sample(session) == loaded  # idempotent
    gazetteer = get_gazetteer()
    with factory() as session:
        entries = list(session.scalars(select(Entry)))
    assert loaded == len(entries) >= 300
    communes = {e.commune_insee for e in entries}
    assert set(REUNION) <= communes and {"75056", "59350", "98818"} <= communes
    assert {e.kind for e in entries} == {"organization", "project", "event", "poi"}
    assert len({e.category for e in entries}) >= 20
    for entry in entries:
        assert "(fictive)" in entry.name
        commune = gazetteer.current(entry.commune_insee)
        assert commune is not None and commune.point is not None
        assert entry.lat is not None and entry.lon is not None
        assert haversine_km(commune.point, (entry.lat, entry.lon)) < 3.0
        if entry.kind == "project":
            assert entry.stage and entry.needs
        if entry.kind == "event":
            assert entry.starts_at and entry.ends_at and entry.ends_at > entry.starts_at


def test_cli_import_reports_and_refuses_clearly(db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    rows = "c1,Garage Alpha,garage,97415,,,,,,,\nc2,,garage,97415,,,,,,,\n"
    good = write(tmp_path / "ok.csv", HEADER + rows)
    result = runner.invoke(cli, ["import", str(good), "--db", db_url, "--lang", "fr"])
    assert result.exit_code == 0, result.output
    assert "1 créées, 0 mises à jour, 1 ignorées" in result.output
    assert "Ligne 3 ignorée — nom : ce champ est vide." in result.output
    latin = write(tmp_path / "latin.csv", "name,category,commune\nÉté,creche,97415\n", "latin-1")
    refused = runner.invoke(cli, ["import", str(latin), "--db", db_url, "--lang", "en"])
    assert refused.exit_code == 1 and "not UTF-8" in refused.output
    columns = runner.invoke(cli, ["import", str(write(tmp_path / "c.csv", "foo\n1\n")), "--db", db_url,
                                  "--lang", "en"])
    assert columns.exit_code == 1 and "Unknown columns: foo" in columns.output
    assert all(c in columns.output for c in CSV_COLUMNS)


def _index_names(session: Session) -> set[str]:
    from sqlalchemy import inspect

    inspector = inspect(session.get_bind())
    return {ix["name"] for table in ("entries", "entry_terms") for ix in inspector.get_indexes(table)
            if ix["name"]}


def test_bulk_mode_rebuilds_every_index_even_when_interrupted(store) -> None:
    _, factory = store
    with factory() as session:
        before = _index_names(session)
    assert "ix_entry_terms_term_geo" in before

    def records(stop: bool) -> Iterator[Record]:
        for n in range(30):
            yield Record(n + 2, {"id": f"b{n}", "name": f"Boulangerie Vacoa {n}", "category": "boulangerie",
                                 "commune": "97416"})
        if stop:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_records(factory, records(stop=True), "bulk", batch_size=10, bulk=True)
    with factory() as session:
        assert _index_names(session) == before
        assert count(session) == 30
        page = search(session, SearchQuery(text="vacao", commune="97416", limit=50))  # typo
        assert len(page.hits) == 30  # the vocabulary was written for the committed batches
    report = import_records(factory, records(stop=False), "bulk", batch_size=7, bulk=True)
    assert (report.created, report.updated) == (0, 30)
    with factory() as session:
        assert _index_names(session) == before


@pytest.mark.parametrize(
    ("count", "batch", "chunk", "expected"),
    [
        (0, 4, 2, []),
        (5, 4, 2, [(2, False), (2, True), (1, True)]),
        (8, 4, 3, [(3, False), (1, True), (3, False), (1, True)]),
        (6, 10, 3, [(3, False), (3, True)]),
        (3, 1, 5, [(1, True), (1, True), (1, True)]),
    ],
)
def test_record_chunks_never_straddle_a_batch_and_flag_the_last_one(
    count: int, batch: int, chunk: int, expected: list[tuple[int, bool]]
) -> None:
    records = [Record(n, {}) for n in range(count)]
    chunks = list(import_parallel.record_chunks(records, batch, chunk))
    assert [(len(c), ends) for c, ends in chunks] == expected
    assert [r for c, _ in chunks for r in c] == records


def test_record_chunks_keep_a_completed_batch_when_reading_fails() -> None:
    def records() -> Iterator[Record]:
        yield from (Record(n, {}) for n in range(6))
        raise KeyboardInterrupt

    got: list[tuple[int, bool]] = []
    with pytest.raises(KeyboardInterrupt):
        for chunk, ends in import_parallel.record_chunks(records(), 3, 2):
            got.append((len(chunk), ends))
    assert got == [(2, False), (1, True), (2, False), (1, True)]


@pytest.mark.postgres
def test_postgresql_statistics_follow_an_import(pg_url: str) -> None:
    """Planned on stale statistics, the look-up of known source ids read every row of the
    source for each batch, and a 100k import took 228 s instead of 18: the import keeps
    PostgreSQL's statistics fresh (its row estimate is exact for a table this small)."""
    from directory.db import open_store

    engine, factory = open_store(pg_url)
    try:
        rows = "".join(f"q{n},Garage Vacoa {n},garage,97415,,,,,,,\n" for n in range(300))
        import_records(factory, csv_records(HEADER + rows), "stats", batch_size=40)
        with engine.connect() as conn:
            estimate = conn.exec_driver_sql(
                "SELECT reltuples FROM pg_class WHERE relname = 'entries'"
            ).scalar_one()
            known = conn.exec_driver_sql("SELECT count(*) FROM entries").scalar_one()
        assert estimate == known >= 300
    finally:
        engine.dispose()


def test_progress_counts_refused_rows_so_a_bar_ends_full(store) -> None:
    _, factory = store
    seen: list[int] = []
    records = [
        Record(n + 2, {"id": f"p{n}", "name": "" if n % 4 == 0 else f"Garage {n}",
                       "category": "garage", "commune": "97415"})
        for n in range(1200)
    ]
    report = import_records(factory, records, "progress", batch_size=100, progress=seen.append)
    assert report.skipped == 300 and report.created == 900
    assert seen[-1] == 1200  # every record, refused ones included
    assert seen == sorted(seen) and len(seen) >= 3  # along the way, not only at the end


def test_opening_hours_are_stored_as_written_parseable_or_not(store, tmp_path: Path) -> None:
    _, factory = store
    long_hours = "Mo 08:00-09:00; " * 20
    path = write(
        tmp_path / "horaires.csv",
        "id,name,category,commune,opening_hours\n"
        "h1,Pharmacie Vacoa,pharmacie,97415,\"Mo-Fr 08:00-19:00; Sa 08:00-12:00; PH off\"\n"
        "h2,Boulangerie Songe,boulangerie,97415,du lundi au samedi 6h-13h\n"
        "h3,Garage Tangue,garage,97415,   \n"
        f"h4,Snack Trop Long,snack,97415,{long_hours}\n",
    )
    report = import_file(factory, path)
    assert (report.created, report.skipped) == (3, 1)
    assert [(e.number, e.field, e.reason) for e in report.errors] == [(5, "opening_hours", "too_long")]
    with factory() as session:
        hours = {k: v for k, v in session.execute(select(Entry.source_id, Entry.opening_hours))}
    assert hours == {
        "h1": "Mo-Fr 08:00-19:00; Sa 08:00-12:00; PH off",
        "h2": "du lundi au samedi 6h-13h",  # unparseable: kept, described as given
        "h3": None,
    }
    write(path, "id,name,category,commune,opening_hours\nh1,Pharmacie Vacoa,pharmacie,97415,24/7\n"
          "h2,Boulangerie Songe,boulangerie,97415,\n")
    again = import_file(factory, path)
    assert (again.created, again.updated) == (0, 2)
    with factory() as session:
        hours = {k: v for k, v in session.execute(select(Entry.source_id, Entry.opening_hours))}
    assert hours == {"h1": "24/7", "h2": None, "h3": None}


def test_geojson_opening_hours_from_osm_tags_and_own_properties(store, tmp_path: Path) -> None:
    _, factory = store
    features = [
        {"type": "Feature", "id": "node/1",
         "geometry": {"type": "Point", "coordinates": [55.2925, -21.0096]},
         "properties": {"@id": "node/1", "amenity": "pharmacy", "name": "Pharmacie du Port",
                        "ref:INSEE": "97407",
                        "opening_hours": "Mo-Fr 08:00-12:30,14:00-19:00; Sa 08:00-12:00"}},
        {"type": "Feature", "id": "node/2",
         "geometry": {"type": "Point", "coordinates": [55.2925, -21.0096]},
         "properties": {"tags": {"shop": "bakery", "name": "Boulangerie Lontan",
                                 "opening_hours": "Tu-Su 06:00-13:00; Mo off"}}},
        {"type": "Feature", "geometry": None,
         "properties": {"id": "x1", "name": "Garage Zot", "category": "garage",
                        "commune": "97407", "opening_hours": "Mo-Sa 07:30-17:00"}},
    ]
    path = write(tmp_path / "osm.geojson",
                 json.dumps({"type": "FeatureCollection", "features": features}))
    report = import_file(factory, path, fmt="geojson")
    assert (report.created, report.skipped) == (3, 0), report.errors
    with factory() as session:
        hours = {k: v for k, v in session.execute(select(Entry.name, Entry.opening_hours))}
    assert hours == {  # ";" separates OSM's rules: never cut like a list of phone numbers
        "Pharmacie du Port": "Mo-Fr 08:00-12:30,14:00-19:00; Sa 08:00-12:00",
        "Boulangerie Lontan": "Tu-Su 06:00-13:00; Mo off",
        "Garage Zot": "Mo-Sa 07:30-17:00",
    }


def test_the_sample_directory_carries_opening_hours_phones_and_town_halls(
    store, tmp_path: Path
) -> None:
    from directory.opening_hours import is_parseable
    from directory.sample import sample_path, write_sample

    write_sample(tmp_path / "sample.csv")  # the shipped file is the generator's output
    assert (tmp_path / "sample.csv").read_text(encoding="utf-8") == sample_path().read_text(
        encoding="utf-8"
    )
    _, factory = store
    with factory() as session, session.begin():
        load_sample(session)
    with factory() as session:
        entries = list(session.scalars(select(Entry)))
    hours = {e.category: e.opening_hours for e in entries if e.opening_hours}
    assert {"pharmacie", "boulangerie", "garage", "mairie"} <= set(hours)
    assert all(is_parseable(e.opening_hours) for e in entries if e.opening_hours)
    town_halls = {e.commune_insee for e in entries if e.category == "mairie"}
    assert town_halls == set(REUNION)
    assert all(e.phone and e.opening_hours for e in entries if e.category == "mairie")
    assert not any(e.opening_hours for e in entries if e.kind in {"project", "event"})
