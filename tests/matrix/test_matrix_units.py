"""Pure parts of the Matrix adapter: rendering, parsing, invite policy, saved state."""

from __future__ import annotations

import os
from typing import Any

import pytest

from adapters.matrix.communes import commune_name
from adapters.matrix.inbound import (
    CREATOR_POWER,
    BotIdentity,
    RoomFacts,
    command_text,
    parse_geo_uri,
    sender_power,
    strip_mention,
    strip_reply_fallback,
    to_incoming,
)
from adapters.matrix.receive import invite_allowed
from adapters.matrix.render import (
    contents,
    file_content,
    html,
    location_content,
    replacement,
    reply_to,
)
from adapters.matrix.send import retry_after_header_ms
from adapters.matrix.state import AdapterState, load_state, save_state, state_path
from bot.i18n import load_catalog
from bot.messages import (
    Bold,
    ChatKind,
    Choice,
    Document,
    Italic,
    LineBreak,
    Link,
    ListItems,
    Location,
    MapPin,
    Outgoing,
    Text,
)

BOT = BotIdentity("@communebot:example.org", "CommuneBot")
ROOM = RoomFacts(room_id="!r:example.org", direct=False)
DM = RoomFacts(room_id="!d:example.org", direct=True)


def message(body: str, sender: str = "@alice:example.org", **content: Any) -> dict[str, Any]:
    return {
        "type": "m.room.message",
        "event_id": "$e",
        "sender": sender,
        "content": {"msgtype": "m.text", "body": body, **content},
    }


def as_content(values: dict[str, Any]) -> dict[str, Any]:
    """Content keys that are not Python names (``m.mentions``)."""
    return values


# --- rendering ---------------------------------------------------------------------------


def test_html_escapes_every_text_and_keeps_a_small_tag_set() -> None:
    spans = (
        Text("a < b & c\nnext"),
        Bold("<script>"),
        Italic('"q"'),
        LineBreak(),
        Link("site", "https://example.org/?a=1&b=<2>"),
        ListItems(((Text("x<"),), (Bold("y"),)), numbered=False),
    )
    assert html(spans) == (
        "a &lt; b &amp; c<br>next<b>&lt;script&gt;</b><i>&quot;q&quot;</i><br>"
        '<a href="https://example.org/?a=1&amp;b=&lt;2&gt;">site</a>'
        "<ul><li>x&lt;</li><li><b>y</b></li></ul>"
    )


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,x", "  JavaScript:x"])
def test_unsafe_links_become_text(url: str) -> None:
    assert "<a" not in html((Link("click", url),))
    assert "click" in html((Link("click", url),))


def test_choices_are_numbered_and_the_answer_is_a_notice() -> None:
    out = Outgoing.text("Which one?", choices=(Choice("1", "Crèche"), Choice("2", "École")))
    [notice] = contents(out)
    assert notice["msgtype"] == "m.notice"
    assert notice["body"].startswith("Which one?\n1. Crèche\n2. École")
    assert "<ol><li>Crèche</li><li>École</li></ol>" in notice["formatted_body"]
    assert "numéro" in notice["body"]  # the hint, in French by default
    [english] = contents(Outgoing.text("Which?", choices=(Choice("1", "A"),), lang="en"))
    assert "number" in english["body"]


def test_a_document_is_an_m_file_pointing_at_its_upload() -> None:
    document = Document("fête.ics", "text/calendar", b"BEGIN:VCALENDAR")
    # the upload needs I/O: contents() leaves it out, the sender appends it once uploaded
    assert contents(Outgoing(document=document)) == []
    assert [c["msgtype"] for c in contents(Outgoing.text("Voici :", document=document))] == [
        "m.notice"]
    clear = file_content(document, url="mxc://example.org/abc")
    assert clear == {
        "msgtype": "m.file", "body": "fête.ics", "filename": "fête.ics",
        "info": {"mimetype": "text/calendar", "size": 15}, "url": "mxc://example.org/abc",
    }
    keys = {"v": "v2", "key": {"k": "K"}, "iv": "I", "hashes": {"sha256": "H"},
            "url": "mxc://example.org/enc"}
    secret = file_content(document, encrypted_file=keys)
    assert secret["file"] == keys and "url" not in secret  # never the clear-text pointer


