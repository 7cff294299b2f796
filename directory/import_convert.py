"""Converting import records to rows: a record's values validated as a :class:`NewEntry`
(category from the taxonomy or OSM tags, commune from its code or the nearest point),
then the ``entries`` columns with the entry's index terms and point, ready for
:mod:`directory.import_batches`. Bad records are reported with their number and reason."""

from __future__ import annotations

import math
import signal
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from directory.categories import get_taxonomy
from directory.gazetteer import get_gazetteer
from directory.import_batches import IndexPart, PreparedBatch, Row
from directory.import_read import CSV_COLUMNS, Record
from directory.models import EntryKind
from directory.search_index import entry_terms, fast_clean, fast_fold, index_point
from directory.services import InvalidEntry, NewEntry, validate_entry

MAX_REPORTED_ERRORS = 1000
MAX_SOURCE_ID = 128
MAX_OPENING_HOURS = 255  # entries.opening_hours
NAME_FOLDED_MAX = 200  # entries.name_folded


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


class ImportInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) or SIGTERM stopped an import: the batches committed before it stay,
    the one in progress was rolled back as a whole. ``report`` counts what was saved (set by
    :func:`directory.importer.import_records`); ``signum`` says which signal it was."""

    def __init__(self, report: ImportReport | None = None, signum: int = signal.SIGINT) -> None:
        super().__init__(int(signum))
        self.report = report
        self.signum = int(signum)

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.report, self.signum)



class ConvertContext:
    """Gazetteer and taxonomy look-ups, cached per import (the hot path)."""

    def __init__(self) -> None:
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


#: text fields whose numbers are codes of five digits (a JSON number loses leading zeros)
_FIVE_DIGIT_CODES = frozenset({"postcode", "commune"})


def text_of(key: str, value: Any) -> str:
    """A GeoJSON property where text is expected, as text: a number is written out (an
    integral one without ``.0``; a postcode or commune code padded to five digits, since a
    JSON number drops the zero of ``01053``); true/false, NaN and infinities are refused
    (``not_text``), and so are an object or a list (``nested_value``): never a repr.
    Strings (all of CSV) do not come here."""
    if isinstance(value, bool):
        raise InvalidEntry(key, "not_text")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidEntry(key, "not_text")
        if not value.is_integer():
            return repr(value)
        value = int(value)
    if isinstance(value, int):
        if key in _FIVE_DIGIT_CODES and 0 <= value < 100_000:
            return f"{value:05d}"
        return str(value)
    if isinstance(value, dict | list):
        raise InvalidEntry(key, "nested_value")
    raise InvalidEntry(key, "not_text")


def _texts(values: Mapping[str, Any]) -> dict[str, str]:
    """The text fields of a record, stripped; absent when missing or blank (computed once per
    record, not once per field)."""
    texts: dict[str, str] = {}
    for key, value in values.items():
        if value is not None and key in _TEXT_KEYS:
            text = (value if isinstance(value, str) else text_of(key, value)).strip()
            if text:
                texts[key] = text
    return texts


def _float(values: Mapping[str, Any], key: str, reason: str) -> float | None:
    value = values.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidEntry(key, reason)
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
        value = value.replace(",", ".")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidEntry(key, reason) from None
    if not math.isfinite(number):
        raise InvalidEntry(key, reason)
    return number


def _list(values: Mapping[str, Any], key: str) -> tuple[str, ...]:
    """A list field: a ``;``-separated text (CSV), or a list of texts (GeoJSON, where the
    reader splits a text on ``;`` and ``,``); anything else, a list holding anything but
    texts included, is refused (``bad_list``)."""
    value = values.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        items: list[Any] = value.split(";")
    elif isinstance(value, list) and all(isinstance(i, str) for i in value):
        items = value
    else:
        raise InvalidEntry(key, "bad_list")
    return tuple(s for s in (i.strip() for i in items) if s)


def _datetime(texts: Mapping[str, str], key: str) -> datetime | None:
    text = texts.get(key)
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidEntry(key, "bad_datetime") from None


def to_entry(values: Mapping[str, Any], ctx: ConvertContext) -> tuple[NewEntry, str | None]:
    """A validated :class:`NewEntry` and its source id, or :class:`InvalidEntry`."""
    if "__error__" in values:
        raise InvalidEntry(str(values.get("__field__", "row")), str(values["__error__"]))
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
    text = fast_clean(value if isinstance(value, str) else text_of("opening_hours", value))
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
    records: Iterable[Record], source: str, report: ImportReport, ctx: ConvertContext | None = None
) -> Iterator[tuple[int, Row]]:
    """Validated rows, each with its record's number; bad records go to the report.

    Rows a file repeats (same id, or same natural key) are left to
    :func:`drop_duplicates`, on the writer's side: with several converting processes,
    only the writer sees the whole file."""
    ctx = ctx or ConvertContext()
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
