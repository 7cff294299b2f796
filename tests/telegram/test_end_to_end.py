"""The real adapter and the real engine, over HTTP against the Bot API emulator, on the
sample directory: what a citizen does on Telegram, and what goes wrong on the way."""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from emulator import AdapterFactory, BotAPIEmulator, JSONDict
from sqlalchemy import func, select

from bot import outbox
from bot.engine import Engine
from bot.messages import Outgoing, Target, TargetKind
from bot.wiring import build_engine
from directory.db import transaction
from directory.models import Account, ChatBinding, Citizen, OutboxMessage, Recommendation

ALICE = 501
BOB = 502
CLARA = 503
GROUP = -1009001


@pytest.fixture
def engine(sample_db: Path, tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "bot.db"
    shutil.copy(sample_db, path)
    built = build_engine(f"sqlite:///{path}")
    yield built


@pytest.fixture
async def bot(make_adapter: AdapterFactory, engine: Engine) -> AsyncIterator[Any]:
    yield await make_adapter(engine, session_factory=engine.sessions)


async def answer(emulator: BotAPIEmulator, chat: int, contains: str,
                 timeout: float = 60.0) -> JSONDict:
    """The first bot message in ``chat`` whose text contains ``contains`` (waits for it)."""
    def find() -> JSONDict | None:
        return next((m for m in emulator.messages_to(chat) if contains in m.get("text", "")),
                    None)
    try:
        found: JSONDict = await emulator.wait_for(find, timeout)
    except TimeoutError:
        raise AssertionError(f"no {contains!r} in {emulator.texts(chat)}") from None
    return found


def count(engine: Engine, query: Any) -> int:
    with engine.sessions() as session:
        return int(session.scalar(query) or 0)


async def test_register_by_text_search_pages_result_and_recommend(
        emulator: BotAPIEmulator, engine: Engine, bot: Any) -> None:
    emulator.user(ALICE, "Alice", "fr")
    emulator.send_text(ALICE, "/start")
    question = await answer(emulator, ALICE, "quelle est votre commune")
    [[button]] = question["keyboard_markup"]["keyboard"]
    assert button["request_location"] is True

    emulator.send_text(ALICE, "Saint-Paul")
    which = await answer(emulator, ALICE, "Laquelle")
    emulator.press_label(ALICE, which, "Saint-Paul (974)")
    await answer(emulator, ALICE, "votre commune est Saint-Paul (974)")

    emulator.send_text(ALICE, "boulangerie à 40 km")
    results = await answer(emulator, ALICE, "Boulangerie autour de Saint-Paul")
    before = len(emulator.messages_to(ALICE))
    emulator.press_label(ALICE, results, "Plus de résultats")
    await emulator.wait_for(lambda: "page 2" in emulator.chats[ALICE].messages[
        results["message_id"]]["text"])
    assert len(emulator.messages_to(ALICE)) == before  # edited in place, nothing new
    assert emulator.sent("editMessageText", ALICE)

    page2 = emulator.chats[ALICE].messages[results["message_id"]]
    first_label = next(iter(emulator.buttons(page2)))
    assert first_label not in emulator.buttons(results) or results is page2
    emulator.press_label(ALICE, page2, first_label)
    detail = await answer(emulator, ALICE, "Adresse :")
    [venue] = await emulator.wait_calls("sendVenue", 1, chat_id=ALICE)
    assert venue.params["title"] == first_label

    emulator.press_label(ALICE, detail, "Je recommande")
    await answer(emulator, ALICE, "Pourquoi recommandez-vous")
    emulator.send_text(ALICE, "Pain & croissants, 5 étoiles")
    await answer(emulator, ALICE, "Merci !")
    with engine.sessions() as session:
        rec = session.scalars(select(Recommendation)).one()
        assert rec.comment == "Pain & croissants, 5 étoiles"
    # every press was answered, every message valid for Telegram
    assert not emulator.open_callbacks
    assert not [c for c in emulator.calls if not c.ok]


async def test_register_by_location_and_by_deep_link(
        emulator: BotAPIEmulator, engine: Engine, bot: Any) -> None:
    emulator.user(BOB, "Bob", "en")
    emulator.send_text(BOB, "/start")
    await answer(emulator, BOB, "which commune do you live in")
    emulator.send_location(BOB, -21.0096, 55.2707)
    confirm = await answer(emulator, BOB, "Saint-Paul (974)")
    emulator.press_label(BOB, confirm, "Yes")
    await answer(emulator, BOB, "Noted")

    emulator.user(CLARA, "Clara", "fr")
    emulator.send_text(CLARA, "/start 97415")
    await answer(emulator, CLARA, "votre commune est Saint-Paul (974)")
    with engine.sessions() as session:
        homes = dict(session.execute(
            select(Account.platform_user_id, Citizen.home_insee).join(Citizen)).all())
    assert homes == {str(BOB): "97415", str(CLARA): "97415"}


async def test_group_bound_to_a_commune_answers_only_when_addressed(
        emulator: BotAPIEmulator, engine: Engine, bot: Any) -> None:
    emulator.user(ALICE, "Alice")
    emulator.user(BOB, "Bob")
    emulator.chat(GROUP, "supergroup", "Saint-Paul citoyen", admins={ALICE})
    emulator.send_text(BOB, "/admin bind Saint-Paul", chat_id=GROUP)
    await emulator.wait_calls("sendMessage", 1, chat_id=GROUP)
    assert count(engine, select(func.count()).select_from(ChatBinding)) == 0

    emulator.send_text(ALICE, "/admin@communetestbot bind 97415", chat_id=GROUP)
    await emulator.wait_for(lambda: count(engine, select(func.count()).select_from(ChatBinding)))
    sent = len(emulator.sent("sendMessage", GROUP))
    emulator.send_text(BOB, "on se voit demain ?", chat_id=GROUP)
    emulator.send_text(BOB, "@communetestbot crèche", chat_id=GROUP)
    results = await answer(emulator, GROUP, "Crèche autour de Saint-Paul")
    assert len(emulator.sent("sendMessage", GROUP)) == sent + 1  # the chatter got nothing
    assert "keyboard" not in (results.get("keyboard_markup") or {})
    assert len(emulator.sent("getChatAdministrators")) == 1


async def test_outbox_posts_reach_bound_groups(
        emulator: BotAPIEmulator, engine: Engine, bot: Any) -> None:
    emulator.chat(GROUP, "group", "Saint-Paul")
    with transaction(engine.sessions) as session:
        session.add(ChatBinding(platform="telegram", chat_id=str(GROUP), commune_insee="97415"))
        session.flush()
        outbox.enqueue(session, Outgoing.text(
            "Nouveau projet : jardin <partagé>",
            target=Target(TargetKind.COMMUNE_ROOM, None, "97415")))
    message = await answer(emulator, GROUP, "jardin &lt;partagé&gt;")
    assert message["parse_mode"] == "HTML"
    delivered = select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.sent_at.is_not(None))
    for _ in range(300):  # marked in the database just after the send: poll for it
        if count(engine, delivered) == 1:
            break
        await asyncio.sleep(0.05)
    assert count(engine, delivered) == 1


