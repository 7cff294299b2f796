"""Service layer: validation, duplicates, recommendations, memberships, follows, news.
Every test runs on SQLite and PostgreSQL (``store`` fixture)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.orm import Session

from directory.models import Citizen, Entry, EntryTerm, Recommendation
from directory.services import (
    DuplicateFound,
    InvalidEntry,
    NewEntry,
    add_entry,
    citizen_summary,
    find_duplicates,
    follow,
    join,
    recommend,
    validate_entry,
    whats_new,
)

SAINT_PAUL = "97415"  # La Réunion
ST_PAUL_POINT = (-21.03, 55.33)


def crèche(**overrides: object) -> NewEntry:
    values: dict[str, object] = {
        "name": "Crèche Ti Bouts (fictive)",
        "category": "creche",
        "commune_insee": SAINT_PAUL,
        "lat": ST_PAUL_POINT[0],
        "lon": ST_PAUL_POINT[1],
    }
    values.update(overrides)
    return NewEntry(**values)  # type: ignore[arg-type]


def count_entries(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Entry)) or 0


def citizen(session: Session, name: str = "Citoyenne") -> Citizen:
    person = Citizen(display_name=name)
    session.add(person)
    session.flush()
    return person


# --- validation (pure) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"name": ""}, "name", "empty"),
        ({"name": "   \t\n "}, "name", "empty"),
        ({"name": "\u200b\u200d\ufeff"}, "name", "empty"),
        ({"name": "!!! ???"}, "name", "empty"),
        ({"name": "x" * 10_000}, "name", "too_long"),
        ({"lat": 200.0}, "lat", "bad_latitude"),
        ({"lat": float("nan")}, "lat", "bad_latitude"),
        ({"lon": -181.0}, "lon", "bad_longitude"),
        ({"lon": None}, "lon", "half_point"),
        ({"lat": 48.85, "lon": 2.35}, "lat", "point_outside_commune"),
        ({"commune_insee": "99999"}, "commune_insee", "unknown_commune"),
        ({"commune_insee": "abc'; --"}, "commune_insee", "unknown_commune"),
        ({"commune_insee": ""}, "commune_insee", "empty"),
        ({"category": "licorne"}, "category", "unknown_category"),
        ({"kind": "spaceship"}, "kind", "unknown_kind"),
        ({"org_type": "cartel"}, "org_type", "unknown_org_type"),
        ({"status": "deleted"}, "status", "unknown_status"),
        ({"postcode": "974"}, "postcode", "bad_postcode"),
        ({"phone": "call me maybe"}, "phone", "bad_phone"),
        ({"website": "javascript:alert(1)"}, "website", "bad_url"),
        ({"email": "not-an-email"}, "email", "bad_email"),
        ({"stage": "someday"}, "stage", "unknown_stage"),
        ({"needs": ("love",)}, "needs", "unknown_need"),
        ({"description": "d" * 6000}, "description", "too_long"),
        (
            {"starts_at": datetime(2026, 12, 2, tzinfo=UTC), "ends_at": datetime(2026, 12, 1, tzinfo=UTC)},
            "ends_at",
            "ends_before_start",
        ),
    ],
)
def test_validate_entry_refuses_bad_input_with_a_field_and_a_stable_reason(
    overrides: dict[str, object], field: str, reason: str
) -> None:
    with pytest.raises(InvalidEntry) as info:
        validate_entry(crèche(**overrides))
    assert (info.value.field, info.value.reason) == (field, reason)


def test_validate_entry_cleans_what_no_one_can_see_and_keeps_the_rest() -> None:
    data = validate_entry(
        crèche(
            name="  Crè\u200bche\x00  Ti\tBouts\u202e ",
            website="example.org/creche",
            tags=("bébés", "bébés", " ", "jardin"),
            postcode="97460",
        )
    )
    assert data.name == "Crèche Ti Bouts"
    assert data.website == "https://example.org/creche"
    assert data.tags == ("bébés", "jardin")
    assert data.postcode == "97460"


def test_a_delegated_commune_is_filed_under_its_current_commune() -> None:
    data = validate_entry(crèche(commune_insee="01039", lat=None, lon=None))  # Béon -> 01138
    assert data.commune_insee == "01138"


def test_naive_event_dates_are_taken_as_utc() -> None:
    data = validate_entry(crèche(kind="event", starts_at=datetime(2026, 12, 1, 18, 0)))
    assert data.starts_at == datetime(2026, 12, 1, 18, 0, tzinfo=UTC)


# --- add / duplicates ---------------------------------------------------------------------


def test_add_entry_writes_the_entry_and_its_search_terms(store) -> None:
    _, factory = store
    with factory() as session, session.begin():
        author = citizen(session)
        entry = add_entry(session, crèche(), by=author)
        assert entry.id is not None
        assert entry.name_folded == "creche ti bouts fictive"
        assert entry.created_by_id == author.id
        terms = set(session.scalars(select(EntryTerm.term).where(EntryTerm.entry_id == entry.id)))
    assert {"creche", "ti", "bouts", "fictive", "@c:creche", "@k:organization"} == terms


def test_sql_like_text_is_stored_verbatim_and_harms_nothing(store) -> None:
    engine, factory = store
    name = "Robert'); DROP TABLE entries;-- \" OR 1=1"
    with factory() as session, session.begin():
        entry = add_entry(session, crèche(name=name, description="'; DELETE FROM citizens; --"))
        entry_id = entry.id
    with factory() as session:
        stored = session.get(Entry, entry_id)
        assert stored is not None and stored.name == name
        assert count_entries(session) == 1
    assert "entries" in inspect(engine).get_table_names()


def test_duplicates_are_proposed_instead_of_added(store) -> None:
    _, factory = store
    with factory() as session, session.begin():
        first = add_entry(session, crèche(name="Crèche Ti Bouts"))
        with pytest.raises(DuplicateFound) as info:
            add_entry(session, crèche(name="creche ti-bout"))
        assert [e.id for e in info.value.candidates] == [first.id]
        assert count_entries(session) == 1
        # not a duplicate: other category, other commune, or a different name
        add_entry(session, crèche(name="Crèche Ti Bouts", category="ecole"))
        add_entry(session, crèche(name="Crèche Ti Bouts", commune_insee="97416", lat=None, lon=None))
        add_entry(session, crèche(name="Crèche Les Papangues"))
        forced = add_entry(session, crèche(name="Crèche Ti Bouts"), force=True)
        assert forced.id != first.id
        assert len(find_duplicates(session, "CRECHE TI BOUTS", SAINT_PAUL, "creche")) == 2
        assert find_duplicates(session, "Crèche Ti Bouts", SAINT_PAUL, None)


def test_invalid_entries_write_nothing(store) -> None:
    _, factory = store
    with factory() as session, session.begin():
        for bad in (crèche(name="x" * 10_000), crèche(lat=200.0), crèche(commune_insee="00000")):
            with pytest.raises(InvalidEntry):
                add_entry(session, bad)
        assert count_entries(session) == 0
        assert session.scalar(select(func.count()).select_from(EntryTerm)) == 0


# --- recommend / join / follow ------------------------------------------------------------


def test_recommend_is_idempotent_and_keeps_the_count(store) -> None:
    _, factory = store
    with factory() as session, session.begin():
        alice, bob = citizen(session, "Alice"), citizen(session, "Bob")
        entry = add_entry(session, crèche())
        rec, created = recommend(session, alice, entry, "Très bien")
        assert created and entry.recommendation_count == 1
        again, created_again = recommend(session, alice, entry, "Super\u200b accueil")
        assert not created_again and again.id == rec.id
        assert again.comment == "Super accueil"
        kept, _ = recommend(session, alice, entry)  # no comment given: the old one stays
        assert kept.comment == "Super accueil"
        recommend(session, bob, entry)
        assert entry.recommendation_count == 2
        assert session.scalar(select(func.count()).select_from(Recommendation)) == 2
        with pytest.raises(InvalidEntry) as info:
            recommend(session, bob, entry, "c" * 2000)
        assert info.value.reason == "too_long"


def test_hidden_entries_cannot_be_recommended(store) -> None:
    _, factory = store
    with factory() as session, session.begin():
        entry = add_entry(session, crèche(status="hidden"))
        with pytest.raises(InvalidEntry) as info:
            recommend(session, citizen(session), entry)
        assert info.value.reason == "not_active"


def test_join_organizations_and_follow_projects(store) -> None:
    _, factory = store
    with factory() as session, session.begin():
        person = citizen(session)
        club = add_entry(session, crèche(name="Club de foot Papangue", category="club-sportif"))
        garden = add_entry(
            session,
            crèche(name="Jardin partagé Lontan", category="jardin-partage", kind="project",
                   stage="started", needs=("volunteers",)),
        )
        assert join(session, person, club) is True
        assert join(session, person, club, role="trésorière") is False
        assert follow(session, person, garden) is True
        assert follow(session, person, garden) is False
        with pytest.raises(InvalidEntry, match="not_an_organization"):
            join(session, person, garden)
        assert follow(session, person, club) is True  # an organisation's next events
        fair = add_entry(session, crèche(name="Vide-grenier du Port", category="vide-grenier",
                                          kind="event", starts_at=datetime(2026, 12, 5, 6, tzinfo=UTC)))
        with pytest.raises(InvalidEntry, match="not_followable"):
            follow(session, person, fair)
        mine = add_entry(
            session,
            crèche(name="Repair café Zembrocal", category="repair-cafe", kind="project"),
            by=person,
        )
        recommend(session, person, club, "Ambiance top")
        summary = citizen_summary(session, person)
        assert [(e.id, c) for e, c in summary.recommended] == [(club.id, "Ambiance top")]
        assert [(e.id, r) for e, r in summary.memberships] == [(club.id, "trésorière")]
        assert {e.id for e in summary.projects} == {garden.id, mine.id}


def test_whats_new_lists_active_entries_created_since(store) -> None:
    _, factory = store
    since = datetime.now(UTC)
    with factory() as session, session.begin():
        old = add_entry(session, crèche(name="Crèche Ancienne"))
        old.created_at = since - timedelta(days=2)
        fresh = add_entry(session, crèche(name="Garage Zembrocal", category="garage"))
        add_entry(session, crèche(name="Crèche cachée", status="hidden"))
        add_entry(session, crèche(name="Crèche de Saint-Pierre", commune_insee="97416", lat=None, lon=None))
    with factory() as session:
        assert [e.id for e in whats_new(session, SAINT_PAUL, since - timedelta(seconds=1))] == [fresh.id]
        naive = (since - timedelta(seconds=1)).replace(tzinfo=None)
        assert [e.id for e in whats_new(session, SAINT_PAUL, naive)] == [fresh.id]
        assert whats_new(session, SAINT_PAUL, datetime.now(UTC) + timedelta(minutes=1)) == []


def test_an_update_through_the_orm_reindexes_the_entry(store) -> None:
    _, factory = store
    with factory() as session, session.begin():
        entry = add_entry(session, crèche())
        entry.name = "Micro-crèche Vacoa"
        entry.name_folded = "micro creche vacoa"
    with factory() as session:
        terms = set(session.scalars(select(EntryTerm.term).where(EntryTerm.entry_id == entry.id)))
        assert {"micro", "creche", "vacoa"} <= terms and "bouts" not in terms
    with factory() as session, session.begin():
        session.delete(session.get(Entry, entry.id))
    with factory() as session:
        left = session.execute(text("SELECT count(*) FROM entry_terms")).scalar()
        assert left == 0
