"""Building, caching and loading the gazetteer tables; name keys and typo narrowing."""

from __future__ import annotations

import csv
import gzip
import io
import random
from pathlib import Path

import pytest
from rapidfuzz import fuzz, process

from directory import gazetteer_index
from directory.gazetteer import Commune, Gazetteer, get_gazetteer
from directory.gazetteer_fuzzy import FuzzyNames, end_size, head, query_end_size
from directory.gazetteer_index import COLUMNS, build_index, load_index, parse_records
from directory.gazetteer_names import (
    arrondissement_aliases,
    fold_name,
    keys_of_folded,
    name_variants,
    qualifier_table,
    split_qualifiers,
    strip_fillers,
)
from directory.text import fold

SAMPLE_ROWS = [
    ["97415", "Saint-Paul", "commune", "", "974", "04", "drom", "97411|97460", "-21.03664",
     "55.34022", "108088", "Indian/Reunion"],
    ["97407", "Le Port", "commune", "", "974", "04", "drom", "97420", "-20.94618", "55.30379",
     "33969", "Indian/Reunion"],
    ["01033", "Valserhône", "commune", "", "01", "84", "metro", "01200", "46.11", "5.82",
     "16000", "Europe/Paris"],
    ["01033", "Bellegarde-sur-Valserine", "deleguee", "01033", "01", "84", "metro", "", "46.11",
     "5.82", "", "Europe/Paris"],
    ["15031", "Celles", "commune", "", "15", "84", "metro", "15170", "", "", "", "Europe/Paris"],
]  # fmt: skip


def sample_csv(rows: list[list[str]] = SAMPLE_ROWS, header: list[str] = COLUMNS) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    return gzip.compress(text.getvalue().encode("utf-8"))


# --- the packaged data ---------------------------------------------------------------------


def test_packaged_data_is_complete() -> None:
    records = parse_records(gazetteer_index.packaged_data())
    assert len(records) == 37_590
    assert {r[2] for r in records} == {"commune", "deleguee", "associee", "arrondissement"}
    assert sum(1 for r in records if r[8] is None) == 10  # 8 communes + 2 delegated, no point
    assert all(r[3] is None for r in records if r[2] == "commune")
    assert all(r[11] for r in records)  # every row has a time zone


def test_fast_fold_agrees_with_text_fold_on_every_name() -> None:
    names = {r[1] for r in parse_records(gazetteer_index.packaged_data())}
    disagreements = [name for name in names if fold_name(name) != fold(name)]
    assert disagreements == []


def test_refuses_a_file_with_other_columns() -> None:
    with pytest.raises(ValueError, match="header"):
        parse_records(sample_csv(header=["code", "nom"]))
    with pytest.raises(ValueError, match="header"):
        parse_records(gzip.compress(b""))


# --- the cache -----------------------------------------------------------------------------


def test_cache_is_written_then_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMMUNEBOT_CACHE_DIR", str(tmp_path))
    data = sample_csv()
    built = load_index(data)
    files = list(tmp_path.glob("gazetteer-*.marshal"))
    assert len(files) == 1

    def no_build(records: object) -> None:
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(gazetteer_index, "build_index", no_build)
    assert load_index(data) == built


def test_corrupt_cache_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMMUNEBOT_CACHE_DIR", str(tmp_path))
    data = sample_csv()
    expected = load_index(data, use_cache=False)
    load_index(data)
    (cache,) = tmp_path.glob("gazetteer-*.marshal")
    cache.write_bytes(b"\x00garbage")
    assert load_index(data) == expected
    cache.write_bytes(b"")
    assert load_index(data) == expected


def test_other_data_gets_its_own_cache_and_old_ones_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMMUNEBOT_CACHE_DIR", str(tmp_path))
    load_index(sample_csv())
    (first,) = tmp_path.glob("gazetteer-*.marshal")
    index = load_index(sample_csv(SAMPLE_ROWS[:2]))
    (second,) = tmp_path.glob("gazetteer-*.marshal")
    assert first != second
    assert len(index["current"]) == 2


def test_unwritable_or_disabled_cache_still_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("COMMUNEBOT_CACHE_DIR", str(blocker / "cache"))
    assert len(load_index(sample_csv())["current"]) == 4
    monkeypatch.setenv("COMMUNEBOT_CACHE_DIR", "")
    assert len(load_index(sample_csv())["current"]) == 4
    assert list(tmp_path.glob("**/*.marshal")) == []


def test_load_from_cache_gives_every_current_commune() -> None:
    Gazetteer.load()  # make sure the cache exists
    assert len(Gazetteer.load()) == 34_969


def test_get_gazetteer_is_loaded_once() -> None:
    assert get_gazetteer() is get_gazetteer()


# --- a small gazetteer -----------------------------------------------------------------------


