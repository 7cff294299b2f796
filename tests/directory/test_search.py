"""Search: ranking, synonyms, typos, distance, pagination, bad queries, index use.
Runs on SQLite and PostgreSQL over the shipped sample directory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, event, update
from sqlalchemy.orm import Session, sessionmaker

from bot.cli import main as cli
from directory.db import open_store
from directory.gazetteer import get_gazetteer
from directory.models import Citizen, Entry
from directory.sample import load_sample
from directory.search import InvalidQuery, SearchPage, SearchQuery, haversine_km, search
from directory.search_rank import categories_in_text, proximity, reco_weight, word_similarity
from directory.services import NewEntry, add_entry, recommend

PG_ENV = "COMMUNEBOT_TEST_PG_URL"
SAINT_PAUL = "97415"
SAINT_PIERRE = "97416"


@pytest.fixture
def sample_store(store) -> tuple[Engine, sessionmaker[Session]]:
    """A fresh store with the sample, for tests that change it."""
    engine, factory = store
    with factory() as session, session.begin():
        load_sample(session)
    return engine, factory


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def shared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
    tuple[Engine, sessionmaker[Session], str]
]:
    """One read-only sample store per backend for the whole module (keeps the suite fast).
    PostgreSQL gets its own throw-away database, dropped at the end of the session."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('search') / 'sample.db'}"
    else:
        url = request.getfixturevalue("pg_database_factory")("communebot_search")
    engine, factory = open_store(url)
    with factory() as session, session.begin():
        load_sample(session)
    try:
        yield engine, factory, url
    finally:
        engine.dispose()


def run(factory: sessionmaker[Session], **kwargs: Any) -> SearchPage:
    with factory() as session:
        return search(session, SearchQuery(**kwargs))


def names(page: SearchPage) -> list[str]:
    return [h.name for h in page.hits]


# --- pure parts -----------------------------------------------------------------------------


def test_word_similarity_exact_prefix_typo_and_nothing() -> None:
    assert word_similarity("creche", "creche") == 1.0
    assert word_similarity("boul", "boulangerie") == 0.9
    assert 0.8 <= word_similarity("boulangrie", "boulangerie") < 1.0
    assert word_similarity("garage", "theatre") == 0.0


def test_ranking_parts_are_bounded_and_monotonic() -> None:
    assert proximity(0) == 1.0 and proximity(2) == 0.5 and proximity(None) == 0.0
    assert proximity(1) > proximity(5) > proximity(50)
    assert reco_weight(0) == 0.0 < reco_weight(1) < reco_weight(10) < reco_weight(50) == 1.0
    assert reco_weight(5000) == 1.0


def test_text_that_names_a_category_is_recognised() -> None:
    assert "creche" in categories_in_text(["creche"])
    assert "assistante-maternelle" in categories_in_text(["nounou"])
    assert "garage" in categories_in_text(["garagiste"])
    assert "creche" in categories_in_text(["daycare"])
    assert "ecole-musique" in categories_in_text(["ecole", "musique"])
    assert categories_in_text(["zembrocal"]) == {}


# --- queries ------------------------------------------------------------------------------


def test_a_category_word_finds_that_category_near_the_commune(shared) -> None:
    _, factory, _ = shared
    page = run(factory, text="crèche", commune=SAINT_PAUL, limit=20)
    assert page.hits
    commune = get_gazetteer().current(SAINT_PAUL)
    assert commune is not None and commune.point is not None
    centre = commune.point
    for hit in page.hits:
        assert hit.category == "creche" or "creche" in hit.name.lower().replace("è", "e")
        assert hit.distance_km is not None and hit.distance_km <= 15.0
        assert hit.lat is not None and hit.lon is not None
        assert hit.distance_km == pytest.approx(haversine_km(centre, (hit.lat, hit.lon)), abs=0.01)
    scores = [h.score for h in page.hits]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("nounou", "assistante-maternelle"),
        ("garagiste", "garage"),
        ("mécano", "garage"),
        ("daycare", "creche"),
        ("CRECHE", "creche"),
        ("boulangrie", "boulangerie"),  # typo
        ("pharmacies", "pharmacie"),  # plural
    ],
)
def test_synonyms_typos_accents_and_case(shared, text: str, category: str) -> None:
    _, factory, _ = shared
    page = run(factory, text=text, commune=SAINT_PIERRE, radius_km=40)
    assert page.hits, text
    assert page.hits[0].category == category


