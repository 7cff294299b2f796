"""Dialog state under stress: optimistic concurrency (conflicts roll back everything),
several engines on one database, crashes, outbox rows in the same transaction, choices
that outlive a finished dialog, and dialogs handing a message back.

Probe dialogs are installed in the registry's cache under an existing name ("help")."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from sqlalchemy import select, update

import dialogs
from bot import outbox
from bot.dialog import JSON, DialogContext, Step
from bot.engine import Engine
from bot.messages import ChatKind, Outgoing, Target, TargetKind, Text
from directory.db import open_store
from directory.models import Account, ChatBinding, Citizen, DialogState, OutboxMessage

from .conftest import Talk  # type: ignore[import-not-found]


def untyped(name: str) -> Any:
    """The dialog's spec without its state model, for stand-in dialogs with states of
    their own shape."""
    from dataclasses import replace

    spec = dialogs.get_spec(name)
    assert spec is not None
    return replace(spec, state=None)

def reply(text: str, **kw: Any) -> Outgoing:
    return Outgoing(spans=(Text(text),), **kw)


class Counter:
    """Each message adds one to the state and renames the citizen (a directory change)."""

    name: ClassVar[str] = "help"

    def __init__(self) -> None:
        self.calls = 0
        self.sabotage = 0  # how many of the next resumes bump the version behind our back
        self.crash = False

    def start(self, ctx: DialogContext, args: JSON) -> Step:
        return Step.wait({"n": 0}, reply("started"))

    def resume(self, ctx: DialogContext, state: JSON) -> Step:
        self.calls += 1
        if self.crash:
            ctx.citizen.display_name = "half-written"
            ctx.session.flush()
            raise RuntimeError("dialog bug")
        n = int(state["n"]) + 1
        ctx.citizen.display_name = f"n={n}"
        if self.sabotage > 0:
            self.sabotage -= 1
            ctx.session.execute(
                update(DialogState)
                .where(DialogState.account_id == ctx.account.id)
                .values(version=DialogState.version + 1)
            )
        return Step.wait({"n": n}, reply(f"n={n}"))


@pytest.fixture
def counter(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter]:
    probe = Counter()
    monkeypatch.setitem(dialogs._loaded(), "help", (untyped("help"), probe))
    yield probe


def row(factory: Any) -> DialogState | None:
    with factory() as session:
        return session.scalar(select(DialogState))


def name_of(factory: Any) -> str:
    with factory() as session:
        return str(session.scalar(select(Citizen.display_name)))


def test_a_version_conflict_retries_the_whole_message_once(talk, engine_store, counter) -> None:
    me: Talk = talk()
    me.say("/help")
    counter.sabotage = 1
    assert me.say("go") == "n=1"  # first attempt conflicted, the retry went through
    assert counter.calls == 2
    assert row(engine_store[1]).state["data"] == {"n": 1}  # type: ignore[union-attr]


def test_conflicts_past_the_retries_say_busy_and_write_nothing(talk, engine_store, counter) -> None:
    """The engine tries six times (five retries, jittered); a conflict on every one of
    them is said as "busy", and nothing of the attempts is written."""
    me: Talk = talk()
    me.say("/help")
    me.say("go")
    before = row(engine_store[1])
    counter.sabotage = 6
    assert me.say("go") == "Je suis très occupé à l'instant : pouvez-vous renvoyer votre message ?"
    after = row(engine_store[1])
    assert after is not None and before is not None
    assert (after.version, after.state) == (before.version, before.state)
    assert name_of(engine_store[1]) == "n=1"  # the dialog's directory change was rolled back
    assert me.say("go") == "n=2"


def test_a_crashing_dialog_apologises_and_resets(talk, engine_store, counter) -> None:
    me: Talk = talk()
    me.say("/help")
    counter.crash = True
    out = me.say("go")
    assert out.startswith("Désolé, quelque chose s'est mal passé")
    assert row(engine_store[1]) is None
    assert name_of(engine_store[1]) != "half-written"


def test_two_engines_on_one_database_never_lose_an_update(db_url: str, counter) -> None:
    """Two processes (two engines, two connection pools) answer the same user in the same
    chat at once: every reply that is not "busy" is one increment, none is lost."""
    stores = [open_store(db_url), open_store(db_url)]
    engines = [Engine(factory) for _, factory in stores]  # the default retries, with jitter
    Talk(engines[0]).say("/help")
    results: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(engine: Engine) -> None:
        try:
            talk = Talk(engine)
            for _ in range(12):
                out = talk.say("go")
                with lock:
                    results.append(out)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    counts = sorted(int(r.split("=")[1]) for r in results if r.startswith("n="))
    busy = [r for r in results if not r.startswith("n=")]
    assert all("occupé" in r for r in busy)
    assert counts == list(range(1, len(counts) + 1))  # no duplicate, no gap: nothing lost
    final = row(stores[0][1])
    assert final is not None and final.state["data"] == {"n": len(counts)}
    # bounded retries with jitter: the two writers take turns instead of apologising
    assert len(busy) <= 1, busy
    for engine_, _ in stores:
        engine_.dispose()


class Announcer:
    """Publishes to the commune room and to one citizen, replies here."""

    name: ClassVar[str] = "help"

    def start(self, ctx: DialogContext, args: JSON) -> Step:
        ctx.citizen.display_name = "published"
        return Step.done(
            reply("published", choices=()),
            reply("news for the room", target=Target(TargetKind.COMMUNE_ROOM, ref="97407"),
                  choices=(dialogs_choice("follow"),)),
            reply("news for a follower", target=outbox.citizen_target(ctx.citizen.id)),
            reply("dm", target=Target(TargetKind.USER, platform="telegram", ref="555")),
        )

    def resume(self, ctx: DialogContext, state: JSON) -> Step:
        return Step.pass_on()


def dialogs_choice(cid: str) -> Any:
    from bot.messages import Choice

    return Choice(cid, cid)


def test_non_reply_messages_go_to_the_outbox_in_the_same_transaction(
    talk, engine_store, monkeypatch: pytest.MonkeyPatch
) -> None:
    factory = engine_store[1]
    monkeypatch.setitem(dialogs._loaded(), "help", (untyped("help"), Announcer()))
    with factory() as session, session.begin():
        session.add(ChatBinding(platform="telegram", chat_id="-100", commune_insee="97407"))
        session.add(ChatBinding(platform="matrix", chat_id="!room:x", commune_insee="97407"))
        session.add(ChatBinding(platform="matrix", chat_id="!other:x", commune_insee="97415"))
    me: Talk = talk()
    replies = me.send("/help")
    assert [r.spans for r in replies] == [(Text("published"),)]
    with factory() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        got = [(r.platform, r.chat_id, outbox.outgoing_from_json(r.payload).spans[0]) for r in rows]
    assert got == [
        ("matrix", "!room:x", Text("news for the room")),
        ("telegram", "-100", Text("news for the room")),
        ("console", "user:u1", Text("news for a follower")),
        ("telegram", "user:555", Text("dm")),
    ]
    with factory() as session:  # choices are stripped from messages nobody can answer
        assert all(not r.payload["choices"] for r in session.scalars(select(OutboxMessage)))
    with factory() as session, session.begin():
        items = outbox.claim(session, "telegram", 10)
        assert [i.chat_id for i in items] == ["-100", "user:555"]
        outbox.mark_sent(session, items[0].id)
    with factory() as session, session.begin():
        assert [i.chat_id for i in outbox.claim(session, "telegram", 10)] == ["user:555"]


def test_outbox_rows_roll_back_with_a_failed_message(talk, engine_store, monkeypatch) -> None:
    class Failing(Announcer):
        def start(self, ctx: DialogContext, args: JSON) -> Step:
            step = super().start(ctx, args)
            step.replies.append(reply("x", target=Target(TargetKind.USER, platform="telegram",
                                                         ref="1" * 300)))  # too long a chat id
            return step

    factory = engine_store[1]
    monkeypatch.setitem(dialogs._loaded(), "help", (untyped("help"), Failing()))
    me: Talk = talk()
    out = me.say("/help")
    with factory() as session:
        count = len(session.scalars(select(OutboxMessage)).all())
    if factory.kw["bind"].dialect.name == "postgresql":  # varchar(255) enforced
        assert out.startswith("Désolé") and count == 0
        assert name_of(factory) != "published"
    else:  # SQLite does not enforce lengths: everything went through together
        assert count == 3  # no room bound: follower + DM + the long one


class Lingering:
    """Finishes at once but offers choices; a later pick resumes it with an empty state."""

    name: ClassVar[str] = "help"

    def __init__(self) -> None:
        self.resumed: list[tuple[JSON, str | None]] = []

    def start(self, ctx: DialogContext, args: JSON) -> Step:
        from bot.messages import Choice

        return Step.done(reply("card", choices=(Choice("rec:1", "Recommend"),
                                                Choice("follow:1", "Follow"))))

    def resume(self, ctx: DialogContext, state: JSON) -> Step:
        self.resumed.append((state, ctx.incoming.choice_id))
        return Step.done(reply(f"did {ctx.incoming.choice_id}"))


def test_choices_of_a_finished_dialog_stay_valid_for_the_next_message(
    talk, engine_store, monkeypatch
) -> None:
    probe = Lingering()
    monkeypatch.setitem(dialogs._loaded(), "help", (untyped("help"), probe))
    me: Talk = talk()
    me.send("/start 97415")
    me.send("/help")
    ids = [cid for cid, _ in me.choices()]
    assert me.say("2") == "did follow:1"
    assert probe.resumed == [({}, "follow:1")]
    assert me.say(choice_id=ids[0]) == "Ce choix n'est plus valable."
    me.send("/help")
    # free text after lingering choices is a new message, not an answer
    assert "Je n'ai pas bien compris" in me.say("blabla") or me.last
    assert row(engine_store[1]) is None


class Handoff:
    name: ClassVar[str] = "settings"

    def start(self, ctx: DialogContext, args: JSON) -> Step:
        return Step.wait({"waiting": True}, reply("question?"))

    def resume(self, ctx: DialogContext, state: JSON) -> Step:
        if ctx.incoming.text == "answer":
            return Step.done(reply("thanks"))
        return Step.pass_on()


def test_a_dialog_can_hand_a_message_back(engine_store, monkeypatch) -> None:
    monkeypatch.setitem(dialogs._loaded(), "settings", (untyped("settings"), Handoff()))

    def parse(text: str, **_: Any) -> Any:
        from types import SimpleNamespace

        return SimpleNamespace(intent="thanks" if text == "merci" else "unknown")

    me = Talk(Engine(engine_store[1], parse=parse))
    me.send("/start 97415")
    assert me.say("/settings") == "question?"
    # not an answer for it: the dialog hands it back, closes, and the text is routed afresh
    assert "Je n'ai pas bien compris" in me.say("blabla")
    assert row(engine_store[1]) is None
    me.say("/settings")
    # thanks is answered beside the open dialog, which stays open
    assert me.say("merci").startswith("Avec plaisir ! 😊\nJe garde la question en cours")
    assert me.say("answer") == "thanks"


class Probe:
    name: ClassVar[str] = "help"

    def __init__(self) -> None:
        self.seen: list[DialogContext] = []

    def start(self, ctx: DialogContext, args: JSON) -> Step:
        self.seen.append(ctx)
        return Step.done(reply("ok"))

    def resume(self, ctx: DialogContext, state: JSON) -> Step:
        return Step.pass_on()


def test_context_carries_chat_commune_and_admin_flag(talk, engine_store, monkeypatch) -> None:
    probe = Probe()
    monkeypatch.setitem(dialogs._loaded(), "help", (untyped("help"), probe))
    with engine_store[1]() as session, session.begin():
        session.add(ChatBinding(platform="console", chat_id="grp", commune_insee="97407"))
    talk(user="x", chat="grp", kind=ChatKind.GROUP).say("/help")
    talk(user="root").say("/help")
    assert probe.seen[0].chat_commune == "97407" and not probe.seen[0].is_admin
    assert probe.seen[1].chat_commune is None and probe.seen[1].is_admin


def test_same_new_user_from_two_engines_gets_one_account(db_url: str) -> None:
    stores = [open_store(db_url), open_store(db_url)]
    barrier = threading.Barrier(2)
    outs: list[str] = []

    def first_contact(factory: Any) -> None:
        barrier.wait()
        outs.append(Talk(Engine(factory)).say("/help"))

    threads = [threading.Thread(target=first_contact, args=(f,)) for _, f in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outs) == 2 and all("/search" in o for o in outs)
    with stores[0][1]() as session:
        assert len(session.scalars(select(Account)).all()) == 1
        assert len(session.scalars(select(Citizen)).all()) == 1
    for engine_, _ in stores:
        engine_.dispose()


class Silent:
    """Accepts a message without a word (e.g. it only stores something)."""

    name: ClassVar[str] = "settings"

    def start(self, ctx: DialogContext, args: JSON) -> Step:
        return Step.wait({"k": 0}, reply("ready"))

    def resume(self, ctx: DialogContext, state: JSON) -> Step:
        return Step.wait({"k": int(state["k"]) + 1})


def test_a_silent_answer_is_not_routed_again(talk, engine_store, monkeypatch) -> None:
    monkeypatch.setitem(dialogs._loaded(), "settings", (untyped("settings"), Silent()))
    me: Talk = talk()
    me.say("/settings")
    assert me.send("ok then") == []
    assert row(engine_store[1]).state["data"] == {"k": 1}  # type: ignore[union-attr]


def test_old_processed_events_can_be_pruned(talk, engine_store) -> None:
    from datetime import UTC, datetime, timedelta

    from bot.engine import prune_processed_events
    from directory.models import ProcessedEvent

    me: Talk = talk()
    me.say("/help")
    me.say("/help")
    factory = engine_store[1]
    with factory() as session, session.begin():
        assert prune_processed_events(session, datetime.now(UTC) - timedelta(days=7)) == 0
    with factory() as session, session.begin():
        assert prune_processed_events(session, datetime.now(UTC) + timedelta(seconds=1)) == 2
    with factory() as session:
        assert session.scalars(select(ProcessedEvent)).all() == []
