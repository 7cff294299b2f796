"""Pure parts of the engine: commands, cancel words, console locations, bound choices,
Outgoing <-> JSON, commands menu."""

from __future__ import annotations

import pytest

from bot.commands_menu import commands_menu
from bot.messages import (
    Bold,
    Choice,
    Document,
    Italic,
    LineBreak,
    Link,
    ListItems,
    MapPin,
    Outgoing,
    Target,
    TargetKind,
    Text,
)
from bot.outbox import outgoing_from_json, outgoing_to_json
from bot.router import is_cancel, parse_command, parse_location_command
from bot.state import Offer, bind_choices, match_text, resolve_choice_id
from dialogs import specs


@pytest.mark.parametrize(
    ("text", "name", "args", "bot"),
    [
        ("/start", "start", "", None),
        ("/start 97415", "start", "97415", None),
        ("/search@CommuneBot crèche  au Port ", "search", "crèche  au Port", "CommuneBot"),
        ("/ADMIN bind Saint-Paul", "admin", "bind Saint-Paul", None),
        ("  /help", "help", "", None),
    ],
)
def test_parse_command(text: str, name: str, args: str, bot: str | None) -> None:
    command = parse_command(text)
    assert command is not None
    assert (command.name, command.args, command.bot) == (name, args, bot)


@pytest.mark.parametrize("text", ["", "hello /start", "/ 12", "//x", "/é", "1/2", "/" + "a" * 40])
def test_not_a_command(text: str) -> None:
    assert parse_command(text) is None


@pytest.mark.parametrize("text", ["annuler", "Annuler !", "CANCEL", "stop", "/cancel",
                                  "/cancel@bot", "laisse tomber"])
def test_cancel_words(text: str) -> None:
    assert is_cancel(text)


@pytest.mark.parametrize("text", ["annuler mon rendez-vous chez le garagiste", "stop pub", "", "non"])
def test_not_cancel(text: str) -> None:
    assert not is_cancel(text)


def test_location_command() -> None:
    assert parse_location_command("/location -21.0 55.27") == (-21.0, 55.27)
    assert parse_location_command("/location -21,0 55,27") == (-21.0, 55.27)
    assert parse_location_command("/position 48.85 2.35") == (48.85, 2.35)
    for bad in ("/location", "/location 200 0", "/location a b", "/location 1 2 3",
                "/location nan 2", "location 1 2"):
        assert parse_location_command(bad) is None, bad


def _offer() -> tuple[list[Outgoing], Offer]:
    replies = [
        Outgoing.text("intro"),
        Outgoing(spans=(Text("a"),), choices=(Choice("yes", "Oui"), Choice("no", "Non"))),
        Outgoing(spans=(Text("b"),), choices=(Choice("commune:97415", "Saint-Paul (974)"),
                                              Choice("commune:60591", "Saint-Paul (60)"),
                                              Choice("more", "Plus de résultats"))),
        Outgoing(spans=(Text("room"),), choices=(Choice("x", "X"),),
                 target=Target(TargetKind.COMMUNE_ROOM, ref="97407")),
    ]
    bound, offer = bind_choices(replies, "abcd1234")
    assert offer is not None
    return bound, offer


def test_bound_choices_are_opaque_short_and_resolvable() -> None:
    bound, offer = _offer()
    ids = [c.id for r in bound for c in r.choices]
    assert ids == ["abcd1234.0", "abcd1234.1", "abcd1234.2", "abcd1234.3", "abcd1234.4"]
    assert all(len(i.encode()) <= 40 and i.isascii() for i in ids)
    assert bound[3].choices == ()  # nobody in the room can answer
    assert bound[2].choices[0].label == "Saint-Paul (974)"
    assert resolve_choice_id(offer, "abcd1234.2") == "commune:97415"
    for stale in ("ffff0000.2", "abcd1234.9", "abcd1234.x", "abcd1234", "", "abcd1234.-1"):
        assert resolve_choice_id(offer, stale) is None
    assert resolve_choice_id(None, "abcd1234.2") is None
    assert Offer.from_json(offer.to_json()) == offer
    assert Offer.from_json({"garbage": 1}) is None and Offer.from_json(None) is None