def test_a_name_word_with_a_typo_finds_the_entry(shared) -> None:
    _, factory, _ = shared
    with factory() as session:
        target = session.query(Entry).filter(Entry.source_id == "97415-00").one()
    word = target.name.split()[1]  # e.g. "Zembrocal"
    misspelt = word[:3] + word[4:] if len(word) > 5 else word
    page = run(factory, text=misspelt, commune=SAINT_PAUL, limit=50)
    assert target.id in [h.entry_id for h in page.hits]


def test_radius_limits_and_a_point_ranks_by_distance(shared) -> None:
    _, factory, _ = shared
    point = (-21.3, 55.5)  # near Saint-Pierre
    near = run(factory, category="boulangerie", point=point, radius_km=8, limit=50)
    wide = run(factory, category="boulangerie", point=point, radius_km=80, limit=50)
    assert all(h.distance_km is not None and h.distance_km <= 8 for h in near.hits)
    assert {h.entry_id for h in near.hits} < {h.entry_id for h in wide.hits}
    distances = [h.distance_km or 0.0 for h in wide.hits]
    assert distances == sorted(distances)  # same text and recommendations: distance decides


def test_recommendations_lift_an_entry(sample_store) -> None:
    _, factory = sample_store
    before = run(factory, category="restaurant", commune=SAINT_PAUL, radius_km=30, limit=50)
    assert len(before.hits) >= 2
    last = before.hits[-1]
    with factory() as session, session.begin():
        entry = session.get(Entry, last.entry_id)
        assert entry is not None
        for n in range(30):
            person = Citizen(display_name=f"p{n}")
            session.add(person)
            session.flush()
            recommend(session, person, entry)
    after = run(factory, category="restaurant", commune=SAINT_PAUL, radius_km=30, limit=50)
    moved = next(h for h in after.hits if h.entry_id == last.entry_id)
    assert moved.recommendations == 30
    assert after.hits.index(moved) < len(before.hits) - 1


def test_same_commune_is_preferred_at_equal_distance(store) -> None:
    _, factory = store
    # two garages equally far from a point on the Saint-Paul / Trois-Bassins side
    with factory() as session, session.begin():
        here = add_entry(session, NewEntry("Garage Alpha", "garage", SAINT_PAUL, lat=-21.08, lon=55.33))
        there = add_entry(session, NewEntry("Garage Alpha", "garage", "97423", lat=-21.08, lon=55.33))
    page = run(factory, text="garage", commune=SAINT_PAUL, point=(-21.08, 55.33))
    assert [h.entry_id for h in page.hits[:2]] == [here.id, there.id]


def test_kinds_filter_and_hidden_entries_are_never_found(sample_store) -> None:
    _, factory = sample_store
    events = run(factory, commune=SAINT_PAUL, kinds=("event",), radius_km=60, limit=100)
    assert events.hits and all(h.kind == "event" for h in events.hits)
    hidden_id = events.hits[0].entry_id
    with factory() as session, session.begin():
        session.execute(update(Entry).where(Entry.id == hidden_id).values(status="hidden"))
    again = run(factory, commune=SAINT_PAUL, kinds=("event",), radius_km=60, limit=100)
    assert hidden_id not in [h.entry_id for h in again.hits]


def test_everything_near_me_without_text(shared) -> None:
    _, factory, _ = shared
    page = run(factory, point=(-20.94, 55.44), limit=5)  # Saint-Denis
    assert len(page.hits) == 5
    assert all(h.distance_km is not None and h.distance_km <= 15 for h in page.hits)


