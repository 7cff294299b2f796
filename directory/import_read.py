"""Reading import files: CSV and GeoJSON (OpenStreetMap exports included) as raw
:class:`Record` values, before any validation (:mod:`directory.import_convert`).

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
Property values are kept as JSON gave them (``null`` dropped) for
:func:`directory.import_convert.text_of` to write out numbers and refuse objects, lists and
booleans per field; ``tags``/``needs`` given as one text are split on ``;`` and ``,``.

Only regular files are read (:func:`open_regular`), and a content that looks like another
format than the one asked is refused in words (:func:`looks_like`).
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from directory.csv_cells import restore
from directory.import_csv import BadRow, CsvRecords
from directory.text import clean

CSV_COLUMNS: tuple[str, ...] = (
    "id", "name", "category", "kind", "org_type", "commune", "address", "postcode", "lat",
    "lon", "phone", "website", "email", "description", "tags", "stage", "needs", "starts_at",
    "ends_at", "status", "opening_hours",
)
REQUIRED_COLUMNS = ("name", "category")
OSM_ID_PREFIXES = ("node/", "way/", "relation/")


class ImportFailed(Exception):
    """The file as a whole cannot be imported (nothing was written). ``reason`` is a code:
    ``not_found``, ``not_a_file`` (a directory, pipe or device), ``stdin``, ``unreadable``,
    ``binary``, ``not_utf8``, ``empty``, ``missing_columns``, ``unknown_columns``,
    ``wrong_delimiter``, ``bad_json``, ``not_geojson``, ``unknown_format``, and for a file
    whose content is not the format asked: ``looks_like_geojson``, ``looks_like_csv``,
    ``looks_like_xml``."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail

    def __reduce__(self) -> tuple[Any, ...]:  # raised again in the parent of a parallel import
        return type(self), (self.reason, self.detail)


@dataclass(frozen=True)
class Record:
    """One raw row or feature, before validation."""

    number: int
    values: Mapping[str, Any]



