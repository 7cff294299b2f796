"""The recommend dialog: "je recommande la crèche Ti Bouts", ``/recommend``, or the
"recommend" button under an entry.

It first looks for the entry (fuzzy name, in and around the commune) and shows what it
found; when the user says it is not there, it creates it in a few short steps: category,
commune, optional address or shared point, optional contact. Before creating, duplicate
detection proposes an existing entry. Then an optional comment, and one write at the end:
the entry (if new) and the recommendation, in the engine's transaction. Recommending twice
is harmless: the second time updates the comment and says so.

``FindOrCreate`` holds the steps shared with the join dialog (name, commune, candidates,
category, duplicates); each subclass says which steps creation needs and what the final
write is.

Steps (``state["step"]``): ``name``, ``commune``, ``pick``, ``category``, ``address``,
``contact``, ``dup``, ``comment`` (recommend) / ``confirm`` (join).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field
from rapidfuzz import fuzz

from bot.dialog import JSON, DialogContext, Step
from bot.dialog_state import CommuneQuestion
from bot.messages import Choice, ListItems, Outgoing, Span, Text
from bot.spec import Command, DialogSpec
from dialogs import common
from dialogs.entry_view import (
    ADDRESS_MAX,
    COMMENT_MAX,
    NAME_MAX,
    Bad,
    Contact,
    as_name,
    capitalised_name,
    entry_summary_line,
    load_entry,
    match_category,
    parse_contact,
    read_text,
    says_none_of_these,
    strip_lead,
    with_category_word,
    without_place,
)
from dialogs.slots import understand
from directory import services
from directory.categories import get_taxonomy
from directory.gazetteer import get_gazetteer
from directory.models import Entry
from directory.search import InvalidQuery, SearchQuery, search
from directory.services import NewEntry
from directory.text import fold

if TYPE_CHECKING:
    from directory.models import Entry

ENTRY = "entry:"
CATEGORY = "cat:"
NEW = "new"
#: how far around the commune candidates are looked for (a place is often named by the
#: neighbouring town)
FIND_RADIUS_KM = 15.0
#: a search hit whose name is at least this close to the typed name is a candidate
NAME_SIMILARITY = 72.0
MAX_CANDIDATES = 5


#: a candidate this alike is surely the one meant (no need to look further away)
SURE_MATCH = 90.0
#: a name guessed from a sentence (no capital, no NLU name) longer than this is refused
LONGEST_GUESSED_NAME = 5


def name_similarity(a: str, b: str) -> float:
    """How alike two entry names are (0..100), accents, case and word order ignored."""
    fa, fb = fold(a), fold(b)
    if not fa or not fb:
        return 0.0
    wa, wb = fa.split(), fb.split()
    shared = set(wa) & set(wb)
    rest_a = [w for w in wa if w not in shared]
    rest_b = [w for w in wb if w not in shared]
    if shared and rest_a and rest_b:
        # "garage zot" and "garage combava" share only their category word: compare what
        # tells them apart, so a namesake's shared word does not make them alike
        ra, rb = " ".join(rest_a), " ".join(rest_b)
        rest = fuzz.token_sort_ratio(ra, rb)
        if min(len(ra), len(rb)) >= 4:  # "ti bout" is the short way to say "ti bouts (fictive)"
            rest = max(rest, fuzz.partial_ratio(ra, rb))
        return float(rest)
    score = fuzz.token_sort_ratio(fa, fb)
    if min(len(fa), len(fb)) >= 5:  # "ti bouts" is the short way to say "creche ti bouts"
        score = max(score, fuzz.partial_ratio(fa, fb))
    return float(score)


def args_field(args: JSON | None, parse: Any, name: str) -> Any:
    """A slot from the start args, else from the NLU result."""
    for source in (args or {}, parse):
        if source is None:
            continue
        value = source.get(name) if isinstance(source, dict) else getattr(source, name, None)
        if value not in (None, ""):
            return value
    return None


def known_slugs(slugs: Sequence[str]) -> list[str]:
    """The slugs the taxonomy knows, in order (a renamed category just drops out)."""
    taxonomy = get_taxonomy()
    return [slug for slug in slugs if taxonomy.get(slug) is not None]


class FindOrCreate:
    """Steps shared by recommend and join: find an entry by name, or describe a new one."""

    name: ClassVar[str] = ""
    #: entry kinds the candidates may have (() = any)
    kinds: ClassVar[tuple[str, ...]] = ()
    #: creation steps after the category and commune, in order
    creation_steps: ClassVar[tuple[str, ...]] = ()
    #: categories offered as buttons before anything is typed (typing any other works)
    usual_categories: ClassVar[tuple[str, ...]] = (
        "creche",
        "medecin",
        "garage",
        "restaurant",
        "boulangerie",
        "association",
    )

    # --- start ---------------------------------------------------------------------------

    def start(self, ctx: DialogContext, args: JSON) -> Step:
        entry_id = (args or {}).get("entry_id")
        if entry_id is not None:
            entry = load_entry(ctx, entry_id)
            if entry is None:
                return Step.done(common.say(ctx, "recommend.gone"))
            return self.after_entry(ctx, {"entry": entry.id, "name": entry.name}, entry)
        state: JSON = {"step": "name"}
        name = args_field(args, ctx.parse, "name")
        text = args_field(args, None, "text")
        category = args_field(args, ctx.parse, "category")
        commune_code = args_field(args, ctx.parse, "commune")
        if args_field(args, ctx.parse, "near_me"):
            commune_code = None  # "près de chez moi": the citizen's own commune, asked or default
        if not name and text:
            name, category, commune_code = self._from_text(ctx, str(text), category, commune_code)
        if category and common.category_name(category, ctx.lang) != category:
            state["category"] = category
        if commune_code and common.commune(commune_code) is not None:
            state["commune"] = commune_code
            state["commune_said"] = True
        if name and text:
            full = with_category_word(str(text), str(name), ctx.lang)
            if full != name:  # looked for by what sets it apart, shown with its category word
                state["search_name"] = str(name)
            name = full
        if name:
            cleaned = read_text(str(name), max_len=NAME_MAX)
            if not isinstance(cleaned, Bad):
                state["name"] = cleaned
        return self.next(ctx, state)

    def _from_text(
        self, ctx: DialogContext, text: str, category: Any, commune_code: Any
    ) -> tuple[str | None, Any, Any]:
        """``/recommend crèche Ti Bouts au Port``: the NLU's slots, else the text without its
        leading verb ("je recommande", "je fais partie de") as the name."""
        typed = read_text(text, max_len=NAME_MAX)
        if isinstance(typed, Bad):
            return None, category, commune_code
        slots = understand(ctx, typed)
        guess = capitalised_name(typed)
        place = common.commune(commune_code or slots.commune)
        if guess and place is not None and fold(guess) in fold(place.name):
            guess = None  # "la troupe de théâtre du Port": the capital is the place's
        name = slots.name or guess or strip_lead(typed)
        if name and not slots.name and place is not None:
            name = without_place(name, place.name)  # "troupe de théâtre du port" in Le Port
        if name and not slots.name and len(name.split()) <= 2 and match_category(name, ctx.lang)[0]:
            name = None  # "je recommande une crèche": a kind, not a name yet
        if name and not slots.name and len(name.split()) > LONGEST_GUESSED_NAME:
            name = None  # a whole sentence is no name: ask for it rather than store it
        return name, category or slots.category, commune_code or slots.commune

    # --- what to ask next ------------------------------------------------------------------

    def next(self, ctx: DialogContext, state: JSON, *, before: tuple[Outgoing, ...] = ()) -> Step:
        """Ask the first thing still missing; the order is the dialog's whole logic."""
        if not state.get("name"):
            if state.get("category") and not state.get("browsed"):
                # "je fais partie de la troupe de théâtre": the ones known around, to pick
                state = {**state, "browsed": True}
                listed = self.of_category(ctx, state)
                if listed:
                    return self.offer_kind(ctx, {**state, "step": "kind_pick"}, listed, before)
            return self.ask_name(ctx, {**state, "step": "name"}, before)
        if not state.get("commune"):
            default = ctx.chat_commune or ctx.citizen.home_insee
            if default and not state.get("creating"):
                state = {**state, "commune": default}
            else:
                return self.ask_commune(ctx, {**state, "step": "commune"}, before)
        if not state.get("creating") and not state.get("searched"):
            return self.find(ctx, {**state, "searched": True}, before)
        if not state.get("category"):
            return self.ask_category(ctx, {**state, "step": "category"}, before)
        if not state.get("commune_said"):
            return self.ask_commune(ctx, {**state, "step": "commune"}, before)
        if not state.get("dup_checked"):
            state = {**state, "dup_checked": True}
            duplicates = self.duplicates(ctx, state)
            if duplicates:
                return self.offer(ctx, {**state, "step": "dup"}, duplicates, "recommend.dup", before)
        for step in self.creation_steps:
            if step not in state.get("answered", []):
                return self.ask_step(ctx, {**state, "step": step}, step, before)
        return self.finish(ctx, state, before)

    def ask_name(self, ctx: DialogContext, state: JSON, before: tuple[Outgoing, ...]) -> Step:
        return common.ask(ctx, state, f"{self.name}.ask_name", before=before)

    def ask_commune(self, ctx: DialogContext, state: JSON, before: tuple[Outgoing, ...]) -> Step:
        step = common.ask_commune(ctx, state, "recommend.ask_commune", before=before, name=state["name"])
        default = state.get("commune") or ctx.chat_commune or ctx.citizen.home_insee
        if default and step.replies:
            question = step.replies[-1]
            step.replies[-1] = replace(question, choices=common.commune_choices([default]))
        return step

    def ask_category(
        self, ctx: DialogContext, state: JSON, before: tuple[Outgoing, ...], candidates: Sequence[str] = ()
    ) -> Step:
        slugs = list(candidates) or known_slugs(self.usual_categories)
        options = tuple(Choice(CATEGORY + slug, common.category_name(slug, ctx.lang)) for slug in slugs)
        return common.ask(
            ctx, state, "recommend.ask_category", choices=options, before=before, name=state["name"]
        )

    def ask_step(self, ctx: DialogContext, state: JSON, step: str, before: tuple[Outgoing, ...]) -> Step:
        raise NotImplementedError(step)

    # --- finding ----------------------------------------------------------------------------

    def candidates(self, ctx: DialogContext, state: JSON) -> list[Entry]:
        """Entries whose name is close to the typed one, in or around the commune; a name
        found nowhere near is looked for in the whole directory ("je recommande la
        Pharmacie Calumet" from Saint-Paul: the one in Saint-André), unless the commune was
        said ("le garage Zot au Port" is in Le Port or new)."""
        near = self._candidates_in(ctx, state, commune=state["commune"], radius_km=FIND_RADIUS_KM)
        wanted = state.get("search_name") or state["name"]
        kind = state.get("category")

        def rank(entry: Entry) -> tuple[bool, float]:
            # the kind of place said first ("the calumet pharmacy" is no market), then the name
            return (not kind or entry.category == kind, name_similarity(wanted, entry.name))

        if state.get("commune_said") or any(rank(e) >= (True, SURE_MATCH) for e in near):
            return sorted(near, key=rank, reverse=True)
        # nothing near is surely it: the same name elsewhere comes too, the surest first
        # ("Club sportif Calumet" is in Saint-André, not the Calumet market next door)
        far = self._candidates_in(ctx, state, commune=None, radius_km=None)
        merged = {e.id: e for e in [*near, *far]}.values()
        return sorted(merged, key=rank, reverse=True)[:MAX_CANDIDATES]

    def _candidates_in(
        self, ctx: DialogContext, state: JSON, *, commune: str | None, radius_km: float | None
    ) -> list[Entry]:
        try:
            page = search(
                ctx.session,
                SearchQuery(
                    text=state.get("search_name") or state["name"],
                    commune=commune,
                    radius_km=radius_km,
                    kinds=self.kinds,
                    limit=MAX_CANDIDATES * 3,
                ),
            )
        except InvalidQuery:
            return []
        wanted = fold(state["name"])
        found: list[tuple[bool, float, int]] = []
        for hit in page.hits:
            similarity = name_similarity(state["name"], hit.name)
            if similarity >= NAME_SIMILARITY:
                # the exact full name first, whatever shares a word of it after
                found.append((fold(hit.name) == wanted, similarity + hit.score / 100, hit.entry_id))
        found.sort(reverse=True)
        entries = [ctx.session.get(Entry, entry_id) for *_rank, entry_id in found]
        return [entry for entry in entries if entry is not None and self.accepts(entry)][:MAX_CANDIDATES]

    def accepts(self, entry: Entry) -> bool:
        """Whether ``entry`` is something this dialog can act on (join: what one belongs to)."""
        return True

    def duplicates(self, ctx: DialogContext, state: JSON) -> list[Entry]:
        """What the directory's duplicate detection says about the entry about to be created,
        minus what the user already said it is not."""
        rejected = set(state.get("rejected", []))
        found = services.find_duplicates(ctx.session, state["name"], state["commune"], state.get("category"))
        return [e for e in found if e.id not in rejected and (not self.kinds or e.kind in self.kinds)]

    def find(self, ctx: DialogContext, state: JSON, before: tuple[Outgoing, ...]) -> Step:
        found = self.candidates(ctx, state)
        if not found:
            note = common.say(
                ctx,
                f"{self.name}.not_found",
                name=state["name"],
                commune=common.commune_label(state["commune"]),
            )
            return self.next(ctx, {**state, "creating": True}, before=(*before, note))
        return self.offer(ctx, {**state, "step": "pick"}, found, f"{self.name}.pick", before)

    def of_category(self, ctx: DialogContext, state: JSON) -> list[Entry]:
        """What the directory knows of the category said, in and around the commune."""
        where = state.get("commune") or ctx.chat_commune or ctx.citizen.home_insee
        if not where:
            return []
        try:
            page = search(ctx.session, SearchQuery(category=str(state["category"]), commune=str(where),
                                                   radius_km=FIND_RADIUS_KM, kinds=self.kinds,
                                                   limit=MAX_CANDIDATES * 2))
        except InvalidQuery:
            return []
        entries = [ctx.session.get(Entry, hit.entry_id) for hit in page.hits]
        return [e for e in entries if e is not None and self.accepts(e)][:MAX_CANDIDATES]

    def offer_kind(self, ctx: DialogContext, state: JSON, entries: list[Entry],
                   before: tuple[Outgoing, ...]) -> Step:
        """The entries of the category said, to pick from, and "another one" (its name)."""
        where = str(state.get("commune") or ctx.chat_commune or ctx.citizen.home_insee)
        state = {**state, "offered": [e.id for e in entries]}
        spans: list[Span] = [
            Text(ctx.t(f"{self.name}.pick_kind", category=common.category_name(state["category"], ctx.lang),
                       commune=common.commune_label(where))),
            ListItems(tuple(entry_summary_line(ctx, e) for e in entries), numbered=True),
        ]
        options = [Choice(f"{ENTRY}{e.id}", _button(e.name)) for e in entries]
        options.append(Choice(NEW, ctx.t(f"{self.name}.another")))
        return Step.wait(state, *before, common.say_spans(ctx, spans, choices=options))

    def offer(
        self, ctx: DialogContext, state: JSON, entries: list[Entry], key: str, before: tuple[Outgoing, ...]
    ) -> Step:
        """Candidates as a numbered list, one choice each, and "none of these"."""
        state = {**state, "offered": [e.id for e in entries]}
        spans: list[Span] = [
            Text(ctx.t(key, name=state["name"])),
            ListItems(tuple(entry_summary_line(ctx, e) for e in entries), numbered=True),
        ]
        options = [Choice(f"{ENTRY}{e.id}", _button(e.name)) for e in entries]
        options.append(Choice(NEW, ctx.t(f"{self.name}.none_of_these")))
        return Step.wait(state, *before, common.say_spans(ctx, spans, choices=options))

    # --- resume -----------------------------------------------------------------------------

    def resume(self, ctx: DialogContext, state: JSON) -> Step:
        handler = getattr(self, f"on_{state.get('step')}", None)
        if handler is None:
            return Step.done(common.say(ctx, "recommend.lost"))
        step: Step = handler(ctx, state)
        return step

    def on_name(self, ctx: DialogContext, state: JSON) -> Step:
        typed = read_text(ctx.incoming.text, max_len=NAME_MAX, entry_field=True)
        if isinstance(typed, Bad):
            return self.ask_name(ctx, state, (typed.reply(ctx),))
        said = ctx.parse
        name, category = getattr(said, "name", None), getattr(said, "category", None)
        commune_code = getattr(said, "commune", None)
        asks = commune_code or getattr(said, "field", None) or typed.rstrip().endswith("?")
        if not name and category and asks:
            # "garagiste au Port", "c koi les horaires de la mediatheque ?": a question
            # typed where a name was asked, answered as one
            return Step.pass_on()
        if name and commune_code:  # "le garage Zot au Port": name, kind and commune in one line
            state = {**state, "name": with_category_word(typed, str(name), ctx.lang)}
            if category and not state.get("category"):
                state["category"] = category
            if commune_code and common.commune(commune_code) and not state.get("commune_said"):
                state.update(commune=commune_code, commune_said=True)
            return self.next(ctx, state)
        if category and not state.get("category") and match_category(typed.split()[0], ctx.lang)[0]:
            state = {**state, "category": category}  # "garage zot": a garage, by its name
        return self.next(ctx, {**state, "name": typed})

    def on_commune(self, ctx: DialogContext, state: JSON) -> Step:
        answer = common.resolve_commune_answer(ctx, state)
        if answer.step is not None:
            return answer.step
        state = common.clear_commune_keys(state)
        state.update(commune=answer.insee, commune_said=True)
        if answer.point is not None and not state.get("point"):
            state["point"] = list(answer.point)
        return self.next(ctx, state)

    def on_pick(self, ctx: DialogContext, state: JSON) -> Step:
        return self._on_offered(ctx, state, creating=True)

    def on_kind_pick(self, ctx: DialogContext, state: JSON) -> Step:
        """At the category's entries: one of them, "another one", or its name typed."""
        return self._on_offered(ctx, state, creating=True)

    def on_dup(self, ctx: DialogContext, state: JSON) -> Step:
        return self._on_offered(ctx, state, creating=True, force=True)

    def _on_offered(self, ctx: DialogContext, state: JSON, *, creating: bool, force: bool = False) -> Step:
        picked = common.chosen(ctx)
        typed = ctx.incoming.text if picked is None else ""
        named = bool(state.get("name"))  # else the list was the category's, not name matches
        if picked == NEW or common.parse_yes_no(typed) is False or says_none_of_these(typed):
            rejected = sorted({*state.get("rejected", []), *state.get("offered", [])})
            new_state = {**state, "creating": creating and named, "rejected": rejected}
            if force:
                new_state["force"] = True
            return self.next(ctx, new_state)
        if picked and picked.startswith(ENTRY):
            entry = load_entry(ctx, picked[len(ENTRY) :])
            if entry is None:
                return self.reoffer(ctx, state, "recommend.gone")
            kept: JSON = {k: state[k] for k in ("comment", "role") if k in state}
            return self.after_entry(ctx, {**kept, "entry": entry.id, "name": entry.name}, entry)
        if not named and typed.strip() and not typed.strip().isdigit():
            return self.on_name(ctx, {**state, "step": "name"})  # its name, typed instead
        return self.reoffer(ctx, state, "recommend.pick_hint")

    def reoffer(self, ctx: DialogContext, state: JSON, key: str) -> Step:
        """Say ``key`` and offer the same candidates again (those still shown)."""
        entries = [e for e in (load_entry(ctx, i) for i in state.get("offered", [])) if e is not None]
        if not entries:  # every candidate went away: describe a new one
            rejected = sorted({*state.get("rejected", []), *state.get("offered", [])})
            return self.next(ctx, {**state, "creating": True, "rejected": rejected})
        if state.get("step") == "kind_pick":
            return self.offer_kind(ctx, state, entries, (common.say(ctx, key),))
        title = f"{self.name}.pick" if state.get("step") == "pick" else "recommend.dup"
        return self.offer(ctx, state, entries, title, (common.say(ctx, key),))

    def on_category(self, ctx: DialogContext, state: JSON) -> Step:
        picked = common.chosen(ctx)
        if picked and picked.startswith(CATEGORY):
            slug = picked[len(CATEGORY) :]
            if common.category_name(slug, ctx.lang) != slug:
                return self.next(ctx, {**state, "category": slug})
        typed = read_text(ctx.incoming.text, max_len=80)
        if isinstance(typed, Bad):
            return self.ask_category(ctx, state, (typed.reply(ctx),))
        said = ctx.parse
        said_commune = getattr(said, "commune", None)
        if getattr(said, "category", None) and said_commune and common.commune(said_commune):
            # "garagiste au Port": the kind of place and where it is, in one answer
            if not state.get("commune_said"):
                state = {**state, "commune": said_commune, "commune_said": True}
            return self.next(ctx, {**state, "category": said.category})
        slug_found, candidates = match_category(typed, ctx.lang)
        if slug_found:
            return self.next(ctx, {**state, "category": slug_found})
        if candidates:
            return self.ask_category(ctx, state, (common.say(ctx, "recommend.category_which"),), candidates)
        return self.ask_category(ctx, state, (common.say(ctx, "recommend.category_unknown", text=typed),))

    # --- the end ------------------------------------------------------------------------------

    def after_entry(self, ctx: DialogContext, state: JSON, entry: Entry) -> Step:
        """The entry is known (found or picked): what the dialog does with it."""
        raise NotImplementedError

    def finish(self, ctx: DialogContext, state: JSON, before: tuple[Outgoing, ...]) -> Step:
        raise NotImplementedError

    def new_entry(self, ctx: DialogContext, state: JSON) -> Any:
        """The ``NewEntry`` the collected answers describe (kind and org type from the taxonomy)."""
        category = get_taxonomy().get(state["category"])
        contact = Contact.from_json(state.get("contact"))
        point = state.get("point")
        return NewEntry(
            name=as_name(state["name"]),
            category=state["category"],
            commune_insee=state["commune"],
            # a recommended place is never an event (an event is told with /event)
            kind=category.kind if category and category.kind != "event" else "organization",
            org_type=category.org_type if category else None,
            address=state.get("address"),
            lat=float(point[0]) if point else None,
            lon=float(point[1]) if point else None,
            phone=contact.phone,
            website=contact.website,
            email=contact.email,
        )

    def create(self, ctx: DialogContext, state: JSON, data: Any) -> Entry | Step:
        """Add the entry (a savepoint, so a refusal leaves the transaction clean), or the
        step that tells why not: an invalid field asked again, or a duplicate proposed."""
        try:
            with ctx.session.begin_nested():
                entry: Entry = services.add_entry(
                    ctx.session, data, by=ctx.citizen, force=bool(state.get("force"))
                )
        except services.DuplicateFound as found:
            rejected = set(state.get("rejected", []))
            fresh = [e for e in found.candidates if e.id not in rejected]
            if not fresh:  # the user already said it is none of these
                return self.create(ctx, {**state, "force": True}, data)
            state = {**state, "dup_checked": True}
            return self.offer(ctx, {**state, "step": "dup"}, fresh, "recommend.dup", ())
        except services.InvalidEntry as invalid:
            problem = common.say_invalid(ctx, invalid, f"recommend.invalid.{_field_group(invalid.field)}")
            retry = _retry_state(state, invalid.field)
            return self.next(ctx, retry, before=(problem,))
        return entry