def test_pages_cover_everything_once_in_order(shared) -> None:
    _, factory, _ = shared
    base = SearchQuery(commune=SAINT_PIERRE, radius_km=25, limit=7)
    full = run(factory, commune=SAINT_PIERRE, radius_km=25, limit=100)
    seen: list[int] = []
    query = base
    with factory() as session:
        for _ in range(100):
            page = search(session, query)
            seen += [h.entry_id for h in page.hits]
            if page.next_cursor is None:
                break
            query = replace(base, cursor=page.next_cursor)
    assert len(full.hits) > 7 * 2
    assert seen[: len(full.hits)] == [h.entry_id for h in full.hits]
    assert len(seen) == len(set(seen))
    assert (len(seen) > len(full.hits)) == (full.next_cursor is not None)


def test_a_cursor_belongs_to_its_query(shared) -> None:
    _, factory, _ = shared
    first = run(factory, text="crèche", commune=SAINT_PAUL, limit=1, radius_km=50)
    assert first.next_cursor
    with pytest.raises(InvalidQuery) as info:
        run(factory, text="garage", commune=SAINT_PAUL, limit=1, cursor=first.next_cursor)
    assert info.value.reason == "bad_cursor"
    for garbage in ("%%%", "abc", "eyJmIjoxfQ", "x" * 500):
        with pytest.raises(InvalidQuery):
            run(factory, text="crèche", commune=SAINT_PAUL, cursor=garbage)


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"point": (200.0, 55.0)}, "bad_latitude"),
        ({"point": (-21.0, 999.0)}, "bad_longitude"),
        ({"commune": "99999"}, "unknown_commune"),
        ({"commune": "97415", "radius_km": -1.0}, "bad_radius"),
        ({"commune": "97415", "limit": 0}, "bad_limit"),
        ({"commune": "97415", "kinds": ("ufo",)}, "unknown_kind"),
        ({"text": "x" * 10_000}, "too_long"),
        ({"category": "licorne", "commune": "97415"}, "unknown_category"),
    ],
)
def test_bad_queries_are_refused_clearly(shared, kwargs: dict[str, Any], reason: str) -> None:
    _, factory, _ = shared
    with pytest.raises(InvalidQuery) as info:
        run(factory, **kwargs)
    assert info.value.reason == reason


@pytest.mark.parametrize(
    "text", ["'; DROP TABLE entries; --", "\u200b\u200b", "%_%", "\x00\x01", "   ", "🙂🙂"]
)
def test_odd_text_is_harmless(shared, text: str) -> None:
    _, factory, _ = shared
    page = run(factory, text=text, commune=SAINT_PAUL)
    assert isinstance(page.hits, list)
    assert run(factory, text="crèche", commune=SAINT_PAUL).hits  # the table is still there


# --- the index does the narrowing ---------------------------------------------------------


@pytest.fixture
def captured_sql(shared) -> Iterator[list[tuple[str, Any]]]:
    engine, _, _ = shared
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    yield statements
    event.remove(engine, "before_cursor_execute", capture)


def test_candidates_come_from_the_term_index_not_a_scan(shared, captured_sql) -> None:
    engine, factory, _ = shared
    run(factory, text="crèche", commune=SAINT_PAUL)
    run(factory, category="garage", point=(-21.3, 55.5))
    term_queries = [(s, p) for s, p in captured_sql if "FROM entry_terms" in s]
    assert len(term_queries) >= 2  # the category query may read growing rings
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if not sqlite:  # tiny tables are cheapest to scan: ask whether the index *can* serve
            conn.exec_driver_sql("SET enable_seqscan = off")
        for statement, params in term_queries:
            explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
            plan = " | ".join(str(row[-1]) for row in conn.exec_driver_sql(explain + statement, params))
            assert "ix_entry_terms_term_geo" in plan, plan
            assert ("SCAN entry_terms" if sqlite else "Seq Scan on entry_terms") not in plan, plan
    entry_reads = [s for s, _ in captured_sql if "FROM entries" in s]
    # by id: a list of ids, or one array of them on PostgreSQL
    assert entry_reads and all(
        "entries.id IN" in s or "entries.id = ANY(" in s for s in entry_reads)


