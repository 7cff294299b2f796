"""Bulk import of directory entries from CSV and GeoJSON (OpenStreetMap exports included).

CSV format (UTF-8, comma-separated, one header line; column order free; unknown columns
are refused so that a typo in a header is never silently ignored):

=============  ========  =====================================================================
column         required  meaning
=============  ========  =====================================================================
id             no        the entry's id in the source; re-importing the same source and id
                         updates the entry (without it: folded name + commune + category)
name           yes       display name (max 200 characters)
category       yes       a taxonomy slug (``creche``, ``garage``…) or a name/synonym of one
kind           no        organization (default: the category's) | project | event | poi
org_type       no        association | business | informal | public_service
commune        yes*      INSEE code (``97415``); *may be empty when lat/lon are given: the
                         commune is then the one nearest to the point
address        no        street address
postcode       no        5-digit postcode
lat, lon       no        WGS84 decimal degrees (both or neither)
phone          no        phone number
website        no        http(s) URL (a bare domain gets ``https://``)
email          no        e-mail address
opening_hours  no        OpenStreetMap ``opening_hours`` syntax (``Mo-Fr 08:00-18:00; Sa
                         08:00-12:00``, max 255 characters); stored as written even when it
                         does not parse (``directory.opening_hours`` then quotes it)
description    no        free text (max 5,000 characters)
tags           no        ``;``-separated
stage          no        projects: idea | concept | started | development | testing | mature
needs          no        projects: ``;``-separated volunteers | materials | funding | skills
starts_at      no        events: ISO 8601 date-time (``2026-12-20T18:00+04:00``; naive = UTC)
ends_at        no        events: ISO 8601 date-time
status         no        active (default) | hidden | pending
=============  ========  =====================================================================

GeoJSON: a FeatureCollection whose features carry the same names as properties, or
OpenStreetMap tags as produced by ``osmtogeojson`` from Overpass JSON (``@id``/``id`` like
``node/123``, ``name``, ``amenity=…``, ``addr:*``, ``contact:*``): tags map to a category
through the taxonomy, the point comes from the geometry (centroid of the vertices for
ways and areas), the commune from ``ref:INSEE`` or else the nearest commune point.

Rows are written in batches, each in its own transaction (bulk ``executemany``, not one ORM
object per row): an interrupted import keeps whole batches only. A bad row is reported
with its line (CSV) or feature number (GeoJSON) and reason, skipped and counted.

Speed (``benchmarks/bench_directory.py``): files of more than a few thousand rows are
validated in forked child processes (one per core, each taking every n-th chunk) while
this one writes what came before, chunk by chunk inside each batch's transaction (same
rows, errors and batches: tested). The children also fold names, compute index terms and
make each chunk driver-ready (``directory.import_batches``), so the writer is left with
``executemany`` calls. ``clean``/``fold`` take a plain-text shortcut, a record's text
fields are stripped once, and no process runs the cyclic GC during an import.
"""

from __future__ import annotations

import csv
import gc
import io
import itertools
import json
import math
import multiprocessing
import os
import pickle
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Index, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session, sessionmaker

from directory.import_batches import (
    IndexPart,
    PreparedBatch,
    Row,
    Written,
    prepare_batch,
    write_batch,
)
from directory.models import Entry, EntryKind, EntryTerm
from directory.search_index import (
    add_vocabulary,
    entry_terms,
    fast_clean,
    fast_fold,
    index_point,
)
from directory.services import InvalidEntry, NewEntry, validate_entry
from directory.text import clean

CSV_COLUMNS: tuple[str, ...] = (
    "id", "name", "category", "kind", "org_type", "commune", "address", "postcode", "lat",
    "lon", "phone", "website", "email", "description", "tags", "stage", "needs", "starts_at",
    "ends_at", "status", "opening_hours",
)
REQUIRED_COLUMNS = ("name", "category")
BATCH_SIZE = 2000
MAX_REPORTED_ERRORS = 1000
MAX_SOURCE_ID = 128
MAX_OPENING_HOURS = 255  # entries.opening_hours
NAME_FOLDED_MAX = 200  # entries.name_folded
OSM_ID_PREFIXES = ("node/", "way/", "relation/")


