"""The adapter over HTTP against the emulator, with a small fake engine: translation,
rendering, keyboards, edits, groups, faults, delivery once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from emulator import AdapterFactory, BotAPIEmulator
from sqlalchemy.orm import Session, sessionmaker

from adapters.telegram.runner import TelegramAdapter
from bot import outbox
from bot.messages import (
    Bold,
    ChatKind,
    Choice,
    Document,
    Incoming,
    Link,
    MapPin,
    Outgoing,
    Target,
    TargetKind,
)
from directory.db import transaction

USER = 1001
GROUP = -100500
ICS = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nSUMMARY:Fête de la musique\r\n"
       "END:VEVENT\r\nEND:VCALENDAR\r\n").encode()
#: not text: every byte value, so nothing on the way may decode or re-encode it
BLOB = bytes(range(256)) * 64


async def until(probe: Callable[[], Awaitable[object]], expected: object,
                timeout: float = 5.0) -> None:
    """Poll an async probe (a stored value) until it shows ``expected``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (value := await probe()) != expected:
        assert asyncio.get_running_loop().time() < deadline, f"{value!r} != {expected!r}"
        await asyncio.sleep(0.02)


@dataclass
class FakeEngine:
    """Answers by keyword; remembers event ids like the engine's processed_events."""

    seen: list[Incoming] = field(default_factory=list)
    processed: set[str] = field(default_factory=set)
    effects: int = 0

    async def handle(self, incoming: Incoming) -> list[Outgoing]:
        if incoming.event_id in self.processed:
            return []
        self.processed.add(incoming.event_id or "")
        self.seen.append(incoming)
        self.effects += 1
        text = incoming.text.removeprefix("/")
        if incoming.choice_id is not None:
            page = incoming.choice_id.removeprefix("page.")
            return [Outgoing.text(f"Page {page}", choices=(Choice("page.2", "Suivant ▶"),),
                                  edit_key="results")]
        if incoming.location is not None:
            return [Outgoing.text(f"Vu : {incoming.location.lat:.3f}")]
        if text == "boom":
            raise RuntimeError("engine failure")
        if text == "results":
            return [Outgoing.text("Page 1", choices=(Choice("page.2", "Suivant ▶"),
                                                     Choice("x" * 80, "Très long id")),
                                  edit_key="results")]
        if text == "where":
            return [Outgoing.text("Où êtes-vous ?", request_location=True)]
        if text == "pin":
            return [Outgoing.text(Bold("Crèche <Les P'tits>"),
                                  pin=MapPin("Crèche", -21.0, 55.27, "1 rue & Co"))]
        if text == "long":
            return [Outgoing.text(*(f"Ligne {i} <b> & co\n" for i in range(600)))]
        if text == "dm":
            return [Outgoing.text("privé", target=Target(TargetKind.USER, "telegram", str(USER)))]
        if text == "ics":
            return [Outgoing.text(Bold("Fête <de> la musique"), " & co",
                                  document=Document("fête de la musique.ics", "text/calendar", ICS),
                                  choices=(Choice("more", "Autres dates"),))]
        if text == "export":
            return [Outgoing.text(*(f"Ligne {i} : vos données\n" for i in range(100)),
                                  document=Document("mes-données.zip", "application/zip", BLOB))]
        if text == "bare":
            return [Outgoing(document=Document("notes", "text/csv", b"a\x00b"),
                             request_location=True)]
        if text == "link":
            return [Outgoing.text(Link("site", "https://ex.org/?a=1&b=<2>"), " ",
                                  Link("bad", "javascript:alert(1)"))]
        return [Outgoing.text("Écho : ", Bold(text))]