def test_location_request_and_pin() -> None:
    [notice] = contents(Outgoing.text("Where are you?", request_location=True, lang="en"))
    assert "location" in notice["body"].lower()
    pin = MapPin("Mairie <de> Saint-Paul", -21.0096, 55.2707, "2 rue")
    events = contents(Outgoing(pin=pin))
    assert len(events) == 1  # no empty notice before a bare pin
    assert events[0] == location_content(pin)
    assert events[0]["msgtype"] == "m.location"
    assert events[0]["geo_uri"] == "geo:-21.009600,55.270700"
    assert events[0]["org.matrix.msc3488.location"]["uri"] == events[0]["geo_uri"]


def test_reply_and_edit_relations() -> None:
    [notice] = contents(Outgoing.text("hi"))
    assert reply_to(notice, "$x")["m.relates_to"] == {"m.in_reply_to": {"event_id": "$x"}}
    edited = replacement(reply_to(notice, "$x"), "$old")
    assert edited["m.relates_to"] == {"rel_type": "m.replace", "event_id": "$old"}
    assert "m.relates_to" not in edited["m.new_content"]
    assert edited["m.new_content"]["body"] == "hi" and edited["body"] == "* hi"


# --- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("!search crèche", "/search crèche"),
        ("!admin bind 97415", "/admin bind 97415"),
        ("/Search   crèche  ", "/search crèche"),
        ("!help", "/help"),
        ("! not a command", None),
        ("!!", None),
        ("hello", None),
        ("/search@communebot garage", "/search garage"),
    ],
)
def test_command_text(text: str, expected: str | None) -> None:
    assert command_text(text) == expected


def test_room_messages_are_addressed_only_by_command_mention_or_reply() -> None:
    chat = to_incoming(message("nice weather"), ROOM, BOT)
    assert chat is not None and not chat.addressed and chat.chat_kind == ChatKind.GROUP
    command = to_incoming(message("!search crèche"), ROOM, BOT)
    assert command is not None and command.addressed and command.text == "/search crèche"
    mention = to_incoming(message("CommuneBot: où est la mairie ?"), ROOM, BOT)
    assert mention is not None and mention.addressed and mention.text == "où est la mairie ?"
    pill = to_incoming(
        message("hey there", formatted_body='<a href="https://matrix.to/#/@communebot:example.org">x</a>'),
        ROOM, BOT,
    )
    assert pill is not None and pill.addressed
    mentions = as_content({"m.mentions": {"user_ids": [BOT.user_id]}})
    intentional = to_incoming(message("hey", **mentions), ROOM, BOT)
    assert intentional is not None and intentional.addressed
    reply = to_incoming(message("> <@communebot:example.org> 1. A\n\n2"),
                        RoomFacts("!r:x", direct=False, reply_to_bot=True), BOT)
    assert reply is not None and reply.addressed and reply.text == "2"
    direct = to_incoming(message("nice weather"), DM, BOT)
    assert direct is not None and direct.addressed and direct.chat_kind == ChatKind.DIRECT


def test_silence_for_notices_own_events_edits_and_unknown_types() -> None:
    assert to_incoming(message("!search x", msgtype="m.notice"), DM, BOT) is None
    assert to_incoming(message("hi", sender=BOT.user_id), DM, BOT) is None
    edit = message("* fixed", **as_content({"m.relates_to": {"rel_type": "m.replace", "event_id": "$a"}}))
    assert to_incoming(edit, DM, BOT) is None
    assert to_incoming(message("file.png", msgtype="m.image"), DM, BOT) is None
    assert to_incoming({"sender": "@a:b", "content": "oops"}, DM, BOT) is None
    assert to_incoming({"sender": "@a:b", "content": {"msgtype": "m.text"}}, DM, BOT) is None


