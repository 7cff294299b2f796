"""Restarts against a real Synapse: the bot's, with messages sent while it was down, the
first start with a backlog, a room joined with history, and the homeserver's own restart."""

from __future__ import annotations

import asyncio
import json

import pytest
from nio import AsyncClient, ErrorResponse, LoginResponse

from .conftest import PASSWORD, FakeEngine, register_bot

pytestmark = pytest.mark.synapse


async def settle(bot, rounds: int = 3) -> None:
    for _ in range(rounds):
        await asyncio.wait_for(bot.synced.wait(), 10)


def echoes(person, room: str, bot_id: str) -> list[str]:
    return [s["content"]["body"] for s in person.in_room(room) if s["sender"] == bot_id]


async def test_restart_answers_missed_messages_once_and_old_ones_never(
    people, bot_factory, tmp_path
):
    first = FakeEngine()
    store = tmp_path / "bot-store"
    bot = await bot_factory(first, store=store)
    me, device = bot.identity.user_id, bot.client.device_id
    alice = await people("alice")
    room = await alice.dm(me)
    await alice.wait_joined(room, me)
    await alice.say(room, "one")
    await alice.wait_for(lambda r, s: s["content"]["body"].startswith("echo: one"))
    await settle(bot)
    await bot.stop()

    await alice.say(room, "two")
    await alice.say(room, "three")
    saved = json.loads((store / "communebot-matrix.json").read_text())
    assert saved["next_batch"] and saved["device_id"] == device
    assert (store / "communebot-matrix.json").stat().st_mode & 0o077 == 0

    second = FakeEngine()
    again = await bot_factory(second, user_id=me, store=store)
    assert again.client.device_id == device  # same device: same encryption keys
    await alice.wait_for(lambda r, s: s["content"]["body"].startswith("echo: three"))
    await settle(again)
    assert [i.text for i in second.seen] == ["two", "three"]
    assert [b.split(" from")[0] for b in echoes(alice, room, me)] == [
        "echo: one", "echo: two", "echo: three"
    ]


async def test_first_start_and_new_rooms_ignore_their_backlog(people, bot_factory, synapse):
    me, localpart = await register_bot(synapse)
    alice = await people("alice")
    # the account joined a room and got messages before the bot ever ran
    early = await alice.room("Avant", invite=[me])
    raw = AsyncClient(synapse.url, localpart)
    assert isinstance(await raw.login(PASSWORD), LoginResponse)
    await raw.join(early)
    await alice.wait_joined(early, me)
    await alice.say(early, "!search old backlog")
    await raw.logout()
    await raw.close()
    # a room with history the bot is invited to later
    later = await alice.room("Plus tard", invite=[])
    await alice.say(later, "!search history before the bot")

    engine = FakeEngine()
    bot = await bot_factory(engine, user_id=me)
    await settle(bot)
    assert engine.seen == []
    await alice.client.room_invite(later, me)
    await alice.wait_joined(later, me)
    await settle(bot)
    assert engine.seen == []
    await alice.say(later, "!search now")
    await alice.say(early, "!search now too")
    await alice.wait_for(lambda r, s: "now too" in s["content"]["body"])
    assert sorted(i.text for i in engine.seen) == ["/search now", "/search now too"]


#: how long the homeserver stays down (besides its own stop and start)
DOWN_SECONDS = 8.0
#: issue 14: after a homeserver restart the bot answers again within this
RECOVERY_LIMIT = 30.0


async def test_homeserver_restart_is_survived(people, bot_factory, fake_engine, synapse):
    """Synapse stopped and started again (same port, same database) mid-conversation: a
    message written while it was down (the person's client keeps it and sends it once the
    server is back, as Element does: a client of this one homeserver cannot get anything
    to it earlier) and one written after are both answered, once each, within
    RECOVERY_LIMIT seconds of the server being back."""
    bot = await bot_factory(fake_engine)
    me = bot.identity.user_id
    alice = await people("alice")
    room = await alice.dm(me)
    await alice.wait_joined(room, me)
    await alice.say(room, "before")
    await alice.wait_for(lambda r, s: s["content"]["body"].startswith("echo: before"))

    loop = asyncio.get_running_loop()
    await asyncio.to_thread(synapse.stop)
    down = loop.time()
    during = asyncio.create_task(alice.say(room, "during"))
    await asyncio.sleep(DOWN_SECONDS)
    assert not during.done()  # nothing reaches a stopped server
    await asyncio.to_thread(synapse.start)
    back = loop.time()
    await asyncio.wait_for(during, RECOVERY_LIMIT)
    await alice.say(room, "after")
    await alice.wait_for(lambda r, s: s["content"]["body"].startswith("echo: during"),
                         timeout=60)
    answered_during = loop.time() - back
    await alice.wait_for(lambda r, s: s["content"]["body"].startswith("echo: after"), timeout=60)
    answered_after = loop.time() - back
    print(f"\nSynapse down {back - down:.1f} s; the bot answered the message written while "
          f"it was down {answered_during:.1f} s and the one after {answered_after:.1f} s "
          f"after it was back")
    await settle(bot)
    assert [i.text for i in fake_engine.seen] == ["before", "during", "after"]
    assert [b.split(" from")[0] for b in echoes(alice, room, me)] == [
        "echo: before", "echo: during", "echo: after"
    ]
    assert answered_after < RECOVERY_LIMIT


async def _sign_out(synapse, user_id: str, device_id: str, token: str) -> None:
    """What "Sign out" of a session does in Element: the token and the device go."""
    other = AsyncClient(synapse.url, user_id)
    other.restore_login(user_id, device_id, token)
    resp = await other.logout()
    await other.close()
    assert not isinstance(resp, ErrorResponse), resp


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
async def test_a_signed_out_session_logs_in_again_on_the_same_device(
    people, bot_factory, fake_engine, synapse, encrypted
):
    bot = await bot_factory(fake_engine)
    me, device, token = bot.identity.user_id, bot.client.device_id, bot.client.access_token
    alice = await people("alice", encryption=encrypted)
    room = await alice.dm(me, encrypted=encrypted)
    await alice.wait_joined(room, me)
    await alice.say(room, "before")
    await alice.wait_for(lambda r, s: s["content"]["body"].startswith("echo: before"), timeout=20)

    await _sign_out(synapse, me, device, token)  # the next sync gets M_UNKNOWN_TOKEN
    await alice.say(room, "after")
    await alice.wait_for(lambda r, s: s["content"]["body"].startswith("echo: after"), timeout=40)
    assert bot.client.access_token != token
    assert bot.client.device_id == device  # same device id: the same encryption keys
    assert [i.text for i in fake_engine.seen] == ["before", "after"]
    assert not alice.undecryptable
    # someone who meets the bot only now finds its device (and, encrypted, its keys)
    bob = await people("bob", encryption=encrypted)
    later = await bob.dm(me, encrypted=encrypted)
    await bob.wait_joined(later, me)
    await bob.say(later, "first words")
    await bob.wait_for(lambda r, s: s["content"]["body"].startswith("echo: first words"), timeout=40)
    assert not bob.undecryptable