async def test_private_text_is_translated_and_answered_in_html(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    engine = FakeEngine()
    await make_adapter(engine)
    emulator.user(USER, "Marie", "en")
    update_id = emulator.send_text(USER, "a <b> & c")
    [call] = await emulator.wait_calls("sendMessage", 1, chat_id=USER)
    assert call.params["parse_mode"] == "HTML"
    assert call.params["text"] == "Écho : <b>a &lt;b&gt; &amp; c</b>"
    incoming = engine.seen[0]
    assert incoming == Incoming(platform="telegram", user_id=str(USER), chat_id=str(USER),
                                text="a <b> & c", display_name="Marie",
                                chat_kind=ChatKind.DIRECT, language_hint="en",
                                event_id=str(update_id), addressed=True, redeliverable=True)


async def test_offset_is_persisted_after_handling_and_restart_resumes(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    engine = FakeEngine()
    adapter = await make_adapter(engine)
    first = emulator.send_text(USER, "un")
    await emulator.wait_calls("sendMessage", 1, chat_id=USER)
    assert adapter.state is not None
    await until(adapter.state.offset, first)
    await adapter.stop()
    second = emulator.send_text(USER, "deux")
    restarted = await make_adapter(engine)
    await emulator.wait_calls("sendMessage", 2, chat_id=USER)
    assert emulator.get_updates_calls[-1]["offset"] >= first + 1
    assert [i.text for i in engine.seen] == ["un", "deux"]
    assert restarted.state is not None
    await emulator.wait_for(lambda: emulator.confirmed(second))


async def test_crash_before_offset_saved_redelivers_and_changes_nothing_twice(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    engine = FakeEngine()
    adapter = await make_adapter(engine, start=False)
    emulator.send_text(USER, "premier")
    await adapter.start()
    await emulator.wait_calls("sendMessage", 1, chat_id=USER)
    # simulate a crash right after the engine committed: the stored offset goes back
    assert adapter.state is not None
    await adapter.stop()
    await adapter.state.delete("offset")
    emulator.pending.insert(0, {"update_id": 1000, "message": emulator.chats[USER].messages[1]})
    again = await make_adapter(engine)
    emulator.send_text(USER, "second")
    await emulator.wait_calls("sendMessage", 2, chat_id=USER)
    assert engine.effects == 2  # the redelivered update reached the engine, changed nothing
    assert len(emulator.sent("sendMessage", USER)) == 2
    assert again.state is not None
    await until(lambda: again.state.offset(), 1001)


async def test_pagination_edits_the_pressed_message_and_answers_every_callback(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    engine = FakeEngine()
    await make_adapter(engine)
    emulator.send_text(USER, "results")
    [call] = await emulator.wait_calls("sendMessage", 1, chat_id=USER)
    keyboard = call.params["reply_markup"]["inline_keyboard"]
    datas = [b["callback_data"] for row in keyboard for b in row]
    assert datas[0] == "page.2"
    assert len(datas[1].encode()) <= 64 and datas[1].startswith("~")
    message_id = call.result["message_id"]
    emulator.press(USER, message_id, "page.2")
    await emulator.wait_calls("editMessageText", 1, chat_id=USER)
    assert emulator.last_bot_message(USER)["text"] == "Page 2"
    assert len(emulator.sent("sendMessage", USER)) == 1
    assert len(emulator.answered_callbacks) == 1
    # the long id travels back as the engine's own id
    emulator.press(USER, message_id, datas[1])
    await emulator.wait_for(lambda: len(engine.seen) == 3)
    assert engine.seen[-1].choice_id == "x" * 80
    await emulator.wait_for(lambda: len(emulator.answered_callbacks) == 2)
    assert not emulator.open_callbacks


async def test_a_press_on_a_message_from_before_a_restart_still_edits_it(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    engine = FakeEngine()
    adapter = await make_adapter(engine)
    emulator.send_text(USER, "results")
    [call] = await emulator.wait_calls("sendMessage", 1, chat_id=USER)
    await adapter.stop()
    await make_adapter(engine)
    emulator.press(USER, call.result["message_id"], "page.2")
    await emulator.wait_calls("editMessageText", 1, chat_id=USER)
    assert len(emulator.sent("sendMessage", USER)) == 1


async def test_location_request_is_a_reply_keyboard_and_location_comes_back(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    engine = FakeEngine()
    await make_adapter(engine)
    emulator.send_text(USER, "where")
    [call] = await emulator.wait_calls("sendMessage", 1, chat_id=USER)
    [[button]] = call.params["reply_markup"]["keyboard"]
    assert button["request_location"] is True
    assert button["text"] == "📍 Partager ma position"
    emulator.send_location(USER, -21.1151, 55.5364)
    calls = await emulator.wait_calls("sendMessage", 2, chat_id=USER)
    assert engine.seen[-1].location is not None
    assert engine.seen[-1].location.lat == pytest.approx(-21.1151)
    assert calls[1].params["reply_markup"] == {"remove_keyboard": True}


async def test_map_pin_becomes_a_venue_and_text_is_escaped(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    await make_adapter(FakeEngine())
    emulator.send_text(USER, "pin")
    [venue] = await emulator.wait_calls("sendVenue", 1, chat_id=USER)
    [text] = emulator.sent("sendMessage", USER)
    assert text.params["text"] == "<b>Crèche &lt;Les P'tits&gt;</b>"
    assert venue.params["title"] == "Crèche"
    assert venue.params["address"] == "1 rue & Co"
    assert venue.params["latitude"] == pytest.approx(-21.0)


async def test_long_message_is_split_cleanly_under_the_limit(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    await make_adapter(FakeEngine())
    emulator.send_text(USER, "long")
    await emulator.wait_for(lambda: sum(
        c.params["text"].count("Ligne") for c in emulator.sent("sendMessage", USER)) == 600)
    calls = emulator.sent("sendMessage", USER)
    assert len(calls) >= 3
    assert not emulator.sent("sendMessage", USER, ok=False)
    assert all(c.params["text"].startswith("Ligne") for c in calls)  # cut at line ends
    assert calls[0].params["text"].split("\n")[0] == "Ligne 0 &lt;b&gt; &amp; co"


async def test_links_are_escaped_and_unsafe_schemes_are_plain_text(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    await make_adapter(FakeEngine())
    emulator.send_text(USER, "link")
    [call] = await emulator.wait_calls("sendMessage", 1, chat_id=USER)
    assert call.params["text"] == (
        '<a href="https://ex.org/?a=1&amp;b=&lt;2&gt;">site</a> bad (javascript:alert(1))')


async def test_engine_failure_gets_an_apology_and_other_updates_go_on(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    engine = FakeEngine()
    await make_adapter(engine)
    emulator.user(2002, "John", "en")
    emulator.send_text(USER, "boom")
    emulator.send_text(2002, "hello")
    [apology] = await emulator.wait_calls("sendMessage", 1, chat_id=USER)
    assert apology.params["text"].startswith("Désolé")
    [echo] = await emulator.wait_calls("sendMessage", 1, chat_id=2002)
    assert "hello" in echo.params["text"]
    emulator.user(2003, "Jane", "en-GB")
    emulator.send_text(2003, "boom")
    [english] = await emulator.wait_calls("sendMessage", 1, chat_id=2003)
    assert english.params["text"].startswith("Sorry")


async def test_group_only_addressed_messages_count_and_admins_moderate(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    engine = FakeEngine()
    await make_adapter(engine)
    emulator.user(USER)
    emulator.user(3003, "Paul")
    emulator.chat(GROUP, "supergroup", "Saint-Paul", admins={USER})
    emulator.send_text(3003, "bonjour tout le monde", chat_id=GROUP)
    emulator.send_text(3003, "/aide@otherbot", chat_id=GROUP)
    emulator.send_text(USER, "/lier@communetestbot 97415", chat_id=GROUP)
    emulator.send_text(3003, "@communetestbot crèche", chat_id=GROUP)
    await emulator.wait_for(lambda: len(engine.seen) == 4)
    chatter, other_bot, bind, mention = engine.seen
    assert not chatter.addressed and chatter.chat_kind == ChatKind.GROUP
    assert not other_bot.addressed
    assert bind.addressed and bind.text == "/lier 97415" and bind.chat_moderator
    assert mention.addressed and mention.text == "crèche" and not mention.chat_moderator
    await emulator.wait_calls("sendMessage", 4, chat_id=GROUP)
    reply_to = emulator.sent("sendMessage", GROUP)[-1].result["message_id"]
    emulator.send_text(3003, "et à Saint-Leu ?", chat_id=GROUP, reply_to=reply_to)
    await emulator.wait_for(lambda: len(engine.seen) == 5)
    assert engine.seen[-1].addressed
    # the admin list was asked once and cached
    assert len(emulator.sent("getChatAdministrators")) == 1


async def test_location_button_is_never_sent_to_a_group(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    await make_adapter(FakeEngine())
    emulator.user(USER)
    emulator.chat(GROUP, "group", "Le Port")
    emulator.send_text(USER, "/where", chat_id=GROUP)
    [call] = await emulator.wait_calls("sendMessage", 1, chat_id=GROUP)
    assert call.params["text"] == "Où êtes-vous ?"
    assert "keyboard" not in (call.params.get("reply_markup") or {})


async def test_429_waits_retry_after_then_delivers(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    adapter = await make_adapter(FakeEngine())
    emulator.inject("sendMessage", "429", retry_after=1)
    emulator.send_text(USER, "salut")
    ok = await emulator.wait_calls("sendMessage", 1, chat_id=USER)
    [refused] = emulator.sent("sendMessage", USER, ok=False)
    assert refused.error == "Too Many Requests: retry after 1"
    assert ok[0].at - refused.at >= 0.95
    assert ("429", "sendMessage", 1.0) in adapter.pacer.events


@pytest.mark.parametrize(("method", "kind", "times"), [
    ("sendMessage", "500", 2), ("sendMessage", "502", 2), ("editMessageText", "timeout", 2),
    # the edit was made, its answer lost: made again, Telegram says "not modified"
    ("editMessageText", "timeout_after", 1),
])
async def test_server_errors_and_timeouts_are_retried_with_backoff(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory, method: str, kind: str,
        times: int) -> None:
    adapter = await make_adapter(FakeEngine())
    emulator.send_text(USER, "results")
    [page1] = await emulator.wait_calls("sendMessage", 1, chat_id=USER)
    emulator.inject(method, kind, times=times)
    emulator.press(USER, page1.result["message_id"], "page.2")
    emulator.send_text(USER, "salut")
    await emulator.wait_for(lambda: any(
        "salut" in c.params["text"] for c in emulator.sent("sendMessage", USER)), timeout=15)
    assert emulator.texts(USER) == ["Page 2", "Écho : <b>salut</b>"]  # each shown once
    assert [e[0] for e in adapter.pacer.events] == ["retry"] * times


async def test_a_message_telegram_took_without_answering_is_not_sent_again(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    """The answer to sendMessage never came, but the message is in the chat: sending it
    again would show it twice (the Bot API has no idempotency key), so it counts as sent,
    with no apology; the next messages go on as usual."""
    adapter = await make_adapter(FakeEngine())
    emulator.inject("sendMessage", "timeout_after")
    emulator.send_text(USER, "salut")
    emulator.send_text(USER, "encore")
    await emulator.wait_for(lambda: len(emulator.sent("sendMessage", USER)) >= 2, timeout=15)
    assert emulator.texts(USER) == ["Écho : <b>salut</b>", "Écho : <b>encore</b>"]
    assert [e[:2] for e in adapter.pacer.events] == [("unconfirmed", "sendMessage")]


async def test_refused_html_falls_back_to_plain_text(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    await make_adapter(FakeEngine())
    emulator.inject("sendMessage", "parse_entities")
    emulator.send_text(USER, "x < y")
    [ok] = await emulator.wait_calls("sendMessage", 1, chat_id=USER)
    assert ok.params["text"] == "Écho : x < y"
    assert "parse_mode" not in ok.params


async def test_poll_survives_get_updates_failures(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    emulator.inject("getUpdates", "502", times=2)
    await make_adapter(FakeEngine())
    emulator.send_text(USER, "toujours là")
    await emulator.wait_calls("sendMessage", 1, chat_id=USER)


async def test_unreadable_messages_get_a_localized_hint(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    engine = FakeEngine()
    await make_adapter(engine)
    emulator.user(USER, language_code="en")
    chat = emulator.chat(USER)
    emulator.push_update({"message": emulator._user_message(chat, USER, sticker={
        "file_id": "f", "file_unique_id": "u", "width": 512, "height": 512,
        "is_animated": False, "is_video": False, "type": "regular"})})
    [call] = await emulator.wait_calls("sendMessage", 1, chat_id=USER)
    assert call.params["text"].startswith("I only read text")
    assert engine.seen == []


async def test_user_target_goes_to_the_private_chat(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    await make_adapter(FakeEngine())
    emulator.user(USER)
    emulator.chat(GROUP, "group")
    emulator.send_text(USER, "/dm", chat_id=GROUP)
    # never talked to the bot in private: Telegram refuses, the group hears an apology
    [apology] = await emulator.wait_calls("sendMessage", 1, chat_id=GROUP)
    assert apology.params["text"].startswith("Désolé")
    emulator.chat(USER)  # the user opens a private chat with the bot
    emulator.send_text(USER, "/dm", chat_id=GROUP)
    [call] = await emulator.wait_calls("sendMessage", 1, chat_id=USER)
    assert call.params["text"] == "privé"


def test_adapter_refuses_to_start_without_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    from adapters.telegram.config import TelegramConfig
    from adapters.telegram.runner import TelegramStartError

    monkeypatch.delenv("TELEGRAM_TOKEN", raising=False)
    with pytest.raises(TelegramStartError, match="TELEGRAM_TOKEN"):
        TelegramAdapter(TelegramConfig(enabled=True), FakeEngine())


async def test_different_chats_run_concurrently_one_chat_in_order(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    order: list[str] = []

    class Slow(FakeEngine):
        async def handle(self, incoming: Incoming) -> list[Outgoing]:
            if incoming.text.startswith("slow"):
                await asyncio.sleep(0.5)
            order.append(incoming.text)
            return [Outgoing.text(incoming.text)]

    await make_adapter(Slow())
    emulator.send_text(USER, "slow 1")
    emulator.send_text(USER, "fast 2")
    emulator.send_text(4004, "fast other")
    await emulator.wait_for(lambda: len(order) == 3)
    assert order.index("fast other") < order.index("slow 1") < order.index("fast 2")


async def test_a_typed_question_gets_a_new_message_not_an_edit_far_above(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    await make_adapter(FakeEngine())
    emulator.send_text(USER, "results")
    emulator.send_text(USER, "results")
    await emulator.wait_calls("sendMessage", 2, chat_id=USER)
    assert emulator.sent("editMessageText") == []


async def test_a_press_on_a_message_showing_another_view_sends_a_new_one(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    class Views(FakeEngine):
        async def handle(self, incoming: Incoming) -> list[Outgoing]:
            if incoming.choice_id == "open":
                return [Outgoing.text("Liste", choices=(Choice("x", "x"),), edit_key="results")]
            return [Outgoing.text("Fiche", choices=(Choice("open", "Voir la liste"),),
                                  edit_key="card")]

    await make_adapter(Views())
    emulator.send_text(USER, "fiche")
    [card] = await emulator.wait_calls("sendMessage", 1, chat_id=USER)
    emulator.press(USER, card.result["message_id"], "open")
    calls = await emulator.wait_calls("sendMessage", 2, chat_id=USER)
    assert calls[1].params["text"] == "Liste"
    assert emulator.sent("editMessageText") == []


async def test_an_unreadable_update_is_stepped_over_and_the_rest_handled(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    engine = FakeEngine()
    emulator.user(USER)
    chat = emulator.chat(USER)
    broken = emulator.push_update(
        {"message": emulator._user_message(chat, USER, sticker={"no": "such shape"})})
    emulator.send_text(USER, "après")
    adapter = await make_adapter(engine)
    [call] = await emulator.wait_calls("sendMessage", 1, chat_id=USER)
    assert "après" in call.params["text"]
    assert adapter.state is not None
    await until(adapter.state.offset, broken + 1)
    emulator.send_text(USER, "encore")
    await emulator.wait_calls("sendMessage", 2, chat_id=USER)


async def test_webhook_inbox_left_by_a_crash_is_handled_at_start(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory, sessions: Any) -> None:
    import socket

    from adapters.telegram.state import TelegramState

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    emulator.user(USER)
    chat = emulator.chat(USER)
    acknowledged = {"update_id": 77, "message": emulator._user_message(chat, USER, text="reste")}
    state = TelegramState(sessions, emulator.bot_id)
    await state.inbox_put(77, acknowledged)
    engine = FakeEngine()
    url = f"http://127.0.0.1:{port}/hook"
    await make_adapter(engine, mode="webhook", webhook_url=url, port=port)
    [call] = await emulator.wait_calls("sendMessage", 1, chat_id=USER)
    assert "reste" in call.params["text"]
    await until(state.inbox, [])
    async with aiohttp.ClientSession() as http, http.post(url, data=b"{not json", headers={
            "X-Telegram-Bot-Api-Secret-Token": emulator.webhook["secret_token"]}) as resp:
        assert resp.status == 400


async def test_the_token_never_reaches_the_logs(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory,
        caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.DEBUG, logger="communebot")
    caplog.set_level(logging.INFO)
    await make_adapter(FakeEngine())
    emulator.inject("sendMessage", "502")
    emulator.send_text(USER, "salut")
    await emulator.wait_calls("sendMessage", 1, chat_id=USER)
    assert caplog.records
    assert emulator.token not in caplog.text
    assert emulator.token.split(":")[1] not in caplog.text


async def test_a_slow_answer_shows_typing_a_fast_one_does_not(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    class Slow(FakeEngine):
        async def handle(self, incoming: Incoming) -> list[Outgoing]:
            if incoming.text == "lent":
                await asyncio.sleep(0.8)
            return [Outgoing.text("ok")]

    await make_adapter(Slow())
    emulator.send_text(USER, "vite")
    await emulator.wait_calls("sendMessage", 1, chat_id=USER)
    assert emulator.sent("sendChatAction") == []
    emulator.send_text(USER, "lent")
    await emulator.wait_calls("sendMessage", 2, chat_id=USER)
    [typing] = emulator.sent("sendChatAction", USER)
    assert typing.params["action"] == "typing"


async def test_stop_gives_up_on_a_stuck_update_and_it_comes_back_at_restart(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    release = asyncio.Event()
    seen: list[str] = []

    class Stuck(FakeEngine):
        async def handle(self, incoming: Incoming) -> list[Outgoing]:
            seen.append(incoming.text)
            if incoming.text == "bloque" and len(seen) == 1:
                await release.wait()
            return [Outgoing.text(f"vu {incoming.text}")]

    engine = Stuck()
    adapter = await make_adapter(engine)
    update_id = emulator.send_text(USER, "bloque")
    for _ in range(500):
        if seen:
            break
        await asyncio.sleep(0.02)
    await adapter.stop(grace=0.2)
    # kept in the inbox before anything else was asked of Telegram: not lost, and handled
    # again at restart (the offset past it lets the next batch come meanwhile)
    assert adapter.state is not None and await adapter.state.offset() == update_id
    assert [data["update_id"] for data in await adapter.state.inbox()] == [update_id]
    await make_adapter(engine)
    [call] = await emulator.wait_calls("sendMessage", 1, chat_id=USER)
    assert call.params["text"] == "vu bloque" and seen == ["bloque", "bloque"]


async def test_buttons_and_a_location_request_go_in_two_messages(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    class Both(FakeEngine):
        async def handle(self, incoming: Incoming) -> list[Outgoing]:
            return [Outgoing.text("Laquelle ?", choices=(Choice("a", "Saint-Paul (974)"),),
                                  request_location=True, lang="en")]

    await make_adapter(Both())
    emulator.send_text(USER, "x")
    first, second = await emulator.wait_calls("sendMessage", 2, chat_id=USER)
    assert "inline_keyboard" in first.params["reply_markup"]
    assert second.params["text"] == "You can also share your location with the button below."
    [[button]] = second.params["reply_markup"]["keyboard"]
    assert button == {"text": "📍 Share my location", "request_location": True}


async def test_a_document_is_uploaded_with_its_name_type_bytes_and_caption(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    await make_adapter(FakeEngine())
    emulator.send_text(USER, "ics")
    [call] = await emulator.wait_calls("sendDocument", 1, chat_id=USER)
    [upload] = emulator.documents(USER)
    assert (upload.filename, upload.mime, upload.data) == (
        "fête de la musique.ics", "text/calendar", ICS)
    # the short text is the caption: one message, carrying the keyboard too
    assert call.params["caption"] == "<b>Fête &lt;de&gt; la musique</b> &amp; co"
    assert call.params["parse_mode"] == "HTML"
    assert emulator.buttons(call.result) == {"Autres dates": "more"}
    assert emulator.sent("sendMessage", USER) == []
    message = emulator.last_bot_message(USER)
    assert message["document"]["file_name"] == "fête de la musique.ics"
    assert message["document"]["file_size"] == len(ICS)


async def test_a_long_text_goes_first_and_the_document_follows_without_caption(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    await make_adapter(FakeEngine())
    emulator.send_text(USER, "export")
    [call] = await emulator.wait_calls("sendDocument", 1, chat_id=USER)
    texts = emulator.sent("sendMessage", USER)
    assert sum(c.params["text"].count("Ligne") for c in texts) == 100
    assert all(c.at <= call.at for c in texts)
    assert "caption" not in call.params and "parse_mode" not in call.params
    [upload] = emulator.documents(USER)
    assert (upload.filename, upload.mime, upload.data) == ("mes-données.zip", "application/zip", BLOB)


async def test_a_bare_document_can_carry_the_location_button(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    await make_adapter(FakeEngine())
    emulator.send_text(USER, "bare")
    [call] = await emulator.wait_calls("sendDocument", 1, chat_id=USER)
    assert "caption" not in call.params
    assert call.params["reply_markup"]["keyboard"][0][0]["request_location"] is True
    [upload] = emulator.documents(USER)  # the engine's type, not one guessed from the name
    assert (upload.filename, upload.mime, upload.data) == ("notes", "text/csv", b"a\x00b")
    assert emulator.sent("sendMessage", USER) == []  # no separate location prompt


async def test_a_document_upload_waits_out_a_429_and_sends_the_same_bytes(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    adapter = await make_adapter(FakeEngine())
    emulator.inject("sendDocument", "429", retry_after=1)
    emulator.inject("sendDocument", "502")
    emulator.send_text(USER, "export")
    [ok] = await emulator.wait_calls("sendDocument", 1, chat_id=USER, timeout=15)
    refused = emulator.sent("sendDocument", USER, ok=False)
    assert [c.error for c in refused] == ["Too Many Requests: retry after 1", "Bad Gateway"]
    assert ok.at - refused[0].at >= 0.95
    assert ("429", "sendDocument", 1.0) in adapter.pacer.events
    assert [u.data for u in emulator.documents(USER)] == [BLOB]


async def test_a_refused_html_caption_falls_back_to_plain_text(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    await make_adapter(FakeEngine())
    emulator.inject("sendDocument", "parse_entities")
    emulator.send_text(USER, "ics")
    [ok] = await emulator.wait_calls("sendDocument", 1, chat_id=USER)
    assert ok.params["caption"] == "Fête <de> la musique & co"
    assert "parse_mode" not in ok.params
    assert emulator.documents(USER)[0].data == ICS


async def test_an_outbox_document_reaches_the_private_chat(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory,
        sessions: sessionmaker[Session]) -> None:
    """Through the outbox table (base64 in JSON) and out as an upload, bytes intact."""
    await make_adapter(FakeEngine())
    emulator.user(USER)
    emulator.chat(USER)
    with transaction(sessions) as session:
        outbox.enqueue(session, Outgoing.text(
            "Vos données", document=Document("export.json", "application/json", BLOB),
            target=Target(TargetKind.USER, "telegram", str(USER))))
    [call] = await emulator.wait_calls("sendDocument", 1, chat_id=USER)
    assert call.params["caption"] == "Vos données"
    [upload] = emulator.documents(USER)
    assert (upload.filename, upload.mime, upload.data) == ("export.json", "application/json", BLOB)


async def test_a_paced_chat_never_holds_back_another_chats_message(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    """Receiving never waits on answering (issue 19): while one chat's answer is stuck
    (paced, slow), another chat's new message is fetched and answered."""
    release = asyncio.Event()

    class SlowForOne(FakeEngine):
        async def handle(self, incoming: Incoming) -> list[Outgoing]:
            if incoming.chat_id == str(USER):
                await release.wait()
            return [Outgoing.text(f"vu {incoming.text}")]

    await make_adapter(SlowForOne())
    emulator.send_text(USER, "lent")
    await asyncio.sleep(0.3)  # its batch is in hand, its answer stuck
    other = USER + 1
    emulator.user(other, "Bob")
    emulator.send_text(other, "vite")
    [call] = await emulator.wait_calls("sendMessage", 1, chat_id=other)
    assert call.params["text"] == "vu vite"
    assert emulator.sent("sendMessage", USER) == []  # the slow chat still waits
    release.set()
    [slow] = await emulator.wait_calls("sendMessage", 1, chat_id=USER)
    assert slow.params["text"] == "vu lent"


async def test_a_chat_whose_reply_is_paced_does_not_delay_another_chats_answer(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    """The real pacer, not a stuck engine (issue 19): chat A's second answer must wait a
    whole chat interval (60 s here) after its first; chat B writes meanwhile and is
    answered at once, while A's answer is still held back by pacing."""
    await make_adapter(FakeEngine(), chat_interval_seconds=60.0)
    emulator.send_text(USER, "un")
    await emulator.wait_calls("sendMessage", 1, chat_id=USER)
    emulator.send_text(USER, "deux")  # handled, its answer now waits for its pacing turn
    other = USER + 1
    emulator.user(other, "Bob")
    await asyncio.sleep(0.2)
    emulator.send_text(other, "trois")
    [call] = await emulator.wait_calls("sendMessage", 1, chat_id=other, timeout=10)
    assert "trois" in call.params["text"]
    # A's second answer is still paced: one message in A, nothing lost in the wait
    assert [c.params["text"] for c in emulator.sent("sendMessage", USER)] == ["Écho : <b>un</b>"]
    assert len(emulator.get_updates_calls) >= 2  # receiving went on meanwhile


async def test_one_chats_messages_are_answered_in_order_under_concurrency(
        emulator: BotAPIEmulator, make_adapter: AdapterFactory) -> None:
    """Many chats at once, each engine call taking a different time: each chat's
    messages are handled one at a time and answered in the order they were written."""
    import random

    rng = random.Random(19)
    running: dict[str, int] = {}
    overlaps: list[str] = []

    class Jittery(FakeEngine):
        async def handle(self, incoming: Incoming) -> list[Outgoing]:
            running[incoming.chat_id] = running.get(incoming.chat_id, 0) + 1
            if running[incoming.chat_id] > 1:
                overlaps.append(incoming.chat_id)
            await asyncio.sleep(rng.uniform(0, 0.02))
            running[incoming.chat_id] -= 1
            return [Outgoing.text(incoming.text)]

    await make_adapter(Jittery())
    chats = [USER + i for i in range(5)]
    for chat in chats:
        emulator.user(chat, f"U{chat}")
    for n in range(20):
        for chat in chats:
            emulator.send_text(chat, f"{chat}-{n}")
    await emulator.wait_for(
        lambda: all(len(emulator.sent("sendMessage", c)) == 20 for c in chats), timeout=30)
    for chat in chats:
        assert [c.params["text"] for c in emulator.sent("sendMessage", chat)] == [
            f"{chat}-{n}" for n in range(20)]
    assert overlaps == []
