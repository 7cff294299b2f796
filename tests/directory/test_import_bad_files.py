"""Import of bad files (issue 14, findings 3 and 4): broken CSV quotes, oversized cells,
a file in another format than asked, what is not a regular file, and GeoJSON properties
that are not text. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.cli import main as cli
from directory.import_csv import MAX_CELL
from directory.importer import ImportFailed, import_file
from directory.models import Entry

HEADER = "id,name,category,commune,description\n"
ROOT = Path(__file__).resolve().parents[2]


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Entry)) or 0


def entries(factory: Any) -> dict[str, Entry]:
    with factory() as session:
        return {e.source_id: e for e in session.scalars(select(Entry))}


def errors(report: Any) -> list[tuple[int, str, str]]:
    return [(e.number, e.field, e.reason) for e in report.errors]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8", newline="")
    return path


def garage(n: int) -> str:
    return f"g{n},Garage {n},garage,97415,\n"


# --- CSV: broken quotes ---------------------------------------------------------------


def test_a_quote_never_closed_is_reported_on_its_line_and_the_rows_after_it_imported(
    store, tmp_path: Path
) -> None:
    _, factory = store
    path = write(
        tmp_path / "quote.csv",
        HEADER + garage(1) + 'g2,"Garage Deux,garage,97415,\n' + garage(3) + garage(4) + garage(5),
    )
    report = import_file(factory, path)
    assert errors(report) == [(3, "row", "unbalanced_quote")]
    assert (report.created, report.skipped) == (4, 1)
    assert sorted(entries(factory)) == ["g1", "g3", "g4", "g5"]


def test_a_quote_closed_by_a_later_rows_quote_swallows_nothing(store, tmp_path: Path) -> None:
    """The quote opened on line 3 closes on line 5's quote (then text, not a comma): line 3
    is refused, lines 4 and 5 read again; line 5's own quoted cell is fine."""
    _, factory = store
    path = write(
        tmp_path / "quote.csv",
        HEADER + garage(1) + 'g2,"Garage Deux,garage,97415,\n' + garage(3)
        + 'g4,"Garage ""Quatre""",garage,97415,\n' + garage(5),
    )
    report = import_file(factory, path)
    assert errors(report) == [(3, "row", "unbalanced_quote")]
    assert report.created == 4
    assert entries(factory)["g4"].name == 'Garage "Quatre"'


def test_a_swallow_that_reads_as_a_valid_row_is_still_caught(store, tmp_path: Path) -> None:
    """Line 3's quote closes at line 4's ``12"`` followed by a comma: the csv module alone
    makes one valid row of lines 3-4 (a name over two lines). A line break is allowed in a
    description or an address only, so the swallow shows; lines 3-4 are reported and line
    4 is read again (its stray quote in the middle of a cell is text)."""
    _, factory = store
    path = write(
        tmp_path / "quote.csv",
        HEADER + 'g1,"Garage Un,garage,97415,\n' + 'g2,Écran 12",garage,97415,\n' + garage(3),
    )
    report = import_file(factory, path)
    assert errors(report) == [(2, "row", "unbalanced_quote")]
    assert entries(factory)["g2"].name == 'Écran 12"'
    assert report.created == 2


def test_a_quote_left_open_in_a_description_and_closed_on_the_next_line_is_caught(
    store, tmp_path: Path
) -> None:
    """The description (third column) opens a quote that line 3's ``12"`` closes: one
    record of four cells, valid to the csv module. The description's second line starts
    like a row (as many cells as the columns up to the description's, and one more)."""
    _, factory = store
    path = write(
        tmp_path / "middle.csv",
        "id,name,description,category,commune\n" + 'g1,Garage Un,"Pneus,garage,97415\n'
        + 'g2,Garage Deux,Écran 12",garage,97415\n' + "g3,Garage Trois,,garage,97415\n",
    )
    report = import_file(factory, path)
    assert errors(report) == [(2, "row", "unbalanced_quote")]
    assert sorted(entries(factory)) == ["g2", "g3"]
    assert entries(factory)["g2"].description == 'Écran 12"'


