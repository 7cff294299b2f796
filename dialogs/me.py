"""``/me``: what I recommended, the associations I belong to, my projects.

Read-only: one message with three short lists (each capped, with "and N more"), built
from ``directory.services.citizen_summary``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from bot.dialog import JSON, DialogContext, Step
from bot.i18n import Translator
from bot.messages import Bold, Inline, Italic, LineBreak, ListItems, Span, Text
from bot.spec import Command, DialogSpec
from dialogs.common import category_name, commune_label, say, say_spans
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
        if not spans:
            return Step.done(home, say(ctx, "me.empty"))
        return Step.done(home, say_spans(ctx, spans))

    def resume(self, ctx: DialogContext, state: JSON) -> Step:
        return Step.pass_on()


DIALOG = Me()

SPEC = DialogSpec(
    name="me",
    commands=(Command("me", ("moi",)),),
    intents=frozenset({"me"}),
    aside=True,
    summary="what I recommended, belong to and started",
)
