"""Name-only search (no place): the whole of France, the exact name first, a category word
in the name that does not swallow the name's own words, typos. Both backends, small data;
``SELECTIVE_CAP`` is lowered so that "garage" is a *common* word here as it is at 1M."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from directory import search_names
from directory.db import open_store
from directory.search import SearchQuery, search
from directory.search_rank import name_order
from directory.services import NewEntry, add_entry

PARIS, LYON, MARSEILLE, SAINT_PAUL = "75056", "69123", "13055", "97415"
FILLER = ["Zorbu", "Kalimo", "Tesvan", "Morepi", "Dulase", "Vikoran", "Serpilo", "Nabuto"]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def names(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
    tuple[sessionmaker[Session], dict[str, int]]
]:
    """Garages with shared words, a reordered namesake, a bakery with the same words, one
    entry in La Réunion; name -> id."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('names') / 'names.db'}"
    else:
        url = request.getfixturevalue("pg_database_factory")("communebot_names")
    engine: Engine
    engine, factory = open_store(url)
    rows = [
        ("Garage Rimape Fapeko", "garage", PARIS),
        ("Garage Fapeko Rimape", "garage", LYON),
        ("Boulangerie Rimape Fapeko Nuvo", "boulangerie", MARSEILLE),
        ("Garage Rimape Tolu", "garage", MARSEILLE),
        ("Atelier Fapeko Sud", "garage", SAINT_PAUL),
        # inserted first, so the id alone would put them first
        ("Maison Kesu Kesu Kesu", "garage", LYON),
        ("Librairie Bubuk Maki Zonavodu", "garage", LYON),
        ("Maison Kesu Kesu", "garage", PARIS),
        ("Veterinaire Maki Zonavodu", "garage", PARIS),
        *((f"Garage {w} {FILLER[(i + 3) % len(FILLER)]}", "garage", PARIS) for i, w in enumerate(FILLER)),
    ]
    ids: dict[str, int] = {}
    with factory() as session, session.begin():
        for name, category, commune in rows:
            entry = add_entry(session, NewEntry(name, category, commune), force=True)
            ids[name] = entry.id
    try:
        yield factory, ids
    finally:
        engine.dispose()


@pytest.fixture(autouse=True)
def small_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    """"garage" (13 names) is common, "rimape"/"fapeko" (3-4 names) selective."""
    monkeypatch.setattr(search_names, "SELECTIVE_CAP", 5)


def names_found(factory: sessionmaker[Session], text: str, limit: int = 10) -> list[str]:
    with factory() as session:
        return [h.name for h in search(session, SearchQuery(text=text, limit=limit)).hits]


@pytest.mark.parametrize(("text", "first"), [
    ("Garage Rimape Fapeko", "Garage Rimape Fapeko"),
    ("garage fapeko rimape", "Garage Fapeko Rimape"),
    ("Rimape Fapeko", "Garage Rimape Fapeko"),
    ("Fapeko Rimape", "Garage Fapeko Rimape"),
])
def test_exact_name_in_order_comes_before_a_reordered_namesake(names, text: str, first: str) -> None:
    factory, _ = names
    found = names_found(factory, text)
    assert found[0] == first
    assert {"Garage Rimape Fapeko", "Garage Fapeko Rimape"} <= set(found[:5])


def test_the_category_word_in_a_name_does_not_swallow_its_own_words(names) -> None:
    factory, _ = names
    found = names_found(factory, "Garage Rimape Fapeko", limit=20)
    assert found[0] == "Garage Rimape Fapeko"
    # only names saying rimape or fapeko are ranked, not every garage
    assert all("Rimape" in n or "Fapeko" in n for n in found), found


def test_every_word_common_is_an_intersection(names, monkeypatch: pytest.MonkeyPatch) -> None:
    factory, _ = names
    monkeypatch.setattr(search_names, "SELECTIVE_CAP", 1)
    found = names_found(factory, "Garage Tolu")
    assert found[0] == "Garage Rimape Tolu"
    found = names_found(factory, "garage fapeko rimape")
    assert found[0] == "Garage Fapeko Rimape"


@pytest.mark.parametrize("text", ["Garaje Rimapr Fapekko", "Rimpae Fapkeo", "garrage rimape fapeko"])
def test_one_typo_per_word_still_finds_the_entry(names, text: str) -> None:
    factory, _ = names
    assert "Garage Rimape Fapeko" in names_found(factory, text)[:5]


def test_a_name_without_a_place_searches_all_of_france(names) -> None:
    factory, ids = names
    with factory() as session:
        hits = search(session, SearchQuery(text="fapeko", limit=10)).hits
    communes = {h.commune_insee for h in hits}
    assert {PARIS, LYON, MARSEILLE, SAINT_PAUL} <= communes
    assert all(h.distance_km is None for h in hits)
    assert ids["Atelier Fapeko Sud"] in {h.entry_id for h in hits}


