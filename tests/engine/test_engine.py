"""The engine end to end over a real store (SQLite and PostgreSQL): registration, state
across restarts, idempotent redelivery, bound choices, cancel, groups, admin binding."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.engine import Engine
from bot.messages import ChatKind, Incoming
from directory.db import open_store
from directory.models import Account, ChatBinding, Citizen, DialogState

from .conftest import ADMIN, Talk, texts  # type: ignore[import-not-found]


def citizen_of(factory: Any, user: str, platform: str = "console") -> Citizen | None:
    with factory() as session:
        return session.scalar(
            select(Citizen).join(Account).where(
                Account.platform == platform, Account.platform_user_id == user
            )
        )


def states(factory: Any) -> list[tuple[str, str, int, dict[str, Any]]]:
    with factory() as session:
        rows = session.scalars(select(DialogState).order_by(DialogState.id)).all()
        return [(r.chat_id, r.dialog, r.version, r.state) for r in rows]


def open_states(factory: Any) -> list[tuple[str, str, int, dict[str, Any]]]:
    """The chats with a dialog waiting for an answer (a finished one may leave its last
    buttons, e.g. registration's digest offer: those rows are ``closed``)."""
    return [row for row in states(factory) if not row[3].get("closed")]


def test_first_contact_greets_in_the_hint_language_and_registers(talk, engine_store) -> None:
    me: Talk = talk(lang="en-GB")
    out = me.say("hello")
    assert out.startswith("Hello!")
    assert "which commune do you live in?" in out
    assert me.last[-1].request_location
    out = me.say("saint paul")
    assert "Several communes match" in out
    labels = [label for _, label in me.choices()]
    assert labels[0] == "Saint-Paul (974)" and len(labels) > 1
    out = me.say("1")
    assert "Noted: your commune is Saint-Paul (974)" in out
    citizen = citizen_of(engine_store[1], "u1")
    assert citizen is not None and citizen.home_insee == "97415" and citizen.lang == "en"
    assert "every Monday morning" in out  # the digest is offered, nobody subscribed yet
    assert open_states(engine_store[1]) == []


def test_french_first_contact_and_typed_commune_is_confirmed(talk, engine_store) -> None:
    me: Talk = talk(lang="fr-FR")
    assert "Bonjour" in me.say("salut")
    out = me.say("le tampon")
    assert "Votre commune est bien Le Tampon (974) ?" in out
    assert [label for _, label in me.choices()] == ["Oui", "Non"]
    assert "quelle est votre commune" in me.say("non")
    assert "Le Tampon" in me.say("Le Tampon")
    out = me.say("ouais")
    assert "C'est noté : votre commune est Le Tampon (974)" in out
    assert citizen_of(engine_store[1], "u1").home_insee == "97422"  # type: ignore[union-attr]


def test_a_question_instead_of_yes_accepts_the_commune_and_is_answered(talk, engine_store) -> None:
    me: Talk = talk(lang="en")
    me.say("hello")
    assert "Is your commune Saint-Denis (974)?" in me.say("Saint-Denis 974")
    out = me.say("any daycare near me?")
    assert "your commune is Saint-Denis (974)" in out
    assert "I found no daycare within 10 km" in out  # the question was searched (this store is empty)
    assert citizen_of(engine_store[1], "u1").home_insee == "97411"  # type: ignore[union-attr]


def test_start_payload_registers_directly(talk, engine_store) -> None:
    me: Talk = talk()
    out = me.say("/start 97415")
    assert "Bonjour" in out and "votre commune est Saint-Paul (974)" in out
    assert citizen_of(engine_store[1], "u1").home_insee == "97415"  # type: ignore[union-attr]
    # a postcode works too, and a garbage payload falls back to the question
    other: Talk = talk(user="u2")
    assert "Saint-Paul (974)" in other.say("/start 97460")
    third: Talk = talk(user="u3")
    assert "quelle est votre commune" in third.say("/start xyz-campaign")


def test_shared_location_registers_after_confirmation(talk, engine_store) -> None:
    me: Talk = talk()
    out = me.at(-20.9330, 55.2920)  # Le Port town hall area
    assert "Le Port (974)" in out and "bien" in out
    out = me.say("oui")
    assert "Le Port (974)" in out
    citizen = citizen_of(engine_store[1], "u1")
    assert citizen is not None and citizen.home_insee == "97407"
    assert citizen.home_lat == pytest.approx(-20.933)


def test_console_location_command_is_a_shared_location(talk, engine_store) -> None:
    me: Talk = talk()
    out = me.say("/location -20.933 55.292")
    assert "Le Port (974)" in out
    assert "Position illisible" in me.say("/location north pole")


def test_dialog_survives_a_restart(db_url: str) -> None:
    engine1, factory1 = open_store(db_url)
    first = Talk(Engine(factory1))
    first.say("bonjour")
    first.say("saint paul")
    engine1.dispose()  # the process dies with the question open
    engine2, factory2 = open_store(db_url)
    second = Talk(Engine(factory2))
    out = second.say("1")
    assert "Saint-Paul (974)" in out
    assert citizen_of(factory2, "u1").home_insee == "97415"  # type: ignore[union-attr]
    engine2.dispose()


def test_redelivered_event_changes_nothing(talk, bot, engine_store) -> None:
    me: Talk = talk()
    me.say("bonjour")
    event = me.incoming("saint paul", event_id="tg-update-42")
    first = bot.handle_sync(event)
    assert first and first[0].choices
    before = states(engine_store[1])
    assert bot.handle_sync(event) == []  # documented: a redelivery gets no answer
    assert states(engine_store[1]) == before
    # the same id on another platform is another event
    assert bot.handle_sync(me.incoming("x", event_id="tg-update-42", platform="matrix",
                                       user_id="@a:b")) != []


def test_stale_choice_from_an_old_message_changes_nothing(talk, engine_store) -> None:
    me: Talk = talk()
    me.say("bonjour")
    me.say("saint paul")
    old_ids = [cid for cid, _ in me.choices()]
    assert all(len(cid.encode("ascii")) <= 40 for cid in old_ids)
    me.say("le port")  # a new answer: new candidates, new ids
    new_ids = [cid for cid, _ in me.choices()]
    assert new_ids and not set(new_ids) & set(old_ids)
    before = states(engine_store[1])
    assert me.say(choice_id=old_ids[0]) == "Ce choix n'est plus valable."
    assert states(engine_store[1]) == before
    me.say(choice_id=new_ids[0])
    assert citizen_of(engine_store[1], "u1").home_insee is not None  # type: ignore[union-attr]
    assert open_states(engine_store[1]) == []
    # after the dialog finished, any old button is stale and changes nothing
    home = citizen_of(engine_store[1], "u1").home_insee  # type: ignore[union-attr]
    assert me.say(choice_id=new_ids[1]) == "Ce choix n'est plus valable."
    assert citizen_of(engine_store[1], "u1").home_insee == home  # type: ignore[union-attr]
    assert me.say(choice_id="garbage") == "Ce choix n'est plus valable."


def test_another_users_button_is_refused(talk, engine_store) -> None:
    alice: Talk = talk(user="alice", chat="room", kind=ChatKind.GROUP)
    bob: Talk = talk(user="bob", chat="room", kind=ChatKind.GROUP)
    alice.say("/settings")
    alice_ids = [cid for cid, _ in alice.choices()]
    before = states(engine_store[1])
    assert bob.say(choice_id=alice_ids[0]) == "Ce choix n'est plus valable."
    assert states(engine_store[1]) == before


def test_number_out_of_range_offers_the_choices_again(talk, engine_store) -> None:
    me: Talk = talk()
    me.say("bonjour")
    me.say("saint paul")
    offered = me.choices()
    before = states(engine_store[1])
    out = me.say("9")
    assert out == "Répondez par un numéro de 1 à 5, ou écrivez votre réponse."
    assert me.choices() == offered
    assert states(engine_store[1]) == before
    assert "Saint-Paul (87)" in me.say("Saint-Paul (87)")  # a label answers too
    assert citizen_of(engine_store[1], "u1").home_insee == "87174"  # type: ignore[union-attr]


@pytest.mark.parametrize("word", ["annuler", "/cancel", "Cancel !", "STOP", "/cancel@communebot"])
def test_cancel_leaves_any_dialog(talk, engine_store, word: str) -> None:
    me: Talk = talk(lang="fr")
    me.say("bonjour")
    assert states(engine_store[1])
    assert me.say(word) == "C'est annulé. Que puis-je faire d'autre pour vous ?"
    assert states(engine_store[1]) == []
    assert me.say(word) == "Il n'y a rien à annuler."


def test_help_is_an_aside_and_another_command_abandons_the_open_dialog(talk, engine_store) -> None:
    me: Talk = talk()
    me.say("bonjour")
    out = me.say("/help@communebot")
    assert "Commandes" in out and "/search" in out
    assert "Je garde la question en cours" in out  # the commune question stays open
    assert [s[1] for s in states(engine_store[1])] == ["register"]
    assert "Je ne connais pas la commande /frobnicate" in me.say("/frobnicate now")
    assert states(engine_store[1]) == []


def test_group_messages_not_addressed_to_the_bot_are_ignored(talk, engine_store) -> None:
    someone: Talk = talk(user="g1", chat="grp", kind=ChatKind.GROUP)
    assert someone.send("on mange où ce midi ?", addressed=False) == []
    assert citizen_of(engine_store[1], "g1") is None
    # addressed, in a group: no registration forced on a first contact
    assert "Registered" not in someone.say("/help")


def test_admin_binds_a_group_to_a_commune(talk, engine_store) -> None:
    factory = engine_store[1]
    member: Talk = talk(user="m", chat="grp", kind=ChatKind.GROUP)
    assert member.say("/admin bind 97407").startswith("Désolé, seuls les modérateurs")
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(ChatBinding)) == 0
    moderator: Talk = talk(user="mod", chat="grp", kind=ChatKind.GROUP, moderator=True)
    out = moderator.say("/admin bind 97407")
    assert "relié au Port (974)" in out
    with factory() as session:
        binding = session.get(ChatBinding, ("console", "grp"))
        assert binding is not None and binding.commune_insee == "97407"
        assert binding.bound_by == "console:mod"
    assert "relié au Port (974)" in member.say("/admin")
    # the bot's own admin (config) may do it without being a chat moderator
    root: Talk = talk(user="root", chat="grp", kind=ChatKind.GROUP)
    assert f"{root.platform}:{root.user}" == ADMIN
    assert "relié au Tampon (974)" in root.say("/admin bind le tampon")
    # a code that is one commune's postcode and another's INSEE code is asked, not guessed
    assert "Laquelle" in root.say("/admin bind 97416")
    assert "Saint-Pierre (974)" in root.press("Saint-Pierre")
    assert "n'est plus relié" in root.say("/admin unbind")
    direct: Talk = talk(user="mod")
    assert "utilisez-la dans le groupe" in direct.say("/admin bind 97407")


