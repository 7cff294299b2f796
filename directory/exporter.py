"""Export of the public directory: GeoJSON, CSV (the importer's columns), JSON-LD, and the
upcoming public events as iCalendar (``directory/ical.py``).

Public data only: active entries, and never who added or recommended them (no citizen
name, account or id). Rows are streamed from the database, so memory stays flat.

JSON-LD uses schema.org: ``LocalBusiness`` for businesses, ``Organization`` for the other
organizations, ``Project``, ``Event`` and ``Place``; each carries a ``PostalAddress``
whose ``identifier`` is the commune's INSEE code (``PropertyValue`` "INSEE") beside the
postcode and locality.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.csv_cells import neutralise
from directory.ical import write_ics
from directory.importer import CSV_COLUMNS
from directory.models import Entry, EntryStatus

FORMATS = ("geojson", "csv", "jsonld", "ics")

PUBLIC_FIELDS = (
    Entry.id, Entry.name, Entry.category, Entry.kind, Entry.org_type, Entry.commune_insee,
    Entry.address, Entry.postcode, Entry.lat, Entry.lon, Entry.phone, Entry.website,
    Entry.email, Entry.description, Entry.tags, Entry.stage, Entry.needs, Entry.starts_at,
    Entry.ends_at, Entry.status, Entry.recommendation_count, Entry.updated_at,
    Entry.opening_hours,
)


def public_rows(session: Session, commune: str | None = None) -> Iterator[dict[str, Any]]:
    """Active entries (of one commune, or all) as plain dicts of public fields, in id order."""
    statement = (
        select(*PUBLIC_FIELDS)
        .where(Entry.status == EntryStatus.ACTIVE.value)
        .order_by(Entry.id)
        .execution_options(yield_per=2000)
    )
    if commune is not None:
        statement = statement.where(Entry.commune_insee == commune)
    for row in session.execute(statement):
        yield dict(row._mapping)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _properties(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "category": row["category"],
        "kind": row["kind"],
        "org_type": row["org_type"],
        "commune": row["commune_insee"],
        "address": row["address"],
        "postcode": row["postcode"],
        "phone": row["phone"],
        "website": row["website"],
        "email": row["email"],
        "opening_hours": row["opening_hours"],
        "description": row["description"],
        "tags": list(row["tags"] or []),
        "stage": row["stage"],
        "needs": list(row["needs"] or []),
        "starts_at": _iso(row["starts_at"]),
        "ends_at": _iso(row["ends_at"]),
        "recommendations": row["recommendation_count"],
    }


def geojson_feature(row: dict[str, Any]) -> dict[str, Any]:
    geometry = None
    if row["lat"] is not None and row["lon"] is not None:
        geometry = {"type": "Point", "coordinates": [row["lon"], row["lat"]]}
    return {"type": "Feature", "id": row["id"], "geometry": geometry, "properties": _properties(row)}


def csv_record(row: dict[str, Any]) -> dict[str, str]:
    """The importer's columns: an export re-imports as is. A cell a spreadsheet would run
    as a formula (``=HYPERLINK(...)``, ``+262 ...``) gets a leading quote, which the
    importer takes off again (``directory/csv_cells.py``)."""
    props = _properties(row)
    values: dict[str, Any] = {
        **props,
        "lat": row["lat"],
        "lon": row["lon"],
        "status": row["status"],
        "tags": ";".join(props["tags"]),
        "needs": ";".join(props["needs"]),
    }
    return {c: "" if values.get(c) is None else neutralise(str(values[c])) for c in CSV_COLUMNS}


_SCHEMA_TYPES = {"project": "Project", "event": "Event", "poi": "Place"}


def schema_type(kind: str, org_type: str | None) -> str:
    if kind == "organization":
        return "LocalBusiness" if org_type == "business" else "Organization"
    return _SCHEMA_TYPES.get(kind, "Place")


def jsonld_node(row: dict[str, Any], locality: Callable[[str], str | None]) -> dict[str, Any]:
    """One schema.org node; empty values are left out."""
    address: dict[str, Any] = {
        "@type": "PostalAddress",
        "streetAddress": row["address"],
        "postalCode": row["postcode"],
        "addressLocality": locality(row["commune_insee"]),
        "addressCountry": "FR",
        "identifier": {"@type": "PropertyValue", "propertyID": "INSEE", "value": row["commune_insee"]},
    }
    node: dict[str, Any] = {
        "@type": schema_type(row["kind"], row["org_type"]),
        "@id": f"urn:communebot:entry:{row['id']}",
        "identifier": str(row["id"]),
        "name": row["name"],
        "description": row["description"] or None,
        "url": row["website"],
        "telephone": row["phone"],
        "email": row["email"],
        # schema.org's text form ("Mo-Fr 08:00-18:00") is OSM's for simple rules; the value
        # goes out as stored, as OSM exports do
        "openingHours": row["opening_hours"],
        "keywords": ", ".join([row["category"], *(row["tags"] or [])]),
        "address": {k: v for k, v in address.items() if v is not None},
    }
    if row["lat"] is not None and row["lon"] is not None:
        node["geo"] = {"@type": "GeoCoordinates", "latitude": row["lat"], "longitude": row["lon"]}
    if row["kind"] == "event":
        node["startDate"] = _iso(row["starts_at"])
        node["endDate"] = _iso(row["ends_at"])
        node["location"] = {"@type": "Place", "address": node.pop("address")}
        if "geo" in node:
            node["location"]["geo"] = node.pop("geo")
    if row["kind"] == "project" and row["stage"]:
        node["additionalProperty"] = [
            {"@type": "PropertyValue", "name": "stage", "value": row["stage"]},
            *({"@type": "PropertyValue", "name": "need", "value": n} for n in row["needs"] or []),
        ]
    return {k: v for k, v in node.items() if v not in (None, "")}


def _default_locality() -> Callable[[str], str | None]:
    from directory.gazetteer import get_gazetteer

    gazetteer = get_gazetteer()

    def locality(insee: str) -> str | None:
        commune = gazetteer.get(insee)
        return commune.name if commune is not None else None

    return locality


def export(session: Session, fmt: str, out: TextIO, commune: str | None = None) -> int:
    """Write every public entry (of ``commune``, or all) to ``out`` in ``fmt``; returns how
    many were written. ``ics`` writes the upcoming public events only."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    if fmt == "ics":
        return write_ics(session, out, commune=commune)
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
        writer.writeheader()
        for row in public_rows(session, commune):
            writer.writerow(csv_record(row))
            count += 1
        return count
    if fmt == "geojson":
        out.write('{"type": "FeatureCollection", "features": [\n')
        for row in public_rows(session, commune):
            out.write(",\n" if count else "")
            out.write(json.dumps(geojson_feature(row), ensure_ascii=False))
            count += 1
        out.write("\n]}\n")
        return count
    locality = _default_locality()
    out.write('{"@context": "https://schema.org", "@graph": [\n')
    for row in public_rows(session, commune):
        out.write(",\n" if count else "")
        out.write(json.dumps(jsonld_node(row, locality), ensure_ascii=False))
        count += 1
    out.write("\n]}\n")
    return count
