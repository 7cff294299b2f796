"""``/digest``: what is new in my communes, daily or weekly, at an hour of their local time.

Direct forms for power users and scripts: ``/digest weekly``, ``/digest daily``,
``/digest daily 7``, ``/digest off`` (French too: ``hebdo``, ``quotidien``, ``stop``).
With no argument, a short dialog (steps): ``frequency`` (weekly, daily, off), ``hour``,
``more`` (another commune?), ``commune`` (which), ``categories`` (everything, or some).
A subscription shows itself first, with buttons to change or stop it. Unsubscribing
takes effect at once. Nobody is subscribed without saying so.
"""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import Field

from bot.dialog import JSON, DialogContext, Step
from bot.dialog_state import CommuneQuestion
from bot.messages import Choice, Outgoing
from bot.spec import Command, DialogSpec
from dialogs import common
from dialogs.entry_view import match_category
from directory import digests
from directory.digests import Subscriber
from directory.text import fold

WEEKLY_WORDS = frozenset({"weekly", "week", "hebdo", "hebdomadaire", "semaine", "chaque semaine", "lundi"})
DAILY_WORDS = frozenset({"daily", "day", "quotidien", "quotidienne", "jour", "chaque jour", "tous les jours"})
OFF_WORDS = frozenset({"off", "stop", "arret", "arreter", "non", "no", "none", "aucun", "desabonner",
                       "unsubscribe", "plus rien", "rien"})
HOURS: tuple[int, ...] = (7, 8, 12, 18)
FREQ = "freq:"
HOUR = "hour:"
MORE = "more:"
CAT = "cat:"
MANAGE = "manage:"
_HOUR_TYPED = re.compile(r"^\s*(\d{1,2})\s*(?:h|heures?|:00|am|pm)?\s*$")


def read_frequency(text: str) -> str | None:
    folded = fold(text)
    if folded in WEEKLY_WORDS:
        return "weekly"
    if folded in DAILY_WORDS:
        return "daily"
    if folded in OFF_WORDS:
        return "off"
    return None


def read_hour(text: str) -> int | None:
    """ "7", "7h", "18 h", "6pm" (pure)."""
    folded = text.strip().lower()
    match = _HOUR_TYPED.match(folded)
    if match is None:
        return None
    hour = int(match.group(1))
    if folded.endswith("pm") and hour < 12:
        hour += 12
    return hour if 0 <= hour <= 23 else None


def who(ctx: DialogContext) -> Subscriber:
    return Subscriber(citizen_id=ctx.citizen.id)


def describe(ctx: DialogContext, row: digests.DigestSubscription) -> str:
    """ "Chaque lundi à 8 h (heure de Saint-Paul (974)) : Saint-Paul (974), Le Port (974) — tout"."""
    places = ", ".join(str(common.commune_label(code)) for code in row.communes)
    what = (", ".join(str(common.category_name(c, ctx.lang)) for c in row.categories) if row.categories
            else ctx.t("digest.all"))
    first = common.commune_label(row.communes[0])
    return ctx.t(f"digest.describe.{row.frequency}", hour=row.hour, commune=first, communes=places, what=what)