def _field_group(field: str) -> str:
    if field in ("phone", "website", "email"):
        return "contact"
    if field in ("lat", "lon", "address", "postcode"):
        return "address"
    if field in ("commune_insee", "commune"):
        return "commune"
    if field == "category":
        return "category"
    return "name"


def _retry_state(state: JSON, field: str) -> JSON:
    """Forget the answer the store refused so that ``next`` asks it again."""
    group = _field_group(field)
    state = dict(state)
    if group == "name":
        state.pop("name", None)
    elif group == "commune":
        state.pop("commune_said", None)
    elif group == "category":
        state.pop("category", None)
    else:
        state["answered"] = [s for s in state.get("answered", []) if s != group]
        state.pop(group, None)
        if group == "address":
            state.pop("point", None)
    return state


def _button(name: str, limit: int = 40) -> str:
    return name if len(name) <= limit else name[: limit - 1].rstrip() + "…"


class RecommendDialog(FindOrCreate):
    """Recommend an entry, creating it first when it is not in the directory."""

    name: ClassVar[str] = "recommend"
    creation_steps: ClassVar[tuple[str, ...]] = ("address", "contact")

    def ask_step(self, ctx: DialogContext, state: JSON, step: str, before: tuple[Outgoing, ...]) -> Step:
        skip = (Choice(common.SKIP, ctx.t("recommend.skip")),)
        if step == "address":
            return common.ask(
                ctx,
                state,
                "recommend.ask_address",
                choices=skip,
                request_location=True,
                before=before,
                name=state["name"],
            )
        return common.ask(
            ctx, state, "recommend.ask_contact", choices=skip, before=before, name=state["name"]
        )

    def _answered(self, state: JSON, step: str, **values: Any) -> JSON:
        return {**state, **values, "answered": [*state.get("answered", []), step]}

    def on_address(self, ctx: DialogContext, state: JSON) -> Step:
        if common.skipped(ctx):  # "non", "jsp": no address, the commune's centre stands in
            return self.next(ctx, self._answered(state, "address"))
        if common.only_yes(ctx):
            return self.ask_step(ctx, state, "address", (common.say(ctx, "common.type_it"),))
        location = ctx.incoming.location
        if location is not None:
            if get_gazetteer().nearest(location.lat, location.lon) is None:
                return self.ask_step(ctx, state, "address", (common.say(ctx, "recommend.bad_location"),))
            return self.next(ctx, self._answered(state, "address", point=[location.lat, location.lon]))
        typed = read_text(ctx.incoming.text, max_len=ADDRESS_MAX, entry_field=True)
        if isinstance(typed, Bad):
            return self.ask_step(ctx, state, "address", (typed.reply(ctx),))
        place = common.commune(state.get("commune"))
        geocoder = ctx.services.geocoder
        found = geocoder.geocode_address(typed, place) if geocoder and place else None
        if found is None:  # offline, not found, or elsewhere: the commune's centre stands in
            return self.next(ctx, self._answered(state, "address", address=typed))
        return self.next(ctx, self._answered(state, "address", address=typed,
                                             point=[found.lat, found.lon]))

    def on_contact(self, ctx: DialogContext, state: JSON) -> Step:
        if common.skipped(ctx):
            return self.next(ctx, self._answered(state, "contact"))
        if common.only_yes(ctx):
            return self.ask_step(ctx, state, "contact", (common.say(ctx, "common.type_it"),))
        contact = parse_contact(ctx.incoming.text)
        if isinstance(contact, Bad):
            return self.ask_step(ctx, state, "contact", (contact.reply(ctx),))
        return self.next(ctx, self._answered(state, "contact", contact=contact.as_json()))

    # --- comment and the final write -----------------------------------------------------------

    def after_entry(self, ctx: DialogContext, state: JSON, entry: Entry) -> Step:
        if "comment" in state:  # a duplicate picked after the comment was given
            return self.write(ctx, {**state, "entry": entry.id}, ())
        return self.ask_comment(ctx, {**state, "step": "comment", "entry": entry.id}, ())

    def finish(self, ctx: DialogContext, state: JSON, before: tuple[Outgoing, ...]) -> Step:
        if "comment" in state:  # the store proposed a duplicate after the comment; user said "new"
            return self.write(ctx, state, before)
        return self.ask_comment(ctx, {**state, "step": "comment"}, before)

    def ask_comment(self, ctx: DialogContext, state: JSON, before: tuple[Outgoing, ...]) -> Step:
        skip = (Choice(common.SKIP, ctx.t("recommend.skip")),)
        return common.ask(
            ctx, state, "recommend.ask_comment", choices=skip, before=before, name=state["name"]
        )

    def on_comment(self, ctx: DialogContext, state: JSON) -> Step:
        if common.chosen(ctx) == common.SKIP or common.parse_yes_no(ctx.incoming.text) is not None:
            # "oui" / "non" / "ok" answer the question, they are no reason to publish
            return self.write(ctx, {**state, "comment": None}, ())
        typed = read_text(ctx.incoming.text, max_len=COMMENT_MAX)
        if isinstance(typed, Bad):
            return self.ask_comment(ctx, state, (typed.reply(ctx),))
        return self.write(ctx, {**state, "comment": typed}, ())

    def write(self, ctx: DialogContext, state: JSON, before: tuple[Outgoing, ...]) -> Step:
        """The only write: the entry when new, then the recommendation (idempotent)."""
        added: list[Outgoing] = []
        if state.get("entry") is not None:
            entry = load_entry(ctx, state["entry"])
            if entry is None:
                return Step.done(common.say(ctx, "recommend.gone"))
        else:
            created = self.create(ctx, state, self.new_entry(ctx, state))
            if isinstance(created, Step):
                return created
            entry = created
            added.append(
                common.say(
                    ctx, "recommend.added", name=entry.name, commune=common.commune_label(entry.commune_insee)
                )
            )
        _, is_new = services.recommend(ctx.session, ctx.citizen, entry, state.get("comment"))
        ctx.session.flush()
        count = entry.recommendation_count
        if is_new:
            thanks = ctx.t.plural("recommend.done", count, name=entry.name)
        else:
            thanks = ctx.t.plural("recommend.again", count, name=entry.name)
        return Step.done(*before, *added, common.say_spans(ctx, [Text(thanks)]))