def test_gazetteer_from_given_rows() -> None:
    gazetteer = Gazetteer(build_index(parse_records(sample_csv())))
    assert [c.insee for c in gazetteer] == ["97415", "97407", "01033", "15031"]
    assert gazetteer.get("01033").name == "Valserhône"  # type: ignore[union-attr]
    assert gazetteer.resolve("bellegarde sur valserine")[0].commune.insee == "01033"
    assert gazetteer.resolve("belegarde sur valserine")[0].commune.insee == "01033"
    assert gazetteer.resolve("97460")[0].commune.insee == "97415"
    assert gazetteer.nearest(-21.0, 55.3).insee == "97415"  # type: ignore[union-attr]
    assert gazetteer.get("15031").point is None  # type: ignore[union-attr]
    again = Gazetteer.from_communes(list(gazetteer))
    assert [c.insee for c in again] == [c.insee for c in gazetteer]
    assert isinstance(again.get("97407"), Commune)


# --- names -----------------------------------------------------------------------------------


def test_name_keys() -> None:
    keys = keys_of_folded("l etang sale")
    assert (keys.full, keys.bare, keys.compact, keys.has_article) == (
        "l etang sale",
        "etang sale",
        "etangsale",
        True,
    )
    assert keys_of_folded("st pierre").full == "saint pierre"
    assert keys_of_folded("ste marie").full == "sainte marie"
    assert keys_of_folded("le").bare == "le"  # an article alone stays
    assert [k.bare for k in name_variants("Bors (Canton de Charente-Sud)")] == [
        "bors canton de charente sud",
        "bors",
    ]


def test_arrondissement_aliases() -> None:
    aliases = arrondissement_aliases("paris 11e arrondissement")
    assert {"paris 11", "paris 11e", "paris 11eme"} <= set(aliases)
    assert "marseille 1er" in arrondissement_aliases("marseille 1er arrondissement")
    assert arrondissement_aliases("saint paul") == []


def test_qualifier_readings() -> None:
    table = qualifier_table({"04": {"974"}, "44": {"57", "67", "68"}})
    readings = split_qualifiers(["saint", "louis", "a", "la", "reunion"], table)
    assert (["saint", "louis"], frozenset({"974"})) in [
        (name, q.departements) for name, q in readings
    ]
    grand_est = split_qualifiers(["saint", "louis", "grand", "est"], table)
    assert any(q.departements == {"57", "67", "68"} for _, q in grand_est)
    postcode = split_qualifiers(["97460", "saint", "paul"], table)
    assert [(name, q.postcode) for name, q in postcode] == [(["saint", "paul"], "97460")]
    assert split_qualifiers(["reunion"], table) == []  # a name is never empty


def test_strip_fillers() -> None:
    assert strip_fillers(["a", "saint", "paul"]) == ["saint", "paul"]
    assert strip_fillers(["la", "commune", "de", "cilaos"]) == ["cilaos"]
    assert strip_fillers(["a"]) == ["a"]
    assert strip_fillers(["le", "port"]) == ["le", "port"]


# --- typo narrowing ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def names() -> FuzzyNames:
    index = load_index()
    return FuzzyNames.from_state(index["fuzzy"])


def typo(rng: random.Random, key: str) -> str:
    i = rng.randrange(len(key))
    kind = rng.randrange(3)
    letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
    if kind == 0:
        return key[:i] + key[i + 1 :]
    if kind == 1:
        return key[:i] + letter + key[i + 1 :]
    return key[:i] + letter + key[i:]


def test_narrowing_keeps_every_single_typo_and_scores_few(names: FuzzyNames) -> None:
    rng = random.Random(8)
    keys = [k for k in names._keys if len(k) >= 5]
    total = len(names)
    sizes = []
    for _ in range(400):
        key = rng.choice(keys)
        query = typo(rng, key)
        if not query_end_size(query):
            continue
        candidates = names.narrowed(query, 75)
        assert key in candidates, (key, query)
        sizes.append(len(candidates))
    sizes.sort()
    assert sizes[len(sizes) // 2] < total / 50  # the median query scores under 2 % of names


def test_search_finds_what_a_full_scan_finds(names: FuzzyNames) -> None:
    rng = random.Random(3)
    for _ in range(150):
        query = typo(rng, rng.choice(names._keys))
        best = process.extractOne(query, names._keys, scorer=fuzz.ratio, score_cutoff=75)
        found = names.search(query, 75, 5)
        if best is None:
            assert found == []
        else:
            assert found and found[0][1] == pytest.approx(best[1])


def test_heads_skip_saint() -> None:
    assert head("saintmartin", 3) == "saint:mar"
    assert head("saintemarie", 2) == "sainte:ma"
    assert head("paris", 2) == "pa"
    assert head("saint", 2) == "sa"  # nothing after: plain head
    assert end_size(4) == 0 and end_size(5) == 2 and end_size(8) == 3 and end_size(20) == 4
    assert query_end_size("saintignat") == 2  # "ignat" follows "saint"
    assert query_end_size("saintlo") == 0