def test_ambiguous_admin_binding_asks_which(talk, engine_store) -> None:
    moderator: Talk = talk(user="mod", chat="grp2", kind=ChatKind.GROUP, moderator=True)
    out = moderator.say("/admin bind saint louis")
    assert "Laquelle" in out
    out = moderator.press("(974)")
    assert "Saint-Louis (974)" in out
    with engine_store[1]() as session:
        assert session.get(ChatBinding, ("console", "grp2")).commune_insee == "97414"  # type: ignore[union-attr]


def test_settings_switch_language_and_commune(talk, engine_store) -> None:
    me: Talk = talk()
    me.say("/start 97415")
    out = me.say("/settings")
    assert "langue : Français" in out and "Saint-Paul (974)" in out
    me.say("1")
    assert me.say("English") == "Noted, I will speak English from now on."
    assert "Commands:" in me.say("/help")
    me.say("/settings")
    me.say("commune")
    out = me.say("97430")
    assert "Your commune is now Le Tampon (974)." in out
    citizen = citizen_of(engine_store[1], "u1")
    assert citizen is not None and citizen.lang == "en" and citizen.home_insee == "97422"


def test_settings_location_can_move_home(talk, engine_store) -> None:
    me: Talk = talk()
    me.say("/start 97415")
    me.say("/settings")
    me.say("3")
    out = me.at(-20.933, 55.292)
    assert "Position enregistrée (Le Port (974))" in out and "nouvelle commune" in out
    assert "Le Port (974)" in me.say("oui")
    citizen = citizen_of(engine_store[1], "u1")
    assert citizen is not None and citizen.home_insee == "97407" and citizen.home_lat is not None
    me.say("/settings")
    me.say("Position")
    assert me.say("2") == "Répondez par le numéro 1, ou écrivez votre réponse."
    assert "J'ai oublié" in me.say("1")
    assert citizen_of(engine_store[1], "u1").home_lat is None  # type: ignore[union-attr]


