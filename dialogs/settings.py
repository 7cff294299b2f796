"""Settings: language, home commune, location.

``/settings`` shows the current values and a menu; each item is a short sub-dialog.
A location shared outside any dialog arrives here too (``location`` arg): it is kept as
the citizen's point ("near me" searches start from it), and offered as a new home commune
when it lies in another commune.
"""

from __future__ import annotations

from typing import Any, ClassVar

from bot.dialog import JSON, DialogContext, Step
from bot.dialog_state import CommuneQuestion
from bot.i18n import LANGUAGES, translator
from bot.messages import Outgoing, Text
from bot.spec import Command, DialogSpec
from dialogs.common import (
    answer_yes_no,
    ask_commune,
    ask_yes_no,
    choices,
    chosen,
    commune,
    commune_label,
    is_other_request,
    resolve_commune_answer,
    say,
    user_text,
)
from directory.gazetteer import get_gazetteer
from directory.text import fold

LANGUAGE_NAMES = {"fr": "Français", "en": "English"}
_LANGUAGE_WORDS = {
    "fr": {"fr", "francais", "french", "france"},
    "en": {"en", "english", "anglais", "englais"},
}
#: memory note: the commune offered as the new home for a shared location
OFFERED_COMMUNE = "offered_commune"
_CLEAR_WORDS = {"effacer", "oublier", "supprimer", "clear", "forget", "delete", "remove"}


def _menu(ctx: DialogContext) -> Step:
    citizen = ctx.citizen
    summary = say(
        ctx,
        "settings.current",
        language=LANGUAGE_NAMES.get(citizen.lang, citizen.lang),
        commune=commune_label(citizen.home_insee) if citizen.home_insee else ctx.t(
            "settings.none"
        ),
        location=ctx.t("settings.location_set")
        if citizen.home_lat is not None
        else ctx.t("settings.none"),
    )
    question = say(
        ctx,
        "settings.menu",
        choices=choices(
            [
                ("lang", ctx.t("settings.item.language")),
                ("commune", ctx.t("settings.item.commune")),
                ("location", ctx.t("settings.item.location")),
                ("done", ctx.t("settings.item.done")),
            ]
        ),
    )
    return Step.wait({"step": "menu"}, summary, question)


def _ask_language(ctx: DialogContext) -> Step:
    options = choices([("lang:" + code, LANGUAGE_NAMES[code]) for code in LANGUAGES])
    return Step.wait({"step": "lang"}, say(ctx, "settings.language.ask", choices=options))


def _language_of(ctx: DialogContext) -> str | None:
    picked = chosen(ctx)
    if picked and picked.startswith("lang:") and picked[5:] in LANGUAGES:
        return picked[5:]
    folded = fold(user_text(ctx))
    for code, words in _LANGUAGE_WORDS.items():
        if folded in words:
            return code
    return None


def _ask_location(ctx: DialogContext) -> Step:
    options = choices([("clear", ctx.t("settings.location.clear"))])
    return Step.wait(
        {"step": "location"},
        say(ctx, "settings.location.ask", choices=options, request_location=True),
    )


def _save_location(ctx: DialogContext, lat: float, lon: float) -> Step:
    """Keep the point; offer its commune as home when it is another one."""
    found = get_gazetteer().nearest(lat, lon)
    if found is None:
        return Step.wait(
            {"step": "location"},
            say(ctx, "common.commune.location_unknown"),
            say(ctx, "settings.location.ask", request_location=True,
                choices=choices([("clear", ctx.t("settings.location.clear"))])),
        )
    ctx.citizen.home_lat, ctx.citizen.home_lon = lat, lon
    return _offer_commune(ctx, found, say(ctx, "settings.location.saved", commune=found.label))


def _offer_commune(ctx: DialogContext, found: Any, saved: Outgoing) -> Step:
    """After a shared point: its commune becomes home when there is none, and is offered
    (once) when it is another one."""
    if ctx.citizen.home_insee == found.insee:
        return Step.done(saved)
    if ctx.citizen.home_insee is None:
        ctx.citizen.home_insee = found.insee
        return Step.done(saved, say(ctx, "settings.commune.saved", commune=found.label))
    if ctx.memory.notes.get(OFFERED_COMMUNE) == found.insee:
        return Step.done(saved)  # "is this your new commune?" was asked already: once is enough
    step = ask_yes_no(
        ctx,
        {"step": "move", "insee": found.insee},
        "settings.location.move",
        before=(saved,),
        commune=found.label,
    )
    step.remember = {OFFERED_COMMUNE: found.insee}
    return step


def _shared_point(ctx: DialogContext, lat: float, lon: float) -> Step:
    """A location shared outside any dialog. By default only the commune is stored: the
    point serves the search at hand (the conversation's memory) and then goes; whether to
    keep it is asked once, and can be changed in /settings."""
    keep = ctx.citizen.keep_location
    if keep is True:
        return _save_location(ctx, lat, lon)
    found = get_gazetteer().nearest(lat, lon)
    if found is None:
        return Step.done(say(ctx, "common.commune.location_unknown"))
    if keep is None:
        # asked once; not keeping is the answer until the citizen says otherwise
        ctx.citizen.keep_location = False
        options = choices([("keep:yes", ctx.t("settings.keep.yes")), ("keep:no", ctx.t("settings.keep.no"))])
        return Step.wait({"step": "keep", "lat": lat, "lon": lon},
                         say(ctx, "settings.keep.ask", commune=found.label, choices=options))
    return _offer_commune(ctx, found, say(ctx, "settings.keep.used", commune=found.label))


