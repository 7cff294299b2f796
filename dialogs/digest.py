"""``/digest``: what is new in my communes, daily or weekly, at an hour of their local time.

Direct forms for power users and scripts, applied at once: ``/digest weekly``,
``/digest daily``, ``/digest daily 7``, ``/digest 18h`` (the hour of a subscription),
``/digest off``; in French too (``hebdo``, ``quotidien``, ``chaque jour à 7h``, ``stop``,
``arrêt``). With no argument, a short dialog (steps): ``frequency`` (weekly, daily, no;
"chaque jour à 7h" answers the hour too), ``hour`` (buttons 7, 8, 12, 18 h, or typed
"9h", "9", "6pm", "midi"), ``more`` (another commune? the home one is there already),
``commune`` (which), ``categories`` (everything, or some: "crèches et concerts"),
``category_pick`` (which of a few a word could mean), then ``confirm``: the subscription
in words ("chaque lundi à 8 h, heure de La Réunion : Saint-Paul (974), Le Port (974) —
tout") before anything is written.

A subscription shows itself first, with buttons to change one thing (saved at once) or
stop it; typing "18h" or "hebdo" there changes that. Unsubscribing takes effect at once.
Nobody is subscribed without saying so. An answer that is not understood gets a clear
word and the same question again, with what was already chosen kept.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

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

WEEKLY_WORDS = frozenset({"weekly", "week", "weeks", "hebdo", "hebdos", "hebdomadaire", "semaine", "semaines",
                          "lundi", "lundis", "monday", "mondays"})
DAILY_WORDS = frozenset({"daily", "day", "days", "everyday", "quotidien", "quotidienne", "quotidiennement",
                         "jour", "jours", "journalier", "journaliere", "quotidiens"})
OFF_WORDS = frozenset({"off", "stop", "stopper", "arret", "arrete", "arreter", "arretez", "desabonner",
                       "desabonne", "desabonnez", "desinscrire", "unsubscribe", "none", "aucun", "aucune",
                       "jamais", "never", "non", "no", "nope", "nan", "rien", "pas"})
ALL_WORDS = frozenset({"tout", "tous", "toutes", "all", "everything", "anything", "n importe", "peu importe",
                       "tout m interesse", "n importe quoi", "de tout", "all of it", "everything new"})
#: "no more communes" said in words at "another commune?"
ENOUGH_WORDS = frozenset({"c est tout", "cest tout", "non c est tout", "ca suffit", "ca ira", "rien",
                          "aucune", "that s all", "thats all", "that s it", "nothing", "none", "no more",
                          "suivant", "next"})
HOURS: tuple[int, ...] = (7, 8, 12, 18)
#: words that announce an hour inside a sentence ("chaque jour à 7")
_AT_WORDS = frozenset({"a", "at", "vers", "around", "des", "from"})
#: "midi", "noon"… said instead of a number
_HOUR_WORDS = {"midi": 12, "noon": 12, "minuit": 0, "midnight": 0}
#: an hour in folded text: "7", "7h", "7 h", "7 heures", "7:00" (folded "7 00"), "6pm"
_HOUR = re.compile(r"(?<!\w)(\d{1,2})\s*(h00|h|heures?|hrs?|00|am|pm|o clock)?(?!\w)")
_NUMBER = re.compile(r"\d")
#: between categories: "crèches et concerts", "daycare, concerts and markets"
_CATEGORY_SEPARATORS = re.compile(r"\s*(?:,|;|\+|/|&|\bet\b|\band\b|\bou\b|\bor\b)\s*", re.I)

FREQ = "freq:"
HOUR = "hour:"
MORE = "more:"
CAT = "cat:"
MANAGE = "manage:"
CONFIRM = "confirm:"

#: the words of each time zone the gazetteer knows ("heure de La Réunion")
ZONES = {
    "Europe/Paris": "paris", "Indian/Reunion": "reunion", "Pacific/Noumea": "noumea",
    "Pacific/Tahiti": "tahiti", "America/Martinique": "martinique", "America/Guadeloupe": "guadeloupe",
    "America/Cayenne": "cayenne", "Indian/Mayotte": "mayotte", "Indian/Kerguelen": "kerguelen",
    "Pacific/Wallis": "wallis", "America/Miquelon": "miquelon", "America/St_Barthelemy": "st_barthelemy",
    "America/Marigot": "marigot",
}


# --- reading answers (pure) -----------------------------------------------------------------


def read_frequency(text: str) -> str | None:
    """ "weekly", "daily" or "off" in a few words ("chaque semaine", "tous les jours à 7h",
    "every day", "non merci", "stop"), else None (both, or neither)."""
    words = set(fold(text).split())
    weekly, daily = bool(words & WEEKLY_WORDS), bool(words & DAILY_WORDS)
    if weekly != daily:
        return "weekly" if weekly else "daily"
    if not weekly and words & OFF_WORDS:
        return "off"
    return None


def read_hour(text: str, *, in_a_sentence: bool = False) -> int | None:
    """ "7", "7h", "18 h", "7:00", "6pm", "midi" (pure); None when no hour is said or it is
    not a whole hour of the day ("25h", "18h30"). ``in_a_sentence``: a bare number counts
    only after "à"/"at" ("chaque jour à 7", not "tous les 2 jours")."""
    folded = fold(text)
    for word, hour in _HOUR_WORDS.items():
        if word in folded.split():
            return hour
    match = _HOUR.search(folded)
    if match is None:
        return None
    hour, unit = int(match.group(1)), match.group(2) or ""
    before = folded[:match.start()].split()
    if in_a_sentence and not unit and not (before and before[-1] in _AT_WORDS):
        return None
    if unit == "pm" and hour < 12:
        hour += 12
    elif unit == "am" and hour == 12:
        hour = 0
    return hour if 0 <= hour <= 23 else None


def says_a_number(text: str) -> bool:
    return bool(_NUMBER.search(text))


def is_everything(text: str) -> bool:
    folded = fold(text)
    return folded in ALL_WORDS or common.parse_yes_no(text) is False


def read_categories(text: str, lang: str) -> tuple[list[str], str | None, list[str]]:
    """The categories named in ``text`` (pure apart from the taxonomy): (the clear ones,
    the first part that is not clear, what that part could mean)."""
    found: list[str] = []
    for part in (p for p in _CATEGORY_SEPARATORS.split(text) if p and p.strip()):
        slug, candidates = match_category(part.strip(), lang)
        if slug is None:
            return found, part.strip()[:60], candidates
        found.append(slug)
    return list(dict.fromkeys(found)), None, []


# --- saying it in words ----------------------------------------------------------------------


def who(ctx: DialogContext) -> Subscriber:
    return Subscriber(citizen_id=ctx.citizen.id)


def zone_words(ctx: DialogContext, tz: str | None, first: str) -> str:
    """ "heure de La Réunion" / "Réunion time"; the first commune's when the zone is not
    one of the gazetteer's."""
    slug = ZONES.get(tz or "")
    if slug is None:
        return ctx.t("digest.zone.commune", commune=common.commune_label(first))
    return ctx.t(f"digest.zone.{slug}")


