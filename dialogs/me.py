"""``/me``: what I recommended, the associations I belong to, my projects; and taking any
of it back.

One message with three short lists (each capped, with "and N more"), built from
``directory.services.citizen_summary``, then buttons to manage them (steps): ``menu``
(withdraw a recommendation, leave an association, unfollow, my entries), ``pick`` (which
one), ``own`` (an entry I created: delete it while no one else relies on it, or correct
a field), ``field`` and ``value`` (the correction). Asked beside another dialog, it only
shows the lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from sqlalchemy import select

from bot.dialog import JSON, DialogContext, Step
from bot.dialog_state import StepState
from bot.i18n import Translator
from bot.messages import Bold, Choice, Inline, Italic, LineBreak, ListItems, Span, Text
from bot.spec import Command, DialogSpec
from dialogs.common import ask, category_name, chosen, commune_label, say, say_invalid, say_spans, user_text
from directory import moderation, privacy, services
from directory.models import Entry, Follow
from directory.services import citizen_summary

#: entries shown per section; the rest is counted
SECTION_MAX = 15


def _entry_line(t: Translator, entry: Any, extra: str | None = None) -> tuple[Inline, ...]:
    meta = " · ".join(
        p for p in (category_name(entry.category, t.lang), commune_label(entry.commune_insee)) if p
    )
    line: list[Inline] = [Bold(entry.name), Text(f" — {meta}")]
    if extra:
        line += [Text(" — "), Italic(extra)]
    return tuple(line)


def _section(
    t: Translator, title_key: str, lines: Sequence[tuple[Inline, ...]]
) -> list[Span]:
    spans: list[Span] = [Bold(t.plural(title_key, len(lines))), LineBreak()]
    shown = tuple(lines[:SECTION_MAX])
    spans.append(ListItems(items=shown))
    if len(lines) > SECTION_MAX:
        spans.append(Text(t.plural("me.and_more", len(lines) - SECTION_MAX)))
        spans.append(LineBreak())
    return spans


def render_summary(t: Translator, summary: Any) -> list[Span]:
    """The three sections of /me as spans (pure; empty sections are left out)."""
    spans: list[Span] = []
    recommended = [_entry_line(t, e, c) for e, c in summary.recommended]
    memberships = [_entry_line(t, e, r) for e, r in summary.memberships]
    projects = [
        _entry_line(t, e, t(f"me.stage.{e.stage}") if e.stage else None)
        for e in summary.projects
    ]
    for key, lines in (
        ("me.recommended", recommended),
        ("me.memberships", memberships),
        ("me.projects", projects),
    ):
        if lines:
            spans += _section(t, key, lines)
    return spans


MENU = "menu:"
PICK = "pick:"
OWN = "own:"
FIELD = "field:"
#: what a citizen may correct in an entry they created
OWN_FIELDS: tuple[str, ...] = ("name", "description", "address", "phone", "website", "email", "opening_hours")


def _lists(ctx: DialogContext) -> dict[str, list[Entry]]:
    """The things a citizen may take back, by kind of link."""
    summary = citizen_summary(ctx.session, ctx.citizen)
    follows = ctx.session.scalars(select(Entry).join(Follow, Follow.entry_id == Entry.id)
                                  .where(Follow.citizen_id == ctx.citizen.id).order_by(Entry.name))
    own = ctx.session.scalars(select(Entry).where(Entry.created_by_id == ctx.citizen.id).order_by(Entry.name))
    return {"withdraw": [e for e, _c in summary.recommended], "leave": [e for e, _r in summary.memberships],
            "unfollow": list(follows), "own": list(own)}


class Me:
    name: ClassVar[str] = "me"

    def start(self, ctx: DialogContext, args: JSON) -> Step:
        summary = citizen_summary(ctx.session, ctx.citizen)
        home = (
            say(ctx, "me.home", commune=commune_label(ctx.citizen.home_insee))
            if ctx.citizen.home_insee
            else say(ctx, "me.no_home")
        )
        spans = render_summary(ctx.t, summary)
        lists = _lists(ctx)
        options = [Choice(MENU + kind, ctx.t(f"me.manage.{kind}")) for kind, items in lists.items() if items]
        if not spans and not options:
            return Step.done(home, say(ctx, "me.empty"))
        listing = (say_spans(ctx, spans, choices=options) if spans
                   else say(ctx, "me.manage.intro", choices=options))
        return Step.wait({"step": "menu"}, home, listing) if options else Step.done(home, listing)

    def resume(self, ctx: DialogContext, state: JSON) -> Step:
        picked = chosen(ctx)
        step = state.get("step")
        if step == "menu" and picked and picked.startswith(MENU):
            return self.ask_pick(ctx, picked[len(MENU):])
        if step == "pick" and picked and picked.startswith(PICK):
            return self.on_pick(ctx, str(state.get("kind")), picked[len(PICK):])
        if step == "own" and picked and picked.startswith(OWN):
            return self.on_own(ctx, state, picked[len(OWN):])
        if step == "field" and picked and picked.startswith(FIELD):
            field_name = picked[len(FIELD):]
            if field_name in OWN_FIELDS:
                return ask(ctx, {**state, "step": "value", "field": field_name}, "me.manage.ask_value",
                           field=ctx.t(f"me.field.{field_name}"))
        if step == "value":
            return self.on_value(ctx, state)
        return Step.pass_on()  # anything else is a new request

    def ask_pick(self, ctx: DialogContext, kind: str) -> Step:
        items = _lists(ctx).get(kind, [])
        if not items:
            return Step.done(say(ctx, "me.manage.nothing"))
        lines = ListItems(tuple((Bold(e.name), Text(" — " + str(commune_label(e.commune_insee))))
                                for e in items[:SECTION_MAX]), numbered=True)
        options = [Choice(PICK + str(e.id), e.name if len(e.name) <= 40 else e.name[:39] + "…")
                   for e in items[:SECTION_MAX]]
        return Step.wait({"step": "pick", "kind": kind},
                         say_spans(ctx, [Text(ctx.t(f"me.manage.which.{kind}")), lines], choices=options))

    def on_pick(self, ctx: DialogContext, kind: str, key: str) -> Step:
        entry = ctx.session.get(Entry, int(key)) if key.isdigit() else None
        if entry is None:
            return Step.done(say(ctx, "me.manage.gone"))
        if kind == "withdraw":
            done = privacy.withdraw_recommendation(ctx.session, ctx.citizen, entry.id)
        elif kind == "leave":
            done = privacy.leave(ctx.session, ctx.citizen, entry.id)
        elif kind == "unfollow":
            done = privacy.unfollow(ctx.session, ctx.citizen, entry.id)
        else:
            if entry.created_by_id != ctx.citizen.id:
                return Step.done(say(ctx, "me.manage.gone"))
            options = [Choice(OWN + "edit", ctx.t("me.manage.edit"))]
            if not privacy.relied_on(ctx.session, ctx.citizen, entry):
                options.insert(0, Choice(OWN + "delete", ctx.t("me.manage.delete")))
                return ask(ctx, {"step": "own", "entry": entry.id}, "me.manage.own_ask", choices=options,
                           name=entry.name)
            return ask(ctx, {"step": "own", "entry": entry.id}, "me.manage.own_relied_ask", choices=options,
                       name=entry.name)
        return Step.done(say(ctx, f"me.manage.done.{kind}" if done else "me.manage.gone", name=entry.name))

    def on_own(self, ctx: DialogContext, state: JSON, action: str) -> Step:
        entry = ctx.session.get(Entry, int(state.get("entry") or 0))
        if entry is None or entry.created_by_id != ctx.citizen.id:
            return Step.done(say(ctx, "me.manage.gone"))
        if action == "delete":
            name = entry.name
            if privacy.delete_own(ctx.session, ctx.citizen, entry):
                return Step.done(say(ctx, "me.manage.deleted", name=name))
            return Step.done(say(ctx, "me.manage.relied", name=name))
        options = [Choice(FIELD + f, ctx.t(f"me.field.{f}")) for f in OWN_FIELDS]
        return ask(ctx, {**state, "step": "field"}, "me.manage.which_field", choices=options)

    def on_value(self, ctx: DialogContext, state: JSON) -> Step:
        entry = ctx.session.get(Entry, int(state.get("entry") or 0))
        field_name = str(state.get("field"))
        if entry is None or entry.created_by_id != ctx.citizen.id or field_name not in OWN_FIELDS:
            return Step.done(say(ctx, "me.manage.gone"))
        typed = user_text(ctx).strip()
        try:
            with ctx.session.begin_nested():
                moderation.edit(ctx.session, entry, field_name, typed, f"citizen:{ctx.citizen.id}", ctx.now)
        except services.InvalidEntry as invalid:
            problem = say_invalid(ctx, invalid, "me.manage.invalid")
            return ask(ctx, state, "me.manage.ask_value", before=(problem,),
                       field=ctx.t(f"me.field.{field_name}"))
        return Step.done(say(ctx, "me.manage.edited", name=entry.name, field=ctx.t(f"me.field.{field_name}")))


DIALOG = Me()

class MeState(StepState):
    """Me: what is being managed (a kind of link, an entry of one's own, a field)."""

    kind: str | None = None
    entry: int | None = None
    field: str | None = None


SPEC = DialogSpec(
    state=MeState,
    steps=("menu", "pick", "own", "field", "value"),
    free_text_steps=("value",),
    name="me",
    commands=(Command("me", ("moi",)),),
    intents=frozenset({"me"}),
    aside=True,
    summary="what I recommended, belong to and started",
)
