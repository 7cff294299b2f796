"""Sharing an entry: the shareable text carries a link that opens the entry in the bot
(a Telegram deep link, the command to type elsewhere), and "/start e<id>" opens it."""

from __future__ import annotations

from typing import Any

from adapters.matrix.render import notice_content
from adapters.telegram.render import render_chunks, with_deep_links
from bot.engine import Engine
from bot.messages import Link, ListItems, Outgoing, StartLink, Text, plain_text
from bot.outbox import outgoing_from_json, outgoing_to_json
from dialogs.entry_questions import entry_of_payload, share_payload

from .conftest import Talk  # type: ignore[import-not-found]


def test_payloads_round_trip_and_refuse_what_is_not_an_entry() -> None:
    assert entry_of_payload(share_payload(42)) == 42
    for payload in ("97415", "e", "ex", "e-1", "e" + "9" * 20, ""):
        assert entry_of_payload(payload) is None


def test_start_links_render_per_platform_and_survive_the_outbox() -> None:
    spans = (Text("Voir : "), StartLink("la fiche", "e42"),
             ListItems(((StartLink("item", "e7"),),)))
    assert "la fiche (/start e42)" in plain_text(spans)  # console
    telegram = render_chunks(with_deep_links(spans, "communebot"))[0].html
    assert '<a href="https://t.me/communebot?start=e42">la fiche</a>' in telegram
    assert "https://t.me/communebot?start=e7" in telegram
    assert "(/start e42)" in render_chunks(with_deep_links(spans, None))[0].plain
    matrix = notice_content(spans)
    assert "(!start e42)" in matrix["body"] and "(!start e42)" in matrix["formatted_body"]
    item = Outgoing(spans=spans)
    assert outgoing_from_json(outgoing_to_json(item)) == item
    assert isinstance(with_deep_links(spans, "b")[1], Link)


def test_share_then_open_the_link(seeded: Any) -> None:
    factory, ids = seeded
    me = Talk(Engine(factory))
    me.say("/start 97415")
    assert "Crèche Ti Bouts" in me.say("une crèche")
    me.say("1")
    shared = me.say("partage-la")
    payload = share_payload(ids["Crèche Ti Bouts (fictive)"])
    assert f"(/start {payload})" in shared and "0262 11 22 33" in shared
    friend = Talk(Engine(factory), user="friend")
    card = friend.say(f"/start {payload}")
    assert card.startswith("Crèche Ti Bouts (fictive)")
    assert "0262 11 22 33" in friend.say("son téléphone ?")
    assert friend.say("/start e999999") == "Cette fiche n'est plus disponible."