class DigestDialog:
    """See the module docstring."""

    name: ClassVar[str] = "digest"

    def start(self, ctx: DialogContext, args: JSON) -> Step:
        words = str(args.get("text") or "").split()
        if words:
            return self.direct(ctx, words)
        row = digests.subscription_of(ctx.session, who(ctx))
        if row is not None:
            options = (Choice(MANAGE + "frequency", ctx.t("digest.manage.frequency")),
                       Choice(MANAGE + "hour", ctx.t("digest.manage.hour")),
                       Choice(MANAGE + "more", ctx.t("digest.manage.commune")),
                       Choice(MANAGE + "off", ctx.t("digest.manage.off")),
                       Choice(MANAGE + "ok", ctx.t("digest.manage.ok")))
            return common.ask(ctx, {"step": "manage"}, "digest.current", choices=options,
                              current=describe(ctx, row))
        return self.ask_frequency(ctx, {"step": "frequency"})

    def direct(self, ctx: DialogContext, words: list[str]) -> Step:
        """``/digest weekly``, ``/digest daily 7``, ``/digest off``."""
        frequency = read_frequency(words[0])
        hour = read_hour(words[1]) if len(words) > 1 else None
        if frequency is None or (len(words) > 1 and hour is None):
            return Step.done(common.say(ctx, "digest.usage"))
        if frequency == "off":
            return self.stop(ctx)
        return self.save(ctx, {"frequency": frequency, "hour": hour})

    # --- questions ---------------------------------------------------------------------------

    def ask_frequency(self, ctx: DialogContext, state: JSON, before: tuple[Outgoing, ...] = ()) -> Step:
        options = (Choice(FREQ + "weekly", ctx.t("digest.weekly")),
                   Choice(FREQ + "daily", ctx.t("digest.daily")), Choice(FREQ + "off", ctx.t("digest.no")))
        return common.ask(ctx, {**state, "step": "frequency"}, "digest.ask_frequency", choices=options,
                          before=before)

    def ask_hour(self, ctx: DialogContext, state: JSON, before: tuple[Outgoing, ...] = ()) -> Step:
        options = tuple(Choice(HOUR + str(h), ctx.t("digest.hour_label", hour=h)) for h in HOURS)
        return common.ask(ctx, {**state, "step": "hour"}, "digest.ask_hour", choices=options, before=before)

    def ask_more(self, ctx: DialogContext, state: JSON, before: tuple[Outgoing, ...] = ()) -> Step:
        places = ", ".join(str(common.commune_label(c)) for c in state.get("communes") or [])
        options = (Choice(MORE + "no", ctx.t("digest.more_no")),
                   Choice(MORE + "yes", ctx.t("digest.more_yes")))
        return common.ask(ctx, {**state, "step": "more"}, "digest.ask_more", choices=options, before=before,
                          communes=places)

    def ask_categories(self, ctx: DialogContext, state: JSON, before: tuple[Outgoing, ...] = ()) -> Step:
        options = (Choice(CAT + "all", ctx.t("digest.all_button")),)
        return common.ask(ctx, {**state, "step": "categories"}, "digest.ask_categories", choices=options,
                          before=before)

    # --- answers -----------------------------------------------------------------------------

    def resume(self, ctx: DialogContext, state: JSON) -> Step:
        step = state.get("step")
        picked = common.chosen(ctx)
        text = ctx.incoming.text
        if step == "manage":
            action = picked[len(MANAGE):] if picked and picked.startswith(MANAGE) else None
            if action is None and read_frequency(text) == "off":
                action = "off"
            if action == "off":
                return self.stop(ctx)
            if action == "ok":
                return Step.done(common.say(ctx, "digest.unchanged"))
            row = digests.subscription_of(ctx.session, who(ctx))
            if row is None:
                return self.ask_frequency(ctx, {"step": "frequency"})
            kept = {"frequency": row.frequency, "hour": row.hour, "communes": list(row.communes),
                    "categories": list(row.categories), "editing": True}
            if action == "frequency":
                return self.ask_frequency(ctx, kept)
            if action == "hour":
                return self.ask_hour(ctx, kept)
            if action == "more":
                return common.ask_commune(ctx, {**kept, "step": "commune"}, "digest.ask_commune")
            return Step.pass_on()
        if step == "frequency":
            frequency = picked[len(FREQ):] if picked and picked.startswith(FREQ) else read_frequency(text)
            if frequency is None:
                if common.is_other_request(ctx):
                    return Step.pass_on()
                return self.ask_frequency(ctx, state, (common.say(ctx, "digest.frequency_unknown"),))
            if frequency == "off":
                if state.get("editing"):
                    return self.stop(ctx)
                return Step.done(common.say(ctx, "digest.not_now"))
            state = {**state, "frequency": frequency}
            return self.save(ctx, state) if state.get("editing") else self.ask_hour(ctx, state)
        if step == "hour":
            hour = int(picked[len(HOUR):]) if picked and picked.startswith(HOUR) else read_hour(text)
            if hour is None:
                if common.is_other_request(ctx):
                    return Step.pass_on()
                return self.ask_hour(ctx, state, (common.say(ctx, "digest.hour_unknown"),))
            state = {**state, "hour": hour}
            if state.get("editing"):
                return self.save(ctx, state)
            home = ctx.citizen.home_insee or ctx.chat_commune
            if home is None:
                return common.ask_commune(ctx, {**state, "step": "commune"}, "digest.ask_commune")
            return self.ask_more(ctx, {**state, "communes": [home]})
        if step == "more":
            answer = picked[len(MORE):] if picked and picked.startswith(MORE) else None
            yes_no = common.parse_yes_no(text) if answer is None else None
            if answer == "yes" or yes_no is True:
                return common.ask_commune(ctx, {**state, "step": "commune"}, "digest.ask_commune")
            if answer == "no" or yes_no is False:
                return self.ask_categories(ctx, state)
            # a commune typed straight away ("et Le Port")
            return self.on_commune(ctx, {**state, "step": "commune"})
        if step == "commune":
            return self.on_commune(ctx, state)
        if step == "categories":
            if picked == CAT + "all" or fold(text) in {"tout", "tous", "all", "everything", "non", "no"}:
                return self.save(ctx, {**state, "categories": []})
            slug, _candidates = match_category(text, ctx.lang)
            if slug is None:
                unknown = common.say(ctx, "digest.category_unknown", text=text[:60])
                return self.ask_categories(ctx, state, (unknown,))
            return self.save(ctx, {**state, "categories": [*state.get("categories", []), slug]})
        return Step.pass_on()

    def on_commune(self, ctx: DialogContext, state: JSON) -> Step:
        answer = common.resolve_commune_answer(ctx, state)
        if answer.step is not None:
            return answer.step
        state = common.clear_commune_keys(state)
        communes = [c for c in [*(state.get("communes") or []), answer.insee] if c]
        state = {**state, "communes": list(dict.fromkeys(communes))}
        if state.get("editing"):
            return self.save(ctx, state)
        return self.ask_more(ctx, state)

    # --- writing -----------------------------------------------------------------------------

    def save(self, ctx: DialogContext, state: JSON) -> Step:
        row = digests.subscription_of(ctx.session, who(ctx))
        communes = list(state.get("communes") or (row.communes if row is not None else []))
        if not communes:
            home = ctx.citizen.home_insee or ctx.chat_commune
            if home is None:
                return common.ask_commune(ctx, {**state, "step": "commune"}, "digest.ask_commune")
            communes = [home]
        categories = state.get("categories")
        if categories is None and row is not None:
            categories = list(row.categories)
        try:
            row = digests.subscribe(ctx.session, who(ctx), frequency=str(state["frequency"]),
                                    communes=communes, now=ctx.now, hour=state.get("hour"),
                                    categories=categories or [])
        except digests.InvalidSubscription:
            return Step.done(common.say(ctx, "digest.usage"))
        return Step.done(common.say(ctx, "digest.saved", current=describe(ctx, row)))

    def stop(self, ctx: DialogContext) -> Step:
        if digests.unsubscribe(ctx.session, who(ctx)):
            return Step.done(common.say(ctx, "digest.stopped"))
        return Step.done(common.say(ctx, "digest.was_off"))


DIALOG = DigestDialog()


class DigestState(CommuneQuestion):
    """Digest: the choices made so far (a change keeps the rest of the subscription)."""

    frequency: str | None = None
    hour: int | None = None
    communes: list[str] = Field(default_factory=list)
    categories: list[str] | None = None
    editing: bool = False


SPEC = DialogSpec(
    state=DigestState,
    name="digest",
    commands=(Command("digest", ("resume", "lettre")),),
    steps=("manage", "frequency", "hour", "more", "commune", "categories"),
    slot_steps=("commune", "categories"),
    summary="daily or weekly digest of what is new in my communes, at their local hour",
)
