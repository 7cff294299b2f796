"""The citizen's data from the chat: ``/privacy`` (what is stored, why, who sees it, for
how long), ``/mydata`` (all of it, as one JSON file), ``/forget`` (erase it all, after a
confirmation), ``/link`` (a one-time code that makes another platform's account the same
citizen; ``/link 123456`` on the other platform redeems it).

Steps: ``forget`` (waiting for the confirmation). Everything else answers at once.
"""

from __future__ import annotations

import json
from typing import ClassVar

from bot.dialog import JSON, DialogContext, Step
from bot.dialog_state import StepState
from bot.messages import Choice, Document, Outgoing
from bot.spec import Command, DialogSpec
from dialogs import common
from directory import privacy

FORGET = "forget:yes"
KEEP = "forget:no"
#: what ``/mydata`` writes, and how it names the file
MIME = "application/json"


class PrivacyDialog:
    """See the module docstring; the command names the action."""

    name: ClassVar[str] = "privacy"

    def start(self, ctx: DialogContext, args: JSON) -> Step:
        command = str(args.get("command_name") or "")
        text = str(args.get("text") or "").strip()
        if command in {"mydata", "mesdonnees"}:
            return self.mydata(ctx)
        if command in {"forget", "oublier"}:
            return self.ask_forget(ctx)
        if command in {"link", "lier"}:
            return self.link(ctx, text)
        days = ctx.services.retention_days
        return Step.done(common.say(ctx, "privacy.policy", days=ctx.t.number(days)))

    def mydata(self, ctx: DialogContext) -> Step:
        data = privacy.export(ctx.session, ctx.citizen)
        raw = json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")
        document = Document(f"communebot-mydata-{ctx.citizen.id}.json", MIME, raw)
        return Step.done(common.say(ctx, "privacy.mydata"), Outgoing(document=document, lang=ctx.lang))

    def ask_forget(self, ctx: DialogContext) -> Step:
        options = (Choice(FORGET, ctx.t("privacy.forget.yes")), Choice(KEEP, ctx.t("privacy.forget.no")))
        return common.ask(ctx, {"step": "forget"}, "privacy.forget.ask", choices=options)

    def link(self, ctx: DialogContext, text: str) -> Step:
        code = text.replace(" ", "")
        if not code:
            fresh = privacy.new_link_code(ctx.session, ctx.citizen, ctx.now)
            return Step.done(common.say(ctx, "privacy.link.code", code=fresh,
                                        minutes=ctx.t.number(int(privacy.LINK_VALID.total_seconds() // 60))))
        try:
            privacy.redeem_link_code(ctx.session, ctx.account, code, ctx.now)
        except privacy.LinkRefused as refused:
            if refused.reason == "paused" and refused.wait is not None:
                minutes = max(1, int(refused.wait.total_seconds() // 60) + 1)
                return Step.done(common.say(ctx, "privacy.link.paused", minutes=ctx.t.number(minutes)))
            return Step.done(common.say(ctx, f"privacy.link.{refused.reason}"))
        return Step.done(common.say(ctx, "privacy.link.done"))

    def resume(self, ctx: DialogContext, state: JSON) -> Step:
        if state.get("step") != "forget":
            return Step.pass_on()
        picked = common.chosen(ctx)
        yes_no = common.parse_yes_no(ctx.incoming.text) if picked is None else None
        if picked == KEEP or yes_no is False:
            return Step.done(common.say(ctx, "privacy.forget.kept"))
        if picked != FORGET and yes_no is not True:
            return Step.wait(state, common.say(ctx, "privacy.forget.hint",
                                               choices=(Choice(FORGET, ctx.t("privacy.forget.yes")),
                                                        Choice(KEEP, ctx.t("privacy.forget.no")))))
        goodbye = common.say(ctx, "privacy.forget.done")
        privacy.forget(ctx.session, ctx.citizen)
        return Step.done(goodbye)

DIALOG = PrivacyDialog()


class PrivacyState(StepState):
    """Privacy: waiting for the /forget confirmation."""


SPEC = DialogSpec(
    state=PrivacyState,
    name="privacy",
    # the menu shows /privacy, which names the others
    commands=(Command("privacy", ("confidentialite", "vieprivee")),
              Command("mydata", ("mesdonnees",), menu=False), Command("forget", ("oublier",), menu=False),
              Command("link", ("lier",), menu=False)),
    steps=("forget",),
    summary="what is stored and why; take it (/mydata), erase it (/forget), link accounts (/link)",
)
