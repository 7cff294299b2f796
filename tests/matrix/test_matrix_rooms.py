"""Rooms against a real Synapse: who is addressed, moderators, replies, notices, invites,
spoofed names, commune room creation, the outbox."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from nio import RoomResolveAliasResponse

from bot.messages import ChatKind, Outgoing, Target, TargetKind

from .conftest import FILE_BYTES, FILE_NAME

pytestmark = pytest.mark.synapse


async def settle(bot, rounds: int = 3) -> None:
    """Let the bot go through a few sync rounds (so 'nothing happened' is meaningful)."""
    for _ in range(rounds):
        await asyncio.wait_for(bot.synced.wait(), 10)


async def test_room_answers_only_when_addressed(people, bot_factory, fake_engine):
    bot = await bot_factory(fake_engine)
    me = bot.identity.user_id
    alice = await people("alice")
    bob = await people("bob")
    room = await alice.room("Saint-Paul", invite=[me, bob.user_id])
    await bob.client.join(room)
    await alice.wait_joined(room, me)
    await alice.wait_joined(room, bob.user_id)

    await bob.say(room, "just chatting among neighbours")
    await alice.say(room, "!search crèche")
    answer = await alice.wait_for(lambda r, s: r == room and s["sender"] == me)
    assert answer["content"]["body"].startswith("echo: /search crèche")
    relates = answer["content"]["m.relates_to"]["m.in_reply_to"]["event_id"]
    assert relates == fake_engine.seen[-1].event_id
    assert answer["content"]["m.mentions"] == {"user_ids": [alice.user_id]}

    chatting, command = fake_engine.seen[-2], fake_engine.seen[-1]
    assert chatting.text == "just chatting among neighbours" and not chatting.addressed
    assert chatting.chat_kind == ChatKind.GROUP and not chatting.chat_moderator
    assert command.text == "/search crèche" and command.addressed
    assert command.chat_moderator  # the room's creator has power level 100

    await bob.say(room, "CommuneBot: où est la mairie ?")
    await bob.wait_for(lambda r, s: "où est la mairie" in s["content"].get("body", ""))
    assert fake_engine.seen[-1].text == "où est la mairie ?" and fake_engine.seen[-1].addressed

    await bob.say(room, "/help")
    await bob.wait_for(lambda r, s: "echo: /help" in s["content"].get("body", ""))

    # a reply to the bot's message is addressed to it, without any command or mention
    await bob.say(room, "and the second one?",
                  **{"m.relates_to": {"m.in_reply_to": {"event_id": answer["event_id"]}}})
    await bob.wait_for(lambda r, s: "and the second one?" in s["content"].get("body", ""))
    assert fake_engine.seen[-1].addressed


async def test_never_answers_notices_nor_itself(people, bot_factory, fake_engine):
    bot = await bot_factory(fake_engine)
    alice = await people("alice")
    room = await alice.dm(bot.identity.user_id)
    await alice.wait_joined(room, bot.identity.user_id)
    # another bot's notice, even a command, is never answered
    await alice.client.room_send(room, "m.room.message", {"msgtype": "m.notice", "body": "!search x"})
    await alice.say(room, "ping")
    await alice.wait_for(lambda r, s: "echo: ping" in s["content"].get("body", ""))
    await settle(bot)
    assert [i.text for i in fake_engine.seen] == ["ping"]  # not the notice, not its own echo
    assert len([s for s in alice.in_room(room) if s["sender"] == bot.identity.user_id]) == 1


async def test_spoofed_display_name_and_html(people, bot_factory, fake_engine):
    bot = await bot_factory(fake_engine)
    mallory = await people("mallory", display_name="CommuneBot")
    room = await mallory.dm(bot.identity.user_id)
    await mallory.wait_joined(room, bot.identity.user_id)
    await mallory.say(
        room, "<a href='javascript:alert(1)'>x</a>",
        format="org.matrix.custom.html",
        formatted_body="<a href='javascript:alert(1)'>x</a><img src=x onerror=alert(1)>",
    )
    answer = await mallory.wait_for(lambda r, s: s["sender"] == bot.identity.user_id)
    html = answer["content"]["formatted_body"]
    assert "<a " not in html and "<img" not in html
    assert "&lt;a href=&#x27;javascript:alert(1)&#x27;&gt;x&lt;/a&gt;" in html
    # a user named like the bot is still a user: answered, and never taken for the bot
    assert fake_engine.seen[-1].user_id == mallory.user_id
    # and the name handed on is disambiguated the way Matrix clients do it
    assert fake_engine.seen[-1].display_name == f"CommuneBot ({mallory.user_id})"


async def test_invites_from_unlisted_users_are_declined(people, bot_factory, fake_engine):
    alice = await people("alice")
    eve = await people("eve")
    bot = await bot_factory(fake_engine, allowed_inviters=[alice.user_id], allowed_servers=[])
    me = bot.identity.user_id
    good = await alice.room("Le Port", invite=[me])
    bad = await eve.room("Spam", invite=[me])
    await alice.wait_joined(good, me)
    for _ in range(100):
        room = eve.client.rooms.get(bad)
        if room is not None and me not in room.invited_users and me not in room.users:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the invitation from an unlisted user was not declined")
    assert bad not in bot.client.rooms


@dataclass
class Item:
    id: int
    chat_id: str
    outgoing: Outgoing


class MemoryOutbox:
    def __init__(self, items: list[Item]) -> None:
        self.pending = list(items)
        self.sent: list[int] = []

    def claim(self, limit: int) -> list[Item]:
        return [i for i in self.pending if i.id not in self.sent][:limit]

    def mark_sent(self, item_id: int) -> None:
        self.sent.append(item_id)


async def test_outbox_posts_to_rooms_and_opens_direct_chats(people, bot_factory, fake_engine):
    alice = await people("alice")
    bob = await people("bob")
    outbox = MemoryOutbox([])
    bot = await bot_factory(fake_engine, outbox=outbox)
    me = bot.identity.user_id
    room = await alice.room("Saint-Paul", invite=[me])
    await alice.wait_joined(room, me)
    outbox.pending += [
        Item(1, room, Outgoing.text("Nouveau projet : jardin partagé",
                                    target=Target(TargetKind.COMMUNE_ROOM, "matrix", "97415"))),
        Item(2, f"user:{bob.user_id}", Outgoing.text("Votre résumé de la semaine")),
        Item(3, "!nowhere:localhost", Outgoing.text("lost")),
    ]
    await alice.wait_for(lambda r, s: r == room and "jardin partagé" in s["content"]["body"])
    # bob gets an invitation to a direct room, joins, and reads the message there
    for _ in range(100):
        if bob.client.invited_rooms:
            break
        await asyncio.sleep(0.1)
    direct = next(iter(bob.client.invited_rooms))
    await bob.client.join(direct)
    await bob.wait_for(lambda r, s: r == direct and "résumé" in s["content"]["body"])
    await settle(bot)
    assert sorted(set(outbox.sent)) == [1, 2]  # the undeliverable one is left for a retry
    assert bot.state.direct_rooms[bob.user_id] == direct


async def test_admin_creates_and_binds_a_commune_room(people, bot_factory, fake_engine, synapse):
    admin = await people("admin")
    citizen = await people("citizen")
    bot = await bot_factory(fake_engine, admins=(f"matrix:{admin.user_id}",))
    me = bot.identity.user_id
    room = await citizen.dm(me)
    await citizen.wait_joined(room, me)
    await citizen.say(room, "!admin room create 97416")
    refused = await citizen.wait_for(lambda r, s: s["sender"] == me)
    assert "administrateurs" in refused["content"]["body"]

    control = await admin.dm(me)
    await admin.wait_joined(control, me)
    await admin.say(control, "!admin room create")
    await admin.wait_for(lambda r, s: r == control and "code INSEE" in s["content"]["body"])
    await admin.say(control, "!admin room create Saint Paul")
    await admin.wait_for(lambda r, s: r == control and "« Saint Paul »" in s["content"]["body"])
    await admin.say(control, "!admin room create 99999")
    unknown = await admin.wait_for(lambda r, s: r == control and "99999" in s["content"]["body"])
    assert "INSEE" in unknown["content"]["body"]
    # (97415 belongs to the engine scenario: one Synapse serves the whole session)
    await admin.say(control, "!admin room create 97416")
    created = await admin.wait_for(lambda r, s: "Saint-Pierre (974)" in s["content"]["body"])
    assert f"#commune-97416:{synapse.server_name}" in created["content"]["body"]
    alias = await admin.client.room_resolve_alias(f"#commune-97416:{synapse.server_name}")
    assert isinstance(alias, RoomResolveAliasResponse)
    bind = fake_engine.seen[-1]
    assert bind.text == "/admin bind 97416" and bind.chat_id == alias.room_id
    assert bind.user_id == admin.user_id and bind.chat_moderator
    await admin.client.join(alias.room_id)
    await admin.wait_joined(alias.room_id, admin.user_id)
    state = admin.client.rooms[alias.room_id]
    assert state.name == "Saint-Pierre (974)" and "Saint-Pierre" in (state.topic or "")
    assert state.power_levels.get_user_level(admin.user_id) == 100
    await admin.say(control, "!admin room create 97416")
    await admin.wait_for(lambda r, s: r == control and "existe déjà" in s["content"]["body"])


async def test_questions_in_a_thread_are_answered_in_it(people, bot_factory, fake_engine):
    bot = await bot_factory(fake_engine)
    me = bot.identity.user_id
    alice = await people("alice")
    room = await alice.room("Le Port", invite=[me])
    await alice.wait_joined(room, me)
    root = await alice.say(room, "Des idées pour samedi ?")
    question = await alice.say(
        room, "!pin",
        **{"m.relates_to": {"rel_type": "m.thread", "event_id": root, "is_falling_back": True,
                            "m.in_reply_to": {"event_id": root}}},
    )
    pin = await alice.wait_for(lambda r, s: r == room and s["content"].get("msgtype") == "m.location")
    notice = await alice.wait_for(lambda r, s: r == room and s["content"].get("body") == "Here:")
    for event in (notice, pin):
        relates = event["content"]["m.relates_to"]
        assert relates["rel_type"] == "m.thread" and relates["event_id"] == root
        assert relates["m.in_reply_to"] == {"event_id": question}
    assert notice["content"]["m.relates_to"]["is_falling_back"] is False
    assert pin["content"]["m.relates_to"]["is_falling_back"] is True


async def test_a_file_asked_in_a_thread_goes_there_and_everyone_can_download_it(
        people, bot_factory, fake_engine):
    bot = await bot_factory(fake_engine)
    me = bot.identity.user_id
    alice = await people("alice")
    bob = await people("bob")
    room = await alice.room("Saint-Leu", invite=[me, bob.user_id])
    await bob.client.join(room)
    await alice.wait_joined(room, me)
    await alice.wait_joined(room, bob.user_id)
    root = await alice.say(room, "La fête de la musique, c'est quand ?")
    question = await alice.say(
        room, "!file",
        **{"m.relates_to": {"rel_type": "m.thread", "event_id": root, "is_falling_back": True,
                            "m.in_reply_to": {"event_id": root}}},
    )
    # bob, another client in the room, sees the file and fetches the very same bytes
    event = await bob.wait_for(lambda r, s: r == room and s["content"].get("msgtype") == "m.file")
    assert event["sender"] == me
    content = event["content"]
    assert content["filename"] == FILE_NAME and content["info"]["size"] == len(FILE_BYTES)
    assert await bob.download(content["url"]) == FILE_BYTES
    relates = content["m.relates_to"]  # in the thread, after the notice that replies
    assert relates["rel_type"] == "m.thread" and relates["event_id"] == root
    assert relates["m.in_reply_to"] == {"event_id": question} and relates["is_falling_back"] is True