class ImportFailed(Exception):
    """The file as a whole cannot be imported (nothing was written). ``reason`` is a code:
    ``not_found``, ``binary``, ``not_utf8``, ``empty``, ``missing_columns``,
    ``unknown_columns``, ``bad_json``, ``not_geojson``, ``unknown_format``."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail

    def __reduce__(self) -> tuple[Any, ...]:  # raised again in the parent of a parallel import
        return type(self), (self.reason, self.detail)


@dataclass(frozen=True)
class RowError:
    number: int  # CSV line (header = 1) or GeoJSON feature (first = 1)
    field: str
    reason: str


@dataclass
class ImportReport:
    source: str
    created: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)

    def error(self, number: int, field_: str, reason: str) -> None:
        self.skipped += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(RowError(number, field_, reason))


@dataclass(frozen=True)
class Record:
    """One raw row or feature, before validation."""

    number: int
    values: Mapping[str, Any]


# --- reading ------------------------------------------------------------------------------


def read_text(path: Path) -> str:
    """File contents as text, refusing binary files and anything that is not UTF-8."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ImportFailed("not_found", str(path)) from None
    except IsADirectoryError:
        raise ImportFailed("not_found", str(path)) from None
    if b"\x00" in raw[:65536]:
        raise ImportFailed("binary", str(path))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFailed("not_utf8", f"byte {exc.start}") from None


def csv_records(text: str) -> Iterator[Record]:
    """Rows of a CSV text; header problems raise :class:`ImportFailed` before any row."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFailed("empty") from None
    names = [clean(h).lower() for h in header]
    if not any(names):
        raise ImportFailed("empty")
    unknown = [n for n in names if n not in CSV_COLUMNS]
    if unknown:
        raise ImportFailed("unknown_columns", ", ".join(unknown))
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if "commune" not in names and not {"lat", "lon"} <= set(names):
        missing.append("commune")
    if missing:
        raise ImportFailed("missing_columns", ", ".join(missing))
    return _csv_rows(reader, names)


def _csv_rows(reader: Any, names: list[str]) -> Iterator[Record]:
    for row in reader:
        if not "".join(row).strip():  # blank line (every cell empty or spaces)
            continue
        number = reader.line_num
        if len(row) > len(names):
            yield Record(number, {"__error__": "too_many_cells"})
            continue
        yield Record(number, dict(zip(names, row, strict=False)))


def geojson_records(text: str) -> Iterator[Record]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFailed("bad_json", f"line {exc.lineno}") from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" or not isinstance(
        data.get("features"), list
    ):
        raise ImportFailed("not_geojson")
    for number, feature in enumerate(data["features"], start=1):
        if not isinstance(feature, dict):
            yield Record(number, {"__error__": "not_a_feature"})
            continue
        yield Record(number, _feature_values(feature))


def _centroid(geometry: Any) -> tuple[float, float] | None:
    """(lat, lon) of a point, or the mean of a shape's vertices (good enough for a pin)."""
    if not isinstance(geometry, dict):
        return None
    coords = geometry.get("coordinates")
    kind = geometry.get("type")
    if kind == "Point" and isinstance(coords, list | tuple) and len(coords) >= 2:
        return _lat_lon(coords)
    points: list[tuple[float, float]] = []

    def walk(node: Any) -> None:
        if isinstance(node, list | tuple) and node and all(
            isinstance(v, int | float) for v in node[:2]
        ) and len(node) >= 2:
            point = _lat_lon(node)
            if point:
                points.append(point)
        elif isinstance(node, list | tuple):
            for child in node:
                walk(child)

    if kind in {"LineString", "Polygon", "MultiPolygon", "MultiLineString", "MultiPoint"}:
        walk(coords)
    if not points:
        return None
    return sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)


def _lat_lon(coords: Any) -> tuple[float, float] | None:
    try:
        lon, lat = float(coords[0]), float(coords[1])
    except (TypeError, ValueError, IndexError):
        return None
    return lat, lon


