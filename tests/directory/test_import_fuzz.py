"""Fuzzing the importer (issue 14): generated CSV files and GeoJSON documents through the
real ``import_file`` on SQLite.

The CSV files mix valid rows with rows whose quote is never closed, cells over 128 KiB,
too many or too few cells, blank lines, formula-like text, any Unicode, descriptions over
several lines, NUL bytes, a BOM, CRLF or CR line ends and Latin-1; the GeoJSON documents
mix valid features with properties of every JSON type (objects, lists, null, booleans,
numbers, NaN) where text is expected, missing or broken geometry, NaN and off-the-globe
coordinates, non-features and deep nesting. For each file:

- no exception escapes, but :class:`ImportFailed` for a file refused as a whole (then only
  for the reasons the file calls for, and nothing is written);
- created + updated + skipped equals the number of data rows (features);
- each skipped row is reported once, on the line its row starts on (its feature number);
- the database holds exactly the created rows: every row not reported is there under its
  id, no reported row is (nothing half-written).

What the generator leaves out, by the documented rules (``directory/import_csv.py``): a line
break in a cell other than a description (that is read as a quote left open) and, in a
description over several lines, a line with as many commas as there are columns before
the description's (one at least), which reads like the start of a row.
A cell never starts with a quote, a comma or a line break: such a cell right after a quote
left open in a description closes it into a valid-looking row, the one case no reader can
tell from a real cell over several lines.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from directory.db import open_store
from directory.import_csv import MAX_CELL
from directory.importer import ImportFailed, can_fork, import_file
from directory.models import Entry

EXAMPLES = 250
#: what the runs met (reasons of refused rows and files, rows created): checked last
seen: Counter[str] = Counter()
COLUMNS = ["name", "category", "commune", "description", "tags", "lat", "lon", "postcode"]
LINE_BREAK = re.compile(r"\r\n|\r|\n")
FORMULAS = ["=1+1", "+33 262 00 00 00", "@SUM(A1:A9)", "-2+3", "=HYPERLINK(\"http://x\")", "'=quoted"]

#: any text but NUL (NUL bytes come as a file variant of their own), surrogates excluded
any_text = st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
                   max_size=40)
cell_text = st.one_of(
    any_text,
    st.sampled_from(FORMULAS),
    st.sampled_from(["Garage Alpha", "Crèche Ti Bouts", "Zéro\u200blargeur", "a,b", 'dit "le chef"', "  "]),
    st.builds(lambda n: "n" * n, st.integers(190, 260)),
)
categories = st.sampled_from(["garage", "creche", "boulangerie", "nounou", "inconnue", "", "=garage"])
communes = st.sampled_from(["97415", "97411", "99999", "", "974", "2A004", "75056"])
numbers = st.one_of(
    st.sampled_from(["", "-21.03", "55.33", "nan", "inf", "1e16", "-200", "abc", "55,3"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


def one_line(text: str) -> str:
    """A cell's text with no line break and no leading quote, comma or line break (see the
    module docstring)."""
    return LINE_BREAK.sub(" ", text).lstrip('",')


def description_lines(lines: list[str], terminator: str) -> str:
    """A description over several lines (see :func:`fewer_commas`)."""
    rest = [LINE_BREAK.sub(" ", line) for line in lines[1:]]
    return terminator.join([one_line(lines[0]) or "Ouvert", *rest])


def fewer_commas(text: str, commas: int) -> str:
    """The lines of a cell after the first with ``commas`` commas at most (a line with as
    many commas as there are columns before the cell reads as a row's start)."""
    first, *rest = LINE_BREAK.split(text)
    breaks = LINE_BREAK.findall(text)
    kept = [first]
    for line, brk in zip(rest, breaks, strict=True):
        parts = line.split(",")
        kept.append(brk + " ".join([",".join(parts[: commas + 1]), *parts[commas + 1:]]))
    return "".join(kept)


@dataclass
class Row:
    """One generated row: how it is written, and whether it is a data row (blank lines are not)."""

    kind: str
    values: dict[str, str] = field(default_factory=dict)
    extra: int = 0  # cells beyond the header (too many) or, negative, cells left out
    broken: str | None = None  # the column whose quote is never closed
    inch: str | None = None  # the column that ends with a stray quote ('Écran 12"'), as typed
    blank: str = ""


@st.composite
def csv_rows(draw: Any) -> Row:
    kinds = ["good"] * 6 + ["broken", "inch", "huge", "wide", "short", "blank", "multiline"]
    kind = draw(st.sampled_from(kinds))
    values = {
        "name": one_line(draw(cell_text)),
        "category": draw(categories),
        "commune": draw(communes),
        "description": one_line(draw(cell_text)),
        "tags": one_line(draw(st.one_of(any_text, st.just("a;b;;c")))),
        "lat": draw(numbers),
        "lon": draw(numbers),
        "postcode": draw(st.sampled_from(["", "97460", "7500", "abcde"])),
    }
    if draw(st.booleans()):
        values["name"] = "Garage Fuzz"  # a name that passes, so that rows get created
        values["category"], values["commune"] = "garage", "97415"
        values["lat"] = values["lon"] = ""
    row = Row(kind, values)
    if kind == "broken":
        row.broken = draw(st.sampled_from(COLUMNS))
    elif kind == "inch":
        row.inch = draw(st.sampled_from(COLUMNS))
    elif kind == "huge":
        column = draw(st.sampled_from(["name", "description", "tags"]))
        size = MAX_CELL + draw(st.integers(1, 3000))
        middle = "\n" if column == "description" and draw(st.booleans()) else ""
        values[column] = "x" * (size // 2) + middle + "y" * (size - size // 2)
    elif kind == "wide":
        row.extra = draw(st.integers(1, 3))
    elif kind == "short":
        row.extra = -draw(st.integers(1, len(COLUMNS)))
    elif kind == "blank":
        row.blank = draw(st.sampled_from(["", "   ", ",,,,", ", ,"]))
    elif kind == "multiline":
        values["description"] = description_lines(draw(st.lists(any_text, min_size=2, max_size=4)),
                                                  draw(st.sampled_from(["\n", "\r\n", "\r"])))
    return row


def render_csv(rows: list[Row], header: list[str], terminator: str) -> tuple[str, list[tuple[int, str]]]:
    """The file's text and each data row's (first line, id)."""
    out = io.StringIO()
    cell = io.StringIO()
    # "\r\n": the writer quotes a cell holding either character only if both end its lines
    writer = csv.writer(cell, lineterminator="\r\n")

    def write_row(cells: list[str]) -> None:
        cell.seek(0)
        cell.truncate()
        writer.writerow(cells)
        out.write(cell.getvalue()[:-2] + terminator)

    write_row(["id", *header])
    line = 2
    data: list[tuple[int, str]] = []
    for number, row in enumerate(rows):
        row_id = f"r{number}"
        start = out.tell()
        if row.kind == "blank":
            out.write(row.blank + terminator)
        elif row.broken is not None or row.inch is not None:  # as typed, not as a writer quotes
            cells = [row_id] + [re.sub(r'["\r\n,]', " ", row.values[c]) for c in header]
            if row.broken is not None:
                position = header.index(row.broken) + 1
                cells[position] = '"' + cells[position]  # opened, never closed
            else:
                position = header.index(str(row.inch)) + 1
                cells[position] += ' 12"'  # a quote inside a cell is text, but closes a broken one
            out.write(",".join(cells) + terminator)
        else:
            cells = [row_id] + [row.values[c] for c in header]
            position = header.index("description") + 1
            cells[position] = fewer_commas(cells[position], position - 1)
            if row.extra > 0:
                cells += ["en trop"] * row.extra
            elif row.extra < 0:
                cells = cells[: max(1, len(cells) + row.extra)]
            write_row(cells)
        text = out.getvalue()[start:]
        if row.kind != "blank":
            data.append((line, row_id))
        line += len(LINE_BREAK.findall(text))
    return out.getvalue(), data


@dataclass(frozen=True)
class Outcome:
    data: list[tuple[int, str]]  # (line or feature number, id the row was given, or "")
    refused_file: frozenset[str]  # reasons the whole file may be refused for (empty: none)


def check(factory: sessionmaker[Session], path: Path, source: str, outcome: Outcome, **options: Any) -> None:
    try:
        report = import_file(factory, path, source=source, **options)
    except ImportFailed as exc:
        assert exc.reason in outcome.refused_file, (exc.reason, exc.detail)
        seen[f"file:{exc.reason}"] += 1
        report = None
    seen[path.suffix] += 1
    with factory() as session:
        stored = set(session.scalars(select(Entry.source_id).where(Entry.source == source)))
    if report is None:
        assert not stored
        return
    assert not outcome.refused_file, f"the file should have been refused: {outcome.refused_file}"
    numbers = [n for n, _ in outcome.data]
    assert report.created + report.updated + report.skipped == len(numbers), report
    assert report.updated == 0
    reported = [e.number for e in report.errors]
    assert len(reported) == report.skipped and len(set(reported)) == len(reported), report.errors
    assert set(reported) <= set(numbers), (sorted(set(reported) - set(numbers)), numbers)
    assert len(stored) == report.created
    seen["created"] += report.created
    seen.update(e.reason for e in report.errors)
    for number, row_id in outcome.data:
        if not row_id:
            continue
        if number in reported:
            assert row_id not in stored, (number, row_id)
        else:
            assert row_id in stored, (number, row_id, report.errors)


@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("import-fuzz")
    engine, factory = open_store(f"sqlite:///{folder / 'fuzz.db'}")
    yield folder, factory
    engine.dispose()


_runs = iter(range(10**9))
FORK = can_fork()


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    rows=st.lists(csv_rows(), min_size=1, max_size=25),
    columns=st.permutations(COLUMNS).flatmap(lambda cols: st.integers(3, len(cols)).map(lambda n: cols[:n])),
    terminator=st.sampled_from(["\n", "\r\n", "\r"]),
    encoding=st.sampled_from(["utf-8"] * 3 + ["utf-8-sig", "latin-1"]),
    nul=st.sampled_from([None] * 5 + ["start", "end"]),
    batch_size=st.sampled_from([2, 5, 2000]),
    parallel=st.sampled_from([False, False, False, True]),
)
def test_generated_csv_files(
    fuzz_store: Any, rows: list[Row], columns: list[str], terminator: str, encoding: str,
    nul: str | None, batch_size: int, parallel: bool,
) -> None:
    folder, factory = fuzz_store
    header = list(columns)
    if "description" not in header:
        header.append("description")  # a place for line breaks
    if "commune" not in header and not {"lat", "lon"} <= set(header):
        header.insert(0, "commune")
    if "name" not in header:
        header.insert(0, "name")
    if "category" not in header:
        header.insert(0, "category")
    for row in rows:
        if row.broken is not None and row.broken not in header:
            row.broken = "name"
        if row.inch is not None and row.inch not in header:
            row.inch = "name"
    text, data = render_csv(rows, header, terminator)
    if nul == "start":
        text = text.replace(terminator, "\x00" + terminator, 2)
    elif nul == "end":
        text = text + "z" * 70_000 + "\x00"  # past the binary sniff: one more junk line
    raw = text.encode(encoding, errors="replace") if encoding == "latin-1" else text.encode(encoding)
    refused: set[str] = set()
    if b"\x00" in raw[:65536]:
        refused = {"binary"}
    else:
        try:
            raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            refused = {"not_utf8"}
    if nul == "end" and not refused:
        data.append((len(LINE_BREAK.findall(text)) + 1, ""))
    run = next(_runs)
    path = folder / f"fuzz{run}.csv"
    path.write_bytes(raw)
    check(factory, path, f"csv-fuzz-{run}", Outcome(data, frozenset(refused)), batch_size=batch_size,
          parallel=parallel and FORK)
    path.unlink()


# --- GeoJSON ---------------------------------------------------------------------------

#: text without brackets, braces, quotes or capitals: a Python repr in the store shows
plain_text = st.text(alphabet="abcdéèçàù -0123456789.;,/", max_size=30)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**12),
              st.floats(allow_nan=True, allow_infinity=True), plain_text),
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(plain_text, children, max_size=3)),
    max_leaves=6,
)
def nested(depth: int) -> Any:
    """A position wrapped in ``depth`` lists."""
    node: Any = [55.3, -21.0]
    for _ in range(depth):
        node = [node]
    return node


