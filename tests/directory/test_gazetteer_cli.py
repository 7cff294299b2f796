"""``communebot commune TEXT [--near INSEE] --json`` and its readable table."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.i18n import load_catalog

CONTRACT_KEYS = {"insee", "name", "departement", "postcodes", "score"}
EXTRA_KEYS = {"zone", "timezone", "population", "lat", "lon"}


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["commune", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def run_json(*args: str) -> list[dict[str, object]]:
    code, output = run(*args, "--json")
    data = json.loads(output)
    assert code == (0 if data else 1), output  # nothing found: exit 1, as grep does
    assert isinstance(data, list)
    return data


def test_json_contract() -> None:
    data = run_json("97460")
    assert data[0]["insee"] == "97415"
    assert data[0]["name"] == "Saint-Paul"
    assert data[0]["departement"] == "974"
    assert data[0]["postcodes"] == ["97411", "97422", "97423", "97434", "97435", "97460"]
    assert data[0]["score"] == 100.0
    assert data[0]["timezone"] == "Indian/Reunion"
    assert data[0]["zone"] == "drom"
    assert isinstance(data[0]["lat"], float) and isinstance(data[0]["population"], int)
    for item in data:
        assert set(item) >= CONTRACT_KEYS | EXTRA_KEYS


def test_near_ranks_same_names() -> None:
    data = run_json("St Pierre", "--near", "97416")
    assert data[0]["insee"] == "97416"
    assert data[0]["distance_km"] == 0.0
    assert len({item["departement"] for item in data}) == len(data)
    assert run_json("Saint-Louis", "--near", "68224")[0]["insee"] == "68297"
    assert run_json("saint louis", "--near", "97416")[0]["insee"] == "97414"


def test_at_ranks_from_a_point() -> None:
    assert run_json("Saint-Louis", "--at", "16.0", "-61.7")[0]["insee"] == "97126"


def test_words_need_no_quotes_and_limit_applies() -> None:
    data = run_json("le", "port", "--near", "97415", "--limit", "2")
    assert [item["insee"] for item in data][:1] == ["97407"] and len(data) == 2


def test_json_for_nothing_is_an_empty_list() -> None:
    assert run_json("zzzzqqqxx") == []
    assert run_json("") == []
    assert run_json("x" * 10_000) == []
    assert run_json("'; DROP TABLE communes; --") == []
    assert run_json("99999") == []


def test_table_is_readable() -> None:
    code, output = run("Saint-Louis", "--near", "97416")
    assert code == 0
    lines = output.splitlines()
    assert lines[0].split()[:2] == ["INSEE", "Commune"]
    assert lines[2].startswith("97414  Saint-Louis")
    assert "13 km" in lines[2]
    code, output = run("Bellegarde-sur-Valserine", "--lang", "en")
    assert "Valserhône (formerly Bellegarde-sur-Valserine)" in output
    assert "Saint-Gilles-les-Bains, commune de Saint-Paul" in run("saint gilles les bains")[1]
    data = run_json("Sainte-Clotilde")
    assert (data[0]["insee"], data[0]["alias"], data[0]["alias_kind"]) == (
        "97411",
        "Sainte-Clotilde",
        "localite",
    )


def test_table_messages_in_both_languages() -> None:
    assert "Aucune commune ne correspond à « zzzzqqq »" in run("zzzzqqq")[1]
    assert "No commune matches “zzzzqqq”" in run("zzzzqqq", "--lang", "en")[1]
    assert "code postal" in run("")[1]
    assert "postcode" in run("   ", "--lang", "en")[1]
    long_output = run("x" * 10_000)[1]
    assert len(long_output) < 300  # the text is cut, not echoed whole


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("port", "--near", "99999"), "99999"),
        (("port", "--near", "'; DROP TABLE x"), "DROP"),
        (("port", "--at", "200", "1"), "200"),
        (("port", "--at", "nan", "1"), "nan"),
        (("port", "--near", "97415", "--at", "1", "1"), "--near"),
        (("port", "--limit", "0"), "0"),
    ],
)
def test_bad_options_are_refused_clearly(args: tuple[str, ...], expected: str) -> None:
    code, output = run(*args)
    assert code == 2
    assert expected in output
    assert "Traceback" not in output


def test_every_message_exists_in_both_catalogs() -> None:
    fr = {m.id for m in load_catalog("fr") if m.id and str(m.id).startswith("gazetteer.")}
    en = {m.id for m in load_catalog("en") if m.id and str(m.id).startswith("gazetteer.")}
    assert fr == en and len(fr) >= 12