def test_far_away_entries_are_never_read(store) -> None:
    engine, factory = store
    with factory() as session, session.begin():
        for n in range(40):  # Paris crèches
            paris = NewEntry(f"Crèche Paris {n}", "creche", "75056", lat=48.86, lon=2.34 + n / 1000)
            add_entry(session, paris, force=True)
        local = add_entry(session, NewEntry("Crèche Ti Bouts", "creche", SAINT_PAUL, lat=-21.03, lon=55.33))
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if "FROM entry_terms" in statement:
            captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with factory() as session:
            page = search(session, SearchQuery(text="crèche", commune=SAINT_PAUL))
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert [h.entry_id for h in page.hits] == [local.id]
    # what the database handed to Python: only the neighbourhood's index rows
    (statement, params), = captured
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(statement, params).all()
    assert rows and {row[0] for row in rows} == {local.id}


# --- the command line ---------------------------------------------------------------------


def test_cli_search_json_contract(shared) -> None:
    db_url = shared[2]
    runner = CliRunner()
    result = runner.invoke(cli, ["search", "crèche", "--near", SAINT_PAUL, "--db", db_url, "--json"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    assert hits and {"id", "name", "category", "commune", "distance_km", "recommendations"} <= set(hits[0])
    assert hits[0]["category"] == "creche"
    at = runner.invoke(cli, ["search", "pharmacie", "--at", "-21.3", "55.5", "--radius", "5",
                             "--limit", "2", "--db", db_url, "--json"])
    found = json.loads(at.output)
    assert at.exit_code == (0 if found else 1), at.output  # nothing found: 1, as grep does
    assert len(found) <= 2
    bad = runner.invoke(cli, ["search", "x", "--at", "200", "3", "--db", db_url, "--lang", "fr"])
    assert bad.exit_code != 0 and "latitude invalide" in bad.output
    unknown = runner.invoke(cli, ["search", "x", "--near", "Zzyzx-sur-Mer", "--db", db_url, "--lang", "en"])
    assert unknown.exit_code != 0 and "Unknown commune" in unknown.output


def _oracle(session: Session, centre: tuple[float, float], radius: float, category: str | None,
            members: set[str]) -> list[int]:
    """The ranking written the naive way, over every entry (what the index must reproduce)."""
    ranked = []
    for entry in session.query(Entry).filter(Entry.status == "active"):
        if category and entry.category != category:
            continue
        assert entry.lat is not None and entry.lon is not None
        distance = haversine_km(centre, (entry.lat, entry.lon))
        if distance > radius:
            continue
        score = round(0.55 + 0.30 * proximity(distance) + 0.10 * reco_weight(entry.recommendation_count)
                      + 0.05 * (entry.commune_insee in members), 9)
        ranked.append((-score, entry.id))
    return [entry_id for _, entry_id in sorted(ranked)]


@pytest.mark.parametrize(
    ("point", "radius", "category", "limit"),
    [
        ((-21.0, 55.35), 15.0, None, 5),
        ((-21.0, 55.35), 40.0, None, 12),
        ((-21.3, 55.5), 60.0, "restaurant", 3),
        ((48.86, 2.34), 15.0, None, 4),
    ],
)
def test_rings_and_bounds_return_exactly_the_naive_ranking(
    shared, point: tuple[float, float], radius: float, category: str | None, limit: int
) -> None:
    _, factory, _ = shared
    with factory() as session:
        expected = _oracle(session, point, radius, category, set())
        query = SearchQuery(point=point, radius_km=radius, category=category, limit=limit)
        got: list[int] = []
        for _ in range(200):
            page = search(session, query)
            got += [h.entry_id for h in page.hits]
            if page.next_cursor is None:
                break
            query = replace(query, cursor=page.next_cursor)
    assert expected and got == expected