async def test_injected_faults_do_not_break_the_conversation(
        emulator: BotAPIEmulator, engine: Engine, bot: Any) -> None:
    emulator.user(ALICE, "Alice")
    emulator.send_text(ALICE, "/start 97415")
    await answer(emulator, ALICE, "votre commune est Saint-Paul (974)")
    emulator.inject("sendMessage", "429", retry_after=1)
    emulator.inject("editMessageText", "502")
    emulator.inject("sendVenue", "timeout_after")  # shown, its answer lost: not sent twice
    emulator.inject("answerCallbackQuery", "500")
    for method in ("sendMessage", "editMessageText"):  # the card may replace the list
        emulator.inject(method, "parse_entities", match=lambda p: "Adresse" in str(p.get("text")))
    emulator.send_text(ALICE, "boulangerie à 40 km")
    results = await answer(emulator, ALICE, "Boulangerie autour")
    emulator.press_label(ALICE, results, "Plus de résultats")
    await emulator.wait_for(lambda: "page 2" in emulator.chats[ALICE].messages[
        results["message_id"]]["text"])
    page2 = emulator.chats[ALICE].messages[results["message_id"]]
    emulator.press_label(ALICE, page2, next(iter(emulator.buttons(page2))))
    detail = await answer(emulator, ALICE, "Adresse :")
    assert detail["parse_mode"] is None  # refused HTML came back as plain text
    await emulator.wait_calls("sendVenue", 1, chat_id=ALICE)
    assert not emulator.open_callbacks
    assert len(emulator.sent("sendVenue", ALICE)) == 1
    failures = sorted({c.error or "" for c in emulator.calls if not c.ok})
    assert any(f.startswith("Too Many Requests") for f in failures)
    assert "Bad Gateway" in failures and "Internal Server Error" in failures


