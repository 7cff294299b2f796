"""The ask dialog: "quelle crèche près de chez moi ?", "garagiste au Port", ``/search crèche``.

Steps (``state["step"]``):

``what``     nothing to look for yet: ask what (a category or a name).
``where``    no place known (no shared location, no home, no commune said, no bound chat):
             ask a commune or a shared location.
``results``  a page of results (what and where: ``dialogs/ask_query.py``); choices open
             one, "more" pages. Pages, cards and "back" share one ``edit_key``
             ("results:<search>") so Telegram edits the list in place. Typing something
             else is a follow-up ("et au Port ?", "la deuxième") or a new search.
``entry``    one entry's card, pin and actions (recommend, I belong here, follow, back).
``offer``    nothing found even after widening the radius once: offer to add one, which
             hands the conversation to the recommend dialog.

Where to search, in order: a location shared with the message, "near me" (the citizen's
shared point, else their home commune), a commune named in the question, the commune the
chat is bound to, the citizen's point, their home commune. Nothing is written here except
through the join/follow buttons and the recommend dialog it hands over to.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, ClassVar

from pydantic import Field

from bot.conversation import Shown
from bot.dialog import JSON, DialogContext, Step
from bot.dialog_state import CommuneQuestion
from bot.messages import Choice, ListItems, Outgoing, Span, Text
from bot.spec import Command, DialogSpec
from dialogs import common, get_dialog
from dialogs.agenda import (
    default_window,
    event_lines,
    load_events,
    project_line,
    project_matches,
    upcoming,
    window_text,
)
from dialogs.ask_query import (
    ANYWHERE,
    DEFAULT_RADIUS_KM,
    HIT,
    PAGE_SIZE,
    RESULTS,
    Place,
    asked_radius,
    choose_place,
    header,
    no_results,
    origin_of,
    query_state,
    results_key,
    results_reply,
    run_search,
)
from dialogs.entry_questions import answer_field, share_message
from dialogs.entry_view import (
    ACTION_BACK,
    ACTION_DONE,
    ACTION_JOIN,
    ACTION_RECOMMEND,
    ACTION_REPORT,
    DELEGATE,
    Bad,
    act_on_entry,
    delegate,
    entry_actions,
    entry_message,
    load_entry,
    read_text,
    resume_delegate,
)
from dialogs.follow_up import Revision, revise
from dialogs.slots import Slots, slots_from, understand
from directory import services
from directory.gazetteer import get_gazetteer
from directory.search import SearchPage
from directory.text import fold

#: how a follow-up starts ("et à", "and in", "what about"), before the place it names
FOLLOW_UP_LEAD = re.compile(
    r"^\s*(?:et|and|sinon|plut[oô]t|what about|how about|ou bien|or)\b\s*"
    r"(?:(?:à|a|au|aux|en|dans|sur|in|at|du c[oô]t[eé] de)\b\s*)?",
    re.IGNORECASE,
)
#: a question about "them" over this many listed places answers for each
FEW = 3
#: further categories answered beside the first one ("une crèche et une pharmacie")
MAX_ALSO = 2
#: the radius is widened once, by this factor, capped
WIDEN_FACTOR = 3.0
MAX_RADIUS_KM = 100.0
QUERY_MAX = 200

#: intents that leave the results for another dialog
OTHER_INTENTS = frozenset(
    {"recommend", "join", "announce_project", "register", "help", "settings", "me", "greeting", "thanks"}
)
ADD = "add"


class AskDialog:
    """Search the directory by chatting; see the module docstring."""

    name: ClassVar[str] = "ask"

    def start(self, ctx: DialogContext, args: JSON) -> Step:
        shown = ctx.memory.shown
        if args.get("entry_id") is not None:  # "/start e42": a shared entry opened
            entry = load_entry(ctx, args["entry_id"])
            if entry is None:
                return Step.done(common.say(ctx, "ask.gone"))
            return self._open_entry(ctx, entry, [entry.id])
        if args.get("guess"):
            return self._guess_name(ctx, str(args.get("text") or ""))
        if args.get("relocate") and shown is not None and ctx.incoming.location is not None:
            return self._relocate(ctx, shown.query)
        if args.get("followup") and shown is not None:
            revision = revise(shown, ctx.parse) or self._typo_place(ctx, shown)
            if revision is not None:
                return self._carry_out(ctx, revision, shown)
        slots = slots_from(args, ctx.parse)
        contact = getattr(ctx.parse, "contact", None)
        if contact and not (slots.category or slots.name):
            return self._by_contact(ctx, str(contact))
        if getattr(ctx.parse, "field", None) and not (slots.category or slots.name or slots.kind):
            # "son téléphone ?" with no card on screen: nothing to answer from, ask which one
            return Step.done(common.say(ctx, "ask.which_entry"))
        if getattr(ctx.parse, "followup", False) and not (slots.category or slots.name or slots.kind):
            # "et à Saint-Benoît ?" with nothing on screen: a place, and nothing to look for
            # yet ("et à" is no name): ask what, at that place
            slots = replace(slots, text=None)
        if not slots.category and not slots.name and slots.text:
            typed = read_text(slots.text, max_len=QUERY_MAX)
            if isinstance(typed, Bad):
                return common.ask(ctx, {"step": "what"}, "ask.what", before=(typed.reply(ctx),))
            understood = understand(ctx, typed)
            slots = Slots(
                category=understood.category,
                commune=slots.commune or understood.commune,
                near_me=slots.near_me or understood.near_me,
                radius_km=slots.radius_km or understood.radius_km,
                name=understood.name,
                text=understood.text,
                kind=slots.kind or understood.kind,
                needs=slots.needs,
                stage=slots.stage,
            )
        step = self._search_or_ask(ctx, slots)
        field = getattr(ctx.parse, "field", None)
        if field and step.shown is not None and len(step.shown.hits) == 1:
            # "le numéro du véto au Port" and there is one: its number, right away
            entry = load_entry(ctx, step.shown.hits[0])
            if entry is not None:
                step.replies += answer_field(ctx, entry, str(field), getattr(ctx.parse, "weekday", None))
        also = [c for c in getattr(ctx.parse, "also_categories", ()) or () if c != slots.category]
        if also and step.shown is not None:
            # "une crèche et une pharmacie à Sainte-Marie": both answers, the first one to
            # pick from, the others as lists (a follow-up "et une pharmacie ?" opens them)
            for category in also[:MAX_ALSO]:
                query = {**step.shown.query, "category": category, "text": "", "cursor": None}
                page = run_search(ctx, query)
                if page.hits:
                    extra = results_reply(ctx, query, page.hits, more=False, page=1)
                    step.replies.append(replace(extra, choices=(), edit_key=None))
                else:
                    nothing = no_results(ctx, query, float(query["radius"]))
                    step.replies.append(common.say_spans(ctx, [Text(nothing)]))
        return step

    def _guess_name(self, ctx: DialogContext, text: str) -> Step:
        """A word or two nothing else explains ("kabar"): the places so named, nearest
        first, in the whole directory; nothing so named declines (the engine then says it
        did not understand, with its short help)."""
        home = ctx.citizen.home_insee or ctx.chat_commune
        query = {"text": text, "category": None, "point": None, "commune": home, "how": ANYWHERE,
                 "radius": None, "kind": None}
        page = run_search(ctx, query)
        named = [hit for hit in page.hits if fold(text) in fold(hit.name)]
        if not named:
            return Step.pass_on()
        query = {**query, "key": results_key(ctx, query)}
        return self._show_page(ctx, query, replace(page, hits=named, next_cursor=None),
                               cursor=None, page_number=1)

    def _by_contact(self, ctx: DialogContext, contact: str) -> Step:
        """A pasted phone number or web address: the entry that has it, or say none does."""
        entries = services.find_by_contact(ctx.session, contact)
        if not entries:
            return Step.done(common.say(ctx, "ask.contact_none", contact=contact))
        before = () if len(entries) == 1 else (common.say(
            ctx, "ask.contact_several", count=ctx.t.number(len(entries))),)
        return self._open_entry(ctx, entries[0], [e.id for e in entries], before)

    def _open_entry(self, ctx: DialogContext, entry: Any, hits: list[int],
                    before: tuple[Outgoing, ...] = ()) -> Step:
        """An entry's card on its own (a pasted contact, a shared link), talkable-to."""
        query = {"text": "", "category": entry.category, "point": None, "commune": entry.commune_insee,
                 "how": "commune", "radius": DEFAULT_RADIUS_KM, "kind": None}
        query["key"] = results_key(ctx, query)
        state: JSON = {"step": "results", "query": query, "hits": hits, "page": 1}
        return self._card(ctx, state, entry, before)

    def resume(self, ctx: DialogContext, state: JSON) -> Step:
        if DELEGATE in state:
            return resume_delegate(ctx, state, {"recommend": _recommend, "report": _report})
        step = state.get("step")
        if step == "what":
            return self._on_what(ctx, state)
        if step == "where":
            return self._on_where(ctx, state)
        if step == "results":
            return self._on_results(ctx, state)
        if step == "entry":
            return self._on_entry(ctx, state)
        if step == "offer":
            return self._on_offer(ctx, state)
        return Step.done(common.say(ctx, "ask.lost"))

    def redisplay(self, ctx: DialogContext, state: JSON) -> Step | None:
        """The list or card on screen again (after a language switch)."""
        if DELEGATE in state or state.get("step") not in {"results", "entry"}:
            return None
        if state.get("step") == "entry":
            entry = load_entry(ctx, state.get("entry"))
            if entry is not None:
                return self._card(ctx, state, entry)
        query = state["query"]
        page = run_search(ctx, query, state.get("cursor"))
        return self._show_page(ctx, query, page, cursor=state.get("cursor"),
                               page_number=int(state.get("page", 1)))

    # --- steps ---------------------------------------------------------------------------

    def _search_or_ask(self, ctx: DialogContext, slots: Slots) -> Step:
        if slots.namesakes and common.near_home(ctx, slots.commune):
            slots = replace(slots, namesakes=())  # the one near home is the one meant
        shared = ctx.memory.location
        if not slots.has_subject and slots.near_me and shared is not None and not slots.commune:
            # "anything close by?" after sharing a location: everything around that point
            around = Place((shared.lat, shared.lon), None, "you")
            return self._first_page(ctx, query_state(slots, around))
        if not slots.has_subject:
            carried = {"commune": slots.commune, "near_me": slots.near_me, "radius_km": slots.radius_km}
            if slots.commune:  # "et à Saint-Benoît ?": what, there?
                return common.ask(ctx, {"step": "what", "slots": carried}, "ask.what_at",
                                  commune=common.commune_label(slots.commune))
            return common.ask(ctx, {"step": "what", "slots": carried}, "ask.what")
        place = choose_place(ctx, slots)
        if place is None:
            state = {"step": "where", "slots": _slots_json(slots)}
            return common.ask_commune(ctx, state, "ask.where")
        query = query_state(slots, place)
        span = ctx.parse.window(ctx.now) if hasattr(ctx.parse, "window") else None
        if slots.kind == "event" and span is not None:
            query["when"] = [span[0].isoformat(), span[1].isoformat()]
        return self._first_page(ctx, query)

    def _on_what(self, ctx: DialogContext, state: JSON) -> Step:
        typed = read_text(ctx.incoming.text, max_len=QUERY_MAX)
        if isinstance(typed, Bad):
            return common.retry(ctx, state, typed.reply(ctx), "ask.what")
        understood = understand(ctx, typed)
        carried = state.get("slots") or {}
        slots = Slots(
            category=understood.category,
            commune=understood.commune or carried.get("commune"),
            near_me=understood.near_me or bool(carried.get("near_me")),
            radius_km=understood.radius_km or carried.get("radius_km"),
            name=understood.name,
            text=understood.text,
        )
        return self._search_or_ask(ctx, slots)

    def _on_where(self, ctx: DialogContext, state: JSON) -> Step:
        answer = common.resolve_commune_answer(ctx, state)
        if answer.step is not None:
            return answer.step
        slots = Slots(**state["slots"])
        if answer.point is not None:
            place = Place(answer.point, None, "you")
        else:
            place = Place(None, answer.insee, "commune")
        return self._first_page(ctx, query_state(slots, place))

    def _events_page(self, ctx: DialogContext, query: JSON, note: str = "") -> Step:
        """What is on: the events in the window asked (from now for 30 days when none was
        said) that have not ended, soonest first, each with its date; widened once when
        nothing is near; and what window and where, said."""
        when = query.get("when")
        start, end = ((datetime.fromisoformat(when[0]), datetime.fromisoformat(when[1]))
                      if when else default_window(ctx.now))
        query = {**query, "key": results_key(ctx, query)}
        radius = float(query["radius"])
        events: list[Any] = []
        later: list[Any] = []
        for tried in dict.fromkeys((radius, min(radius * WIDEN_FACTOR, MAX_RADIUS_KM))):
            query = {**query, "radius": tried}
            page = run_search(ctx, query, limit=PAGE_SIZE * 10)
            # the radius said is the radius kept ("dans un rayon de 30 km" lists nothing at 31)
            found = load_events(ctx, [h.entry_id for h in page.hits
                                      if h.distance_km is None or h.distance_km <= tried])
            events = upcoming(found, start, end, ctx.now)
            later = upcoming(found, end, datetime.max.replace(tzinfo=end.tzinfo), ctx.now)
            if events or later:  # what is near, even later, before what is far
                break
        # "aucun concert samedi", not "aucun évènement", when a kind of event was asked
        category = common.category_name(query.get("category"), ctx.lang)
        prefix = "ask.events.cat." if query.get("category") else "ask.events."
        place = common.commune(query.get("commune") or ctx.citizen.home_insee)
        span = window_text(ctx.lang, start, end, place.timezone if place else "Europe/Paris")
        if events and not when and len(events) < PAGE_SIZE:
            # no time said: what is on soon, then what comes later (soonest first)
            events = [*events, *[e for e in later if e not in events]][:PAGE_SIZE]
            span = window_text(ctx.lang, start, _aware_end(events[-1], end), place.timezone
                               if place else "Europe/Paris")
        if not events and later:
            # nothing in the window asked: say so, and give the next ones after it
            radius_text = ctx.t.distance(float(query["radius"]))
            nothing = ctx.t(prefix + "none_then_next", window=span, radius=radius_text, category=category)
            note = " ".join(n for n in (note, nothing) if n)
            events, span = later, ""
        if not events:
            radius_text = ctx.t.distance(float(query["radius"]))
            nothing = (ctx.t(prefix + "none_around", window=span, radius=radius_text, category=category,
                             commune=common.commune_label(query["commune"]))
                       if query.get("commune") and query.get("how") != "you"
                       else ctx.t(prefix + "none_near_you", window=span, radius=radius_text,
                                  category=category))
            done = Step.done(common.say_spans(ctx, [Text(" ".join(n for n in (note, nothing) if n))]))
            # remembered all the same: "et le mois prochain ?", "et à Saint-Pierre ?" follow it
            done.shown = Shown(query={**query, "cursor": None, "next": None}, hits=(), page=1)
            return done
        shown = events[:PAGE_SIZE]
        intro = ctx.t("ask.events.when", window=span) if span else ""
        spans: list[Span] = [Text(" ".join(n for n in (note, intro) if n) + "\n"),
                             Text(header(ctx, query)), event_lines(ctx, shown)]
        options = [Choice(f"{HIT}{e.id}", e.name if len(e.name) <= 40 else e.name[:39] + "…") for e in shown]
        state = {"step": "results", "query": query, "cursor": None, "next": None, "page": 1,
                 "hits": [e.id for e in shown]}
        step = Step.wait(state, common.say_spans(ctx, spans, choices=options, edit_key=query["key"]))
        step.shown = Shown(query={**query, "cursor": None, "next": None},
                           hits=tuple(e.id for e in shown), page=1)
        return step

    def _first_page(self, ctx: DialogContext, query: JSON, note: str = "") -> Step:
        """The first page, widening once when nothing is near; a named place is then looked
        for in the whole directory, and a name nobody has falls back to the category alone.
        Every answer says what was searched and where."""
        if query.get("kind") == "event":
            return self._events_page(ctx, query, note)
        query = {k: v for k, v in query.items() if k not in {"cursor", "next"}}
        query = {**query, "key": results_key(ctx, query)}
        if query.get("namesakes") and query.get("commune"):
            used = ctx.t("ask.namesake_used", commune=common.commune_label(query["commune"]))
            note = " ".join(n for n in (note, used) if n)
        page = self._search(ctx, query)
        if page.hits:
            return self._show_page(ctx, query, page, cursor=None, page_number=1, note=note)
        radius = float(query["radius"])
        wider: float | None = min(radius * WIDEN_FACTOR, MAX_RADIUS_KM)
        if wider is not None and wider > radius:
            widened = {**query, "radius": wider}
            page = self._search(ctx, widened)
            if page.hits:
                said = ctx.t("ask.widened", radius=ctx.t.distance(radius), wider=ctx.t.distance(wider))
                return self._show_page(ctx, widened, page, cursor=None, page_number=1,
                                       note=" ".join(n for n in (note, said) if n))
        else:
            wider = None
        nothing = no_results(ctx, query, radius, wider)
        name = query.get("text")
        if name and query.get("category"):
            anywhere = {**query, "point": None, "commune": None, "how": ANYWHERE, "radius": None}
            page = run_search(ctx, anywhere)
            if page.hits:  # "pharmacie Calumet": named, so it is that one, wherever it is
                said = " ".join((nothing, ctx.t("ask.found_elsewhere")))
                return self._show_page(ctx, anywhere, page, cursor=None, page_number=1, note=said)
            plain = {**query, "text": ""}
            page = run_search(ctx, plain)
            if page.hits:
                said = ctx.t("ask.no_such_name", name=name)
                return self._show_page(ctx, plain, page, cursor=None, page_number=1, note=said)
        return self._offer(ctx, query, nothing)

    def _search(self, ctx: DialogContext, query: JSON) -> SearchPage:
        """The first page; projects asked by need or stage are filtered from a longer list
        (the search knows no needs) and come as one page."""
        if query.get("kind") != "project" or not (query.get("needs") or query.get("stage")):
            return run_search(ctx, query)
        page = run_search(ctx, query, limit=PAGE_SIZE * 20)
        entries = {e.id: e for e in load_events(ctx, [hit.entry_id for hit in page.hits])}
        kept = [hit for hit in page.hits if hit.entry_id in entries and project_matches(
            entries[hit.entry_id], query.get("needs") or (), query.get("stage"))]
        return SearchPage(hits=kept[:PAGE_SIZE], next_cursor=None)

    def _show_page(
        self,
        ctx: DialogContext,
        query: JSON,
        page: SearchPage,
        *,
        cursor: str | None,
        page_number: int,
        note: str = "",
    ) -> Step:
        state = {
            "step": "results",
            "query": query,
            "cursor": cursor,
            "next": page.next_cursor,
            "page": page_number,
            "hits": [hit.entry_id for hit in page.hits],
        }
        lines = None
        if query.get("kind") == "project":  # a project shows its stage and needs, not counts
            entries = {e.id: e for e in load_events(ctx, [hit.entry_id for hit in page.hits])}
            lines = ListItems(tuple(project_line(ctx, entries[h.entry_id], h.distance_km)
                                    for h in page.hits if h.entry_id in entries), numbered=True)
        reply = results_reply(
            ctx, query, page.hits, more=page.next_cursor is not None, page=page_number, note=note,
            lines=lines,
        )
        step = Step.wait(state, reply)
        step.shown = Shown(query={**query, "cursor": cursor, "next": page.next_cursor},
                           hits=tuple(hit.entry_id for hit in page.hits), page=page_number)
        return step

    def _offer(self, ctx: DialogContext, query: JSON, message: str) -> Step:
        state = {"step": "offer", "query": query}
        options = (Choice(ADD, ctx.t("ask.offer.add")), Choice(common.NO, ctx.t("ask.offer.no")))
        return Step.wait(
            state,
            common.say_spans(ctx, [Text(message)]),
            common.say(ctx, "ask.offer", choices=options),
        )

    def _relocate(self, ctx: DialogContext, query: JSON) -> Step:
        """A location shared while results are on screen: the same search around it."""
        location = ctx.incoming.location
        assert location is not None
        moved = {**query, "point": [location.lat, location.lon], "commune": None, "how": "you",
                 "namesakes": [], "radius": asked_radius(query)}
        return self._first_page(ctx, moved, note=ctx.t("ask.relocated"))

    def _on_results(self, ctx: DialogContext, state: JSON) -> Step:
        picked = common.chosen(ctx)
        query = state["query"]
        if picked is None and ctx.incoming.location is not None:
            return self._relocate(ctx, query)
        if picked and picked.startswith(common.COMMUNE_PREFIX):
            code = picked[len(common.COMMUNE_PREFIX):]
            if common.commune(code) is not None:  # "Saint-Pierre (972) instead"
                return self._first_page(ctx, {**query, "commune": code, "point": None, "how": "commune",
                                              "namesakes": [], "radius": asked_radius(query)})
        if picked == common.MORE:
            if not state.get("next"):
                return self._again(ctx, state, "ask.no_more")
            page = run_search(ctx, query, state["next"])
            if not page.hits:
                return self._again(ctx, {**state, "next": None}, "ask.no_more")
            return self._show_page(
                ctx, query, page, cursor=state["next"], page_number=int(state.get("page", 1)) + 1
            )
        if picked and picked.startswith(HIT):
            entry = load_entry(ctx, picked[len(HIT) :])
            if entry is None:
                return self._again(ctx, state, "ask.gone")
            return self._card(ctx, state, entry)
        return self._new_question(ctx, state, "results")

    def _card(self, ctx: DialogContext, state: JSON, entry: Any, before: tuple[Outgoing, ...] = ()) -> Step:
        """One entry's card, with "back" to the list it came from; remembered as on screen."""
        query = state["query"]
        step = Step.wait(
            {**state, "step": "entry", "entry": entry.id},
            *before,
            *entry_message(
                ctx, entry, back=True, origin=origin_of(query), edit_key=query.get("key") or RESULTS
            ),
        )
        step.shown = Shown(query={**query, "cursor": state.get("cursor"), "next": state.get("next")},
                           hits=tuple(int(h) for h in state.get("hits") or ()), entry=entry.id,
                           page=int(state.get("page", 1)))
        return step

    def _on_entry(self, ctx: DialogContext, state: JSON) -> Step:
        picked = common.chosen(ctx)
        if picked is None and ctx.incoming.location is not None:
            return self._relocate(ctx, state["query"])
        entry = load_entry(ctx, state.get("entry"))
        if picked == ACTION_BACK:
            cursor = state.get("cursor")
            page = run_search(ctx, state["query"], cursor) if cursor else self._search(ctx, state["query"])
            return self._show_page(
                ctx, state["query"], page, cursor=state.get("cursor"), page_number=int(state.get("page", 1))
            )
        if picked == ACTION_DONE:
            return Step.done(common.say(ctx, "ask.bye"))
        if picked is not None and entry is None:
            return Step.done(common.say(ctx, "ask.gone"))
        if entry is not None and picked == ACTION_RECOMMEND:
            return delegate("recommend", _recommend().start(ctx, {"entry_id": entry.id}))
        if entry is not None and picked == ACTION_REPORT:
            return delegate("report", _report().start(ctx, {"entry_id": entry.id}))
        if entry is not None and picked is not None:
            acted = act_on_entry(ctx, entry, picked)
            if acted is not None:
                return acted
        return self._new_question(ctx, state, "entry")

    def _on_offer(self, ctx: DialogContext, state: JSON) -> Step:
        picked = common.chosen(ctx)
        yes_no = common.answer_yes_no(ctx)
        query = state["query"]
        if picked == ADD or yes_no is True:
            args = {
                "category": query.get("category"),
                "commune": query.get("commune") or _commune_of(query),
                "name": query.get("text") or None,
            }
            return delegate("recommend", _recommend().start(ctx, args))
        if picked == common.NO or yes_no is False:
            return Step.done(common.say(ctx, "ask.bye"))
        return self._new_question(ctx, state, "offer")

    def _again(self, ctx: DialogContext, state: JSON, key: str, *, before: tuple[Outgoing, ...] = ()) -> Step:
        """Say ``key`` and offer the same choices again (the engine only maps numbers to the
        choices of the latest reply, so a reply without them would strand the user)."""
        step = state.get("step")
        if step == "entry":
            entry = load_entry(ctx, state.get("entry"))
            if entry is not None:
                hint = common.say(ctx, key, choices=entry_actions(ctx, entry, back=True))
                return Step.wait(state, *before, hint)
            state = {**state, "step": "results"}
        if step == "offer":
            options = (Choice(ADD, ctx.t("ask.offer.add")), Choice(common.NO, ctx.t("ask.offer.no")))
            return Step.wait(state, *before, common.say(ctx, key, choices=options))
        query = state["query"]
        page = run_search(ctx, query, state.get("cursor"))
        number = int(state.get("page", 1))
        shown = self._show_page(ctx, query, page, cursor=state.get("cursor"), page_number=number)
        if state.get("next") is None and shown.state is not None:
            shown.state["next"] = None
            shown.replies[-1] = replace(
                shown.replies[-1], choices=tuple(c for c in shown.replies[-1].choices if c.id != common.MORE)
            )
        return Step.wait(shown.state or state, *before, common.say(ctx, key), *shown.replies)

    def _new_question(self, ctx: DialogContext, state: JSON, step: str) -> Step:
        """Free text where a choice was expected: a new search, or a hint to pick."""
        typed = read_text(ctx.incoming.text, max_len=QUERY_MAX)
        if isinstance(typed, Bad):
            return self._again(ctx, state, f"ask.hint.{step}", before=(typed.reply(ctx),))
        result = ctx.parse
        shown = ctx.memory.shown
        if shown is not None:
            revision = revise(shown, result) or self._typo_place(ctx, shown)
            if revision is not None:
                return self._carry_out(ctx, revision, shown)
        intent = getattr(result, "intent", "unknown")
        if intent in OTHER_INTENTS:  # "je recommande…", "/help"-like: the engine routes it
            return Step.pass_on()
        slots = slots_from({}, result)
        if not (slots.category or slots.name or slots.kind or intent == "search"):
            return self._again(ctx, state, f"ask.hint.{step}")
        # a new question, read like any first question; one that names no place is asked
        # where questions are asked by default (the home, the bound chat): the last one's
        # commune is reused only by a follow-up ("et un vétérinaire ?"), handled above
        args = result.to_json() if hasattr(result, "to_json") else {}
        return self.start(ctx, {**args, "text": typed})

    # --- follow-ups --------------------------------------------------------------------------

    def _typo_place(self, ctx: DialogContext, shown: Shown) -> Revision | None:
        """ "et la possesion ?": a follow-up whose place the parse could not read (a typo in
        lower case): the gazetteer's typo-tolerant lookup of what follows "et", taken only
        when it is sure."""
        parse = ctx.parse
        if not getattr(parse, "followup", False) or getattr(parse, "commune", None) or getattr(
                parse, "category", None) or getattr(parse, "name", None):
            return None
        rest = FOLLOW_UP_LEAD.sub("", common.user_text(ctx)).strip(" ?!.")
        if not rest:
            return None
        insee, _candidates = common.rank_communes(
            get_gazetteer().resolve(rest, near=ctx.citizen.home_insee or ctx.chat_commune, limit=3))
        if insee is None:
            return None
        query = shown.query
        return Revision("requery", query={**query, "commune": insee, "point": None, "how": "commune",
                                          "namesakes": [], "radius": asked_radius(query)})

    def _carry_out(self, ctx: DialogContext, revision: Revision, shown: Shown) -> Step:
        """Do what a follow-up asked of the remembered question or the entry on screen."""
        query = dict(shown.query)
        state: JSON = {"step": "results", "query": query, "cursor": query.get("cursor"),
                       "next": query.get("next"), "page": shown.page, "hits": list(shown.hits)}
        action = revision.action
        if action == "pick":
            if revision.entry is None:
                return Step.done(common.say_spans(ctx, [Text(ctx.t.plural(
                    "ask.no_such_item", revision.out_of))]))
            entry = load_entry(ctx, revision.entry)
            return self._card(ctx, state, entry) if entry is not None else Step.done(
                common.say(ctx, "ask.gone"))
        if action == "which":
            if len(shown.hits) <= FEW:  # "ils ouvrent le samedi ?" over two: both answered
                entries = [e for e in (load_entry(ctx, i) for i in shown.hits) if e is not None]
                answers = [r for e in entries
                           for r in answer_field(ctx, e, revision.field or "", revision.weekday)]
                if answers:
                    return Step.done(*answers)
            return Step.done(common.say_spans(ctx, [Text(ctx.t.plural(
                "ask.which_of_the_list", revision.out_of))]))
        if action in {"field", "recommend", "join", "share"}:
            entry = load_entry(ctx, revision.entry)
            if entry is None:
                return Step.done(common.say(ctx, "ask.gone"))
            if action == "field":
                return Step.done(*answer_field(ctx, entry, revision.field or "", revision.weekday))
            if action == "share":
                return Step.done(share_message(ctx, entry))
            if action == "recommend":
                return delegate("recommend", _recommend().start(ctx, {"entry_id": entry.id}))
            acted = act_on_entry(ctx, entry, ACTION_JOIN)
            return acted if acted is not None else Step.done(
                common.say(ctx, "join.not_an_organization", name=entry.name))
        if action == "more":
            if not query.get("next"):
                return Step.done(common.say(ctx, "ask.no_more"))
            page = run_search(ctx, query, query["next"])
            return self._show_page(ctx, query, page, cursor=query["next"], page_number=shown.page + 1)
        if action == "nearest":
            page = run_search(ctx, query, limit=PAGE_SIZE * 10)
            hits = sorted(page.hits, key=lambda h: (h.distance_km is None, h.distance_km or 0.0))
            from_where = ctx.t("ask.from_you") if query.get("how") == "you" or not query.get(
                "commune") else common.commune_label(query["commune"])
            note = ctx.t("ask.sorted_by_distance", origin=from_where)
            nearest = replace(page, hits=hits[:PAGE_SIZE], next_cursor=None)
            return self._show_page(ctx, query, nearest, cursor=None, page_number=1, note=note)
        assert revision.query is not None
        if action == "radius":
            note = ctx.t("ask.radius_now", radius=ctx.t.distance(float(revision.query["radius"])))
            return self._first_page(ctx, revision.query, note=note)
        query = revision.query
        span = ctx.parse.window(ctx.now) if hasattr(ctx.parse, "window") else None
        if query.get("kind") == "event" and span is not None:
            # "et samedi prochain ?": the time said now, not the one asked before
            query = {**query, "when": [span[0].isoformat(), span[1].isoformat()]}
        return self._first_page(ctx, query)