def test_typed_numbers_and_labels_map_to_the_last_choices() -> None:
    _, offer = _offer()
    assert match_text(offer, "1") == ("choice", "commune:97415")
    assert match_text(offer, " 3. ") == ("choice", "more")
    assert match_text(offer, "#2") == ("choice", "commune:60591")
    assert match_text(offer, "4") == ("out_of_range", None)
    assert match_text(offer, "0") == ("out_of_range", None)
    assert match_text(offer, "97415") == ("none", None)  # a postcode, not a choice number
    assert match_text(offer, "saint paul (974)") == ("choice", "commune:97415")
    assert match_text(offer, "OUI") == ("choice", "yes")  # labels of earlier messages too
    assert match_text(offer, "saint paul") == ("none", None)
    assert match_text(offer, "") == ("none", None)
    assert match_text(None, "1") == ("none", None)
    assert [c.id for c in offer.last_choices()] == ["abcd1234.2", "abcd1234.3", "abcd1234.4"]


def test_no_choices_no_offer() -> None:
    bound, offer = bind_choices([Outgoing.text("x")], "n")
    assert offer is None and bound == [Outgoing.text("x")]


def test_outgoing_json_round_trip() -> None:
    item = Outgoing(
        spans=(Text("a"), Bold("b"), Italic("c"), Link("d", "https://e"), LineBreak(),
               ListItems(items=((Text("1"), Bold("2")), (Link("x", "https://y"),)), numbered=True)),
        choices=(Choice("k", "K"),),
        request_location=True,
        pin=MapPin("Mairie", -21.0, 55.3, "1 rue X"),
        target=Target(TargetKind.USER, platform="matrix", ref="@a:b"),
        edit_key="results",
        lang="en",
    )
    import json

    assert outgoing_from_json(json.loads(json.dumps(outgoing_to_json(item)))) == item
    assert outgoing_from_json(outgoing_to_json(Outgoing.text("x"))) == Outgoing.text("x")


def test_outgoing_json_round_trips_a_document_as_base64() -> None:
    """Any bytes survive the JSON column (an .ics, a zip export), and a damaged payload
    raises ValueError, which the outbox's ``claim`` treats as unreadable."""
    import json

    data = bytes(range(256)) + "BEGIN:VCALENDAR\r\nSUMMARY:Fête\r\n".encode()
    item = Outgoing.text("Votre fichier :", document=Document("fête.ics", "text/calendar", data),
                         target=Target(TargetKind.USER, platform="telegram", ref="42"))
    payload = json.loads(json.dumps(outgoing_to_json(item)))
    assert payload["document"]["filename"] == "fête.ics"
    assert payload["document"]["mime"] == "text/calendar"
    assert isinstance(payload["document"]["data"], str)
    assert outgoing_from_json(payload) == item
    empty = Outgoing(document=Document("vide.txt", "text/plain", b""))
    assert outgoing_from_json(outgoing_to_json(empty)) == empty
    assert outgoing_from_json({**payload, "document": None}).document is None
    with pytest.raises(ValueError):
        outgoing_from_json({**payload, "document": {**payload["document"], "data": "no*base64"}})


def test_commands_menu_in_both_languages() -> None:
    fr, en = commands_menu("fr"), commands_menu("en")
    menu = specs().menu
    assert [c for c, _ in fr] == [c for c, _ in en] == list(menu)
    assert menu == ("search", "recommend", "join", "project", "event", "me", "settings", "digest", "privacy",
                    "help", "cancel")
    assert all(desc and not desc.startswith("help.") for _, desc in fr + en)
    assert dict(fr)["search"] != dict(en)["search"]
    assert all(c.islower() and len(c) <= 32 for c in menu)  # Telegram's rules
