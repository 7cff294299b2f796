"""Direct chats against a real Synapse: plain and encrypted, markup, pins, choices, files."""

from __future__ import annotations

import asyncio

import pytest
from nio import AsyncClient, LoginResponse
from nio.crypto.attachments import decrypt_attachment

from bot.messages import ChatKind

from .conftest import FILE_BYTES, FILE_NAME, PASSWORD

pytestmark = pytest.mark.synapse


def from_bot(bot_id: str, room_id: str):
    return lambda r, s: r == room_id and s.get("sender") == bot_id


async def test_direct_chat_answers_everything_as_notice(people, bot_factory, fake_engine):
    bot = await bot_factory(fake_engine)
    alice = await people("alice", display_name="Alice <script>")
    room = await alice.dm(bot.identity.user_id)
    await alice.wait_joined(room, bot.identity.user_id)
    await alice.say(room, "bonjour <b>&</b>")
    answer = await alice.wait_for(from_bot(bot.identity.user_id, room))
    content = answer["content"]
    assert content["msgtype"] == "m.notice"
    assert content["body"] == "echo: bonjour <b>&</b> from Alice <script>"
    assert content["format"] == "org.matrix.custom.html"
    assert content["formatted_body"] == (
        "echo: <b>bonjour &lt;b&gt;&amp;&lt;/b&gt;</b> from Alice &lt;script&gt;"
    )
    assert "m.relates_to" not in content  # direct chats are not threaded with replies
    incoming = fake_engine.seen[-1]
    assert incoming.chat_kind == ChatKind.DIRECT and incoming.addressed
    assert incoming.user_id == alice.user_id and incoming.chat_id == room


async def test_pin_and_choices(people, bot_factory, fake_engine):
    bot = await bot_factory(fake_engine)
    alice = await people("alice")
    room = await alice.dm(bot.identity.user_id)
    await alice.wait_joined(room, bot.identity.user_id)
    await alice.say(room, "show a pin")
    location = await alice.wait_for(
        lambda r, s: r == room and s["content"].get("msgtype") == "m.location"
    )
    assert location["content"]["geo_uri"] == "geo:-21.010000,55.270000"
    assert "Crèche <Les Lutins>" in location["content"]["body"]
    await alice.say(room, "choices please")
    numbered = await alice.wait_for(lambda r, s: "Alpha" in s["content"].get("body", ""))
    assert "1. Alpha" in numbered["content"]["body"] and "2. Beta" in numbered["content"]["body"]
    assert "<ol><li>Alpha</li><li>Beta</li></ol>" in numbered["content"]["formatted_body"]


async def test_encrypted_direct_chat(people, bot_factory, fake_engine):
    bot = await bot_factory(fake_engine)
    alice = await people("alice", encryption=True)
    room = await alice.dm(bot.identity.user_id, encrypted=True)
    await alice.wait_joined(room, bot.identity.user_id)
    await alice.say(room, "secret question")
    answer = await alice.wait_for(from_bot(bot.identity.user_id, room), timeout=20)
    assert answer["content"]["body"].startswith("echo: secret question")
    assert fake_engine.seen[-1].text == "secret question"
    assert bot.client is not None and bot.client.rooms[room].encrypted
    assert answer["event_id"] in alice.decrypted  # the answer travelled encrypted
    assert not alice.undecryptable


async def test_pages_edit_the_same_message(people, bot_factory, fake_engine):
    bot = await bot_factory(fake_engine)
    alice = await people("alice")
    room = await alice.dm(bot.identity.user_id)
    await alice.wait_joined(room, bot.identity.user_id)
    await alice.say(room, "page 1")
    first = await alice.wait_for(lambda r, s: s["content"].get("body") == "Results, page 1")
    await alice.say(room, "page 2")
    edit = await alice.wait_for(lambda r, s: "page 2" in s["content"].get("body", ""))
    assert edit["content"]["m.relates_to"] == {"rel_type": "m.replace", "event_id": first["event_id"]}
    assert edit["content"]["m.new_content"]["body"] == "Results, page 2"