def open_regular(path: Path) -> IO[bytes]:
    """``path`` opened for reading if it is a regular file. A pipe, a FIFO or a device
    would hang the import or never end, and ``-`` (standard input) is not read: each is
    refused without waiting (the open does not block on a FIFO with no writer)."""
    if str(path) == "-":
        raise ImportFailed("stdin")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except (FileNotFoundError, NotADirectoryError):
        raise ImportFailed("not_found", str(path)) from None
    except IsADirectoryError:  # where a directory cannot be opened at all
        raise ImportFailed("not_a_file", str(path)) from None
    except OSError as exc:
        raise ImportFailed("unreadable", f"{path}: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ImportFailed("not_a_file", str(path))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_text(path: Path) -> str:
    """File contents as text, refusing what is not a regular file, binary files and
    anything that is not UTF-8."""
    with open_regular(path) as fh:
        try:
            raw = fh.read()
        except OSError as exc:
            raise ImportFailed("unreadable", f"{path}: {exc.strerror}") from None
    if b"\x00" in raw[:65536]:
        raise ImportFailed("binary", str(path))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFailed("not_utf8", f"byte {exc.start}") from None


_FIRST_SIGN = re.compile(r"\s*(\S)")


def looks_like(text: str) -> str | None:
    """What the content looks like from its first visible character: ``geojson`` (``{``
    or ``[``), ``xml`` (``<``: KML, GPX, HTML), or None (maybe CSV). No CSV header can
    start so: its first cell would be an unknown column."""
    match = _FIRST_SIGN.match(text)
    sign = match.group(1) if match else ""
    if sign in {"{", "["}:
        return "geojson"
    if sign == "<":
        return "xml"
    return None


def _shown(names: list[str]) -> str:
    """Column names for a message: a few, each cut short (a file in the wrong format
    would otherwise print itself whole)."""
    shown = [n if len(n) <= 40 else n[:39] + "…" for n in names[:5]]
    return ", ".join(shown) + (", …" if len(names) > 5 else "")


def csv_records(text: str) -> Iterator[Record]:
    """Rows of a CSV text; header problems raise :class:`ImportFailed` before any row. A
    row is numbered by the line it starts on."""
    if looks_like(text) is not None:
        raise ImportFailed(f"looks_like_{looks_like(text)}")
    records = CsvRecords(text)
    header = records.header()
    names = [clean(h).lower() for h in header]
    if not any(names):
        raise ImportFailed("empty")
    unknown = [n for n in names if n not in CSV_COLUMNS]
    if unknown:
        if len(names) == 1:
            for delimiter in (";", "\t", "|"):
                cells = [clean(c).lower() for c in names[0].split(delimiter)]
                if len(cells) > 1 and set(REQUIRED_COLUMNS) <= set(cells):
                    raise ImportFailed("wrong_delimiter", "tab" if delimiter == "\t" else delimiter)
        raise ImportFailed("unknown_columns", _shown(unknown))
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if "commune" not in names and not {"lat", "lon"} <= set(names):
        missing.append("commune")
    if missing:
        raise ImportFailed("missing_columns", ", ".join(missing))
    return _csv_rows(records, names)


def _csv_rows(records: CsvRecords, names: list[str]) -> Iterator[Record]:
    for number, row in records.rows(names):
        if isinstance(row, BadRow):
            yield Record(number, {"__error__": row.reason, "__field__": row.field})
            continue
        # cells joined by a separator that is whitespace to str.strip and marks where each
        # cell starts: one pass says if the row is blank and if a cell starts with a quote
        joined = "\x1f".join(row)
        if not joined.strip():  # blank line (every cell empty or spaces)
            continue
        if joined.startswith("'") or "\x1f'" in joined:  # an export's anti-formula quote
            row = [restore(cell) for cell in row]  # comes off (csv_cells.py)
        if len(row) > len(names):
            yield Record(number, {"__error__": "too_many_cells"})
            continue
        yield Record(number, dict(zip(names, row, strict=False)))


def geojson_records(text: str) -> Iterator[Record]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if looks_like(text) is None and "," in text.split("\n", 1)[0]:
            raise ImportFailed("looks_like_csv") from None
        if looks_like(text) == "xml":
            raise ImportFailed("looks_like_xml") from None
        raise ImportFailed("bad_json", f"line {exc.lineno}") from None
    except RecursionError:
        raise ImportFailed("bad_json", "nested too deeply") from None
    except ValueError as exc:  # a number of over 4,300 digits
        raise ImportFailed("bad_json", str(exc)[:80]) from None
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
    if kind in {"LineString", "Polygon", "MultiPolygon", "MultiLineString", "MultiPoint"}:
        pending = [coords]  # a stack, not recursion: nesting is the file's to choose
        while pending:
            node = pending.pop()
            if not isinstance(node, list | tuple):
                continue
            if len(node) >= 2 and all(_is_number(v) for v in node[:2]):
                point = _lat_lon(node)
                if point:
                    points.append(point)
            else:
                pending.extend(node)
    if not points:
        return None
    return sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _lat_lon(coords: Any) -> tuple[float, float] | None:
    """(lat, lon) of a GeoJSON position (numbers, or numbers written as text); NaN and
    out-of-range values are left to the validation, which refuses them."""
    if isinstance(coords[0], bool) or isinstance(coords[1], bool):
        return None
    try:
        lon, lat = float(coords[0]), float(coords[1])
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return lat, lon


def _first(props: Mapping[str, Any], *keys: str) -> Any:
    """The first of ``keys`` present: a text keeps its first ``;``-separated OSM value
    (but for a name or description); anything else is returned as it is, for
    :mod:`directory.import_convert` to turn into text or refuse."""
    for key in keys:
        value = props.get(key)
        if value not in (None, ""):
            if isinstance(value, str) and key not in {"description", "name"}:
                return value.split(";")[0].strip()
            return value
    return None


_LIST_SEPARATORS = re.compile(r"[;,]")


def _address(tags: Mapping[str, Any]) -> Any:
    """``addr:housenumber addr:street``; a number is written out, and a part that is
    neither text nor number is returned for the validation to refuse."""
    parts = [_first(tags, "addr:housenumber"), _first(tags, "addr:street")]
    for part in parts:
        if part is not None and not isinstance(part, str) and not _is_number(part):
            return part
    return " ".join(str(p) for p in parts if p is not None) or None


def _feature_values(feature: Mapping[str, Any]) -> dict[str, Any]:
    """Our column names from a feature: our own properties first, then OSM tags."""
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        return {"__error__": "bad_properties"}
    raw_tags = props.get("tags")
    tags: dict[str, Any] = raw_tags if isinstance(raw_tags, dict) else props
    values: dict[str, Any] = {
        k: props[k] for k in CSV_COLUMNS if k in props and k != "tags" and props[k] is not None
    }
    if isinstance(raw_tags, str):  # GeoJSON tags: a list of texts, or one text split on ; or ,
        values["tags"] = _LIST_SEPARATORS.split(raw_tags)
    elif raw_tags is not None and not isinstance(raw_tags, dict):
        values["tags"] = raw_tags  # a list, checked item by item, or refused
    if isinstance(values.get("needs"), str):
        values["needs"] = _LIST_SEPARATORS.split(values["needs"])
    osm_id = props.get("@id") or (props.get("id") if isinstance(props.get("id"), str) else None)
    osm_id = osm_id or feature.get("id")
    if osm_id is not None:
        values["id"] = osm_id  # a number is written out, anything else refused
    values.setdefault("name", _first(tags, "name", "name:fr", "official_name", "brand"))
    values.setdefault("commune", _first(tags, "ref:INSEE", "commune_insee"))
    if "address" not in values:
        values["address"] = _address(tags)
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


def count_records(path: Path) -> int | None:
    """Rough number of rows, for a progress bar's total (None when unknown)."""
    try:
        with open_regular(path) as fh:
            return max(0, sum(1 for _ in fh) - 1)
    except (ImportFailed, OSError):
        return None