async def test_restart_in_the_middle_of_a_dialog(
        emulator: BotAPIEmulator, engine: Engine, make_adapter: AdapterFactory) -> None:
    first = await make_adapter(engine, session_factory=engine.sessions)
    emulator.user(ALICE, "Alice")
    emulator.send_text(ALICE, "/start")
    await answer(emulator, ALICE, "quelle est votre commune")
    await first.stop()
    emulator.send_text(ALICE, "Saint-Paul")  # arrives while the bot is down
    await make_adapter(engine, session_factory=engine.sessions)
    which = await answer(emulator, ALICE, "Laquelle")
    emulator.press_label(ALICE, which, "Saint-Paul (974)")
    await answer(emulator, ALICE, "votre commune est Saint-Paul (974)")


async def test_a_redelivered_update_changes_nothing_twice(
        emulator: BotAPIEmulator, engine: Engine, make_adapter: AdapterFactory) -> None:
    adapter = await make_adapter(engine, session_factory=engine.sessions)
    emulator.user(ALICE, "Alice")
    emulator.send_text(ALICE, "/start")
    await answer(emulator, ALICE, "quelle est votre commune")
    update_id = emulator.send_text(ALICE, "Saint-Paul")
    which = await answer(emulator, ALICE, "Laquelle")
    emulator.press_label(ALICE, which, "Saint-Paul (974)")
    await answer(emulator, ALICE, "votre commune est Saint-Paul (974)")
    sent = len(emulator.sent("sendMessage", ALICE))
    # a crash before the offset was stored: Telegram hands the same updates out again
    await adapter.stop()
    assert adapter.state is not None
    await adapter.state.save_offset(update_id - 1)
    command = emulator.chats[ALICE].messages[which["message_id"] - 1]
    assert command["text"] == "Saint-Paul"
    emulator.pending[:0] = [{"update_id": update_id, "message": command}]
    again = await make_adapter(engine, session_factory=engine.sessions)
    await emulator.wait_for(lambda: emulator.confirmed(update_id))
    emulator.send_text(ALICE, "/me")
    await emulator.wait_for(lambda: len(emulator.sent("sendMessage", ALICE)) > sent)
    later = [c.params["text"] for c in emulator.sent("sendMessage", ALICE)[sent:]]
    assert not any("Laquelle" in text for text in later), later
    with engine.sessions() as session:
        assert session.scalar(select(Citizen.home_insee)) == "97415"
    assert again.state is not None and await again.state.offset() is not None