def _first(props: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = props.get(key)
        if value not in (None, ""):
            return str(value).split(";")[0].strip() if key not in {"description", "name"} else str(value)
    return None


def _feature_values(feature: Mapping[str, Any]) -> dict[str, Any]:
    """Our column names from a feature: our own properties first, then OSM tags."""
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        return {"__error__": "bad_properties"}
    raw_tags = props.get("tags")
    tags: dict[str, Any] = raw_tags if isinstance(raw_tags, dict) else props
    values: dict[str, Any] = {k: props[k] for k in CSV_COLUMNS if k in props and k != "tags"}
    if isinstance(raw_tags, list | str):
        values["tags"] = raw_tags
    osm_id = props.get("@id") or (props.get("id") if isinstance(props.get("id"), str) else None)
    osm_id = osm_id or feature.get("id")
    if osm_id is not None:
        values["id"] = str(osm_id)
    values.setdefault("name", _first(tags, "name", "name:fr", "official_name", "brand"))
    values.setdefault("commune", _first(tags, "ref:INSEE", "commune_insee"))
    if "address" not in values:
        street = " ".join(
            p for p in (_first(tags, "addr:housenumber"), _first(tags, "addr:street")) if p
        )
        values["address"] = street or None
    values.setdefault("postcode", _first(tags, "addr:postcode"))
    values.setdefault("phone", _first(tags, "phone", "contact:phone"))
    values.setdefault("website", _first(tags, "website", "contact:website", "url"))
    values.setdefault("email", _first(tags, "email", "contact:email"))
    values.setdefault("description", _first(tags, "description"))
    if isinstance(tags.get("opening_hours"), str):  # whole: ";" separates its rules
        values.setdefault("opening_hours", tags["opening_hours"])
    for key in ("phone", "website", "email", "postcode"):  # OSM lists several values with ";"
        if isinstance(values.get(key), str):
            values[key] = values[key].split(";")[0].strip()
    point = _centroid(feature.get("geometry"))
    if point is not None and "lat" not in values:
        values["lat"], values["lon"] = point
    if "category" not in values:
        values["__osm_tags__"] = {str(k): v for k, v in tags.items() if isinstance(v, str)}
    return values


# --- converting -----------------------------------------------------------------------------


class _Context:
    """Gazetteer and taxonomy look-ups, cached per import (the hot path)."""

    def __init__(self) -> None:
        from directory.categories import get_taxonomy
        from directory.gazetteer import get_gazetteer

        self.gazetteer = get_gazetteer()
        self.taxonomy = get_taxonomy()
        self._communes: dict[str, Any] = {}
        self._categories: dict[str, Any] = {}

    def commune(self, insee: str) -> Any:
        if insee not in self._communes:
            self._communes[insee] = self.gazetteer.current(insee)
        return self._communes[insee]

    def category(self, text: str) -> Any:
        if text not in self._categories:
            found = self.taxonomy.get(text)
            if found is None:
                found = self.taxonomy.lookup(text)
            self._categories[text] = found
        return self._categories[text]


_TEXT_KEYS = frozenset(CSV_COLUMNS) - {"lat", "lon", "tags", "needs", "opening_hours"}


def _texts(values: Mapping[str, Any]) -> dict[str, str]:
    """The text fields of a record, stripped; absent when missing or blank (computed once per
    record, not once per field)."""
    texts: dict[str, str] = {}
    for key, value in values.items():
        if value is not None and key in _TEXT_KEYS:
            text = (value if isinstance(value, str) else str(value)).strip()
            if text:
                texts[key] = text
    return texts


def _float(values: Mapping[str, Any], key: str, reason: str) -> float | None:
    value = values.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
        value = value.replace(",", ".")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidEntry(key, reason) from None
    if not math.isfinite(number):
        raise InvalidEntry(key, reason)
    return number


def _list(values: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = values.get(key)
    if value is None:
        return ()
    items = value if isinstance(value, list) else str(value).split(";")
    return tuple(s for s in (str(i).strip() for i in items) if s)


def _datetime(texts: Mapping[str, str], key: str) -> datetime | None:
    text = texts.get(key)
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidEntry(key, "bad_datetime") from None


def to_entry(values: Mapping[str, Any], ctx: _Context) -> tuple[NewEntry, str | None]:
    """A validated :class:`NewEntry` and its source id, or :class:`InvalidEntry`."""
    if "__error__" in values:
        raise InvalidEntry("row", str(values["__error__"]))
    texts = _texts(values)
    lat = _float(values, "lat", "bad_latitude")
    lon = _float(values, "lon", "bad_longitude")
    category_text = texts.get("category")
    if category_text is None and "__osm_tags__" in values:
        category = ctx.taxonomy.from_osm_tags(values["__osm_tags__"])
        if category is None:
            raise InvalidEntry("category", "no_category_for_tags")
    elif category_text is None:
        raise InvalidEntry("category", "empty")
    else:
        category = ctx.category(category_text)
        if category is None:
            raise InvalidEntry("category", "unknown_category")
    insee = texts.get("commune")
    if insee is None:
        if lat is None or lon is None:
            raise InvalidEntry("commune", "empty")
        if not (-90 <= lat <= 90):
            raise InvalidEntry("lat", "bad_latitude")
        if not (-180 <= lon <= 180):
            raise InvalidEntry("lon", "bad_longitude")
        nearest = ctx.gazetteer.nearest(lat, lon)
        if nearest is None:
            raise InvalidEntry("commune", "unknown_commune")
        insee = nearest.insee
    data = NewEntry(
        name=texts.get("name") or "",
        category=category.slug,
        commune_insee=insee,
        kind=texts.get("kind") or category.kind or EntryKind.ORGANIZATION.value,
        org_type=texts.get("org_type") or (
            category.org_type if (texts.get("kind") or category.kind) == "organization" else None
        ),
        description=texts.get("description") or "",
        tags=_list(values, "tags"),
        address=texts.get("address"),
        postcode=texts.get("postcode"),
        lat=lat,
        lon=lon,
        phone=texts.get("phone"),
        website=texts.get("website"),
        email=texts.get("email"),
        stage=texts.get("stage"),
        needs=_list(values, "needs"),
        starts_at=_datetime(texts, "starts_at"),
        ends_at=_datetime(texts, "ends_at"),
        status=texts.get("status") or "active",
    )
    clean_data = validate_entry(data, commune_of=ctx.commune, category_of=ctx.category)
    source_id = texts.get("id")
    if source_id is not None:
        source_id = fast_clean(source_id)
        if len(source_id) > MAX_SOURCE_ID:
            raise InvalidEntry("id", "too_long")
    return clean_data, source_id


def opening_hours_of(values: Mapping[str, Any]) -> str | None:
    """A record's ``opening_hours``, cleaned, or None when absent or blank.

    Kept apart from :func:`to_entry` (and :class:`NewEntry`): only imports carry it. Any
    text is accepted, parseable or not; only a value too long for the column is refused."""
    value = values.get("opening_hours")
    if value is None:
        return None
    text = fast_clean(value if isinstance(value, str) else str(value))
    if not text:
        return None
    if len(text) > MAX_OPENING_HOURS:
        raise InvalidEntry("opening_hours", "too_long")
    return text


def natural_key(data: NewEntry) -> str:
    """Source id of a row without one: stable across re-imports of the same file."""
    return f"{fast_fold(data.name)}|{data.commune_insee}|{data.category}"[:MAX_SOURCE_ID]


def _row(data: NewEntry, source: str, source_id: str, opening_hours: str | None = None) -> Row:
    """Column values of an entry and its index terms and point (computed here, in the
    converting process, rather than by the writer)."""
    folded = fast_fold(data.name)
    index: IndexPart = (
        entry_terms(folded, data.category, data.kind),
        *index_point(data.lat, data.lon, data.commune_insee),
    )
    return (
        data.kind, data.org_type, data.name, folded[:NAME_FOLDED_MAX], data.category,
        list(data.tags), data.description, data.commune_insee, data.address, data.postcode,
        data.lat, data.lon, data.phone, data.website, data.email, opening_hours, data.status,
        data.stage, list(data.needs), data.starts_at, data.ends_at, source, source_id, index,
    )


def convert(
    records: Iterable[Record], source: str, report: ImportReport, ctx: _Context | None = None
) -> Iterator[tuple[int, Row]]:
    """Validated rows, each with its record's number; bad records go to the report.

    Rows a file repeats (same id, or same natural key) are left to
    :func:`drop_duplicates`, on the writer's side: with several converting processes,
    only the writer sees the whole file."""
    ctx = ctx or _Context()
    for record in records:
        try:
            data, source_id = to_entry(record.values, ctx)
            hours = opening_hours_of(record.values)
        except InvalidEntry as exc:
            report.error(record.number, exc.field, exc.reason)
            continue
        yield record.number, _row(data, source, source_id or natural_key(data), hours)


def drop_duplicates(batch: PreparedBatch, seen: set[str], report: ImportReport) -> PreparedBatch:
    """``batch`` without the rows whose source id came earlier in the file (``seen``, which
    this extends); each is reported against its line."""
    repeated: list[int] = []
    for position, source_id in enumerate(batch.source_ids):
        if source_id in seen:
            repeated.append(position)
        else:
            seen.add(source_id)
    if not repeated:
        return batch
    for position in repeated:
        report.error(batch.numbers[position], "id", "duplicate_in_file")
    return batch.without(repeated)


#: a prepared part of a batch, and whether it ends its batch (its transaction)
Chunk = tuple[PreparedBatch, bool]
#: rows per chunk sent by the converting process: small, so that the writer starts early
#: and the last write after the converter is done is short
CHUNK_ROWS = 1000


def _record_chunks(
    records: Iterable[Record], batch_size: int, chunk_rows: int
) -> Iterator[tuple[list[Record], bool]]:
    """Records in chunks of at most ``chunk_rows`` that never straddle a batch of
    ``batch_size`` records, each flagged when it completes a batch or the file.

    Pure, and the same in every converting process, so they agree on which chunk is whose.
    A chunk that completes a batch goes at once; any other waits for the next record (to
    know whether the file ends with it). If reading fails, the chunk waiting is lost with
    its batch, which was incomplete anyway."""
    size = min(chunk_rows, batch_size)
    chunk: list[Record] = []
    waiting: list[Record] | None = None
    in_batch = 0
    for record in records:
        if waiting is not None:
            yield waiting, False
            waiting = None
        chunk.append(record)
        in_batch += 1
        if in_batch == batch_size:
            yield chunk, True
            chunk, in_batch = [], 0
        elif len(chunk) == size:
            waiting, chunk = chunk, []
    if waiting is not None:
        yield waiting, True
    elif chunk:
        yield chunk, True


def _chunks(
    records: Iterable[Record],
    source: str,
    report: ImportReport,
    batch_size: int,
    dialect: Dialect,
    chunk_rows: int | None = None,
    part: tuple[int, int] = (0, 1),
) -> Generator[Chunk, None, None]:
    """Converted rows ready for the driver, by chunk of at most ``chunk_rows`` records
    (default: whole batches), each flagged when it completes a batch of ``batch_size``
    records or the file; errors go to ``report``. ``part`` ``(k, n)``: only every n-th
    chunk from the k-th, for the k-th of n converting processes (the others are read and
    skipped)."""
    ctx = _Context()
    mine, of = part
    for index, (group, ends_batch) in enumerate(
        _record_chunks(records, batch_size, chunk_rows or batch_size)
    ):
        if index % of != mine:
            continue
        numbered = list(convert(group, source, report, ctx))
        yield prepare_batch([r for _, r in numbered], dialect, [n for n, _ in numbered]), ends_batch


def _convert_worker(
    records: Iterable[Record],
    source: str,
    batch_size: int,
    dialect: Dialect,
    part: tuple[int, int],
    out: Any,
) -> None:  # pragma: no cover - runs in the forked child (its effects are tested)
    """Child process: convert its part of the chunks and send a ``("chunk", chunk, its
    errors, its skipped count)`` message for each, then ``("end", …)`` or ``("error",
    exception, …)``. ``Connection.send`` blocks while the parent is busy, so the child
    runs only a chunk or two ahead."""
    gc.disable()  # a collection would touch (and so copy) every page shared with the parent
    report = ImportReport(source)
    sent_errors = sent_skipped = 0

    def message(kind: str, payload: Any) -> tuple[Any, ...]:
        nonlocal sent_errors, sent_skipped
        errors, skipped = report.errors[sent_errors:], report.skipped - sent_skipped
        sent_errors, sent_skipped = len(report.errors), report.skipped
        return kind, payload, errors, skipped

    try:
        for chunk in _chunks(records, source, report, batch_size, dialect, CHUNK_ROWS, part):
            out.send(message("chunk", chunk))
        out.send(message("end", None))
    except BaseException as exc:
        try:
            pickle.dumps(exc)
        except Exception:
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        out.send(message("error", exc))
    finally:
        out.close()


def converter_count() -> int:
    """Converting processes for a parallel import: one per core, at most four. On two
    cores, two converters and the writer share them better than one converter alone,
    which leaves the writer's core idle while it waits."""
    return max(1, min(4, os.cpu_count() or 1))


class _ForkedConverters:
    """:func:`_chunks` computed by forked child processes while this one writes.

    Validation is pure CPU and writing mostly SQLite's, so they overlap. The children
    start at once, so they convert while the writer prepares the database; each takes
    every n-th chunk, and chunks are read back from them in turn, so they arrive in file
    order with the errors found in them. A failure in a child (a bad file, an
    interruption) is raised here after the chunks completed before it, and the writer
    rolls back the batch it had open, so an interrupted import still keeps whole batches
    only. :meth:`close` kills the children if the writer stops first."""

    def __init__(
        self,
        records: Iterable[Record],
        source: str,
        report: ImportReport,
        batch_size: int,
        dialect: Dialect,
        count: int,
    ) -> None:
        context = multiprocessing.get_context("fork")
        self._report = report
        self._pipes: list[Any] = []
        self._children: list[Any] = []
        for k in range(count):
            receive, send = context.Pipe(duplex=False)
            child = context.Process(
                target=_convert_worker,
                args=(records, source, batch_size, dialect, (k, count), send),
                daemon=True,
            )
            child.start()
            send.close()
            self._pipes.append(receive)
            self._children.append(child)

    def __iter__(self) -> Iterator[Chunk]:
        report = self._report
        for index in itertools.count():
            try:
                kind, payload, errors, skipped = self._pipes[index % len(self._pipes)].recv()
            except EOFError:
                raise RuntimeError("import worker died") from None
            report.errors.extend(errors[: MAX_REPORTED_ERRORS - len(report.errors)])
            report.skipped += skipped
            if kind == "chunk":
                yield payload
            elif kind == "error":
                raise payload
            else:  # the file ended before this chunk: the others have ended too
                return

    def close(self) -> None:
        for pipe in self._pipes:
            pipe.close()
        for child in self._children:
            if child.is_alive():
                child.terminate()
            child.join()


def can_fork() -> bool:
    """Whether :func:`import_records` can validate in a second process here."""
    return "fork" in multiprocessing.get_all_start_methods() and (os.cpu_count() or 1) > 1


def import_records(
    factory: sessionmaker[Session],
    records: Iterable[Record],
    source: str,
    *,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    bulk: bool = False,
    parallel: bool = False,
) -> ImportReport:
    """Convert and write, one transaction per batch of ``batch_size`` records (an
    interruption keeps whole batches; a batch holds fewer entries when rows are refused).

    ``bulk`` (SQLite; for large loads such as a first import or the benchmark): secondary
    indexes of ``entries`` and ``entry_terms`` are dropped for the load and rebuilt at the
    end (one sort instead of millions of random B-tree inserts), and the search vocabulary
    is written once. Searches are slow while it runs; the unique (source, source_id) index
    stays, so re-imports still update. The indexes are rebuilt even when the load fails,
    and any import first restores indexes a killed bulk load may have left missing.

    ``parallel`` (where :func:`can_fork`): rows are validated in forked child processes
    (:func:`converter_count`) while this one writes what they sent; same rows, errors and
    batches as without.

    ``progress`` is told how many records were handled (written or refused) after each
    500 or so and at the end, so a bar whose total is the file's row count ends full.
    """
    report = ImportReport(source)
    reported = 0  # records last reported to ``progress``
    with factory() as probe:  # no connection: the engine's dialect
        dialect = probe.get_bind().dialect
    sqlite = dialect.name == "sqlite"
    vocabulary: set[str] | None = set() if bulk and sqlite else None
    chunks: _ForkedConverters | Generator[Chunk, None, None]
    if parallel and can_fork():
        from directory.categories import get_taxonomy
        from directory.gazetteer import get_gazetteer

        get_gazetteer(), get_taxonomy()  # loaded once, before the fork, for every process
        chunks = _ForkedConverters(records, source, report, batch_size, dialect, converter_count())
    else:
        chunks = _chunks(records, source, report, batch_size, dialect)
    collecting = gc.isenabled()
    gc.disable()  # rows hold no cycles; collections would rescan the heap every few batches
    seen: set[str] = set()  # source ids so far: a file's repeated rows are refused
    postgresql = dialect.name == "postgresql"
    analyze_at = 1  # rows written when PostgreSQL's statistics are next refreshed
    open_batch: Session | None = None  # the transaction of the batch being written
    pending = Written()  # its counts, added to the report once it commits
    try:
        with factory() as session, session.begin():
            restore_indexes(session.connection())
            if vocabulary is not None:
                for index in _secondary_indexes():
                    index.drop(session.connection(), checkfirst=True)
        for chunk, ends_batch in chunks:
            if open_batch is None:
                open_batch = factory()
                open_batch.begin()
                if sqlite:
                    # a bigger page cache for this connection: index pages stay in memory
                    open_batch.connection().exec_driver_sql("PRAGMA cache_size=-131072")
            chunk = drop_duplicates(chunk, seen, report)
            written = write_batch(open_batch.connection(), chunk, vocabulary)
            pending.created += written.created
            pending.updated += written.updated
            if ends_batch:
                open_batch.commit()
                open_batch.close()
                open_batch = None
                report.created += pending.created
                report.updated += pending.updated
                pending = Written()
                done = report.created + report.updated
                handled = done + report.skipped  # records, refused ones included
                if progress is not None and handled // 500 != reported // 500:
                    progress(handled)
                    reported = handled
                if postgresql and done >= analyze_at:
                    _analyze(factory)
                    analyze_at = 2 * done
    finally:
        if open_batch is not None:
            open_batch.rollback()  # the batch in progress goes as a whole
            open_batch.close()
        if collecting:
            gc.enable()
        chunks.close()  # stops the converting processes, if any
        if vocabulary is not None:
            with factory() as session, session.begin():
                conn = session.connection()
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
                add_vocabulary(conn, vocabulary)
    done = report.created + report.updated
    if postgresql and done:
        _analyze(factory)  # searches plan on the imported rows at once
    report.errors.sort(key=lambda e: e.number)  # repeated rows are found after the others
    if progress is not None:
        progress(done + report.skipped)
    return report


def _analyze(factory: sessionmaker[Session]) -> None:
    """Refresh PostgreSQL's statistics of the tables an import fills.

    Planned on the statistics of a table much smaller than it has become, the look-up of
    a batch's known source ids reads every row of the source (the planner expects five)
    and an import slows down as it goes: 100k rows took 228 s. Called after the first
    batch, then whenever the rows written have doubled: a few quick ANALYZEs per import.
    """
    with factory() as session, session.begin():
        conn = session.connection()
        conn.exec_driver_sql("ANALYZE entries")
        conn.exec_driver_sql("ANALYZE entry_terms")


def _secondary_indexes() -> list[Index]:
    """Indexes a bulk load may drop: all but primary keys and unique constraints."""
    tables = [Entry.__table__, EntryTerm.__table__]
    return [index for table in tables if isinstance(table, Table) for index in table.indexes]


def restore_indexes(conn: Connection) -> None:
    """Create any secondary index that is missing (cheap when all exist)."""
    for index in _secondary_indexes():
        index.create(conn, checkfirst=True)


def detect_format(path: Path, fmt: str | None) -> str:
    if fmt:
        if fmt not in {"csv", "geojson"}:
            raise ImportFailed("unknown_format", fmt)
        return fmt
    suffix = path.suffix.lower()
    if suffix in {".geojson", ".json"}:
        return "geojson"
    if suffix in {".csv", ".txt", ""}:
        return "csv"
    raise ImportFailed("unknown_format", suffix)


def records_of(path: Path, fmt: str) -> tuple[list[Record] | Iterator[Record], str]:
    """Records and the default source name (``osm`` for OpenStreetMap exports, so any two
    OSM extracts update the same entries)."""
    text = read_text(path)
    if fmt == "csv":
        return csv_records(text), f"csv:{path.stem}"[:64]
    records = list(geojson_records(text))
    ids = [str(r.values["id"]) for r in records[:100] if r.values.get("id") is not None]
    if ids and all(i.startswith(OSM_ID_PREFIXES) for i in ids):
        return records, "osm"
    return records, f"geojson:{path.stem}"[:64]


def import_file(
    factory: sessionmaker[Session],
    path: Path,
    *,
    fmt: str | None = None,
    source: str | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    bulk: bool = False,
    parallel: bool | None = None,
) -> ImportReport:
    """Import one file; file-level problems raise :class:`ImportFailed` before any write.

    ``parallel`` (see :func:`import_records`) defaults to on for files of more than four
    chunks (:data:`CHUNK_ROWS`), where the second process pays for itself."""
    kind = detect_format(path, fmt)
    records, default_source = records_of(path, kind)
    if parallel is None:
        rows = len(records) if isinstance(records, list) else count_records(path)
        parallel = rows is not None and rows > 4 * min(batch_size, CHUNK_ROWS)
    return import_records(
        factory, records, (source or default_source)[:64], batch_size=batch_size,
        progress=progress, bulk=bulk, parallel=parallel,
    )


def count_records(path: Path) -> int | None:
    """Rough number of rows, for a progress bar's total (None when unknown)."""
    try:
        with path.open("rb") as fh:
            return max(0, sum(1 for _ in fh) - 1)
    except OSError:
        return None