def test_a_description_over_several_lines_is_kept_unless_it_swallowed_a_row(
    store, tmp_path: Path
) -> None:
    _, factory = store
    path = write(
        tmp_path / "multi.csv",
        HEADER + 'g1,Garage Un,garage,97415,"Ouvert le matin,\nfermé le dimanche"\n'
        + 'g2,Garage Deux,garage,97415,"Pneus\n' + garage(3) + 'g4,Garage Quatre,garage,97415,fin"\n'
        + garage(5),
    )
    report = import_file(factory, path)
    assert errors(report) == [(4, "row", "unbalanced_quote")]
    found = entries(factory)
    assert found["g1"].description == "Ouvert le matin, fermé le dimanche"  # read whole
    assert sorted(found) == ["g1", "g3", "g4", "g5"]  # lines 5 and 6 read again on their own
    assert found["g4"].description == 'fin"'  # a stray quote inside a cell is text


def test_a_stray_quote_inside_one_line_is_text_as_before(store, tmp_path: Path) -> None:
    _, factory = store
    path = write(tmp_path / "stray.csv", HEADER + 'g1,"Chez Paul" Garage,garage,97415,\n' + garage(2))
    report = import_file(factory, path)
    assert (report.created, report.skipped) == (2, 0)
    assert entries(factory)["g1"].name == "Chez Paul Garage"


def test_a_quote_open_at_the_end_of_the_file_is_reported(store, tmp_path: Path) -> None:
    _, factory = store
    path = write(tmp_path / "end.csv", HEADER + garage(1) + 'g2,"Garage Deux,garage,97415,')
    report = import_file(factory, path)
    assert errors(report) == [(3, "row", "unbalanced_quote")]
    assert report.created == 1


# --- CSV: oversized cells -------------------------------------------------------------


@pytest.mark.parametrize("quoted", [False, True], ids=["plain", "quoted-over-lines"])
def test_a_cell_over_128_kib_refuses_its_row_only(store, tmp_path: Path, quoted: bool) -> None:
    """Earlier batches are committed when the big row comes (batch_size 2); no traceback, the
    row is reported on its line and the rows after it are imported."""
    _, factory = store
    big = "x" * (MAX_CELL + 1)
    cell = f'"{big[:70_000]}\n{big[70_000:]}"' if quoted else big
    rows = [garage(n) for n in range(1, 6)]
    rows.insert(3, f"big,Garage Gros,garage,97415,{cell}\n")
    report = import_file(factory, write(tmp_path / "big.csv", HEADER + "".join(rows)), batch_size=2)
    assert errors(report) == [(5, "description", "cell_too_large")]
    assert (report.created, report.skipped) == (5, 1)
    with factory() as session:
        assert count(session) == 5


def test_a_cell_just_under_the_limit_is_read(store, tmp_path: Path) -> None:
    """128 KiB is the reader's limit, not a field's: the description's own limit answers."""
    _, factory = store
    path = write(tmp_path / "edge.csv", HEADER + f"g1,Garage,garage,97415,{'y' * MAX_CELL}\n")
    report = import_file(factory, path)
    assert errors(report) == [(2, "description", "too_long")]


# --- a file in another format ----------------------------------------------------------


GEOJSON = json.dumps({"type": "FeatureCollection", "features": [
    {"type": "Feature", "geometry": {"type": "Point", "coordinates": [55.33, -21.03]},
     "properties": {"id": f"f{n}", "name": f"Garage {n}", "category": "garage", "commune": "97415"}}
    for n in range(50)
]}, indent=1)