@pytest.mark.parametrize(("words", "name", "expected"), [
    (["garage", "rimape", "fapeko"], "Garage Rimape Fapeko", 1.0),
    (["rimape", "fapeko"], "Garage Rimape Fapeko", 0.5 + 0.25 * 2 / 3),
    (["rimape", "fapeko"], "Librairie Bubuk Rimape Fapeko", 0.5 + 0.25 * 2 / 4),
    (["fapeko", "rimape"], "Garage Rimape Fapeko", 0.0),
    (["kesu", "kesu"], "Maison Kesu Kesu", 0.5 + 0.25 * 2 / 3),
    (["kesu", "kesu"], "Maison Kesu", 0.0),
    (["maison", "kesu", "kesu"], "Maison Kesu Kesu Kesu", 0.5 + 0.25 * 3 / 4),
])
def test_name_order_counts_repeats_and_the_share_of_the_name(
        words: list[str], name: str, expected: float) -> None:
    assert name_order(words, name) == pytest.approx(expected)


def test_a_repeated_word_is_part_of_the_exact_name(names) -> None:
    factory, _ = names
    assert names_found(factory, "Maison Kesu Kesu")[:2] == ["Maison Kesu Kesu", "Maison Kesu Kesu Kesu"]
    assert names_found(factory, "Maison Kesu Kesu Kesu")[0] == "Maison Kesu Kesu Kesu"


def test_words_that_make_more_of_a_name_rank_it_first(names) -> None:
    factory, _ = names
    assert names_found(factory, "Maki Zonavodu")[:2] == [
        "Veterinaire Maki Zonavodu", "Librairie Bubuk Maki Zonavodu"]


def test_split_words_reads_the_rare_and_looks_up_the_common(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_names, "SELECTIVE_CAP", 100)
    expansions = [
        {"garage": 1.0},  # common: looked up
        {"rimape": 1.0, "rimapo": 0.83, "rima": 0.8, "rimax": 0.8},  # its typo neighbours are common
        {"fapeko": 1.0, "fapeka": 0.83},  # rare
        {"zzz": 1.0},  # no rows at all
    ]
    counts = {"garage": 101, "rimape": 30, "rimapo": 20, "rima": 101, "rimax": 101,
              "fapeko": 5, "fapeka": 3}
    selective, common = search_names.split_words(expansions, counts)
    # rimape keeps its best three terms (rimape, rimapo and the first of the 0.8 ties),
    # still over the cap, so it is common; fapeko is read; zzz has nothing to read
    assert selective == ["fapeko", "fapeka"]
    assert common == [["garage"], ["rimape", "rimapo", "rima"]]


def test_split_words_keeps_a_word_whose_best_terms_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_names, "SELECTIVE_CAP", 100)
    expansions = [{"lura": 1.0, "lurami": 0.9, "luravu": 0.9, "lubira": 0.8}]
    counts = {"lura": 10, "lurami": 60, "luravu": 5, "lubira": 90}
    selective, common = search_names.split_words(expansions, counts)
    assert selective == ["lura", "lurami", "luravu"] and common == []


@pytest.mark.parametrize("names", [pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_the_look_up_is_never_prepared_on_postgresql(names) -> None:
    """psycopg prepares a statement run five times in a session, and PostgreSQL's generic
    plan for the look-up ignored the arrays (18-245 ms at 1M): it must stay unprepared."""
    factory, _ = names
    with factory() as session:
        assert session.connection().dialect.name == "postgresql"
        for _ in range(8):
            hits = search(session, SearchQuery(text="Garage Rimape Fapeko", limit=5)).hits
            assert hits[0].name == "Garage Rimape Fapeko"
        prepared = session.connection().exec_driver_sql(
            "SELECT statement FROM pg_prepared_statements").scalars().all()
    assert prepared, "nothing prepared at all: the check below would prove nothing"
    assert not any("= ANY(" in s and "FROM entry_terms" in s for s in prepared), prepared


def test_tied_candidates_past_a_full_page_are_read_up_to_the_cap(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """150 names tie on text: past the first page, at most NAME_READS entries are read."""
    from directory import search as search_module

    engine, factory = open_store(f"sqlite:///{tmp_path / 'ties.db'}")
    try:
        with factory() as session, session.begin():
            for n in range(150):
                add_entry(session, NewEntry(f"Garage Tolo {FILLER[n % 8]}{n}", "garage", PARIS),
                          force=True)
        read: list[int] = []
        real = search_module.hit_rows

        def counting(session: Session, ids):  # type: ignore[no-untyped-def]
            read.extend(ids)
            return real(session, ids)

        monkeypatch.setattr(search_module, "hit_rows", counting)
        monkeypatch.setattr(search_module, "NAME_READS", 100)
        assert len(names_found(factory, "Tolo", limit=5)) == 5
        assert len(read) == 100
    finally:
        engine.dispose()


def test_the_benchmark_runs_and_run_all_reads_its_table(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """bench_search_names at a tiny size, twice (the second reuses the database), and
    run_all.py's parser still finds p95 and top-5 beside the baseline in its lines."""
    import importlib.util
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, str(root / "benchmarks" / "bench_search_names.py"), "--sizes", "2000",
               "--queries", "10", "--baseline-queries", "2", "--workdir", str(tmp_path), "--reuse"]
    for _ in range(2):
        out = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True).stdout
    spec = importlib.util.spec_from_file_location("run_all", root / "benchmarks" / "run_all.py")
    assert spec is not None and spec.loader is not None
    run_all = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "run_all", run_all)  # its dataclasses look it up
    monkeypatch.syspath_prepend(str(root / "benchmarks"))
    spec.loader.exec_module(run_all)
    figures = run_all.parse_names(None, out)
    assert len(figures) == 6, out
    assert len(list(tmp_path.glob("names_2000_*.db"))) == 1