async def test_commands_menu_in_french_and_english(
        emulator: BotAPIEmulator, engine: Engine, make_adapter: AdapterFactory) -> None:
    await make_adapter(engine, session_factory=engine.sessions, set_commands=True)
    await emulator.wait_for(lambda: len(emulator.commands) >= 3)  # published in the background
    fr = emulator.commands[("default", "fr")]
    en = emulator.commands[("default", "en")]
    assert emulator.commands[("default", "")] == fr
    assert [c["command"] for c in fr] == [c["command"] for c in en]
    assert "search" in [c["command"] for c in fr]
    assert fr != en


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_webhook_mode_checks_the_secret_and_ignores_redeliveries(
        emulator: BotAPIEmulator, engine: Engine, make_adapter: AdapterFactory) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    await make_adapter(engine, session_factory=engine.sessions, mode="webhook",
                       webhook_url=url, listen="127.0.0.1", port=port, secret_token="s3cret_ok")
    assert emulator.webhook["url"] == url and emulator.webhook["secret_token"] == "s3cret_ok"
    emulator.user(ALICE, "Alice")
    emulator.send_text(ALICE, "/start 97415")
    await answer(emulator, ALICE, "votre commune est Saint-Paul (974)")
    sent = len(emulator.sent("sendMessage", ALICE))

    chat = emulator.chats[ALICE]
    forged = {"update_id": 99999, "message": {**chat.messages[1], "text": "/start 97411"}}
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
            async with http.post(url, json=forged, headers=headers) as resp:
                assert resp.status == 403
        first = {"update_id": 1000, "message": chat.messages[1]}  # /start 97415, again
        async with http.post(url, json=first,
                             headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret_ok"}) as resp:
            assert resp.status == 200
    emulator.send_text(ALICE, "/me")
    await emulator.wait_for(lambda: len(emulator.sent("sendMessage", ALICE)) > sent)
    later = [c.params["text"] for c in emulator.sent("sendMessage", ALICE)[sent:]]
    assert not any("C'est noté" in text for text in later)  # neither forged nor replayed
    with engine.sessions() as session:
        assert session.scalar(select(Citizen.home_insee)) == "97415"


async def test_a_group_upgraded_to_a_supergroup_keeps_its_commune(
        emulator: BotAPIEmulator, engine: Engine, bot: Any) -> None:
    new_id = -1009999
    emulator.user(ALICE, "Alice")
    emulator.chat(GROUP, "group", "Saint-Paul", admins={ALICE})
    emulator.send_text(ALICE, "/admin bind 97415", chat_id=GROUP)
    await emulator.wait_for(lambda: count(engine, select(func.count()).select_from(ChatBinding)))
    emulator.migrate(GROUP, new_id)
    for _ in range(300):
        with engine.sessions() as session:
            if session.scalar(select(ChatBinding.chat_id)) == str(new_id):
                break
        await asyncio.sleep(0.05)
    with engine.sessions() as session:
        assert session.scalar(select(ChatBinding.chat_id)) == str(new_id)
    # a post queued for the old id before the move still arrives
    with transaction(engine.sessions) as session:
        session.add(OutboxMessage(platform="telegram", chat_id=str(GROUP),
                                  payload=outbox.outgoing_to_json(Outgoing.text("Fête du quartier"))))
    await answer(emulator, new_id, "Fête du quartier")


async def test_buttons_cannot_act_for_someone_else_or_for_a_finished_dialog(
        emulator: BotAPIEmulator, engine: Engine, bot: Any) -> None:
    emulator.user(ALICE, "Alice")
    emulator.user(BOB, "Bob")
    emulator.send_text(ALICE, "/start 97415")
    await answer(emulator, ALICE, "votre commune est Saint-Paul (974)")
    emulator.chat(GROUP, "supergroup", "Saint-Paul", admins={ALICE})
    emulator.send_text(ALICE, "@communetestbot boulangerie à 40 km", chat_id=GROUP)
    results = await answer(emulator, GROUP, "Boulangerie autour")
    before = results["text"]
    emulator.press_label(BOB, results, "Plus de résultats", chat_id=GROUP)
    await answer(emulator, GROUP, "Ce choix n'est plus valable")
    assert emulator.chats[GROUP].messages[results["message_id"]]["text"] == before

    emulator.send_text(ALICE, "/cancel", chat_id=GROUP)
    await answer(emulator, GROUP, "C'est annulé")
    emulator.press_label(ALICE, results, "Plus de résultats", chat_id=GROUP)
    await emulator.wait_for(lambda: sum(
        "Ce choix n'est plus valable" in t for t in emulator.texts(GROUP)) == 2)
    assert emulator.chats[GROUP].messages[results["message_id"]]["text"] == before
    assert not emulator.open_callbacks


async def test_follow_ups_and_questions_about_the_entry_on_telegram(
        emulator: BotAPIEmulator, engine: Engine, bot: Any) -> None:
    """The conversation's memory over the real adapter: another place keeps the category,
    an ordinal in words opens a card, the card answers a question about its phone, a
    location re-runs the search, and the English-speaking citizen gets English."""
    emulator.user(ALICE, "Alice", "fr")
    emulator.send_text(ALICE, "/start 97415")
    await answer(emulator, ALICE, "votre commune est Saint-Paul (974)")
    emulator.send_text(ALICE, "veto a st paul")
    await answer(emulator, ALICE, "Vétérinaire autour de Saint-Paul (974)")
    emulator.send_text(ALICE, "et au port ?")
    await answer(emulator, ALICE, "Vétérinaire autour du Port (974)")
    emulator.send_text(ALICE, "la première")
    await answer(emulator, ALICE, "Clinique vétérinaire Payanke (fictive)</b>\nVétérinaire")
    emulator.send_text(ALICE, "son téléphone ?")
    await answer(emulator, ALICE, "téléphone : 02 61 91 47 89")
    emulator.send_location(ALICE, -21.34, 55.47)
    await answer(emulator, ALICE, "Même recherche, autour de la position")

    emulator.user(BOB, "Bob", "en")
    emulator.send_text(BOB, "/start 97415")
    await answer(emulator, BOB, "your commune is Saint-Paul (974)")
    emulator.send_text(BOB, "any projects in Saint-Paul?")
    await answer(emulator, BOB, "Projects around Saint-Paul (974)")
    assert not [c for c in emulator.calls if not c.ok]


async def test_an_event_added_to_my_calendar_arrives_as_an_ics_document(
        emulator: BotAPIEmulator, engine: Engine, bot: Any) -> None:
    """The agenda's "add to my calendar" through the real adapter: an ``.ics`` upload."""
    engine.clock = lambda: datetime(2026, 12, 4, 10, 0, tzinfo=UTC)  # the sample's events ahead
    emulator.user(ALICE, "Alice", "fr")
    emulator.send_text(ALICE, "/start 97415")
    await answer(emulator, ALICE, "votre commune est Saint-Paul (974)")
    emulator.send_text(ALICE, "évènements à saint leu")
    results = await answer(emulator, ALICE, "Évènements autour de Saint-Leu")
    emulator.press_label(ALICE, results, next(iter(emulator.buttons(results))))
    card = await emulator.wait_for(lambda: next(
        (m for m in emulator.messages_to(ALICE)
         if any(label.startswith("📅") for label in emulator.buttons(m))), None))
    emulator.press_label(ALICE, card, "📅")
    [call] = await emulator.wait_calls("sendDocument", 1, chat_id=ALICE)
    [upload] = emulator.documents(ALICE)
    assert upload.filename.endswith(".ics") and upload.mime == "text/calendar"
    assert upload.data.startswith(b"BEGIN:VCALENDAR") and b"BEGIN:VEVENT" in upload.data
    assert call.result["document"]["file_name"] == upload.filename
    assert not [c for c in emulator.calls if not c.ok]


async def test_a_failing_menu_never_delays_the_first_answer(
        emulator: BotAPIEmulator, engine: Engine, make_adapter: AdapterFactory) -> None:
    """setMyCommands answering 500 (or hanging) used to hold polling back for 40 s and more:
    the menu is best effort, the first message is answered at once."""
    emulator.inject("setMyCommands", "timeout", times=3)  # every menu hangs past the client's 1 s
    emulator.inject("setMyCommands", "500", times=100)
    emulator.user(ALICE, "Alice")
    emulator.send_text(ALICE, "/start 97415")  # waiting before the bot starts
    await make_adapter(engine, session_factory=engine.sessions, set_commands=True)
    await answer(emulator, ALICE, "votre commune est Saint-Paul (974)")
    await emulator.wait_for(lambda: len(emulator.sent("setMyCommands", ok=False)) >= 1)
    first_answer = emulator.sent("sendMessage", ALICE)[0].at
    first_menu_given_up = emulator.sent("setMyCommands", ok=False)[0].at
    # answered while the menu still hung (it used to come first, for 3 s and more)
    assert first_answer < first_menu_given_up
