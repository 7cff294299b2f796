"""The console delivers its user's outbox as Telegram and Matrix deliver theirs: a digest,
a notice to a follower, queued while they were away, printed before the first line is
read (and before each next one), marked sent, never printed twice, never another user's."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

from click.testing import CliRunner
from sqlalchemy import select

from adapters.console import ConsoleChat
from bot.cli import main
from bot.digests import run_due
from bot.engine import Engine
from bot.messages import Outgoing
from bot.outbox import citizen_target, enqueue, outgoing_to_json
from directory import services
from directory.db import transaction
from directory.models import Account, OutboxMessage

SAINT_PAUL = "97415"
#: Friday 4 December 2026, 10:00 UTC
FRIDAY = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
#: Monday 7 December 2026, 08:00 in La Réunion (UTC+4)
MONDAY_8_REUNION = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)


def _chat(factory: Any, user: str, lang: str = "fr") -> ConsoleChat:
    return ConsoleChat(Engine(factory, clock=lambda: FRIDAY), user_id=user, lang=lang, save_files=False)


def _subscribed(factory: Any, user: str, lang: str = "fr") -> ConsoleChat:
    """A console user registered in Saint-Paul who asked for the weekly digest."""
    chat = _chat(factory, user, lang)
    chat.send("/start 97415")
    assert "C'est noté" in "\n".join(chat.send("/digest weekly")) or lang == "en"
    return chat


def _new_bakery(factory: Any, name: str) -> None:
    with transaction(factory) as session:
        entry = services.add_entry(session, services.NewEntry(
            name=name, category="boulangerie", commune_insee=SAINT_PAUL), force=True)
        entry.created_at = FRIDAY + timedelta(hours=2)


def _pending(factory: Any) -> list[tuple[str, str]]:
    with factory() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
                               .order_by(OutboxMessage.id)).all()
        return [(row.platform, row.chat_id) for row in rows]


def test_a_digest_queued_while_away_is_printed_before_the_first_line_then_never_again(
        engine_store: Any) -> None:
    factory = engine_store[1]
    ana = _subscribed(factory, "ana")
    _new_bakery(factory, "Boulangerie Lontan")
    assert run_due(factory, MONDAY_8_REUNION).queued == 1
    assert _pending(factory) == [("console", "user:ana")]
    out = io.StringIO()
    assert ana.run(["/me"], out) == 1
    lines = out.getvalue().splitlines()
    assert lines[0] == "📬 Message pour vous :"
    assert "Quoi de neuf à Saint-Paul (974) cette semaine" in lines[1]
    assert "Boulangerie Lontan" in out.getvalue() and "/digest off" in out.getvalue()
    assert out.getvalue().index("Boulangerie Lontan") < out.getvalue().index("Votre commune")
    assert _pending(factory) == []  # marked sent
    again = io.StringIO()
    ana.run(["/me"], again)
    assert "Boulangerie Lontan" not in again.getvalue() and "📬" not in again.getvalue()


def test_only_this_users_messages_and_a_follower_notice_too(engine_store: Any) -> None:
    factory = engine_store[1]
    ana = _subscribed(factory, "ana")
    bob = _subscribed(factory, "bob", lang="en")
    _new_bakery(factory, "Boulangerie Lontan")
    assert run_due(factory, MONDAY_8_REUNION).queued == 2
    with transaction(factory) as session:
        bob_id = session.scalar(select(Account.citizen_id).where(Account.platform_user_id == "bob"))
        assert bob_id is not None
        enqueue(session, Outgoing.text("The Lontan bakery you follow opens on Sunday too.",
                                       target=citizen_target(bob_id), lang="en"))
        # a message for a Telegram user is no console's business
        session.add(OutboxMessage(platform="telegram", chat_id="user:42",
                                  payload=outgoing_to_json(Outgoing.text("x"))))
    out = io.StringIO()
    ana.run([], out)  # no line at all: delivered before reading
    assert out.getvalue().count("📬") == 1 and "Quoi de neuf" in out.getvalue()
    assert "follow" not in out.getvalue()
    out = io.StringIO()
    bob.run(["/help"], out)
    text = out.getvalue()
    assert text.count("📬 Message for you:") == 2
    assert text.index("What's new") < text.index("opens on Sunday too") < text.index("Commands:")
    assert _pending(factory) == [("telegram", "user:42")]


def test_a_message_queued_during_the_session_comes_before_the_next_line(engine_store: Any) -> None:
    factory = engine_store[1]
    ana = _chat(factory, "ana")
    ana.send("/start 97415")

    class Lines:
        """stdin: a notice is queued for ana while she types her first line."""

        def __iter__(self) -> Any:
            with transaction(factory) as session:
                ana_id = session.scalar(select(Account.citizen_id).where(Account.platform_user_id == "ana"))
                assert ana_id is not None
                enqueue(session, Outgoing.text("Le projet que vous suivez cherche des bénévoles.",
                                               target=citizen_target(ana_id)))
            yield "/me"
            yield "/help"

    out = io.StringIO()
    ana.run(Lines(), out)
    text = out.getvalue()
    assert text.index("Votre commune") < text.index("cherche des bénévoles") < text.index("Commandes :")
    assert _pending(factory) == []


def test_communebot_chat_delivers_the_outbox_before_reading_stdin(engine_store: Any) -> None:
    factory = engine_store[1]
    _subscribed(factory, "ana")
    _new_bakery(factory, "Boulangerie Lontan")
    assert run_due(factory, MONDAY_8_REUNION).queued == 1
    url = engine_store[0].url.render_as_string(hide_password=False)
    result = CliRunner().invoke(main, ["chat", "--db", url, "--user", "ana"], input="/me\n")
    assert result.exit_code == 0, result.output
    assert result.output.index("Boulangerie Lontan") < result.output.index("Votre commune")
    assert _pending(factory) == []
    second = CliRunner().invoke(main, ["chat", "--db", url, "--user", "ana"], input="/me\n")
    assert "Boulangerie Lontan" not in second.output