class Settings:
    name: ClassVar[str] = "settings"

    def interrupted(self, ctx: DialogContext, state: JSON) -> list[Outgoing] | None:
        """A question typed instead of answering "keep this location?" or "your new
        commune?": nothing is left behind (not keeping, not moving is the answer until
        told otherwise), so no note; the question is answered at once."""
        if state.get("step") in {"keep", "move"}:
            return None
        return []

    def start(self, ctx: DialogContext, args: JSON) -> Step:
        location = ctx.incoming.location
        if args.get("location") and location is not None:
            return _shared_point(ctx, location.lat, location.lon)
        return _menu(ctx)

    def resume(self, ctx: DialogContext, state: JSON) -> Step:
        stage = state.get("step")
        if stage == "menu":
            return self._menu_answer(ctx)
        if stage == "lang":
            code = _language_of(ctx)
            if code is None:
                return Step.wait(state, say(ctx, "settings.language.unknown"),
                                 *_ask_language(ctx).replies)
            ctx.citizen.lang = code
            sentence = translator(code)("settings.language.saved")
            return Step.done(Outgoing(spans=(Text(sentence),), lang=code))
        if stage == "commune":
            if chosen(ctx) is None and ctx.incoming.location is None and is_other_request(ctx):
                return Step.pass_on()  # a question, not the new commune
            answer = resolve_commune_answer(ctx, state)
            if answer.step is not None:
                return answer.step
            assert answer.insee is not None
            if ctx.citizen.home_insee != answer.insee and not answer.point:
                ctx.citizen.home_lat = ctx.citizen.home_lon = None
            if answer.point:
                ctx.citizen.home_lat, ctx.citizen.home_lon = answer.point
            ctx.citizen.home_insee = answer.insee
            return Step.done(say(ctx, "settings.commune.saved", commune=commune_label(answer.insee)))
        if stage == "keep":
            decision = answer_yes_no(ctx)
            picked = chosen(ctx)
            lat, lon = float(state.get("lat") or 0), float(state.get("lon") or 0)
            if picked == "keep:yes" or (picked is None and decision is True):
                ctx.citizen.keep_location = True
                return _save_location(ctx, lat, lon)
            if picked == "keep:no" or (picked is None and decision is False):
                ctx.citizen.keep_location = False
                found = get_gazetteer().nearest(lat, lon)
                if found is None:
                    return Step.done(say(ctx, "settings.keep.not_kept"))
                return _offer_commune(ctx, found, say(ctx, "settings.keep.not_kept"))
            return Step.pass_on()  # a question instead: the point still serves it
        if stage == "location":
            location = ctx.incoming.location
            if location is not None:
                ctx.citizen.keep_location = True  # shared from /settings: to keep
                return _save_location(ctx, location.lat, location.lon)
            if chosen(ctx) == "clear" or fold(user_text(ctx)) in _CLEAR_WORDS:
                ctx.citizen.home_lat = ctx.citizen.home_lon = None
                ctx.citizen.keep_location = False
                return Step.done(say(ctx, "settings.location.cleared"))
            return Step.wait(state, say(ctx, "settings.location.expected"),
                             *_ask_location(ctx).replies)
        if stage == "move":
            decision = answer_yes_no(ctx)
            insee = str(state.get("insee", ""))
            if decision is True and commune(insee) is not None:
                ctx.citizen.home_insee = insee
                return Step.done(say(ctx, "settings.commune.saved", commune=commune_label(insee)))
            if decision is False:
                return Step.done(say(ctx, "settings.commune.kept",
                                     commune=commune_label(ctx.citizen.home_insee)))
            return ask_yes_no(ctx, state, "settings.location.move", commune=commune_label(insee))
        return _menu(ctx)

    def _menu_answer(self, ctx: DialogContext) -> Step:
        picked = chosen(ctx)
        if picked is None:
            folded = fold(user_text(ctx))
            if folded in {"langue", "language", "lang"} | _LANGUAGE_WORDS["fr"] | _LANGUAGE_WORDS["en"]:
                picked = "lang"
            elif folded in {"commune", "ville", "town", "city", "home"}:
                picked = "commune"
            elif folded in {"position", "location", "localisation", "gps"}:
                picked = "location"
            elif folded in {"fini", "termine", "ok", "done", "rien", "nothing"}:
                picked = "done"
        if picked == "lang":
            return _ask_language(ctx)
        if picked == "commune":
            return ask_commune(ctx, {"step": "commune"}, "settings.commune.ask")
        if picked == "location":
            return _ask_location(ctx)
        if picked == "done":
            return Step.done(say(ctx, "settings.bye"))
        if ctx.incoming.location is not None:
            return _save_location(ctx, ctx.incoming.location.lat, ctx.incoming.location.lon)
        if user_text(ctx):
            return Step.pass_on()  # a question, not a menu answer
        return _menu(ctx)


DIALOG = Settings()

class SettingsState(CommuneQuestion):
    """Settings: the menu item open, the commune offered for a shared location, and a
    shared point waiting for "keep it?"."""

    insee: str | None = None
    lat: float | None = None
    lon: float | None = None

SPEC = DialogSpec(
    state=SettingsState,
    name="settings",
    commands=(Command("settings", ("reglages", "parametres")),),
    intents=frozenset({"settings"}),
    steps=("menu", "lang", "commune", "location", "move", "keep"),
    summary="language, home commune, shared location",
)