def test_a_user_named_like_the_bot_is_still_a_user() -> None:
    spoof = to_incoming(message("hello"), RoomFacts("!d:x", direct=True,
                                                     sender_display_name="CommuneBot"), BOT)
    assert spoof is not None and spoof.user_id == "@alice:example.org"


def test_location_messages() -> None:
    loc = to_incoming(message("here", msgtype="m.location", geo_uri="geo:-21.0096,55.2707;u=20"),
                      DM, BOT)
    assert loc is not None and loc.location == Location(-21.0096, 55.2707)
    assert to_incoming(message("x", msgtype="m.location", geo_uri="geo:999,1"), DM, BOT) is None
    assert parse_geo_uri("geo:48.85,2.35") == Location(48.85, 2.35)
    assert parse_geo_uri("http://x") is None


def test_moderators_and_v12_creators() -> None:
    mod = to_incoming(message("!x"), RoomFacts("!r:x", direct=False, sender_power=50), BOT)
    assert mod is not None and mod.chat_moderator
    user = to_incoming(message("!x"), RoomFacts("!r:x", direct=False, sender_power=49), BOT)
    assert user is not None and not user.chat_moderator
    creators = frozenset({"@c:x"})
    assert sender_power(0, "@c:x", creators, "12") == CREATOR_POWER
    assert sender_power(0, "@c:x", creators, "10") == 0
    assert sender_power(75, "@d:x", creators, "12") == 75


def test_mention_and_fallback_stripping() -> None:
    assert strip_mention("@communebot:example.org: search", BOT) == "search"
    assert strip_mention("communebot, aide", BOT) == "aide"
    assert strip_mention("communebotte est là", BOT) == "communebotte est là"
    assert strip_mention("@communebot cherche un garage", BOT) == "cherche un garage"
    assert strip_mention("CommuneBot est utile", BOT) == "CommuneBot est utile"
    assert strip_mention("  communebot  ", BOT) == ""
    assert strip_reply_fallback("> <@a:b> quoted\n> more\n\nanswer") == "answer"
    assert strip_reply_fallback("plain > text") == "plain > text"


# --- policy, state, communes ------------------------------------------------------------------


def test_invite_policy() -> None:
    bot = "@bot:home.org"
    assert invite_allowed("@x:home.org", bot, [], [], [])
    assert not invite_allowed("@x:other.org", bot, [], [], [])
    assert invite_allowed("@x:other.org", bot, [], ["other.org"], [])
    assert invite_allowed("@x:any.org", bot, [], ["*"], [])
    assert invite_allowed("@boss:far.org", bot, [], ["other.org"], ["matrix:@boss:far.org"])
    assert invite_allowed("@a:far.org", bot, ["@a:far.org"], [], [])
    assert not invite_allowed("@x:home.org", bot, ["@a:far.org"], [], [])


def test_retry_after_header() -> None:
    assert retry_after_header_ms("3") == 3000
    assert retry_after_header_ms("0.5") == 500
    assert retry_after_header_ms("Wed, 21 Oct 2015 07:28:00 GMT") is None
    assert retry_after_header_ms(None) is None


def test_state_round_trip_and_bad_files(tmp_path) -> None:
    assert load_state(tmp_path) == AdapterState()
    state = AdapterState("@b:x", "DEV", "tok", "https://x", "s42", {"@a:x": "!d:x"})
    save_state(tmp_path / "store", state)
    assert load_state(tmp_path / "store") == state
    assert os.stat(state_path(tmp_path / "store")).st_mode & 0o077 == 0
    state_path(tmp_path / "store").write_text("{not json")
    assert load_state(tmp_path / "store") == AdapterState()
    state_path(tmp_path / "store").write_text('["a list"]')
    assert load_state(tmp_path / "store") == AdapterState()


def test_commune_names() -> None:
    saint_paul = commune_name("97415")
    assert saint_paul is not None and saint_paul.label == "Saint-Paul (974)"
    assert commune_name("2a004") is not None
    assert commune_name("99999") is None and commune_name("Saint-Paul") is None