coordinates = st.one_of(
    st.just([55.33, -21.03]), st.just([55.45, -20.88]),
    st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-400, 400), st.booleans(),
                       plain_text, st.none()), max_size=3),
)
geometries = st.one_of(
    st.builds(lambda c: {"type": "Point", "coordinates": c}, coordinates),
    st.builds(lambda c: {"type": "Polygon", "coordinates": [[c, c, c]]}, coordinates),
    st.builds(lambda c: {"type": "LineString", "coordinates": c}, st.lists(coordinates, max_size=3)),
    st.sampled_from([None, {}, [], "Point", {"type": "Point"}, {"type": "Circle", "coordinates": [1, 2]}]),
    st.builds(lambda d: {"type": "MultiPolygon", "coordinates": d}, st.integers(1, 200).map(nested)),
)
FIELDS = ["id", "name", "category", "commune", "address", "postcode", "phone", "website", "email",
          "description", "tags", "needs", "kind", "stage", "status", "opening_hours", "lat", "lon",
          "starts_at"]


@st.composite
def features(draw: Any, number: int) -> tuple[Any, str]:
    """A feature and the id it carries as text ("" when none is sure to be kept)."""
    shape = draw(st.sampled_from(["feature"] * 8 + ["not-a-feature", "bad-properties", "osm"]))
    if shape == "not-a-feature":
        return draw(st.sampled_from([1, "Feature", None, [], [1, 2]])), ""
    if shape == "bad-properties":
        properties = draw(st.sampled_from([[1], "x", 3, True]))
        return {"type": "Feature", "geometry": None, "properties": properties}, ""
    row_id = f"f{number}"
    props: dict[str, Any] = {"id": row_id, "name": draw(plain_text) or "Garage Fuzz",
                             "category": draw(categories), "commune": draw(communes)}
    if shape == "osm":
        props = {"@id": f"node/{number}", "name": draw(plain_text) or "Garage", "shop": "car_repair",
                 "addr:housenumber": draw(json_values), "addr:street": draw(json_values),
                 "ref:INSEE": draw(st.sampled_from(["97415", None, 97415]))}
        row_id = f"node/{number}"
    for key in draw(st.lists(st.sampled_from(FIELDS), max_size=4, unique=True)):
        props[key] = draw(json_values)
    # an OSM feature keeps its @id; another keeps its id unless it was drawn over
    kept = row_id if shape == "osm" or props.get("id") == row_id else ""
    feature: dict[str, Any] = {"type": "Feature", "properties": props}
    if draw(st.booleans()):
        feature["geometry"] = draw(geometries)
    return feature, kept


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), size=st.integers(0, 25),
       wrapper=st.sampled_from(["collection"] * 8 + ["bare", "list"]), batch_size=st.sampled_from([2, 2000]))
