"""The citizen's data, both backends: exported whole, withdrawn with counts kept right
(even by two withdrawals at once), erased down to the bytes of the SQLite files, and two
platforms' accounts linked with a one-time code (wrong, expired and replayed codes
refused, five wrong ones then a pause)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select, text

from directory import privacy
from directory.db import open_store
from directory.digests import Subscriber, subscribe
from directory.models import Account, Citizen, Entry, OutboxMessage, Recommendation, Report
from directory.services import NewEntry, add_entry, follow, join, recommend

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
NAME = "Zébulon Quintessence"
ACCOUNT_ID = "987654321"
COMMENT = "Accueil chaleureux, merci Josiane"
DETAILS = "le numéro est celui de ma voisine"


def citizen(session: Any, name: str, platform: str = "telegram", user: str | None = None) -> Citizen:
    row = Citizen(display_name=name, home_insee="97415")
    session.add(row)
    session.flush()
    session.add(Account(citizen_id=row.id, platform=platform, platform_user_id=user or name,
                        display_name=name))
    session.flush()
    return row


def entry(session: Any, name: str, **kw: Any) -> Entry:
    return add_entry(session, NewEntry(name=name, category=kw.pop("category", "association"),
                                       commune_insee="97415", **kw), force=True)


def busy_citizen(session: Any) -> tuple[Citizen, dict[str, int]]:
    """Someone who did a bit of everything."""
    me = citizen(session, NAME, user=ACCOUNT_ID)
    other = citizen(session, "Autre")
    club = entry(session, "Club Papangue")
    garden = entry(session, "Jardin Lontan", category="jardin-partage", kind="project")
    snack = entry(session, "Snack Ti Kaz", category="snack")
    mine = add_entry(session, NewEntry(name="Repair café Zembrocal", category="repair-cafe",
                                       commune_insee="97415"), by=me)
    recommend(session, me, club, COMMENT)
    recommend(session, other, club)
    join(session, me, club, role="trésorière")
    follow(session, me, garden)
    session.add(Report(entry_id=snack.id, citizen_id=me.id, reason="wrong", details=DETAILS, created_at=NOW))
    session.add(OutboxMessage(platform="telegram", chat_id=f"user:{ACCOUNT_ID}", payload={"text": NAME}))
    subscribe(session, Subscriber(citizen_id=me.id), frequency="weekly", communes=["97415"], now=NOW)
    session.flush()
    return me, {"club": club.id, "garden": garden.id, "snack": snack.id, "mine": mine.id}


def test_mydata_holds_everything_the_citizen_did(store: Any) -> None:
    _engine, factory = store
    with factory() as session, session.begin():
        me, _ids = busy_citizen(session)
        data = privacy.export(session, me)
    assert data["citizen"]["display_name"] == NAME
    assert data["accounts"] == [{"platform": "telegram", "id": ACCOUNT_ID, "display_name": NAME,
                                 "created_at": data["accounts"][0]["created_at"]}]
    assert [(r["entry"], r["comment"]) for r in data["recommendations"]] == [("Club Papangue", COMMENT)]
    assert [(m["entry"], m["role"]) for m in data["memberships"]] == [("Club Papangue", "trésorière")]
    assert [f["entry"] for f in data["follows"]] == ["Jardin Lontan"]
    assert data["digest"]["frequency"] == "weekly" and data["digest"]["communes"] == ["97415"]
    assert [e["name"] for e in data["entries_created"]] == ["Repair café Zembrocal"]
    assert [(r["reason"], r["details"]) for r in data["reports"]] == [("wrong", DETAILS)]


def test_withdrawing_keeps_the_counts_right(store: Any) -> None:
    _engine, factory = store
    with factory() as session, session.begin():
        me, ids = busy_citizen(session)
        assert privacy.withdraw_recommendation(session, me, ids["club"]) is True
        assert privacy.withdraw_recommendation(session, me, ids["club"]) is False
        assert session.get(Entry, ids["club"]).recommendation_count == 1
        assert privacy.leave(session, me, ids["club"]) and privacy.unfollow(session, me, ids["garden"])
        other = session.scalars(select(Citizen).where(Citizen.display_name == "Autre")).one()
        mine = session.get(Entry, ids["mine"])
        recommend(session, other, mine)
        assert privacy.delete_own(session, me, mine) is False  # someone relies on it now
        privacy.withdraw_recommendation(session, other, ids["mine"])
        assert privacy.delete_own(session, me, session.get(Entry, ids["mine"])) is True


def test_two_withdrawals_at_once_count_once(store: Any) -> None:
    _engine, factory = store
    with factory() as session, session.begin():
        me, ids = busy_citizen(session)
        me_id = me.id
    errors: list[BaseException] = []

    def withdraw() -> None:
        try:
            with factory() as session, session.begin():
                privacy.withdraw_recommendation(session, session.get(Citizen, me_id), ids["club"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=withdraw) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with factory() as session:
        assert session.get(Entry, ids["club"]).recommendation_count == 1


def _dump(engine: Any) -> str:
    """Every row of every table, as text."""
    parts = []
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                parts.append(repr(tuple(row)))
    return "\n".join(parts)


def test_forget_leaves_nothing_in_any_table(store: Any) -> None:
    engine, factory = store
    with factory() as session, session.begin():
        me, ids = busy_citizen(session)
    assert NAME in _dump(engine) and COMMENT in _dump(engine)  # the test sees what it looks for
    with factory() as session, session.begin():
        me = session.scalars(select(Citizen).where(Citizen.display_name == NAME)).one()
        privacy.forget(session, me)
    dump = _dump(engine)
    for secret in (NAME, ACCOUNT_ID, COMMENT, DETAILS):
        assert secret not in dump, secret
    with factory() as session:
        assert session.get(Entry, ids["club"]).recommendation_count == 1  # the other's stays
        mine = session.get(Entry, ids["mine"])
        assert mine is not None and mine.created_by_id is None  # public, no longer theirs


def test_forget_leaves_no_byte_in_the_sqlite_files(tmp_path: Path) -> None:
    path = tmp_path / "forget.db"
    engine, factory = open_store(f"sqlite:///{path}")
    with factory() as session, session.begin():
        busy_citizen(session)
    with engine.connect() as conn:  # what a busy server's checkpoints would have done
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    before = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert COMMENT.encode() in before  # the test can see what it looks for
    with factory() as session, session.begin():
        me = session.scalars(select(Citizen).where(Citizen.display_name == NAME)).one()
        privacy.forget(session, me)
    engine.dispose()
    after = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for secret in (NAME, ACCOUNT_ID, COMMENT, DETAILS):
        assert secret.encode() not in after, secret


def test_linking_two_accounts_makes_one_citizen_counted_once(store: Any) -> None:
    _engine, factory = store
    with factory() as session, session.begin():
        tg = citizen(session, "ana-tg", "telegram", "111")
        mx = citizen(session, "ana-mx", "matrix", "@ana:example.org")
        club, snack = entry(session, "Club Papangue"), entry(session, "Snack Ti Kaz", category="snack")
        recommend(session, tg, club)
        recommend(session, mx, club)  # both accounts recommended it: it will count once
        recommend(session, mx, snack)
        join(session, tg, club)
        join(session, mx, club)
        code = privacy.new_link_code(session, tg, NOW)
        matrix_account = session.scalars(select(Account).where(Account.platform == "matrix")).one()
        kept = privacy.redeem_link_code(session, matrix_account, code, NOW + timedelta(minutes=3))
        assert kept.id == tg.id
        accounts = session.scalars(select(Account).where(Account.citizen_id == tg.id))
        assert sorted(a.platform for a in accounts) == ["matrix", "telegram"]
        assert session.get(Entry, club.id).recommendation_count == 1
        assert session.get(Entry, snack.id).recommendation_count == 1
        theirs = session.scalars(select(Recommendation).where(Recommendation.citizen_id == tg.id)).all()
        assert len(theirs) == 2
        with pytest.raises(privacy.LinkRefused) as replayed:
            privacy.redeem_link_code(session, matrix_account, code, NOW + timedelta(minutes=4))
        assert replayed.value.reason == "wrong"  # used once


def test_wrong_and_expired_codes_and_the_pause(store: Any) -> None:
    _engine, factory = store
    with factory() as session, session.begin():
        tg = citizen(session, "ben-tg", "telegram", "222")
        mx = citizen(session, "ben-mx", "matrix", "@ben:example.org")
        account = session.scalars(select(Account).where(Account.citizen_id == mx.id)).one()
        code = privacy.new_link_code(session, tg, NOW)
        with pytest.raises(privacy.LinkRefused):
            privacy.redeem_link_code(session, account, code, NOW + timedelta(minutes=11))  # expired
        code = privacy.new_link_code(session, tg, NOW)
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(4):
            with pytest.raises(privacy.LinkRefused) as refused:
                privacy.redeem_link_code(session, account, wrong, NOW)
            assert refused.value.reason == "wrong"
        with pytest.raises(privacy.LinkRefused) as paused:
            privacy.redeem_link_code(session, account, code, NOW)  # the right one, but paused now
        assert paused.value.reason == "paused" and paused.value.wait is not None
        later = NOW + timedelta(minutes=16)
        code = privacy.new_link_code(session, tg, later)
        assert privacy.redeem_link_code(session, account, code, later).id == tg.id