def describe(ctx: DialogContext, frequency: str, hour: int, communes: list[str], categories: list[str],
             tz: str | None = None) -> str:
    """ "chaque lundi à 8 h, heure de La Réunion : Saint-Paul (974), Le Port (974) — tout"."""
    if tz is None:
        first = common.commune(communes[0]) if communes else None
        tz = first.timezone if first is not None else None
    places = ", ".join(str(common.commune_label(code)) for code in communes)
    what = (", ".join(format(common.category_name(c, ctx.lang), "-") for c in categories) if categories
            else ctx.t("digest.all"))
    zone = zone_words(ctx, tz, communes[0] if communes else "")
    return ctx.t(f"digest.describe.{frequency}", hour=hour, zone=zone, communes=places, what=what)


def describe_row(ctx: DialogContext, row: Any) -> str:
    return describe(ctx, row.frequency, row.hour, list(row.communes), list(row.categories), row.timezone)


class DigestDialog:
    """See the module docstring."""

    name: ClassVar[str] = "digest"

    def start(self, ctx: DialogContext, args: JSON) -> Step:
        text = str(args.get("text") or "").strip()
        if text:
            return self.direct(ctx, text)
        row = digests.subscription_of(ctx.session, who(ctx))
        if row is not None:
            return self.ask_manage(ctx, describe_row(ctx, row))
        return self.ask_frequency(ctx, {"step": "frequency"})

    def direct(self, ctx: DialogContext, text: str) -> Step:
        """``/digest weekly``, ``/digest daily 7``, ``/digest 18h``, ``/digest off``."""
        frequency, hour = read_frequency(text), read_hour(text)
        if frequency == "off":
            return self.stop(ctx)
        if says_a_number(text) and hour is None:
            return Step.done(common.say(ctx, "digest.hour_unknown"), common.say(ctx, "digest.usage"))
        if frequency is None:
            row = digests.subscription_of(ctx.session, who(ctx))
            if hour is None or row is None:
                return Step.done(common.say(ctx, "digest.usage"))
            frequency = row.frequency
        return self.save(ctx, {"frequency": frequency, "hour": hour, "editing": True})

    # --- questions ---------------------------------------------------------------------------

    def ask_manage(self, ctx: DialogContext, current: str, before: tuple[Outgoing, ...] = ()) -> Step:
        options = (Choice(MANAGE + "frequency", ctx.t("digest.manage.frequency")),
                   Choice(MANAGE + "hour", ctx.t("digest.manage.hour")),
                   Choice(MANAGE + "more", ctx.t("digest.manage.commune")),
                   Choice(MANAGE + "categories", ctx.t("digest.manage.categories")),
                   Choice(MANAGE + "off", ctx.t("digest.manage.off")),
                   Choice(MANAGE + "ok", ctx.t("digest.manage.ok")))
        return common.ask(ctx, {"step": "manage"}, "digest.current", choices=options, before=before,
                          current=current)

    def ask_frequency(self, ctx: DialogContext, state: JSON, before: tuple[Outgoing, ...] = ()) -> Step:
        options = (Choice(FREQ + "weekly", ctx.t("digest.weekly")),
                   Choice(FREQ + "daily", ctx.t("digest.daily")), Choice(FREQ + "off", ctx.t("digest.no")))
        key = "digest.ask_frequency_again" if state.get("editing") else "digest.ask_frequency"
        return common.ask(ctx, {**state, "step": "frequency"}, key, choices=options, before=before)

    def ask_hour(self, ctx: DialogContext, state: JSON, before: tuple[Outgoing, ...] = ()) -> Step:
        options = tuple(Choice(HOUR + str(h), ctx.t("digest.hour_label", hour=h)) for h in HOURS)
        return common.ask(ctx, {**state, "step": "hour"}, "digest.ask_hour", choices=options, before=before)

    def ask_commune(self, ctx: DialogContext, state: JSON, before: tuple[Outgoing, ...] = ()) -> Step:
        key = "digest.ask_commune" if state.get("communes") else "digest.ask_first_commune"
        return common.ask_commune(ctx, {**state, "step": "commune"}, key, before=before)

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

    def ask_confirm(self, ctx: DialogContext, state: JSON, before: tuple[Outgoing, ...] = ()) -> Step:
        options = (Choice(CONFIRM + "yes", ctx.t("digest.confirm_yes")),
                   Choice(CONFIRM + "no", ctx.t("digest.confirm_no")))
        summary = describe(ctx, str(state["frequency"]), int(state["hour"]), list(state["communes"]),
                           list(state.get("categories") or []))
        return common.ask(ctx, {**state, "step": "confirm"}, "digest.confirm", choices=options, before=before,
                          current=summary)

    # --- answers -----------------------------------------------------------------------------

    def resume(self, ctx: DialogContext, state: JSON) -> Step:
        step = state.get("step")
        picked = common.chosen(ctx)
        handler = {
            "manage": self.on_manage, "frequency": self.on_frequency, "hour": self.on_hour,
            "more": self.on_more, "commune": self.on_commune, "categories": self.on_categories,
            "category_pick": self.on_categories, "confirm": self.on_confirm,
        }.get(str(step))
        if handler is None:
            return Step.pass_on()
        return handler(ctx, state, picked)

    def on_manage(self, ctx: DialogContext, state: JSON, picked: str | None) -> Step:
        text = ctx.incoming.text
        action = picked[len(MANAGE):] if picked and picked.startswith(MANAGE) else None
        row = digests.subscription_of(ctx.session, who(ctx))
        if action == "off" or (action is None and read_frequency(text) == "off"):
            return self.stop(ctx)
        if action == "ok":
            return Step.done(common.say(ctx, "digest.unchanged"))
        if row is None:  # stopped meanwhile (another chat)
            return self.ask_frequency(ctx, {"step": "frequency"})
        kept = {"frequency": row.frequency, "hour": row.hour, "communes": list(row.communes),
                "categories": list(row.categories), "editing": True}
        if action is None:  # "18h", "hebdo", "chaque jour à 7h" typed at the buttons
            frequency, hour = read_frequency(text), read_hour(text)
            if frequency is None and hour is None:
                if common.is_other_request(ctx):
                    return Step.pass_on()
                problem = common.say(ctx, "digest.manage_unknown")
                return self.ask_manage(ctx, describe_row(ctx, row), (problem,))
            return self.save(ctx, {**kept, "frequency": frequency or row.frequency,
                                   "hour": row.hour if hour is None else hour})
        if action == "frequency":
            return self.ask_frequency(ctx, kept)
        if action == "hour":
            return self.ask_hour(ctx, kept)
        if action == "categories":
            return self.ask_categories(ctx, {**kept, "categories": []})
        return self.ask_commune(ctx, kept)

    def on_frequency(self, ctx: DialogContext, state: JSON, picked: str | None) -> Step:
        text = ctx.incoming.text
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
        hour = read_hour(text, in_a_sentence=True) if picked is None else None
        if hour is not None:  # "chaque jour à 7h": the hour is said too
            state["hour"] = hour
        if state.get("editing"):
            return self.save(ctx, state)
        return self.ask_hour(ctx, state) if hour is None else self.after_hour(ctx, state)

    def on_hour(self, ctx: DialogContext, state: JSON, picked: str | None) -> Step:
        text = ctx.incoming.text
        hour = int(picked[len(HOUR):]) if picked and picked.startswith(HOUR) else read_hour(text)
        if hour is None:
            if common.is_other_request(ctx):
                return Step.pass_on()
            return self.ask_hour(ctx, state, (common.say(ctx, "digest.hour_unknown"),))
        state = {**state, "hour": hour}
        if state.get("editing"):
            return self.save(ctx, state)
        return self.after_hour(ctx, state)

    def after_hour(self, ctx: DialogContext, state: JSON) -> Step:
        """The communes: home (or this room's commune) to begin with, others if wanted."""
        home = ctx.citizen.home_insee or ctx.chat_commune
        if home is None:
            return self.ask_commune(ctx, {**state, "communes": []})
        return self.ask_more(ctx, {**state, "communes": [home]})

    def on_more(self, ctx: DialogContext, state: JSON, picked: str | None) -> Step:
        answer = picked[len(MORE):] if picked and picked.startswith(MORE) else None
        yes_no = common.parse_yes_no(ctx.incoming.text) if answer is None else None
        if answer == "yes" or yes_no is True:
            return self.ask_commune(ctx, state)
        if answer == "no" or yes_no is False or fold(ctx.incoming.text) in ENOUGH_WORDS:
            return self.ask_categories(ctx, state)
        # a commune typed straight away ("et Le Port")
        typed = {**state, "step": "commune", "_commune_key": "digest.ask_commune"}
        return self.on_commune(ctx, typed, picked)

    def on_commune(self, ctx: DialogContext, state: JSON, picked: str | None = None) -> Step:
        answer = common.resolve_commune_answer(ctx, state)
        if answer.step is not None:
            return answer.step
        state = common.clear_commune_keys(state)
        communes = [c for c in [*(state.get("communes") or []), answer.insee] if c]
        state = {**state, "communes": list(dict.fromkeys(communes))}
        if state.get("editing"):
            return self.save(ctx, state)
        return self.ask_more(ctx, state)

    def on_categories(self, ctx: DialogContext, state: JSON, picked: str | None) -> Step:
        text = ctx.incoming.text
        chosen_before = list(state.get("categories") or []) if state.get("step") == "category_pick" else []
        if picked == CAT + "all" or (picked is None and is_everything(text)):
            return self.categories_done(ctx, {**state, "categories": []})
        if picked and picked.startswith(CAT):
            return self.categories_done(ctx, {**state, "categories": [*chosen_before, picked[len(CAT):]]})
        found, unclear, candidates = read_categories(text, ctx.lang)
        if unclear is None and found:
            return self.categories_done(ctx, {**state, "categories": found})
        if candidates:
            options = (*(Choice(CAT + slug, common.category_name(slug, ctx.lang)) for slug in candidates[:4]),
                       Choice(CAT + "all", ctx.t("digest.all_button")))
            return common.ask(ctx, {**state, "step": "category_pick", "categories": found},
                              "digest.category_which", choices=options, text=unclear or text[:60])
        if common.is_other_request(ctx):
            return Step.pass_on()
        problem = common.say(ctx, "digest.category_unknown", text=(unclear or text)[:60])
        return self.ask_categories(ctx, {**state, "categories": found}, (problem,))

    def categories_done(self, ctx: DialogContext, state: JSON) -> Step:
        state = {**state, "categories": list(dict.fromkeys(state.get("categories") or []))}
        if state.get("editing"):
            return self.save(ctx, state)
        return self.ask_confirm(ctx, state)

    def on_confirm(self, ctx: DialogContext, state: JSON, picked: str | None) -> Step:
        answer = picked[len(CONFIRM):] if picked and picked.startswith(CONFIRM) else None
        yes_no = common.parse_yes_no(ctx.incoming.text) if answer is None else None
        if answer == "yes" or yes_no is True:
            return self.save(ctx, state)
        if answer == "no" or yes_no is False:
            return Step.done(common.say(ctx, "digest.not_now"))
        if common.is_other_request(ctx):
            return Step.pass_on()
        return self.ask_confirm(ctx, state, (common.say(ctx, "digest.confirm_unknown"),))

    # --- writing -----------------------------------------------------------------------------

    def save(self, ctx: DialogContext, state: JSON) -> Step:
        """Subscribe (or change): what the state does not say is kept from the current
        subscription; no commune at all asks for one first."""
        row = digests.subscription_of(ctx.session, who(ctx))
        communes = list(state.get("communes") or (row.communes if row is not None else []))
        if not communes:
            home = ctx.citizen.home_insee or ctx.chat_commune
            if home is None:
                return self.ask_commune(ctx, {**state, "communes": [], "editing": True})
            communes = [home]
        categories = state.get("categories")
        if categories is None and row is not None:
            categories = list(row.categories)
        hour = state.get("hour")
        if hour is None and row is not None:
            hour = row.hour
        try:
            row = digests.subscribe(ctx.session, who(ctx), frequency=str(state["frequency"]),
                                    communes=communes, now=ctx.now, hour=hour, categories=categories or [])
        except digests.InvalidSubscription:
            return Step.done(common.say(ctx, "digest.usage"))
        return Step.done(common.say(ctx, "digest.saved", current=describe_row(ctx, row)))

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
    #: a change (or a direct form still missing a commune): saved as soon as it is known
    editing: bool = False


SPEC = DialogSpec(
    state=DigestState,
    name="digest",
    commands=(Command("digest", ("resume", "lettre")),),
    steps=("manage", "frequency", "hour", "more", "commune", "categories", "category_pick", "confirm"),
    slot_steps=("commune", "categories", "category_pick"),
    number_steps=("hour",),
    summary="daily or weekly digest of what is new in my communes, at their local hour",
)
