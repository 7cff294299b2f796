"""``/admin`` moderation through the engine, both backends: who may do what (superadmins
by account id on each platform, granted moderators in their communes, a bound group's own
moderators), a display name copying an admin's, replayed and forged buttons, merge counts,
a broadcast reaching exactly the commune's citizens, an audit row for every action."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.engine import Engine
from bot.messages import ChatKind
from directory import moderation, services
from directory.db import transaction
from directory.models import AuditEntry, ChatBinding, Citizen, Entry, OutboxMessage, Recommendation

from .conftest import Talk  # type: ignore[import-not-found]

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
SAINT_PAUL, LE_PORT = "97415", "97407"
ADMINS = ["telegram:1", "matrix:@boss:example.org", "console:boss"]


@pytest.fixture
def world(engine_store: Any) -> tuple[Any, Engine, dict[str, int]]:
    _engine, factory = engine_store
    with transaction(factory) as session:
        ids = {}
        for name, commune in (("Troupe Lontan", SAINT_PAUL), ("Troupe Lontan bis", SAINT_PAUL),
                              ("Garage du Port", LE_PORT)):
            ids[name] = services.add_entry(session, services.NewEntry(
                name=name, category="theatre" if "Troupe" in name else "garage", commune_insee=commune),
                force=True).id
        moderation.grant(session, "telegram:20", SAINT_PAUL, "console:boss", NOW)
    return factory, Engine(factory, clock=lambda: NOW, admins=ADMINS), ids


def person(engine: Engine, platform: str, user: str, home: str = SAINT_PAUL, **kw: Any) -> Talk:
    me = Talk(engine, user=user, platform=platform, **kw)
    me.say(f"/start {home}")
    return me


def audit_actions(factory: Any) -> list[str]:
    with factory() as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


@pytest.mark.parametrize(("platform", "user"), [("telegram", "1"), ("matrix", "@boss:example.org"),
                                                 ("console", "boss")])
def test_superadmins_are_known_by_account_id_on_each_platform(world: Any, platform: str, user: str) -> None:
    factory, engine, ids = world
    boss = person(engine, platform, user)
    assert "grant <" in boss.say("/admin")  # the full help
    assert "masquée" in boss.say(f"/admin hide {ids['Garage du Port']}")
    assert "rétablie" in boss.say(f"/admin restore {ids['Garage du Port']}")
    assert audit_actions(factory) == ["grant", "hide", "restore"]


def test_a_display_name_copying_an_admins_is_nobody(world: Any) -> None:
    factory, engine, ids = world
    fake = Talk(engine, user="666", platform="telegram")
    fake.say("/start 97415", display_name="boss")
    for command in ("/admin stats", f"/admin hide {ids['Troupe Lontan']}", "/admin grant telegram:666 97415",
                    "/admin ban telegram:1", "/admin log"):
        assert "pas le droit" in fake.say(command, display_name="boss")
    assert audit_actions(factory) == ["grant"]  # only the fixture's


def test_a_moderator_acts_on_their_commune_only_and_gets_their_help(world: Any) -> None:
    _factory, engine, ids = world
    mod = person(engine, "telegram", "20")
    help_text = mod.say("/admin help")
    assert "hide <" in help_text and "grant <" not in help_text and "ban <" not in help_text
    assert "vérifiée" in mod.say(f"/admin verify {ids['Troupe Lontan']}")
    assert "pas le droit" in mod.say(f"/admin hide {ids['Garage du Port']}")  # Le Port is not theirs
    assert "pas le droit" in mod.say("/admin grant telegram:21 97415")
    assert "pas le droit" in mod.say("/admin broadcast 97407 bonjour")
    stats = mod.say("/admin stats")
    assert "Saint-Paul (974)" in stats and "organisations 2" in stats
    assert "pas le droit" in mod.say("/admin log 97407")
    assert "verify" in mod.say("/admin log")


def test_a_bound_groups_own_moderators_moderate_its_commune(world: Any) -> None:
    factory, engine, ids = world
    with transaction(factory) as session:
        session.add(ChatBinding(platform="telegram", chat_id="-100", commune_insee=LE_PORT,
                                bound_by="telegram:1"))
    admin_there = Talk(engine, user="30", platform="telegram", chat="-100", kind=ChatKind.GROUP,
                       moderator=True)
    assert "masquée" in admin_there.say(f"/admin hide {ids['Garage du Port']}")
    member = Talk(engine, user="31", platform="telegram", chat="-100", kind=ChatKind.GROUP)
    assert "pas le droit" in member.say(f"/admin restore {ids['Garage du Port']}")


def test_merge_confirms_first_and_counts_each_citizen_once(world: Any) -> None:
    factory, engine, ids = world
    keep, drop = ids["Troupe Lontan"], ids["Troupe Lontan bis"]
    with transaction(factory) as session:
        for name in ("a", "b", "c"):
            session.add(Citizen(display_name=name))
        session.flush()
        a, b, c = session.scalars(select(Citizen).order_by(Citizen.id)).all()[-3:]
        services.recommend(session, a, session.get(Entry, keep))
        services.recommend(session, b, session.get(Entry, keep))
        services.recommend(session, b, session.get(Entry, drop))
        services.recommend(session, c, session.get(Entry, drop))
    boss = person(engine, "console", "boss")
    out = boss.say(f"/admin merge {keep} {drop}")
    assert "Fusionner Troupe Lontan bis" in out
    with factory() as session:
        assert session.get(Entry, drop) is not None  # nothing before the confirmation
    out = boss.press("Confirmer")
    assert "Déplacés : recommandations 1, membres 0, abonnés 0" in out
    with factory() as session:
        assert session.get(Entry, drop) is None
        assert session.get(Entry, keep).recommendation_count == 3
        assert session.scalar(select(func.count()).select_from(Recommendation)) == 3
    assert audit_actions(factory)[-1] == "merge"


def test_a_replayed_or_forged_button_acts_on_nothing(world: Any) -> None:
    factory, engine, ids = world
    boss = person(engine, "console", "boss")
    boss.say(f"/admin delete {ids['Garage du Port']}")
    confirm_id = next(cid for cid, label in boss.choices() if label == "Confirmer")
    boss.say("Annuler")
    out = boss.say(choice_id=confirm_id)  # the old button, pressed again
    assert "supprimée" not in out
    mod = person(engine, "telegram", "20")
    mod.say(f"/admin delete {ids['Troupe Lontan']}")
    out = mod.say(choice_id="confirm:" + str(ids["Garage du Port"]))  # a forged id
    assert "supprimée" not in out
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Entry)) == 3
    assert "delete" not in audit_actions(factory)


def test_a_broadcast_reaches_exactly_the_communes_citizens(world: Any) -> None:
    factory, engine, _ids = world
    with transaction(factory) as session:
        session.add(ChatBinding(platform="matrix", chat_id="!sp:example.org", commune_insee=SAINT_PAUL,
                                bound_by="console:boss"))
    boss = person(engine, "console", "boss", home=LE_PORT)
    people = [person(engine, "telegram", f"p{n}") for n in range(3)]
    person(engine, "telegram", "elsewhere", home=LE_PORT)
    troll = person(engine, "telegram", "troll")
    boss.say("/admin ban telegram:troll spam")
    boss.press("Confirmer")
    preview = boss.say("/admin broadcast 97415 Coupure d'eau demain de 8h à 12h")
    assert "3 citoyens" in preview and "Coupure d'eau" in preview
    boss.press("Confirmer")
    with factory() as session:
        rows = session.scalars(select(OutboxMessage)).all()
        chats = sorted(row.chat_id for row in rows if "Coupure" in str(row.payload))
    assert chats == sorted(["!sp:example.org", *[f"user:{p.user}" for p in people]])
    assert troll.say("bonjour") == ""  # banned: silence
    assert audit_actions(factory)[-2:] == ["ban", "broadcast"]


def test_every_command_leaves_its_audit_row(world: Any) -> None:
    factory, engine, ids = world
    boss = person(engine, "console", "boss")
    garage = ids["Garage du Port"]
    boss.say(f"/admin hide {garage}")
    boss.say(f"/admin restore {garage}")
    boss.say(f"/admin verify {garage}")
    boss.say(f"/admin edit {garage} phone 0262 11 22 33")
    assert "ne convient pas" in boss.say(f"/admin edit {garage} website pas un site")
    boss.say("/admin grant matrix:@ana:example.org 97407")
    boss.say("/admin revoke matrix:@ana:example.org 97407")
    person(engine, "telegram", "someone")
    boss.say("/admin ban telegram:someone")
    boss.press("Confirmer")
    boss.say("/admin unban telegram:someone")
    boss.say(f"/admin delete {garage}")
    boss.press("Confirmer")
    assert audit_actions(factory) == ["grant", "hide", "restore", "verify", "edit", "grant", "revoke", "ban",
                                      "unban", "delete"]
    log = boss.say("/admin log")
    assert "console:boss delete Garage du Port" in log


def test_a_verified_entry_shows_its_badge(world: Any) -> None:
    _factory, engine, ids = world
    boss = person(engine, "console", "boss")
    boss.say(f"/admin verify {ids['Troupe Lontan']}")
    card = boss.say(f"/start e{ids['Troupe Lontan']}")
    assert "Troupe Lontan ✅ vérifiée" in card
    assert "✅" not in boss.say(f"/start e{ids['Troupe Lontan bis']}")
