"""The announce dialog: ``/project``, "je lance un projet de jardin partagé à Saint-Paul".

Steps (``state["step"]``): ``title``, ``description``, ``category``, ``commune``, ``needs``
(multi-select: each pressed need toggles, "done" goes on; or type "bénévoles et
matériel"), ``stage``, ``contact`` (optional), ``confirm`` (a summary: publish, change
something, or drop it), ``edit`` (which part to change), ``dup`` (a similar project exists).

Publishing is the only write: the project entry (kind ``project``, created by the citizen),
then ``Outgoing`` items for the commune's room (``Target(COMMUNE_ROOM, ref=insee)``) that
the engine turns into outbox rows in the same transaction. When the similar project found
is the citizen's own, "update it" changes it instead and tells its followers (one USER
target per follower). Slots the question already gave (category, commune, title) are not
asked again.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field
from rapidfuzz import fuzz, process
from sqlalchemy import func, select

from bot.dialog import JSON, DialogContext, Step
from bot.dialog_state import CommuneQuestion
from bot.i18n import translator
from bot.messages import Bold, Choice, LineBreak, ListItems, Outgoing, Span, Target, TargetKind, Text
from bot.outbox import citizen_target
from bot.spec import Command, DialogSpec
from dialogs import common
from dialogs.entry_view import (
    NAME_MAX,
    TEXT_MAX,
    Bad,
    Contact,
    as_name,
    entry_summary_line,
    load_entry,
    match_category,
    parse_contact,
    read_text,
    says_none_of_these,
)
from dialogs.recommend import args_field, known_slugs
from directory import services
from directory.models import ChatBinding, Citizen, Follow
from directory.services import NewEntry
from directory.text import fold

if TYPE_CHECKING:
    from directory.models import Entry

NEEDS: tuple[str, ...] = ("volunteers", "materials", "funding", "skills")
STAGES: tuple[str, ...] = ("idea", "concept", "started", "development", "testing", "mature")
FIELDS: tuple[str, ...] = ("title", "description", "category", "commune", "needs", "stage", "contact")

#: fields offered as buttons before anything is typed (typing any other works)
USUAL_CATEGORIES: tuple[str, ...] = (
    "jardin-partage",
    "association",
    "club-sportif",
    "theatre",
    "repair-cafe",
    "tiers-lieu",
)

NEED = "need:"
STAGE = "stage:"
FIELD = "field:"
CATEGORY = "cat:"
DONE = "done"
NONE = "none"
PUBLISH = "publish"
EDIT = "edit"
DROP = "drop"
ENTRY = "entry:"
UPDATE = "update:"
NEW = "new"

#: typed words for each need, folded, French and English (stems are enough: prefix match)
NEED_WORDS: dict[str, tuple[str, ...]] = {
    "volunteers": ("benevol", "volontaire", "volunteer", "bras", "aide", "helper", "help", "monde"),
    "materials": ("materiel", "materiau", "material", "outil", "equipement", "equipment", "tool", "supplies"),
    "funding": ("financ", "argent", "fonds", "don", "subvention", "fund", "money", "budget", "sous"),
    "skills": ("competence", "skill", "expert", "savoir", "talent", "compet"),
}
NO_NEED_WORDS = frozenset({"aucun", "rien", "none", "nothing", "pas de besoin", "aucun besoin", "no need"})


def parse_needs(text: str) -> list[str] | None:
    """The needs a typed answer names, in canonical order; ``[]`` for "aucun"; None if it
    names none of them (so the question is asked again)."""
    folded = fold(text)
    if not folded:
        return None
    if folded in NO_NEED_WORDS:
        return []
    words = folded.split()
    found = [
        need for need in NEEDS if any(word.startswith(stem) for word in words for stem in NEED_WORDS[need])
    ]
    return found or None


def parse_stage(text: str, labels: dict[str, str]) -> str | None:
    """A stage from its slug, its localized label (typos tolerated) or a known word."""
    folded = fold(text)
    if not folded:
        return None
    aliases = {
        "idee": "idea",
        "projet": "idea",
        "reflexion": "idea",
        "concept": "concept",
        "plan": "concept",
        "demarre": "started",
        "lance": "started",
        "commence": "started",
        "debut": "started",
        "developpement": "development",
        "en cours": "development",
        "test": "testing",
        "essai": "testing",
        "mature": "mature",
        "fini": "mature",
        "termine": "mature",
        "rode": "mature",
        "running": "mature",
    }
    if folded in STAGES:
        return folded
    if folded in aliases:
        return aliases[folded]
    choices = {fold(label): slug for slug, label in labels.items()}
    best = process.extractOne(folded, list(choices), scorer=fuzz.WRatio, score_cutoff=80)
    return choices[best[0]] if best else None


class AnnounceDialog:
    """Announce a project to the commune; see the module docstring."""

    name: ClassVar[str] = "announce"

    def start(self, ctx: DialogContext, args: JSON) -> Step:
        state: JSON = {"step": "title", "needs": []}
        category = args_field(args, ctx.parse, "category")
        if category and common.category_name(category, ctx.lang) != category:
            state["category"] = category
        commune_code = args_field(args, ctx.parse, "commune")
        if args_field(args, ctx.parse, "near_me"):
            commune_code = None  # "près de chez moi": the citizen's own commune, asked or default
        if commune_code and common.commune(commune_code) is not None:
            state["commune"] = commune_code
        name = args_field(args, ctx.parse, "name")
        commune_name = common.commune(state.get("commune"))
        if name and commune_name is not None and fold(str(name)) == fold(commune_name.name):
            name = None  # "un projet à Saint-Paul": the place, not the project's name
        if name:
            title = read_text(str(name), max_len=NAME_MAX)
            if not isinstance(title, Bad):
                state["title"] = title
        intro = common.say(ctx, "announce.intro")
        return self.next(ctx, state, (intro,))

    # --- what to ask next ---------------------------------------------------------------------

    def next(self, ctx: DialogContext, state: JSON, before: tuple[Outgoing, ...] = ()) -> Step:
        if state.get("editing"):
            return self.summary(ctx, {**state, "editing": False}, before)
        for field in FIELDS:
            if field not in state or (field == "needs" and not state.get("needs_done")):
                return self.ask(ctx, {**state, "step": field}, field, before)
        return self.summary(ctx, state, before)

    def ask(self, ctx: DialogContext, state: JSON, field: str, before: tuple[Outgoing, ...] = ()) -> Step:
        skip = (Choice(common.SKIP, ctx.t("announce.skip")),)
        if field == "title":
            return common.ask(ctx, state, "announce.ask_title", before=before)
        if field == "description":
            return common.ask(ctx, state, "announce.ask_description", before=before, title=state["title"])
        if field == "category":
            slugs = state.get("category_candidates") or known_slugs(USUAL_CATEGORIES)
            options = tuple(Choice(CATEGORY + slug, common.category_name(slug, ctx.lang)) for slug in slugs)
            return common.ask(ctx, state, "announce.ask_category", choices=options, before=before)
        if field == "commune":
            step = common.ask_commune(ctx, state, "announce.ask_commune", before=before)
            default = state.get("commune") or ctx.chat_commune or ctx.citizen.home_insee
            if default and step.replies:
                step.replies[-1] = replace(step.replies[-1], choices=common.commune_choices([default]))
            return step
        if field == "needs":
            return Step.wait(state, *before, self.needs_question(ctx, state))
        if field == "stage":
            options = tuple(Choice(STAGE + s, ctx.t(f"entry.stage.{s}")) for s in STAGES)
            return common.ask(ctx, state, "announce.ask_stage", choices=options, before=before)
        return common.ask(ctx, state, "announce.ask_contact", choices=skip, before=before)

    def needs_question(self, ctx: DialogContext, state: JSON) -> Outgoing:
        """The needs with a tick on the chosen ones; the same message is edited in place."""
        chosen = set(state.get("needs", []))
        options = [
            Choice(NEED + need, ("✓ " if need in chosen else "") + ctx.t(f"entry.need.{need}"))
            for need in NEEDS
        ]
        options.append(Choice(DONE, ctx.t("announce.needs_done") if chosen else ctx.t("announce.needs_none")))
        return common.say(ctx, "announce.ask_needs", choices=options, edit_key="needs")

    # --- answers -------------------------------------------------------------------------------

    def resume(self, ctx: DialogContext, state: JSON) -> Step:
        handler = getattr(self, f"on_{state.get('step')}", None)
        if handler is None:
            return Step.done(common.say(ctx, "announce.lost"))
        step: Step = handler(ctx, state)
        return step

    def _text(self, ctx: DialogContext, state: JSON, field: str, max_len: int) -> Step:
        typed = read_text(ctx.incoming.text, max_len=max_len, entry_field=True)
        if isinstance(typed, Bad):
            return self.ask(ctx, state, field, (typed.reply(ctx),))
        return self.next(ctx, {**state, field: typed})

    def on_title(self, ctx: DialogContext, state: JSON) -> Step:
        return self._text(ctx, state, "title", NAME_MAX)

    def on_description(self, ctx: DialogContext, state: JSON) -> Step:
        return self._text(ctx, state, "description", TEXT_MAX)

    def on_category(self, ctx: DialogContext, state: JSON) -> Step:
        picked = common.chosen(ctx)
        if picked and picked.startswith(CATEGORY):
            slug = picked[len(CATEGORY) :]
            if common.category_name(slug, ctx.lang) != slug:
                return self.next(ctx, {**state, "category": slug, "category_candidates": []})
        typed = read_text(ctx.incoming.text, max_len=80)
        if isinstance(typed, Bad):
            return self.ask(ctx, state, "category", (typed.reply(ctx),))
        slug_found, candidates = match_category(typed, ctx.lang)
        if slug_found:
            return self.next(ctx, {**state, "category": slug_found, "category_candidates": []})
        key = "announce.category_which" if candidates else "announce.category_unknown"
        return self.ask(
            ctx, {**state, "category_candidates": candidates}, "category", (common.say(ctx, key, text=typed),)
        )

    def on_commune(self, ctx: DialogContext, state: JSON) -> Step:
        answer = common.resolve_commune_answer(ctx, state)
        if answer.step is not None:
            return answer.step
        return self.next(ctx, {**common.clear_commune_keys(state), "commune": answer.insee})

    def on_needs(self, ctx: DialogContext, state: JSON) -> Step:
        picked = common.chosen(ctx)
        if picked and picked.startswith(NEED) and picked[len(NEED) :] in NEEDS:
            need = picked[len(NEED) :]
            current = list(state.get("needs", []))
            current = [n for n in current if n != need] if need in current else [*current, need]
            state = {**state, "needs": [n for n in NEEDS if n in current]}
            return Step.wait(state, self.needs_question(ctx, state))
        if picked in (DONE, NONE) or (common.parse_yes_no(ctx.incoming.text) and state.get("needs")):
            return self.next(ctx, {**state, "needs_done": True})  # "oui" after ticking: done
        needs = parse_needs(ctx.incoming.text)
        if needs is None:
            return self.ask(ctx, state, "needs", (common.say(ctx, "announce.needs_unknown"),))
        return self.next(ctx, {**state, "needs": needs, "needs_done": True})

    def on_stage(self, ctx: DialogContext, state: JSON) -> Step:
        picked = common.chosen(ctx)
        if picked and picked.startswith(STAGE) and picked[len(STAGE) :] in STAGES:
            return self.next(ctx, {**state, "stage": picked[len(STAGE) :]})
        labels = {s: ctx.t(f"entry.stage.{s}") for s in STAGES}
        stage = parse_stage(ctx.incoming.text, labels)
        if stage is None:
            return self.ask(ctx, state, "stage", (common.say(ctx, "announce.stage_unknown"),))
        return self.next(ctx, {**state, "stage": stage})

    def on_contact(self, ctx: DialogContext, state: JSON) -> Step:
        if common.skipped(ctx) or common.parse_yes_no(ctx.incoming.text) is False:
            return self.next(ctx, {**state, "contact": None})
        if common.only_yes(ctx):
            return self.ask(ctx, state, "contact", (common.say(ctx, "common.type_it"),))
        contact = parse_contact(ctx.incoming.text)
        if isinstance(contact, Bad):
            return self.ask(ctx, state, "contact", (contact.reply(ctx),))
        return self.next(ctx, {**state, "contact": contact.as_json()})

    # --- summary, edits, publication ----------------------------------------------------------------

    def summary_spans(self, ctx: DialogContext, state: JSON) -> list[Span]:
        contact = Contact.from_json(state.get("contact"))
        contact_text = ", ".join(p for p in (contact.phone, contact.email, contact.website) if p)
        needs = ", ".join(ctx.t(f"entry.need.{n}") for n in state.get("needs", [])) or ctx.t("announce.none")
        rows = [
            ("announce.field.title", state["title"]),
            ("announce.field.description", state["description"]),
            ("announce.field.category", common.category_name(state["category"], ctx.lang)),
            ("announce.field.commune", common.commune_label(state["commune"])),
            ("announce.field.needs", needs),
            ("announce.field.stage", ctx.t(f"entry.stage.{state['stage']}")),
            ("announce.field.contact", contact_text or ctx.t("announce.none")),
        ]
        items = tuple(
            (Bold(ctx.t(key) + " : " if ctx.lang == "fr" else ctx.t(key) + ": "), Text(value))
            for key, value in rows
        )
        return [Text(ctx.t("announce.summary")), ListItems(items)]

    def summary(self, ctx: DialogContext, state: JSON, before: tuple[Outgoing, ...] = ()) -> Step:
        options = (
            Choice(PUBLISH, ctx.t("announce.publish")),
            Choice(EDIT, ctx.t("announce.edit")),
            Choice(DROP, ctx.t("announce.drop")),
        )
        state = {**state, "step": "confirm"}
        return Step.wait(
            state, *before, common.say_spans(ctx, self.summary_spans(ctx, state), choices=options)
        )

    def on_confirm(self, ctx: DialogContext, state: JSON) -> Step:
        picked = common.chosen(ctx)
        yes_no = common.parse_yes_no(ctx.incoming.text) if picked is None else None
        if picked == PUBLISH or yes_no is True:
            return self.publish(ctx, state)
        if picked == DROP or yes_no is False:
            return Step.done(common.say(ctx, "announce.dropped"))
        if picked == EDIT:
            options = tuple(Choice(FIELD + f, ctx.t(f"announce.field.{f}")) for f in FIELDS)
            return common.ask(ctx, {**state, "step": "edit"}, "announce.which_field", choices=options)
        return self.summary(ctx, state, (common.say(ctx, "announce.confirm_hint"),))

    def on_edit(self, ctx: DialogContext, state: JSON) -> Step:
        picked = common.chosen(ctx)
        field = picked[len(FIELD) :] if picked and picked.startswith(FIELD) else None
        if field not in FIELDS:
            options = tuple(Choice(FIELD + f, ctx.t(f"announce.field.{f}")) for f in FIELDS)
            return common.ask(
                ctx,
                state,
                "announce.which_field",
                choices=options,
                before=(common.say(ctx, "announce.pick_hint"),),
            )
        assert field is not None
        return self.ask(ctx, {**state, "step": field, "editing": True}, field)

    def on_dup(self, ctx: DialogContext, state: JSON) -> Step:
        picked = common.chosen(ctx)
        if picked == NEW or (picked is None and says_none_of_these(ctx.incoming.text)):
            return self.publish(ctx, {**state, "force": True})
        if picked and picked.startswith(UPDATE):
            entry = load_entry(ctx, picked[len(UPDATE) :])
            if entry is None or entry.created_by_id != ctx.citizen.id:
                return self.reoffer(ctx, state, "announce.gone")
            return self.update(ctx, state, entry)
        if picked and picked.startswith(ENTRY):
            entry = load_entry(ctx, picked[len(ENTRY) :])
            if entry is None or entry.kind != "project":
                return self.reoffer(ctx, state, "announce.gone")
            services.follow(ctx.session, ctx.citizen, entry)
            return Step.done(common.say(ctx, "announce.following", name=entry.name))
        return self.reoffer(ctx, state, "announce.pick_hint")

    def reoffer(self, ctx: DialogContext, state: JSON, key: str) -> Step:
        """Say ``key`` and show the similar projects again, with their choices."""
        entries = [e for e in (load_entry(ctx, i) for i in state.get("offered", [])) if e is not None]
        step = self.offer_duplicates(ctx, state, entries)
        step.replies.insert(0, common.say(ctx, key))
        return step

    def new_entry(self, state: JSON) -> Any:
        contact = Contact.from_json(state.get("contact"))
        return NewEntry(
            name=as_name(state["title"]),
            category=state["category"],
            commune_insee=state["commune"],
            kind="project",
            description=state["description"],
            stage=state["stage"],
            needs=tuple(state.get("needs", [])),
            phone=contact.phone,
            website=contact.website,
            email=contact.email,
        )

    def publish(self, ctx: DialogContext, state: JSON) -> Step:
        """Add the project (savepoint: a refusal leaves the transaction clean) and announce it."""
        try:
            with ctx.session.begin_nested():
                entry = services.add_entry(
                    ctx.session, self.new_entry(state), by=ctx.citizen, force=bool(state.get("force"))
                )
        except services.DuplicateFound as found:
            return self.offer_duplicates(ctx, state, list(found.candidates))
        except services.InvalidEntry as invalid:
            field = {
                "name": "title",
                "commune_insee": "commune",
                "phone": "contact",
                "website": "contact",
                "email": "contact",
            }.get(invalid.field, invalid.field)
            if field not in FIELDS:
                field = "title"
            problem = common.say_invalid(ctx, invalid, f"announce.invalid.{field}")
            return self.ask(ctx, {**state, "step": field, "editing": True}, field, (problem,))
        bound = ctx.session.scalar(
            select(func.count()).select_from(ChatBinding).where(
                ChatBinding.commune_insee == entry.commune_insee)
        )
        # say "announced" only where it is posted: with no room or group bound to the commune
        # it is in the directory, and a room can be bound to carry the next ones
        key = "announce.published" if bound else "announce.published_unbound"
        replies = [common.say(ctx, key, name=entry.name, commune=common.commune_label(entry.commune_insee))]
        replies.append(
            self.announcement(
                entry, "announce.room.new", Target(TargetKind.COMMUNE_ROOM, ref=entry.commune_insee)
            )
        )
        return Step.done(*replies)

    def offer_duplicates(self, ctx: DialogContext, state: JSON, entries: list[Entry]) -> Step:
        projects = [e for e in entries if e.kind == "project"] or entries
        spans: list[Span] = [
            Text(ctx.t("announce.dup", title=state["title"])),
            ListItems(tuple(entry_summary_line(ctx, e) for e in projects), numbered=True),
        ]
        options: list[Choice] = []
        for e in projects:
            if e.created_by_id == ctx.citizen.id and e.kind == "project":
                options.append(Choice(UPDATE + str(e.id), ctx.t("announce.update_mine", name=_short(e.name))))
            elif e.kind == "project":
                options.append(Choice(ENTRY + str(e.id), ctx.t("announce.follow_it", name=_short(e.name))))
        options.append(Choice(NEW, ctx.t("announce.publish_anyway")))
        offered = [e.id for e in projects]
        return Step.wait(
            {**state, "step": "dup", "offered": offered}, common.say_spans(ctx, spans, choices=options)
        )

    def update(self, ctx: DialogContext, state: JSON, entry: Entry) -> Step:
        """The citizen's own project, brought up to date; its followers and room are told."""
        fresh = self.new_entry(state)
        try:
            with ctx.session.begin_nested():
                data = services.validate_entry(
                    replace(fresh, name=entry.name, commune_insee=entry.commune_insee),
                    refuse_formulas=True,
                )
                entry.description = data.description
                entry.stage = data.stage
                entry.needs = list(data.needs)
                entry.category = data.category
                entry.phone = data.phone or entry.phone
                entry.website = data.website or entry.website
                entry.email = data.email or entry.email
                ctx.session.flush()
        except services.InvalidEntry as invalid:
            return self.summary(ctx, state, (common.say_invalid(ctx, invalid, "announce.invalid.title"),))
        replies = [common.say(ctx, "announce.updated", name=entry.name)]
        replies.append(
            self.announcement(
                entry, "announce.room.update", Target(TargetKind.COMMUNE_ROOM, ref=entry.commune_insee)
            )
        )
        replies += self.tell_followers(ctx, entry)
        return Step.done(*replies)

    def tell_followers(self, ctx: DialogContext, entry: Entry) -> list[Outgoing]:
        """One message per follower (but the author), each in the follower's language."""
        rows = ctx.session.execute(
            select(Citizen.id, Citizen.lang)
            .join(Follow, Follow.citizen_id == Citizen.id)
            .where(Follow.entry_id == entry.id, Citizen.id != ctx.citizen.id, Citizen.banned.is_(False))
            .order_by(Citizen.id)
        ).all()
        return [
            self.announcement(entry, "announce.followers.update", citizen_target(cid), lang)
            for cid, lang in rows
        ]

    def announcement(self, entry: Entry, key: str, target: Target, lang: str = "fr") -> Outgoing:
        """The project as the commune (in French, the communes' language) or a follower sees it."""
        t = translator(lang)
        spans: list[Span] = [
            Text(t(key, name=entry.name, commune=common.commune_label(entry.commune_insee))),
            LineBreak(),
        ]
        spans += [Bold(entry.name), LineBreak()]
        if entry.description:
            spans += [Text(entry.description), LineBreak()]
        if entry.needs:
            needs = ", ".join(t(f"entry.need.{n}") for n in entry.needs)
            spans += [Text(t("entry.card.needs", needs=needs)), LineBreak()]
        if entry.stage:
            spans += [Text(t("entry.card.stage", stage=t(f"entry.stage.{entry.stage}"))), LineBreak()]
        contact = ", ".join(p for p in (entry.phone, entry.email, entry.website) if p)
        if contact:
            spans += [Text(t("announce.contact_line", contact=contact)), LineBreak()]
        spans.append(Text(t("announce.how_to_follow")))
        return Outgoing(spans=tuple(spans), target=target, lang=t.lang)


def _short(name: str, limit: int = 28) -> str:
    return name if len(name) <= limit else name[: limit - 1].rstrip() + "…"


DIALOG = AnnounceDialog()

class AnnounceState(CommuneQuestion):
    """Announce: the project's fields as they are answered, and the summary's edits."""

    title: str | None = None
    description: str | None = None
    category: str | None = None
    category_candidates: list[str] = Field(default_factory=list)
    commune: str | None = None
    needs: list[str] = Field(default_factory=list)
    needs_done: bool = False
    stage: str | None = None
    contact: dict[str, Any] | None = None
    editing: bool = False
    offered: list[int] = Field(default_factory=list)
    force: bool = False

SPEC = DialogSpec(
    state=AnnounceState,
    name="announce",
    commands=(Command("project", ("projet",)),),
    intents=frozenset({"announce_project"}),
    command_intent="announce_project",
    steps=("title", "description", "category", "commune", "needs", "stage", "contact", "confirm",
           "edit", "dup"),
    free_text_steps=("title", "description", "needs", "contact"),
    summary="announce a project you start, posted to the commune's rooms",
)