def test_generated_geojson_documents(
    fuzz_store: Any, data: Any, size: int, wrapper: str, batch_size: int
) -> None:
    folder, factory = fuzz_store
    drawn = [data.draw(features(n)) for n in range(1, size + 1)]
    document: Any = {"type": "FeatureCollection", "features": [f for f, _ in drawn]}
    refused: frozenset[str] = frozenset()
    if wrapper == "bare":
        document = {"type": "Feature", "features": document["features"]}
        refused = frozenset({"not_geojson"})
    elif wrapper == "list":
        document = document["features"]
        refused = frozenset({"not_geojson"})
    run = next(_runs)
    path = folder / f"fuzz{run}.geojson"
    path.write_text(json.dumps(document, allow_nan=True), encoding="utf-8")
    outcome = Outcome([(n, kept) for n, (_, kept) in enumerate(drawn, start=1)], refused)
    check(factory, path, f"geojson-fuzz-{run}", outcome, batch_size=batch_size, parallel=False)
    path.unlink()
    with factory() as session:
        for entry in session.scalars(select(Entry).where(Entry.source == f"geojson-fuzz-{run}")):
            texts = [entry.name, entry.description, entry.address or "", entry.postcode or "",
                     entry.phone or "", entry.opening_hours or "", entry.source_id, *entry.tags]
            for text in texts:
                assert not any(mark in text for mark in ("{", "[", "None", "True", "False")), (text, entry)
            assert entry.lat is None or (math.isfinite(entry.lat) and -90 <= entry.lat <= 90)


def test_the_runs_met_every_kind_of_bad_input() -> None:
    """Ran after the properties above (same module, file order): they generated what they
    claim, so their checks were not passed by files that never had the problem."""
    assert seen[".csv"] >= EXAMPLES and seen[".geojson"] >= EXAMPLES
    assert seen["created"] >= 500
    for reason in ("unbalanced_quote", "cell_too_large", "too_many_cells", "file:binary", "file:not_utf8",
                   "nested_value", "not_text", "bad_list", "not_a_feature", "bad_properties", "bad_latitude",
                   "bad_longitude", "unknown_commune", "file:not_geojson"):
        assert seen[reason] > 0, (reason, seen)
