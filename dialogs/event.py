"""The event dialog: ``/event``, "j'organise un vide-grenier samedi au Port".

Steps (``state["step"]``): ``title``, ``category``, ``commune``, ``when`` (a day and a time
read from free text: "samedi 14h", "le 24/12 de 9h à 17h", "sat 2pm"), ``when_ok`` (what
was understood, said back in words, to confirm), ``place`` (an address or a hall,
optional), ``description`` (optional), ``organizer`` (one of the citizen's associations or
projects, one typed and found in the directory, or none), ``confirm`` (a summary: publish,
change something, or drop it), ``edit`` (which part to change), ``dup`` (the same event
is already listed that day).

The day and time are kept as the commune's local date and clock time (``date``,
``start``, ``end``), and placed in the commune's time zone only when published: a commune
changed at the summary moves the event with it. Publishing is the only write: the event
entry, then ``Outgoing`` items for the commune's rooms and one per follower of its
organiser, which the engine turns into outbox rows in the same transaction.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import ClassVar
from zoneinfo import ZoneInfo

from babel.dates import format_date
from pydantic import Field
from sqlalchemy import func, select

from bot.dialog import JSON, DialogContext, Step
from bot.dialog_state import CommuneQuestion
from bot.i18n import translator
from bot.messages import (
    Bold,
    Choice,
    LineBreak,
    ListItems,
    Outgoing,
    Span,
    StartLink,
    Target,
    TargetKind,
    Text,
)
from bot.outbox import citizen_target
from bot.spec import Command, DialogSpec
from dialogs import common
from dialogs.agenda import when_text
from dialogs.entry_questions import share_payload
from dialogs.entry_view import NAME_MAX, TEXT_MAX, Bad, as_name, load_entry, match_category, read_text
from dialogs.recommend import args_field
from directory import services
from directory.categories import get_taxonomy
from directory.models import ChatBinding, Entry
from directory.services import NewEntry
from directory.text import fold

FIELDS: tuple[str, ...] = ("title", "category", "commune", "when", "place", "description", "organizer")
#: the event categories offered as buttons (typing any other category works)
EVENT_CATEGORIES: tuple[str, ...] = ("vide-grenier", "concert", "fete", "marche-noel", "conference")
#: an event given a day but no end lasts this long on the summary (the calendar agrees)
CATEGORY = "cat:"
FIELD = "field:"
ORGANIZER = "org:"
TITLE = "title:"
PUBLISH = "publish"
EDIT = "edit"
DROP = "drop"
CHANGE = "change"
NEW = "new"
#: a window longer than this ("la semaine prochaine") is no day: ask which one
MAX_SPAN_DAYS = 3
#: how far ahead an event may be announced
MAX_AHEAD = timedelta(days=2 * 366)
#: beside the common skip words: "moi" leaves the organiser empty (it is the citizen)
EVENT_SKIP_WORDS = frozenset({
    "moi", "moi meme", "me", "myself", "pas de lieu", "pas de description", "pas d organisateur",
})
#: a day and time to ask again
NO_WHEN: JSON = {"date": None, "start": None, "end": None, "end_date": None, "when_ok": False}


def _hhmm(moment: time) -> str:
    return moment.strftime("%H:%M")


def _time(text: str | None) -> time | None:
    return time.fromisoformat(text) if text else None


def local_times(state: JSON) -> tuple[datetime, datetime | None]:
    """The event's start and end in its commune's time zone (an end before the start is
    past midnight: the next day)."""
    place = common.commune(state["commune"])
    zone = ZoneInfo(place.timezone if place is not None else "Europe/Paris")
    day = date.fromisoformat(state["date"])
    start_clock = _time(state["start"]) or time(0, 0)
    starts = datetime.combine(day, start_clock, tzinfo=zone)
    last_day = date.fromisoformat(state["end_date"]) if state.get("end_date") else day
    end_clock = _time(state.get("end"))
    if end_clock is None:
        return starts, (datetime.combine(last_day, time(23, 59), tzinfo=zone) if last_day != day else None)
    ends = datetime.combine(last_day, end_clock, tzinfo=zone)
    if ends <= starts:
        ends += timedelta(days=1)
    return starts, ends


def when_in_words(lang: str, state: JSON) -> str:
    """ "samedi 5 décembre 2026, 14:00 – 18:00" / "Saturday, December 5, 2026, 2:00 PM – 6:00 PM"."""
    starts, ends = local_times(state)
    text = format_date(starts.date(), "full", locale=lang)
    clock = starts.strftime("%H:%M") if lang == "fr" else starts.strftime("%-I:%M %p")
    text += ", " + clock
    if ends is not None:
        if ends.date() != starts.date() and state.get("end_date"):
            text += " – " + format_date(ends.date(), "full", locale=lang)
            text += ", " + (ends.strftime("%H:%M") if lang == "fr" else ends.strftime("%-I:%M %p"))
        else:
            text += " – " + (ends.strftime("%H:%M") if lang == "fr" else ends.strftime("%-I:%M %p"))
    return text


class EventDialog:
    """Tell the commune of an event; see the module docstring."""

    name: ClassVar[str] = "event"

    def start(self, ctx: DialogContext, args: JSON) -> Step:
        state: JSON = {"step": "title"}
        category = args_field(args, ctx.parse, "category")
        known = get_taxonomy().get(str(category)) if category else None
        if known is not None and known.kind == "event":
            # "un vide-grenier": its kind; "a beach cleanup" names a place, not the kind
            state["category"] = category
        commune_code = args_field(args, ctx.parse, "commune")
        if commune_code and common.commune(commune_code) is not None:
            state["commune"] = commune_code
        name = args_field(args, ctx.parse, "name")
        if name:
            title = read_text(str(name), max_len=NAME_MAX)
            if not isinstance(title, Bad):
                state["title"] = title
        state = self.read_when(ctx, state)
        return self.next(ctx, state, (common.say(ctx, "event.intro"),))

    # --- reading a day and a time --------------------------------------------------------------

    def _zone(self, ctx: DialogContext, state: JSON) -> str:
        place = common.commune(state.get("commune") or ctx.chat_commune or ctx.citizen.home_insee)
        return place.timezone if place is not None else "Europe/Paris"

    def read_when(self, ctx: DialogContext, state: JSON) -> JSON:
        """The day(s) and clock time the message says, added to ``state`` (what it does not
        say is kept: "14h" after "samedi" completes it)."""
        days = ctx.parse.days(ctx.now, self._zone(ctx, state)) if hasattr(ctx.parse, "days") else None
        clock = getattr(ctx.parse, "clock", None)
        found = dict(state)
        if days is not None and (days[1] - days[0]).days < MAX_SPAN_DAYS:
            found["date"] = days[0].isoformat()
            found["end_date"] = days[1].isoformat() if days[1] != days[0] else None
            found["when_ok"] = False
        elif days is not None:
            found["vague"] = True  # "la semaine prochaine": which day?
        if clock is not None:
            found["start"] = _hhmm(clock.start)
            found["end"] = _hhmm(clock.end) if clock.end is not None else None
            found["when_ok"] = False
        return found

    # --- what to ask next ----------------------------------------------------------------------

    def next(self, ctx: DialogContext, state: JSON, before: tuple[Outgoing, ...] = ()) -> Step:
        if state.get("editing") and state.get("date") and state.get("start") and state.get("when_ok"):
            return self.summary(ctx, {**state, "editing": False}, before)
        for field in FIELDS:
            if field == "when":
                if not (state.get("date") and state.get("start")) or not state.get("when_ok"):
                    return self.ask(ctx, {**state, "step": "when"}, "when", before)
            elif field not in state:
                return self.ask(ctx, {**state, "step": field}, field, before)
        return self.summary(ctx, state, before)

    def ask(self, ctx: DialogContext, state: JSON, field: str, before: tuple[Outgoing, ...] = ()) -> Step:
        skip = (Choice(common.SKIP, ctx.t("event.skip")),)
        if field == "title":
            suggestions: tuple[Choice, ...] = ()
            if state.get("category"):
                label = str(common.category_name(state["category"], ctx.lang))
                suggestions = (Choice(TITLE + label, label),)
            return common.ask(ctx, state, "event.ask_title", choices=suggestions, before=before)
        if field == "category":
            slugs = state.get("category_candidates") or list(EVENT_CATEGORIES)
            options = tuple(Choice(CATEGORY + slug, common.category_name(slug, ctx.lang)) for slug in slugs)
            return common.ask(ctx, state, "event.ask_category", choices=options, before=before)
        if field == "commune":
            step = common.ask_commune(ctx, state, "event.ask_commune", before=before)
            default = ctx.chat_commune or ctx.citizen.home_insee
            if default and step.replies:
                step.replies[-1] = replace(step.replies[-1], choices=common.commune_choices([default]))
            return step
        if field == "when":
            return self.ask_when(ctx, {**state, "step": "when"}, before)
        if field == "place":
            return common.ask(ctx, state, "event.ask_place", choices=skip, before=before,
                              commune=common.commune_label(state["commune"]))
        if field == "description":
            return common.ask(ctx, state, "event.ask_description", choices=skip, before=before,
                              title=state["title"])
        return self.ask_organizer(ctx, state, before)

    def ask_when(self, ctx: DialogContext, state: JSON, before: tuple[Outgoing, ...]) -> Step:
        """The day and time: confirm what is understood, else ask what is missing."""
        if state.get("date") and state.get("start"):
            options = (Choice(common.YES, ctx.t("event.when_yes")),
                       Choice(CHANGE, ctx.t("event.when_change")))
            return common.ask(ctx, {**state, "step": "when_ok"}, "event.when_check", choices=options,
                              before=before, when=when_in_words(ctx.lang, state))
        if state.get("date"):
            day = format_date(date.fromisoformat(state["date"]), "full", locale=ctx.lang)
            return common.ask(ctx, state, "event.ask_time", before=before, day=day)
        if state.get("start"):  # "à 14h": which day?
            return common.ask(ctx, state, "event.ask_day_at", before=before, time=state["start"])
        key = "event.ask_day" if state.get("vague") else "event.ask_when"
        return common.ask(ctx, state, key, before=before)

    def ask_organizer(self, ctx: DialogContext, state: JSON, before: tuple[Outgoing, ...] = ()) -> Step:
        """Who organises it: the citizen's associations and projects one press away."""
        state = {**state, "step": "organizer"}
        candidates = (load_entry(ctx, i) for i in state.get("org_candidates") or [])
        offered = [e for e in candidates if e is not None]
        if not offered:
            summary = services.citizen_summary(ctx.session, ctx.citizen)
            mine = [entry for entry, _role in summary.memberships] + [
                p for p in summary.projects if p.created_by_id == ctx.citizen.id]
            offered = [e for e in mine if e.kind in services.FOLLOWABLE_KINDS][:5]
        options = [Choice(ORGANIZER + str(e.id), e.name if len(e.name) <= 40 else e.name[:39] + "…")
                   for e in offered]
        options.append(Choice(common.SKIP, ctx.t("event.no_organizer")))
        return common.ask(ctx, state, "event.ask_organizer", choices=options, before=before)

    # --- answers -------------------------------------------------------------------------------

    def resume(self, ctx: DialogContext, state: JSON) -> Step:
        handler = getattr(self, f"on_{state.get('step')}", None)
        if handler is None:
            return Step.done(common.say(ctx, "event.lost"))
        step: Step = handler(ctx, state)
        return step

    def on_title(self, ctx: DialogContext, state: JSON) -> Step:
        picked = common.chosen(ctx)
        typed = picked[len(TITLE):] if picked and picked.startswith(TITLE) else ctx.incoming.text
        title = read_text(typed, max_len=NAME_MAX, entry_field=True)
        if isinstance(title, Bad):
            return self.ask(ctx, state, "title", (title.reply(ctx),))
        return self.next(ctx, {**state, "title": title})

    def on_category(self, ctx: DialogContext, state: JSON) -> Step:
        picked = common.chosen(ctx)
        if picked and picked.startswith(CATEGORY) and get_taxonomy().get(picked[len(CATEGORY):]):
            return self.next(ctx, {**state, "category": picked[len(CATEGORY):], "category_candidates": []})
        typed = read_text(ctx.incoming.text, max_len=80)
        if isinstance(typed, Bad):
            return self.ask(ctx, state, "category", (typed.reply(ctx),))
        slug, candidates = match_category(typed, ctx.lang)
        if slug:
            return self.next(ctx, {**state, "category": slug, "category_candidates": []})
        key = "event.category_which" if candidates else "event.category_unknown"
        return self.ask(ctx, {**state, "category_candidates": candidates}, "category",
                        (common.say(ctx, key, text=typed),))

    def on_commune(self, ctx: DialogContext, state: JSON) -> Step:
        answer = common.resolve_commune_answer(ctx, state)
        if answer.step is not None:
            return answer.step
        return self.next(ctx, {**common.clear_commune_keys(state), "commune": answer.insee})

    def on_when(self, ctx: DialogContext, state: JSON) -> Step:
        found = self.read_when(ctx, {**state, "vague": False})
        if found.get("vague") and not found.get("date"):
            return self.ask_when(ctx, found, (common.say(ctx, "event.which_day"),))
        if found == {**state, "vague": False}:  # nothing of a day or a time in it
            return self.ask_when(ctx, state, (common.say(ctx, "event.when_unknown"),))
        if found.get("date") and found.get("start"):
            starts, _ends = local_times({**found, "commune": found.get("commune") or ctx.citizen.home_insee
                                         or "75056"})
            if starts < ctx.now:
                cleared = {**found, **NO_WHEN}
                return self.ask_when(ctx, cleared, (common.say(ctx, "event.when_past"),))
            if starts > ctx.now + MAX_AHEAD:
                cleared = {**found, **NO_WHEN}
                return self.ask_when(ctx, cleared, (common.say(ctx, "event.when_far"),))
        return self.ask_when(ctx, found, ())

    def on_when_ok(self, ctx: DialogContext, state: JSON) -> Step:
        picked = common.chosen(ctx)
        if picked is None and (getattr(ctx.parse, "clock", None) or getattr(ctx.parse, "when", None)):
            # "non, plutôt 16h" / "dimanche plutôt": the correction itself
            return self.on_when(ctx, {**state, "step": "when"})
        yes_no = common.parse_yes_no(ctx.incoming.text) if picked is None else None
        if picked == common.YES or yes_no is True:
            return self.next(ctx, {**state, "when_ok": True})
        if picked == CHANGE or yes_no is False:
            cleared = {**state, **NO_WHEN, "step": "when"}
            return common.ask(ctx, cleared, "event.ask_when")
        # "non, 15h" / "dimanche plutôt": a correction typed straight away
        return self.on_when(ctx, {**state, "step": "when"})

    def skipped(self, ctx: DialogContext) -> bool:
        """The skip button, or a skip word typed ("passer", "aucun", "personne")."""
        return common.skipped(ctx, EVENT_SKIP_WORDS)

    def on_place(self, ctx: DialogContext, state: JSON) -> Step:
        if self.skipped(ctx):
            return self.next(ctx, {**state, "place": None})
        if common.only_yes(ctx):
            return self.ask(ctx, state, "place", (common.say(ctx, "common.type_it"),))
        typed = read_text(ctx.incoming.text, max_len=300, entry_field=True)
        if isinstance(typed, Bad):
            return self.ask(ctx, state, "place", (typed.reply(ctx),))
        return self.next(ctx, {**state, "place": typed})

    def on_description(self, ctx: DialogContext, state: JSON) -> Step:
        if self.skipped(ctx):
            return self.next(ctx, {**state, "description": ""})
        if common.only_yes(ctx):
            return self.ask(ctx, state, "description", (common.say(ctx, "common.type_it"),))
        typed = read_text(ctx.incoming.text, max_len=TEXT_MAX, entry_field=True)
        if isinstance(typed, Bad):
            return self.ask(ctx, state, "description", (typed.reply(ctx),))
        return self.next(ctx, {**state, "description": typed})

    def on_organizer(self, ctx: DialogContext, state: JSON) -> Step:
        picked = common.chosen(ctx)
        if self.skipped(ctx):
            return self.next(ctx, {**state, "organizer": None, "org_candidates": []})
        if picked and picked.startswith(ORGANIZER):
            entry = load_entry(ctx, picked[len(ORGANIZER):])
            if entry is not None and entry.kind in services.FOLLOWABLE_KINDS:
                return self.next(ctx, {**state, "organizer": entry.id, "org_candidates": []})
            return self.ask_organizer(ctx, state, (common.say(ctx, "event.gone"),))
        typed = read_text(ctx.incoming.text, max_len=NAME_MAX)
        if isinstance(typed, Bad):
            return self.ask_organizer(ctx, state, (typed.reply(ctx),))
        found = [e for e in services.find_duplicates(ctx.session, typed, state["commune"], None)
                 if e.kind in services.FOLLOWABLE_KINDS and e.status == "active"][:4]
        if not found:
            return self.ask_organizer(ctx, {**state, "org_candidates": []},
                                      (common.say(ctx, "event.organizer_unknown", name=typed,
                                                  commune=common.commune_label(state["commune"])),))
        if len(found) == 1 and fold(found[0].name) == fold(typed):
            return self.next(ctx, {**state, "organizer": found[0].id, "org_candidates": []})
        return self.ask_organizer(ctx, {**state, "org_candidates": [e.id for e in found]},
                                  (common.say(ctx, "event.organizer_which"),))

    # --- summary, edits, publication -----------------------------------------------------------

    def summary_spans(self, ctx: DialogContext, state: JSON) -> list[Span]:
        organizer = load_entry(ctx, state.get("organizer")) if state.get("organizer") else None
        rows = [
            ("event.field.title", state["title"]),
            ("event.field.category", str(common.category_name(state["category"], ctx.lang))),
            ("event.field.commune", str(common.commune_label(state["commune"]))),
            ("event.field.when", when_in_words(ctx.lang, state)),
            ("event.field.place", state.get("place") or ctx.t("event.none")),
            ("event.field.description", state.get("description") or ctx.t("event.none")),
            ("event.field.organizer", organizer.name if organizer is not None else ctx.t("event.none")),
        ]
        colon = " : " if ctx.lang == "fr" else ": "
        items = tuple((Bold(ctx.t(key) + colon), Text(value)) for key, value in rows)
        return [Text(ctx.t("event.summary")), ListItems(items)]

    def summary(self, ctx: DialogContext, state: JSON, before: tuple[Outgoing, ...] = ()) -> Step:
        options = (
            Choice(PUBLISH, ctx.t("event.publish")),
            Choice(EDIT, ctx.t("event.edit")),
            Choice(DROP, ctx.t("event.drop")),
        )
        state = {**state, "step": "confirm"}
        card = common.say_spans(ctx, self.summary_spans(ctx, state), choices=options)
        return Step.wait(state, *before, card)

    def on_confirm(self, ctx: DialogContext, state: JSON) -> Step:
        picked = common.chosen(ctx)
        yes_no = common.parse_yes_no(ctx.incoming.text) if picked is None else None
        if picked == PUBLISH or yes_no is True:
            return self.publish(ctx, state)
        if picked == DROP or yes_no is False:
            return Step.done(common.say(ctx, "event.dropped"))
        if picked == EDIT:
            return self.which_field(ctx, {**state, "step": "edit"})
        return self.summary(ctx, state, (common.say(ctx, "event.confirm_hint"),))

    def which_field(self, ctx: DialogContext, state: JSON, before: tuple[Outgoing, ...] = ()) -> Step:
        options = tuple(Choice(FIELD + f, ctx.t(f"event.field.{f}")) for f in FIELDS)
        return common.ask(ctx, state, "event.which_field", choices=options, before=before)

    def on_edit(self, ctx: DialogContext, state: JSON) -> Step:
        picked = common.chosen(ctx)
        field = picked[len(FIELD):] if picked and picked.startswith(FIELD) else None
        if field not in FIELDS:
            return self.which_field(ctx, state, (common.say(ctx, "event.pick_hint"),))
        assert field is not None
        editing = {**state, "step": field, "editing": True}
        if field == "when":
            editing = {**editing, **NO_WHEN}
        return self.ask(ctx, editing, field)

    def on_dup(self, ctx: DialogContext, state: JSON) -> Step:
        picked = common.chosen(ctx)
        if picked == NEW:
            return self.publish(ctx, {**state, "force": True})
        if picked == DROP or common.parse_yes_no(ctx.incoming.text) is False:
            return Step.done(common.say(ctx, "event.dropped"))
        return self.summary(ctx, state, (common.say(ctx, "event.confirm_hint"),))

    def new_entry(self, state: JSON) -> NewEntry:
        starts, ends = local_times(state)
        return NewEntry(
            name=as_name(state["title"]),
            category=state["category"],
            commune_insee=state["commune"],
            kind="event",
            description=state.get("description") or "",
            address=state.get("place"),
            starts_at=starts,
            ends_at=ends,
            organizer_id=state.get("organizer"),
        )

    def publish(self, ctx: DialogContext, state: JSON) -> Step:
        """Add the event (a savepoint: a refusal leaves the transaction clean) and tell the
        commune's rooms and its organiser's followers."""
        data = self.new_entry(state)
        if not state.get("force"):
            same_day = self.same_day(ctx, data)
            if same_day is not None:
                options = (Choice(NEW, ctx.t("event.publish_anyway")), Choice(DROP, ctx.t("event.drop")))
                return Step.wait({**state, "step": "dup"}, common.say(
                    ctx, "event.duplicate", name=same_day.name, when=when_text(ctx.lang, same_day),
                    choices=options))
        try:
            with ctx.session.begin_nested():
                entry = services.add_entry(ctx.session, data, by=ctx.citizen, force=True)
        except services.InvalidEntry as invalid:
            field = {"name": "title", "commune_insee": "commune", "address": "place", "starts_at": "when",
                     "ends_at": "when"}.get(invalid.field, invalid.field)
            if field not in FIELDS:
                field = "title"
            problem = common.say_invalid(ctx, invalid, f"event.invalid.{field}")
            editing = {**state, "step": field, "editing": True}
            if field == "when":
                editing = {**editing, **NO_WHEN}
            return self.ask(ctx, editing, field, (problem,))
        bound = ctx.session.scalar(select(func.count()).select_from(ChatBinding).where(
            ChatBinding.commune_insee == entry.commune_insee))
        # say "the rooms were told" only where there is one to tell
        key = "event.published" if bound else "event.published_unbound"
        replies = [common.say(ctx, key, name=entry.name, commune=common.commune_label(entry.commune_insee))]
        replies.append(self.announcement(entry, Target(TargetKind.COMMUNE_ROOM, ref=entry.commune_insee)))
        organizer = ctx.session.get(Entry, entry.organizer_id) if entry.organizer_id else None
        if organizer is not None:
            for citizen_id, lang in services.follower_languages(ctx.session, organizer, but=ctx.citizen.id):
                replies.append(self.announcement(entry, citizen_target(citizen_id), lang, organizer))
        return Step.done(*replies)

    def same_day(self, ctx: DialogContext, data: NewEntry) -> Entry | None:
        """An event of the same name in the same commune on the same day, already listed."""
        for found in services.find_duplicates(ctx.session, data.name, data.commune_insee, None):
            if found.kind == "event" and found.starts_at is not None and data.starts_at is not None:
                theirs = found.starts_at
                if theirs.tzinfo is None:
                    theirs = theirs.replace(tzinfo=ZoneInfo("UTC"))
                if theirs.astimezone(data.starts_at.tzinfo).date() == data.starts_at.date():
                    return found
        return None

    def announcement(self, entry: Entry, target: Target, lang: str = "fr",
                     organizer: Entry | None = None) -> Outgoing:
        """The event as the commune's room (in French, the communes' language) or a follower
        of its organiser sees it, with a link that opens its card (and "add to my calendar")."""
        t = translator(lang)
        head = (t("event.followers.new", organizer=organizer.name) if organizer is not None
                else t("event.room.new", commune=common.commune_label(entry.commune_insee)))
        spans: list[Span] = [Text(head), LineBreak(), Bold(entry.name), LineBreak(),
                             Text("📅 " + when_text(lang, entry)), LineBreak()]
        where = ", ".join(p for p in (entry.address, str(common.commune_label(entry.commune_insee))) if p)
        spans += [Text("📍 " + where), LineBreak()]
        if entry.description:
            spans += [Text(entry.description), LineBreak()]
        spans.append(StartLink(t("event.open"), share_payload(entry.id)))
        return Outgoing(spans=tuple(spans), target=target, lang=t.lang)


DIALOG = EventDialog()


class EventState(CommuneQuestion):
    """Event: the fields as they are answered (local date and clock times), and edits."""

    title: str | None = None
    category: str | None = None
    category_candidates: list[str] = Field(default_factory=list)
    commune: str | None = None
    date: str | None = None
    end_date: str | None = None
    start: str | None = None
    end: str | None = None
    when_ok: bool = False
    vague: bool = False
    place: str | None = None
    description: str | None = None
    organizer: int | None = None
    org_candidates: list[int] = Field(default_factory=list)
    editing: bool = False
    force: bool = False


SPEC = DialogSpec(
    state=EventState,
    name="event",
    commands=(Command("event", ("evenement",)),),
    intents=frozenset({"announce_event"}),
    command_intent="announce_event",
    steps=("title", "category", "commune", "when", "when_ok", "place", "description", "organizer",
           "confirm", "edit", "dup"),
    free_text_steps=("title", "when", "place", "description", "organizer"),
    slot_steps=("category", "commune"),
    summary="tell the commune of an event you organise, posted to its rooms",
)