def test_me_lists_recommendations_memberships_and_projects(talk, engine_store) -> None:
    from directory import services

    me: Talk = talk()
    me.say("/start 97415")
    assert "Vous n'avez encore rien recommandé" in me.say("/me")
    with engine_store[1]() as session, session.begin():
        citizen = session.scalar(select(Citizen).join(Account).where(Account.platform_user_id == "u1"))
        assert citizen is not None
        garage = services.add_entry(session, services.NewEntry(
            name="Garage Zot Auto (fictif)", category="garage", commune_insee="97415"))
        troupe = services.add_entry(session, services.NewEntry(
            name="Troupe Lés Zarlor (fictive)", category="theatre", commune_insee="97407"))
        services.recommend(session, citizen, garage, "Travail soigné")
        services.join(session, citizen, troupe)
    out = me.say("/me")
    assert "Votre recommandation (1)" in out and "Garage Zot Auto (fictif)" in out
    assert "Travail soigné" in out
    assert "Votre association (1)" in out and "Troupe Lés Zarlor (fictive)" in out


async def test_async_handle_runs_in_a_thread(bot: Engine) -> None:
    replies = await bot.handle(Incoming(platform="console", user_id="a", chat_id="a",
                                        text="/help", language_hint="en"))
    assert "Commands:" in texts(replies)