@pytest.mark.parametrize(
    ("name", "content", "fmt", "reason"),
    [
        ("osm.geojson", GEOJSON, "csv", "looks_like_geojson"),
        ("osm.csv", GEOJSON, None, "looks_like_geojson"),
        ("list.csv", "[1, 2]", None, "looks_like_geojson"),
        ("rows.geojson", HEADER + garage(1), None, "looks_like_csv"),
        ("map.kml", '<?xml version="1.0"?><kml></kml>', "geojson", "looks_like_xml"),
        ("map.csv", "<html><body>404</body></html>", None, "looks_like_xml"),
        ("excel.csv", "id;name;category;commune\ng1;Garage;garage;97415\n", None, "wrong_delimiter"),
    ],
)
def test_a_file_in_another_format_is_refused_before_writing(
    store, tmp_path: Path, name: str, content: str, fmt: str | None, reason: str
) -> None:
    _, factory = store
    with pytest.raises(ImportFailed) as info:
        import_file(factory, write(tmp_path / name, content), fmt=fmt)
    assert info.value.reason == reason
    with factory() as session:
        assert count(session) == 0


def test_cli_says_the_format_looks_wrong_without_printing_the_file(db_url: str, tmp_path: Path) -> None:
    path = write(tmp_path / "osm.geojson", GEOJSON)
    result = CliRunner().invoke(cli, ["import", str(path), "--format", "csv", "--db", db_url, "--lang", "en"])
    assert result.exit_code == 1
    assert "looks like JSON/GeoJSON, not CSV: import it with --format geojson" in result.output
    assert "Garage 7" not in result.output and len(result.output) < 300
    french = CliRunner().invoke(cli, ["import", str(path), "--format", "csv", "--db", db_url, "--lang", "fr"])
    assert french.exit_code == 1 and "importez-le avec --format geojson" in french.output
    unknown = write(tmp_path / "wide.csv", ",".join(f"colonne{n}" for n in range(200)) + "\n")
    result = CliRunner().invoke(cli, ["import", str(unknown), "--db", db_url, "--lang", "en"])
    assert result.exit_code == 1 and "Unknown columns: colonne0, colonne1" in result.output
    assert "colonne199" not in result.output


# --- what is not a regular file --------------------------------------------------------