def test_catalogs_have_the_same_keys_in_both_languages() -> None:
    fr = {m.id for m in load_catalog("fr") if m.id and str(m.id).startswith("matrix.")}
    en = {m.id for m in load_catalog("en") if m.id and str(m.id).startswith("matrix.")}
    assert fr == en and len(fr) >= 10


def test_choices_already_numbered_in_the_text_are_not_listed_twice() -> None:
    results = ListItems(((Bold("Crèche A"),), (Bold("Crèche B"),)), numbered=True)
    out = Outgoing(
        spans=(Text("Crèches :"), results),
        choices=(Choice("h1", "Crèche A"), Choice("h2", "Crèche B"), Choice("more", "Plus")),
    )
    [notice] = contents(out)
    assert notice["body"].count("Crèche A") == 1
    assert "1. Crèche A\n2. Crèche B\n3. Plus\n" in notice["body"]
    assert '<ol><li><b>Crèche A</b></li><li><b>Crèche B</b></li></ol><ol start="3"><li>Plus</li></ol>' in (
        notice["formatted_body"]
    )
    unrelated = Outgoing(spans=(ListItems(((Text("a"),), (Text("b"),)), numbered=True),),
                         choices=(Choice("y", "Oui"),))
    [notice] = contents(unrelated)
    assert "1. Oui" in notice["body"]


def test_replies_mention_their_addressee_and_stay_in_threads() -> None:
    [notice] = contents(Outgoing.text("hi"))
    assert notice["m.mentions"] == {}  # nobody is pinged by accident
    reply = reply_to(notice, "$q", "@alice:x")
    assert reply["m.mentions"] == {"user_ids": ["@alice:x"]}
    threaded = reply_to(notice, "$q", None, "$root", falling_back=True)
    assert threaded["m.relates_to"] == {
        "rel_type": "m.thread", "event_id": "$root", "is_falling_back": True,
        "m.in_reply_to": {"event_id": "$q"},
    }
    assert threaded["m.mentions"] == {}


@pytest.mark.parametrize(
    ("section", "path", "words"),
    [
        ({"enabled": True}, "matrix:", "user_id is required"),
        ({"user_id": "communebot"}, "matrix.user_id:", "full Matrix user id"),
        ({"homeserver": "matrix.example.org"}, "matrix.homeserver:", "http"),
        ({"allowed_inviters": ["alice"]}, "matrix.allowed_inviters:", "'alice'"),
        ({"language": "de"}, "matrix.language:", "pattern"),
        ({"sync_timeout_ms": -1}, "matrix.sync_timeout_ms:", "greater than or equal"),
        ({"pasword": "x"}, "matrix.pasword:", "Extra inputs"),
    ],
)
def test_bad_matrix_configuration_is_refused_with_its_key(
    section: dict[str, Any], path: str, words: str
) -> None:
    from bot.config import ConfigError, parse_config

    with pytest.raises(ConfigError) as refused:
        parse_config({"matrix": section}, env={})
    assert str(refused.value).startswith(path) and words in str(refused.value)


def test_matrix_secrets_come_from_the_environment() -> None:
    from bot.config import parse_config

    config = parse_config(
        {"matrix": {"enabled": True, "user_id": "@bot:example.org",
                    "homeserver": "https://example.org/"}},
        env={"MATRIX_PASSWORD": "pw"},
    )
    assert config.matrix.password is not None and config.matrix.password.get_secret_value() == "pw"
    assert config.matrix.homeserver == "https://example.org"


def test_a_store_of_another_account_is_not_reused(tmp_path) -> None:
    from adapters.matrix.config import MatrixConfig
    from adapters.matrix.runner import MatrixBot

    save_state(tmp_path, AdapterState("@old:x.org", "DEV", "tok", "https://x.org", "s9"))
    same = MatrixConfig(user_id="@old:x.org", homeserver="https://x.org", store_path=str(tmp_path))
    other = MatrixConfig(user_id="@new:x.org", homeserver="https://x.org", store_path=str(tmp_path))
    assert MatrixBot(same, handler=None).state.next_batch == "s9"  # type: ignore[arg-type]
    assert MatrixBot(other, handler=None).state == AdapterState()  # type: ignore[arg-type]