def test_english_user_gets_english_everywhere(talk) -> None:
    me: Talk = talk(lang="en")
    me.say("/start 97415")
    assert "no digest" in me.press("No thanks")
    assert me.say("annuler") == "There is nothing to cancel."
    assert me.say(choice_id="x.1") == "This choice is no longer valid."
    assert "Unreadable location" in me.say("/location 200 300")


def test_free_text_goes_to_the_nlu_intent(engine_store) -> None:
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class FakeParse:
        intent: str
        lang: str = "fr"

        def to_json(self) -> dict[str, Any]:
            return {"intent": self.intent, "category": None, "commune": None}

    seen: list[tuple[str, str, str | None]] = []

    def fake(text: str, *, lang: str, home: str | None) -> FakeParse:
        seen.append((text, lang, home))
        return FakeParse({"aide": "help", "coucou": "greeting", "merci": "thanks"}.get(text, "unknown"))

    bot = Engine(engine_store[1], parse=fake)
    me = Talk(bot)
    me.say("/start 97415")
    assert "Commandes" in me.say("aide")
    assert me.say("coucou").startswith("Bonjour")
    assert me.say("merci") == "Avec plaisir ! 😊"
    assert "Je n'ai pas bien compris" in me.say("blablabla")
    assert ("aide", "fr", "97415") in seen
    assert len(seen) == len(set(seen)) == 5  # each message is understood once


def test_nlu_crash_gets_the_short_help(engine_store) -> None:
    def broken(text: str, **_: Any) -> Any:
        raise RuntimeError("boom")

    me = Talk(Engine(engine_store[1], parse=broken))
    me.say("/start 97415")
    assert "Je n'ai pas bien compris" in me.say("garagiste")


def test_banned_citizens_get_no_answer(talk, engine_store) -> None:
    me: Talk = talk()
    me.say("/start 97415")
    with engine_store[1]() as session, session.begin():
        session.scalar(select(Citizen)).banned = True  # type: ignore[union-attr]
    assert me.send("/help") == []


ProbeFactory = Callable[..., Any]


def test_start_payload_prefers_the_insee_code(talk, engine_store) -> None:
    me: Talk = talk()
    assert "Saint-Pierre (974)" in me.say("/start 97416")  # also a postcode of Saint-Leu
    assert citizen_of(engine_store[1], "u1").home_insee == "97416"  # type: ignore[union-attr]