def _aware_end(entry: Any, end: datetime) -> datetime:
    """The end of a window stretched to an event beyond it (its day included)."""
    starts = entry.starts_at
    if starts is None:
        return end
    starts = starts if starts.tzinfo is not None else starts.replace(tzinfo=end.tzinfo)
    return max(end, starts + timedelta(seconds=1))


def _slots_json(slots: Slots) -> JSON:
    return {
        "category": slots.category,
        "commune": slots.commune,
        "near_me": slots.near_me,
        "radius_km": slots.radius_km,
        "name": slots.name,
        "text": slots.text,
        "kind": slots.kind,
    }


def _commune_of(query: JSON) -> str | None:
    point = query.get("point")
    if not point:
        return None
    found = get_gazetteer().nearest(float(point[0]), float(point[1]))
    return found.insee if found else None


def _recommend() -> Any:
    """The recommend dialog, from the registry (ask and recommend never import each other)."""
    return get_dialog("recommend")


def _report() -> Any:
    """The report dialog (from an entry's card), from the registry."""
    return get_dialog("report")


DIALOG = AskDialog()

class AskState(CommuneQuestion):
    """Ask: the search (``query``) and the page on screen, the entry whose card is shown, the
    slots gathered before the place is known; or, while it hands over to recommend, that
    dialog's own state (``inner``)."""

    query: dict[str, Any] | None = None
    cursor: str | None = None
    next: str | None = None
    page: int = 1
    hits: list[int] = Field(default_factory=list)
    entry: int | None = None
    slots: dict[str, Any] | None = None
    delegate: str | None = Field(None, alias="_delegate")
    inner: dict[str, Any] | None = None
    outer: dict[str, Any] | None = None

SPEC = DialogSpec(
    state=AskState,
    name="ask",
    commands=(Command("search", ("chercher", "recherche", "cherche")),),
    intents=frozenset({"search"}),
    command_intent="search",
    steps=("what", "where", "results", "entry", "offer"),
    browse_steps=("results", "entry"),
    summary="search the directory: what, where, results, an entry's card",
)
