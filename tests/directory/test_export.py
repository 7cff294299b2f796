"""Export: GeoJSON, CSV (re-importable) and JSON-LD; public data only."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.cli import main as cli
from directory.db import open_store
from directory.exporter import export, schema_type
from directory.importer import CSV_COLUMNS, import_file
from directory.models import Citizen, Entry
from directory.services import NewEntry, add_entry, join, recommend

SECRET_NAME = "Jeanne Secrète"
SECRET_COMMENT = "commentaire très personnel"


def fill(factory: sessionmaker[Session]) -> dict[str, int]:
    with factory() as session, session.begin():
        person = Citizen(display_name=SECRET_NAME)
        session.add(person)
        session.flush()
        creche = add_entry(
            session,
            NewEntry("Crèche Ti Bouts (fictive)", "creche", "97415", org_type="public_service",
                     address="3 rue des Filaos", postcode="97460", lat=-21.03, lon=55.33,
                     tags=("bébés",)),
            by=person,
        )
        garage = add_entry(session, NewEntry("Garage Tangue (fictive)", "garage", "97416",
                                             org_type="business", phone="+262 262 00 00 00"))
        project = add_entry(session, NewEntry("Jardin Lontan (fictive)", "jardin-partage", "97416",
                                              kind="project", stage="started",
                                              needs=("volunteers", "materials")))
        event = add_entry(session, NewEntry("Fête des Letchis (fictive)", "association", "97416",
                                            kind="event", starts_at=datetime(2026, 12, 20, 14, tzinfo=UTC),
                                            ends_at=datetime(2026, 12, 20, 18, tzinfo=UTC)))
        poi = add_entry(session, NewEntry("Plage Lagon (fictive)", "plage", "97415", kind="poi",
                                          lat=-21.05, lon=55.22))
        hidden = add_entry(session, NewEntry("Caché (fictive)", "garage", "97415", status="hidden"))
        recommend(session, person, creche, SECRET_COMMENT)
        join(session, person, garage, role="secrétaire secrète")
        return {"creche": creche.id, "garage": garage.id, "project": project.id, "event": event.id,
                "poi": poi.id, "hidden": hidden.id}


def dump(factory: sessionmaker[Session], fmt: str) -> str:
    out = io.StringIO()
    with factory() as session:
        export(session, fmt, out)
    return out.getvalue()


def test_exports_carry_public_data_only(store) -> None:
    _, factory = store
    fill(factory)
    for fmt in ("geojson", "csv", "jsonld"):
        text = dump(factory, fmt)
        assert "Crèche Ti Bouts" in text
        for secret in (SECRET_NAME, SECRET_COMMENT, "secrétaire secrète", "Caché"):
            assert secret not in text, (fmt, secret)
        assert "created_by" not in text and "citizen" not in text.lower()


def test_geojson_export(store) -> None:
    _, factory = store
    ids = fill(factory)
    data = json.loads(dump(factory, "geojson"))
    assert data["type"] == "FeatureCollection"
    features = {f["id"]: f for f in data["features"]}
    assert set(features) == set(ids.values()) - {ids["hidden"]}
    creche = features[ids["creche"]]
    assert creche["geometry"] == {"type": "Point", "coordinates": [55.33, -21.03]}
    assert creche["properties"]["commune"] == "97415" and creche["properties"]["recommendations"] == 1
    assert features[ids["garage"]]["geometry"] is None


def test_jsonld_export_uses_schema_org_types_and_postal_addresses(store) -> None:
    _, factory = store
    ids = fill(factory)
    data = json.loads(dump(factory, "jsonld"))
    assert data["@context"] == "https://schema.org"
    nodes = {int(n["identifier"]): n for n in data["@graph"]}
    assert nodes[ids["creche"]]["@type"] == "Organization"
    assert nodes[ids["garage"]]["@type"] == "LocalBusiness"
    assert nodes[ids["project"]]["@type"] == "Project"
    assert nodes[ids["event"]]["@type"] == "Event"
    assert nodes[ids["poi"]]["@type"] == "Place"
    address = nodes[ids["creche"]]["address"]
    assert address["@type"] == "PostalAddress"
    assert address["postalCode"] == "97460" and address["addressLocality"] == "Saint-Paul"
    assert address["identifier"] == {"@type": "PropertyValue", "propertyID": "INSEE", "value": "97415"}
    event = nodes[ids["event"]]
    assert event["startDate"].startswith("2026-12-20T14:00")
    assert event["location"]["address"]["identifier"]["value"] == "97416"
    stages = {p["name"]: p["value"] for p in nodes[ids["project"]]["additionalProperty"]}
    assert stages["stage"] == "started"
    assert schema_type("organization", None) == "Organization"


def test_csv_export_reimports_into_an_empty_store(store, tmp_path: Path) -> None:
    _, factory = store
    fill(factory)
    text = dump(factory, "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(CSV_COLUMNS) and len(rows) == 5
    path = tmp_path / "export.csv"
    path.write_text(text, encoding="utf-8")
    other_engine, other = open_store(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        report = import_file(other, path)
        assert (report.created, report.skipped) == (5, 0), report.errors
        with factory() as a, other() as b:
            def keyed(session: Session) -> set[tuple[object, ...]]:
                return {(e.name, e.category, e.kind, e.commune_insee, e.lat, e.stage, tuple(e.needs),
                         e.starts_at and e.starts_at.isoformat()[:16])
                        for e in session.scalars(select(Entry).where(Entry.status == "active"))}
            assert keyed(a) == keyed(b)
    finally:
        other_engine.dispose()


def test_cli_export_writes_a_file(db_url: str, tmp_path: Path) -> None:
    engine, factory = open_store(db_url)
    fill(factory)
    engine.dispose()
    runner = CliRunner()
    target = tmp_path / "out" / "directory.jsonld"
    result = runner.invoke(cli, ["export", "--format", "jsonld", "-o", str(target), "--db", db_url,
                                 "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "5 entries exported" in result.output
    assert len(json.loads(target.read_text(encoding="utf-8"))["@graph"]) == 5
    assert [p.name for p in target.parent.iterdir()] == ["directory.jsonld"]  # no temp file left
    stdout = runner.invoke(cli, ["export", "--format", "csv", "--db", db_url])
    assert stdout.exit_code == 0 and stdout.output.startswith(",".join(CSV_COLUMNS))


def test_opening_hours_go_out_in_every_format_and_come_back(store, tmp_path: Path) -> None:
    _, factory = store
    ids = fill(factory)
    hours = "Mo-Fr 07:30-12:00,13:30-17:30; Sa 08:00-12:00; PH off"
    with factory() as session, session.begin():
        session.get(Entry, ids["garage"]).opening_hours = hours  # type: ignore[union-attr]
    features = {f["id"]: f for f in json.loads(dump(factory, "geojson"))["features"]}
    assert features[ids["garage"]]["properties"]["opening_hours"] == hours
    assert features[ids["creche"]]["properties"]["opening_hours"] is None
    nodes = {int(n["identifier"]): n for n in json.loads(dump(factory, "jsonld"))["@graph"]}
    assert nodes[ids["garage"]]["openingHours"] == hours
    assert "openingHours" not in nodes[ids["creche"]]
    text = dump(factory, "csv")
    assert {r["name"]: r["opening_hours"] for r in csv.DictReader(io.StringIO(text))}[
        "Garage Tangue (fictive)"] == hours
    path = tmp_path / "export.csv"
    path.write_text(text, encoding="utf-8")
    other_engine, other = open_store(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        assert import_file(other, path).skipped == 0
        with other() as session:
            found = session.scalars(select(Entry.opening_hours).where(Entry.opening_hours.is_not(None)))
            assert list(found) == [hours]
    finally:
        other_engine.dispose()


def test_csv_export_neutralises_formulas_and_reimports_the_original_text(store, tmp_path: Path) -> None:
    """Issue 14, finding 5: names from a source (an import keeps them) that a spreadsheet
    would run go out with a leading quote, and come back as they were."""
    _, factory = store
    names = ['=HYPERLINK("http://evil.example/x","Cliquez")', "@SUM(1+1)", "-cmd|' /C calc'!A0",
             "+Garage Zot", "'=deja cite", "'Ti Kaz Garage"]
    source = tmp_path / "source.csv"
    with source.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "name", "category", "commune", "address", "phone", "lat", "lon"])
        for number, name in enumerate(names):
            # a source cell's own quote before a formula is taken as an export's: doubled here
            cell = "''=deja cite" if name == "'=deja cite" else name
            writer.writerow([f"s{number}", cell, "garage", "97415", "=1+1", "+262 262 00 00 0" + str(number),
                             "-21.01", "55.27"])
    report = import_file(factory, source)
    assert report.created == len(names), report.errors
    with factory() as session:
        assert set(session.scalars(select(Entry.name))) == set(names)
    text = dump(factory, "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    written = {row["name"] for row in rows}
    assert written == {"'" + n for n in names[:5]} | {"'Ti Kaz Garage"}
    assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for row in rows for cell in row.values())
    assert {(row["address"], row["lat"], row["lon"]) for row in rows} == {("'=1+1", "-21.01", "55.27")}
    assert all(row["phone"].startswith("'+262 ") for row in rows)
    path = tmp_path / "export.csv"
    path.write_text(text, encoding="utf-8")
    other_engine, other = open_store(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        assert import_file(other, path).created == len(names)
        with other() as session:
            back = session.execute(select(Entry.name, Entry.address, Entry.phone, Entry.lat)).all()
        assert {row.name for row in back} == set(names)
        assert {(row.address, row.lat) for row in back} == {("=1+1", -21.01)}
        assert all(row.phone.startswith("+262 ") for row in back)
    finally:
        other_engine.dispose()