def _run_cli(args: list[str], db_url: str) -> subprocess.CompletedProcess[str]:
    """The real command in a process of its own: a hang fails the test instead of blocking it."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "import", *args, "--db", db_url, "--lang", "en"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, stdin=subprocess.PIPE,
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_a_device_a_directory_and_stdin_are_refused_at_once(db_url: str, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    for target in (str(fifo), os.devnull, str(tmp_path), "-"):
        done = _run_cli([target], db_url)
        assert done.returncode == 1, (target, done.stderr)
        assert "Traceback" not in done.stderr
        if target == "-":
            assert "standard input (-) is not supported" in done.stderr
        else:
            assert f"Not a regular file: {target}" in done.stderr
    missing = _run_cli([str(tmp_path / "missing.csv")], db_url)
    assert missing.returncode == 1 and "File not found" in missing.stderr


def test_count_records_does_not_wait_on_a_fifo(tmp_path: Path) -> None:
    from directory.importer import count_records

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    assert count_records(fifo) is None
    with pytest.raises(ImportFailed) as info:
        import_file(None, fifo)  # type: ignore[arg-type]  # refused before the store is used
    assert info.value.reason == "not_a_file"


# --- GeoJSON properties that are not text --------------------------------------------


def feature(properties: dict[str, Any], geometry: Any = None, **extra: Any) -> dict[str, Any]:
    point = {"type": "Point", "coordinates": [55.33, -21.03]}
    return {"type": "Feature", "geometry": point if geometry is None else geometry,
            "properties": properties, **extra}


def base(n: int, **values: Any) -> dict[str, Any]:
    return {"id": f"p{n}", "name": f"Garage {n}", "category": "garage", "commune": "97415", **values}


def test_geojson_properties_are_text_numbers_made_text_or_refused_per_field(store, tmp_path: Path) -> None:
    _, factory = store
    features = [
        feature(base(1, tags=None, description=None, phone=None)),  # 1: null is absent
        feature(base(2, postcode=97460, phone=262000001, tags=["pneus", " vidange ", ""])),  # 2
        feature(base(3, name={"nested": 1})),  # 3: refused
        feature(base(4, tags="pneus, vidange;jantes")),  # 4: a text of ; or , separated tags
        feature(base(5, tags=[1, "x"])),  # 5: refused
        feature(base(6, tags=5)),  # 6: a number for tags: refused
        feature(base(7, address=["1 rue"])),  # 7: refused
        feature(base(8, name=True)),  # 8: refused
        feature(base(9, postcode=float("nan"))),  # 9: refused
        feature(base(10, opening_hours={"Mo": "8-12"})),  # 10: refused
        feature({k: v for k, v in base(11, commune=1053, postcode=1000).items() if k != "id"}, geometry={}),
        feature(base(12, needs=None, lat=True, lon=55.3)),  # 12: a boolean latitude, refused
        feature({"name": "Garage Numéro", "category": "garage", "commune": "97415"}, id=1234),  # 13
        feature({"name": "Garage Objet", "category": "garage", "commune": "97415"}, id={"a": 1}),  # 14
        feature({"name": "Garage OSM", "shop": "car_repair", "addr:housenumber": 12,
                 "addr:street": "Rue des Filaos", "ref:INSEE": "97415", "@id": "node/9"}),  # 15
        feature({"name": "Garage Rue", "shop": "car_repair", "addr:street": {"fr": "x"},
                 "ref:INSEE": "97415", "@id": "node/10"}),  # 16
        feature(base(17, kind="project", stage="idea", needs="volunteers, funding")),  # 17
    ]
    path = write(tmp_path / "props.geojson", json.dumps({"type": "FeatureCollection", "features": features}))
    report = import_file(factory, path)
    assert errors(report) == [
        (3, "name", "nested_value"),
        (5, "tags", "bad_list"),
        (6, "tags", "bad_list"),
        (7, "address", "nested_value"),
        (8, "name", "not_text"),
        (9, "postcode", "not_text"),
        (10, "opening_hours", "nested_value"),
        (12, "lat", "bad_latitude"),
        (14, "id", "nested_value"),
        (16, "address", "nested_value"),
    ]
    assert (report.created, report.skipped) == (7, 10)
    found = entries(factory)
    assert found["p1"].tags == [] and found["p1"].description == "" and found["p1"].phone is None
    assert found["p2"].postcode == "97460" and found["p2"].tags == ["pneus", "vidange"]
    assert found["p2"].phone and "None" not in found["p2"].phone
    assert found["p4"].tags == ["pneus", "vidange", "jantes"]
    bourg = next(e for e in found.values() if e.name == "Garage 11")
    assert (bourg.commune_insee, bourg.postcode) == ("01053", "01000")
    assert found["1234"].name == "Garage Numéro"
    assert found["node/9"].address == "12 Rue des Filaos"
    assert found["p17"].needs == ["volunteers", "funding"]
    for entry in found.values():
        for text in (entry.name, entry.address or "", entry.description, *entry.tags):
            assert "{" not in text and "None" not in text and "[" not in text


def test_cli_names_the_feature_and_the_field(db_url: str, tmp_path: Path) -> None:
    path = write(tmp_path / "p.geojson", json.dumps(
        {"type": "FeatureCollection", "features": [feature(base(1)), feature(base(2, name={"fr": "x"}))]}
    ))
    result = CliRunner().invoke(cli, ["import", str(path), "--db", db_url, "--lang", "en"])
    assert result.exit_code == 0
    assert "Feature #2 skipped — name: an object or a list where text is expected" in result.output
    assert "1 created, 0 updated, 1 skipped" in result.output


@pytest.mark.parametrize(
    ("content", "detail"),
    [("[" * 100_000, "nested too deeply"), ('{"a": ' + "9" * 5000 + "}", "digits")],
)
def test_json_that_python_cannot_load_is_bad_json(store, tmp_path: Path, content: str, detail: str) -> None:
    _, factory = store
    with pytest.raises(ImportFailed) as info:
        import_file(factory, write(tmp_path / "deep.geojson", content))
    assert info.value.reason == "bad_json" and detail in info.value.detail