def test_a_bad_location_command_keeps_the_open_dialog(talk, engine_store) -> None:
    me: Talk = talk()
    me.say("bonjour")
    assert "Position illisible" in me.say("/location 95 2")
    assert [s[1] for s in states(engine_store[1])] == ["register"]
    assert "Saint-Pierre (974)" in me.say("/location -21.3393 55.4781")


def test_a_question_during_registration_is_answered_not_taken_for_a_commune(talk, engine_store) -> None:
    me: Talk = talk(lang="en")
    me.say("hello")
    me.say("saint paul")
    out = me.say("yes")  # not a commune: the candidates again
    assert out == "Pick a commune from the list (its number or its name):"
    assert me.choices() and me.choices()[0][1] == "Saint-Paul (974)"
    out = me.say("mechanic in Le Port")  # a question: kept for after, registration kept
    assert "cannot find a commune" not in out
    assert "I will answer your question as soon as I know your commune." in out
    assert me.choices() and me.choices()[0][1] == "Saint-Paul (974)"
    assert [s[1] for s in states(engine_store[1])] == ["register"]
    done = me.press("Saint-Paul (974)")  # registered, then the question is answered
    assert "your commune is Saint-Paul (974)" in done and "Le Port" in done


def test_a_newcomers_first_question_is_answered_after_registering(talk, engine_store) -> None:
    me: Talk = talk()
    out = me.say("garagiste au Port")
    assert "quelle est votre commune" in out
    me.say("97460")
    replies = me.send("oui")
    out = texts(replies)
    assert out.startswith("C'est noté : votre commune est Saint-Paul (974).")
    assert "Demandez-moi par exemple" not in out  # the answer follows instead of the hint
    # registered, then the search ran: one message now (issue 19, one turn one message)
    assert out.index("votre commune est") < out.index("aucun garage dans un rayon de 10 km")
    assert [s[1] for s in states(engine_store[1])] == ["ask"]
    assert citizen_of(engine_store[1], "u1").home_insee == "97415"  # type: ignore[union-attr]
    # a plain greeting has nothing pending: the usual hint
    other: Talk = talk(user="u2")
    other.say("bonjour")
    other.say("97415")
    assert "Demandez-moi par exemple" in other.say("oui")


def test_a_question_instead_of_a_new_commune_leaves_settings(talk, engine_store) -> None:
    me: Talk = talk()
    me.say("/start 97415")
    me.say("/settings")
    me.say("commune")
    out = me.say("je cherche un médecin")
    assert "Je ne trouve pas de commune" not in out
    assert citizen_of(engine_store[1], "u1").home_insee == "97415"  # type: ignore[union-attr]
    assert all(s[1] != "settings" for s in states(engine_store[1]))


def test_a_new_request_where_a_commune_was_asked_is_not_taken_for_a_commune(talk, engine_store) -> None:
    """Asked where to search (no home commune yet), the user goes on to something else:
    the message opens its own dialog instead of "no commune called 'je recommande…'"."""
    me: Talk = talk(lang="fr")
    assert "Où cherchez-vous" in me.say("/search crèche")  # no commune known yet
    out = me.say("je recommande le garage Zot au Port")
    assert "Je ne trouve pas de commune" not in out
    assert "Zot" in out  # the recommend dialog took it (it offers to add the garage)
    # and a real commune answer to the same question still works
    assert "Où cherchez-vous" in me.say("/cancel") + me.say("/search crèche")
    searched = me.say("Saint-Denis 974")  # an empty store: what and where are said
    assert "Je n'ai trouvé aucune crèche dans un rayon de 10 km autour de Saint-Denis (974)" in searched


def test_a_newcomer_asking_first_is_told_the_answer_comes_after_the_commune(talk, engine_store) -> None:
    asker: Talk = talk(user="asker", lang="en")
    out = asker.say("any daycare in Saint-Pierre 974?")
    assert "I will answer your question as soon as I know your commune." in out
    assert "which commune do you live in" in out
    greeter: Talk = talk(user="greeter", lang="fr")
    out = greeter.say("bonjour")
    assert "Je réponds à votre question" not in out  # nothing was asked
    assert "quelle est votre commune" in out
