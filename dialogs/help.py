"""``/help``: what the bot does, example questions and the commands, in one message."""

from __future__ import annotations

from typing import ClassVar

from bot.dialog import JSON, DialogContext, Step
from bot.i18n import Translator
from bot.messages import Bold, ChatKind, Inline, LineBreak, ListItems, Span, Text
from bot.spec import Command, DialogSpec
from dialogs import specs
from dialogs.common import say_spans

EXAMPLES = ("help.example.search", "help.example.near", "help.example.recommend",
            "help.example.join", "help.example.project")


def help_spans(t: Translator, *, group: bool = False) -> list[Span]:
    """The help text as spans (pure)."""
    spans: list[Span] = [Text(t("help.intro")), LineBreak(), LineBreak(),
                         Bold(t("help.examples")), LineBreak()]
    spans.append(ListItems(items=tuple((Text(t(key)),) for key in EXAMPLES)))
    spans += [LineBreak(), Bold(t("help.commands")), LineBreak()]
    items: list[tuple[Inline, ...]] = [
        (Bold("/" + name), Text(" — " + t(f"help.command.{name}"))) for name in specs().menu
    ]
    spans.append(ListItems(items=tuple(items)))
    spans += [LineBreak(), Text(t("help.group" if group else "help.location"))]
    return spans


class Help:
    name: ClassVar[str] = "help"

    def start(self, ctx: DialogContext, args: JSON) -> Step:
        group = ctx.incoming.chat_kind == ChatKind.GROUP
        return Step.done(say_spans(ctx, help_spans(ctx.t, group=group)))

    def resume(self, ctx: DialogContext, state: JSON) -> Step:
        return Step.pass_on()


DIALOG = Help()

SPEC = DialogSpec(
    name="help",
    commands=(Command("help", ("aide",)),),
    intents=frozenset({"help"}),
    aside=True,
    summary="what the bot does, examples and commands",
)
