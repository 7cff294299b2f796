"""Moderation in the store, both backends: merge moves people over and counts each once,
hide/restore/delete/verify/edit, bans hide pending content, grants, reports told once an
hour, statistics; an audit row for every action."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from directory import moderation
from directory.models import Account, AuditEntry, Citizen, Entry, Follow, Membership, Recommendation
from directory.services import InvalidEntry, NewEntry, add_entry, follow, join, recommend

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
BOSS = "console:boss"


def person(session: Any, name: str, home: str = "97415") -> Citizen:
    row = Citizen(display_name=name, home_insee=home)
    session.add(row)
    session.flush()
    session.add(Account(citizen_id=row.id, platform="telegram", platform_user_id=name))
    session.flush()
    return row


def entry(session: Any, name: str, **kw: Any) -> Entry:
    return add_entry(session, NewEntry(name=name, category=kw.pop("category", "theatre"),
                                       commune_insee=kw.pop("commune", "97415"), **kw), force=True)


def actions(session: Any) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_merge_moves_everyone_over_and_counts_each_citizen_once(store: Any) -> None:
    _engine, factory = store
    with factory() as session, session.begin():
        keep, drop = entry(session, "Troupe Lontan"), entry(session, "Troupe Lontan (doublon)")
        ana, ben, cam = person(session, "ana"), person(session, "ben"), person(session, "cam")
        for who in (ana, ben):
            recommend(session, who, keep)
        for who in (ben, cam):  # ben recommended both: counted once after the merge
            recommend(session, who, drop)
        join(session, ana, drop)
        join(session, ana, keep)
        join(session, cam, drop)
        follow(session, cam, drop)
        fair = entry(session, "Kabar", category="concert", kind="event", organizer_id=drop.id,
                     starts_at=NOW + timedelta(days=3))
        moved = moderation.merge(session, keep, drop, BOSS, NOW)
        assert (moved.recommendations, moved.memberships, moved.follows, moved.events) == (1, 1, 1, 1)
        assert keep.recommendation_count == 3
        assert session.scalar(select(func.count()).select_from(Recommendation)) == 3
        assert session.scalar(select(func.count()).select_from(Membership)) == 2
        assert session.scalar(select(func.count()).select_from(Follow).where(Follow.entry_id == keep.id)) == 1
        assert session.get(Entry, drop.id) is None and fair.organizer_id == keep.id
        assert actions(session) == ["merge"]
        with pytest.raises(moderation.ModerationError):
            moderation.merge(session, keep, keep, BOSS, NOW)


def test_hide_restore_verify_edit_delete_each_write_their_audit_row(store: Any) -> None:
    _engine, factory = store
    with factory() as session, session.begin():
        item = entry(session, "Garage Zot", category="garage")
        assert moderation.hide(session, item, BOSS, NOW) is True
        assert moderation.hide(session, item, BOSS, NOW) is False  # already hidden: nothing written
        assert moderation.restore(session, item, BOSS, NOW) is True
        assert moderation.verify(session, item, BOSS, NOW) is True and item.verified
        moderation.edit(session, item, "phone", "0262 12 34 56", BOSS, NOW)
        moderation.edit(session, item, "name", "Garage Zot et fils", BOSS, NOW)
        assert item.name_folded == "garage zot et fils"
        with pytest.raises(InvalidEntry):
            moderation.edit(session, item, "website", "not a site", BOSS, NOW)
        with pytest.raises(moderation.ModerationError):
            moderation.edit(session, item, "created_by_id", "1", BOSS, NOW)
        moderation.delete_entry(session, item, BOSS, NOW)
        assert session.scalar(select(func.count()).select_from(Entry)) == 0
        assert actions(session) == ["hide", "restore", "verify", "edit", "edit", "delete"]
        log = moderation.audit_log(session, ["97415"])
        assert log[0].action == "delete" and log[0].target == "Garage Zot et fils"


def test_a_ban_hides_pending_content_and_is_audited(store: Any) -> None:
    _engine, factory = store
    with factory() as session, session.begin():
        troll = person(session, "troll")
        pending = entry(session, "Pub douteuse", category="garage", status="pending")
        pending.created_by_id = troll.id
        session.flush()
        assert moderation.ban(session, troll, BOSS, NOW, reason="spam") == 1
        assert troll.banned and pending.status == "hidden"
        assert moderation.citizen_of(session, "telegram:troll") is troll
        assert moderation.unban(session, troll, BOSS, NOW) is True and not troll.banned
        assert actions(session) == ["ban", "unban"]


def test_grants_are_by_account_id_and_a_bad_one_is_refused(store: Any) -> None:
    _engine, factory = store
    with factory() as session, session.begin():
        assert moderation.grant(session, "matrix:@ana:example.org", "97415", BOSS, NOW) is True
        assert moderation.grant(session, "matrix:@ana:example.org", "97415", BOSS, NOW) is False
        assert moderation.moderated_communes(session, "matrix:@ana:example.org") == {"97415"}
        with pytest.raises(moderation.ModerationError):
            moderation.grant(session, "Ana", "97415", BOSS, NOW)  # a display name is no account
        assert moderation.revoke(session, "matrix:@ana:example.org", "97415", BOSS, NOW) is True
        assert moderation.moderated_communes(session, "matrix:@ana:example.org") == set()
        assert actions(session) == ["grant", "revoke"]


def test_moderators_hear_of_an_entrys_reports_at_most_once_an_hour(store: Any) -> None:
    _engine, factory = store
    with factory() as session, session.begin():
        item = entry(session, "Snack fermé", category="snack")
        ana, ben = person(session, "ana"), person(session, "ben")
        assert moderation.file_report(session, ana, item, "closed", "", NOW)[1] is True
        later, much_later = NOW + timedelta(minutes=20), NOW + timedelta(hours=2)
        assert moderation.file_report(session, ben, item, "wrong", "mauvais numéro", later)[1] is False
        assert moderation.file_report(session, ben, item, "other", "toujours fermé", much_later)[1] is True
        assert [r.reason for r in moderation.open_reports(session, ["97415"])] == ["closed", "wrong", "other"]
        assert moderation.open_reports(session, ["97407"]) == []
        assert moderation.reports_today(session, ben, NOW + timedelta(hours=2)) == 2
        with pytest.raises(moderation.ModerationError):
            moderation.file_report(session, ana, item, "because", "", NOW)
        moderation.hide(session, item, BOSS, NOW)  # hiding resolves its reports
        assert moderation.open_reports(session) == []


def test_statistics_per_commune(store: Any) -> None:
    _engine, factory = store
    with factory() as session, session.begin():
        ana, ben = person(session, "ana"), person(session, "ben", home="97407")
        entry(session, "Théâtre du Port", commune="97407")
        item = entry(session, "Troupe Lontan")
        recommend(session, ana, item)
        accounts = {a.citizen_id: a.id for a in session.scalars(select(Account))}
        for _ in range(3):
            moderation.count_message(session, accounts[ana.id], date(2026, 12, 4))
        moderation.count_message(session, accounts[ben.id], date(2026, 12, 4))
        session.flush()
        everything = moderation.stats(session, NOW)
        assert everything.citizens == 2 and everything.entries == {"organization": 2}
        assert everything.days == [(date(2026, 12, 4), 4, 2)]
        mine = moderation.stats(session, NOW, ["97415"])
        assert (mine.citizens, mine.entries, mine.recommendations) == (1, {"organization": 1}, 1)
        assert mine.days == [(date(2026, 12, 4), 3, 1)]