async def test_encrypted_room_without_encryption_says_so(people, bot_factory, fake_engine):
    bot = await bot_factory(fake_engine, encryption=False)
    alice = await people("alice", encryption=True)
    room = await alice.dm(bot.identity.user_id, encrypted=True)
    await alice.wait_joined(room, bot.identity.user_id)
    await alice.say(room, "can you read this?")
    await alice.say(room, "and this?")
    notice = await alice.wait_for(from_bot(bot.identity.user_id, room))
    assert notice["content"]["msgtype"] == "m.notice"
    assert "chiffré" in notice["content"]["body"] and "non chiffré" in notice["content"]["body"]
    assert fake_engine.seen == []
    await alice.say(room, "third")
    await asyncio.sleep(1.5)
    # said once, not once per message
    assert len([s for s in alice.in_room(room) if s["sender"] == bot.identity.user_id]) == 1


async def test_undecryptable_message_is_answered_plainly(people, bot_factory, fake_engine, synapse):
    bot = await bot_factory(fake_engine)
    alice = await people("alice", encryption=True)
    room = await alice.dm(bot.identity.user_id, encrypted=True)
    await alice.wait_joined(room, bot.identity.user_id)
    # a second session of alice sends an event whose key the bot never received
    other = AsyncClient(synapse.url, alice.name)
    assert isinstance(await other.login(PASSWORD), LoginResponse)
    bogus = {
        "algorithm": "m.megolm.v1.aes-sha2",
        "ciphertext": "AwgAEnACgAkLmt6qF84IK++J7UDH2Za1YVchHyprqTqsg",
        "sender_key": "IlRMeOPX2e0MurIyfWEucYBRVOEEUMrOHqn/8mLqMjA",
        "session_id": "X3lUlvLELLYxeTx4yOVu6UDpasGEVO0Jbu+QFnm0cKQ",
        "device_id": other.device_id,
    }
    await other.room_send(room, "m.room.encrypted", bogus)
    await other.close()
    notice = await alice.wait_for(from_bot(bot.identity.user_id, room))
    assert "déchiffrer" in notice["content"]["body"]
    assert notice["event_id"] in alice.decrypted  # said in the room's own encryption
    assert fake_engine.seen == []


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
async def test_a_document_arrives_as_a_file_with_the_same_bytes(
        people, bot_factory, fake_engine, encrypted):
    bot = await bot_factory(fake_engine)
    alice = await people("alice", encryption=encrypted)
    room = await alice.dm(bot.identity.user_id, encrypted=encrypted)
    await alice.wait_joined(room, bot.identity.user_id)
    await alice.say(room, "send a file")
    event = await alice.wait_for(
        lambda r, s: r == room and s["content"].get("msgtype") == "m.file", timeout=20)
    content = event["content"]
    assert content["body"] == content["filename"] == FILE_NAME
    assert content["info"] == {"mimetype": "text/calendar", "size": len(FILE_BYTES)}
    notice = await alice.wait_for(lambda r, s: r == room and s["content"].get("body") == "Your file:")
    assert notice["origin_server_ts"] <= event["origin_server_ts"]  # the words, then the file
    if encrypted:
        # the homeserver holds ciphertext; the key is in the (encrypted) event only
        assert "url" not in content and content["file"]["v"] == "v2"
        info = content["file"]
        ciphertext = await alice.download(info["url"])
        assert ciphertext != FILE_BYTES and len(ciphertext) == len(FILE_BYTES)
        data = decrypt_attachment(ciphertext, info["key"]["k"], info["hashes"]["sha256"], info["iv"])
        assert event["event_id"] in alice.decrypted and not alice.undecryptable
    else:
        assert "file" not in content and content["url"].startswith("mxc://")
        data = await alice.download(content["url"])
    assert data == FILE_BYTES
