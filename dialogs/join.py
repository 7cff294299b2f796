"""The join dialog: "je fais partie de la troupe de théâtre du Port", ``/join``, or the
"I belong here" button.

It finds the organization (fuzzy name, in and around the commune, organizations only) and
links the citizen to it. When it is not listed, it is created after the user confirms a
short summary (name, category, commune), in the same transaction as the membership.
Joining twice is harmless ("you are already a member"). ``/me`` lists memberships.

Steps: ``name``, ``kind_pick`` (the category's organizations around, when no name was
said), ``commune``, ``pick``, ``category``, ``dup``, ``confirm``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from bot.dialog import JSON, DialogContext, Step
from bot.messages import Outgoing
from bot.spec import Command, DialogSpec
from dialogs import common
from dialogs.recommend import FindOrCreate, FindOrCreateState
from directory import services

if TYPE_CHECKING:
    from directory.models import Entry


#: organisation types people are members of
MEMBER_ORG_TYPES = frozenset({"association", "informal"})


class JoinDialog(FindOrCreate):
    """Say you belong to an association (or any organization)."""

    name: ClassVar[str] = "join"
    kinds: ClassVar[tuple[str, ...]] = ("organization",)
    creation_steps: ClassVar[tuple[str, ...]] = ("confirm",)
    usual_categories: ClassVar[tuple[str, ...]] = (
        "association",
        "club-sportif",
        "theatre",
        "ecole-musique",
        "danse",
        "jardin-partage",
    )

    def accepts(self, entry: Entry) -> bool:
        """Only what one belongs to: associations and informal groups, or a category people
        join (a sports club, a theatre troupe); never a plumber that shares a word."""
        return entry.org_type in MEMBER_ORG_TYPES or entry.category in self.usual_categories

    def ask_step(self, ctx: DialogContext, state: JSON, step: str, before: tuple[Outgoing, ...]) -> Step:
        return common.ask_yes_no(
            ctx,
            state,
            "join.confirm",
            before=before,
            name=state["name"],
            category=common.category_name(state["category"], ctx.lang),
            commune=common.commune_label(state["commune"]),
        )

    def on_confirm(self, ctx: DialogContext, state: JSON) -> Step:
        answer = common.answer_yes_no(ctx)
        if answer is None:
            return self.ask_step(ctx, state, "confirm", (common.say(ctx, "join.yes_or_no"),))
        if not answer:
            return Step.done(common.say(ctx, "join.not_created"))
        return self.finish(ctx, {**state, "answered": ["confirm"]}, ())

    def after_entry(self, ctx: DialogContext, state: JSON, entry: Entry) -> Step:
        return self._join(ctx, entry, ())

    def finish(self, ctx: DialogContext, state: JSON, before: tuple[Outgoing, ...]) -> Step:
        """Create the organization (as an association unless the category says otherwise)."""
        data = self.new_entry(ctx, state)
        data.kind = "organization"
        data.org_type = data.org_type or "association"
        created = self.create(ctx, state, data)
        if isinstance(created, Step):
            return created
        added = common.say(
            ctx, "join.added", name=created.name, commune=common.commune_label(created.commune_insee)
        )
        return self._join(ctx, created, (*before, added))

    def _join(self, ctx: DialogContext, entry: Entry, before: tuple[Outgoing, ...]) -> Step:
        if entry.kind != "organization":
            return Step.done(*before, common.say(ctx, "join.not_an_organization", name=entry.name))
        joined = services.join(ctx.session, ctx.citizen, entry)
        key = "join.done" if joined else "join.already"
        return Step.done(*before, common.say(ctx, key, name=entry.name))


DIALOG = JoinDialog()

SPEC = DialogSpec(
    state=FindOrCreateState,
    name="join",
    commands=(Command("join", ("rejoindre", "adherer")),),
    intents=frozenset({"join"}),
    command_intent="join",
    steps=("name", "kind_pick", "commune", "pick", "category", "dup", "confirm"),
    free_text_steps=("name", "kind_pick"),
    slot_steps=("category", "commune"),
    summary="say you belong to an association, adding it when it is not listed",
)