DIALOG = RecommendDialog()

class FindOrCreateState(CommuneQuestion):
    """Recommend and join: the name, the entry found or the one being created (its fields
    as they are answered), what was offered or turned down."""

    name: str | None = None
    search_name: str | None = None
    entry: int | None = None
    creating: bool = False
    searched: bool = False
    #: the entries of the category said were shown (no name yet)
    browsed: bool = False
    category: str | None = None
    commune: str | None = None
    commune_said: bool = False
    dup_checked: bool = False
    offered: list[int] = Field(default_factory=list)
    rejected: list[int] = Field(default_factory=list)
    force: bool = False
    answered: list[str] = Field(default_factory=list)
    address: str | None = None
    point: list[float] | None = None
    contact: dict[str, Any] | None = None
    comment: str | None = None

SPEC = DialogSpec(
    state=FindOrCreateState,
    name="recommend",
    commands=(Command("recommend", ("recommander", "recommande")),),
    intents=frozenset({"recommend"}),
    command_intent="recommend",
    steps=("name", "kind_pick", "commune", "pick", "category", "dup", "address", "contact", "comment",
           "confirm"),
    free_text_steps=("name", "kind_pick", "address", "contact", "comment"),
    slot_steps=("category", "commune"),
    summary="recommend a place or service, adding it when it is not listed",
)
