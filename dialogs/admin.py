"""``/admin``: bind a group chat or room to a commune (questions there default to it).

``/admin bind <commune name | postcode | INSEE>``, ``/admin unbind``, ``/admin`` (status).
Only in a group; binding and unbinding only for the bot's admins (config ``admins``) or
the chat's own moderators (anyone else gets a polite refusal and nothing changes); the
status is for everyone.
"""

from __future__ import annotations

from typing import Any, ClassVar

from bot.dialog import JSON, DialogContext, Step
from bot.dialog_state import CommuneQuestion
from bot.messages import ChatKind, Outgoing, Text
from bot.spec import Command, DialogSpec
from dialogs import admin_moderation
from dialogs import digest as digest_dialog
from dialogs.common import commune_label, resolve_commune_answer, say
from directory import digests
from directory.digests import Subscriber
from directory.models import ChatBinding
from directory.text import fold

BIND_WORDS = {"bind", "lier", "relier", "attacher"}
UNBIND_WORDS = {"unbind", "delier", "detacher"}
DIGEST_WORDS = {"digest", "resume"}


def split_args(text: str) -> tuple[str, str]:
    """``"bind Saint-Paul"`` -> ("bind", "Saint-Paul"); the action is folded (pure)."""
    head, _, rest = text.strip().partition(" ")
    action = fold(head)
    if action in BIND_WORDS:
        return "bind", rest.strip()
    if action in UNBIND_WORDS:
        return "unbind", rest.strip()
    if action in DIGEST_WORDS:
        return "digest", fold(rest)
    return ("status", "") if not action else ("unknown", text.strip())


def _binding(ctx: DialogContext) -> ChatBinding | None:
    incoming = ctx.incoming
    return ctx.session.get(ChatBinding, (incoming.platform, incoming.chat_id))


def _bind(ctx: DialogContext, insee: str) -> Step:
    incoming = ctx.incoming
    binding = _binding(ctx)
    who = f"{incoming.platform}:{incoming.user_id}"
    if binding is None:
        ctx.session.add(ChatBinding(platform=incoming.platform, chat_id=incoming.chat_id,
                                    commune_insee=insee, bound_by=who))
    else:
        binding.commune_insee = insee
        binding.bound_by = who
    ctx.session.flush()
    label = commune_label(insee)
    row = digests.subscription_of(ctx.session, _room(ctx))
    if binding is not None and row is None:
        # bound again (another commune) after its moderators turned the digest off: it stays off
        both = ctx.t("admin.bound", commune=label) + "\n" + ctx.t("admin.digest_still_off")
        return Step.done(Outgoing(spans=(Text(both),), lang=ctx.lang))
    # a bound room or group gets the commune's weekly digest unless told otherwise (bound
    # again, its digest follows the new commune at the hour it had)
    digests.subscribe(ctx.session, _room(ctx), frequency=row.frequency if row is not None else "weekly",
                      communes=[insee], now=ctx.now, hour=row.hour if row is not None else None)
    both = ctx.t("admin.bound", commune=label) + "\n" + ctx.t("admin.digest_on", commune=label)
    return Step.done(Outgoing(spans=(Text(both),), lang=ctx.lang))  # one message, not two


def _room(ctx: DialogContext) -> Subscriber:
    return Subscriber(platform=ctx.incoming.platform, chat_id=ctx.incoming.chat_id)


DIGEST_OFF_WORDS = {"off", "non", "no", "stop", "stopper", "arret", "arreter", "desactiver", "disable"}
DIGEST_ON_WORDS = {"on", "oui", "yes", "marche", "activer", "enable", "reprendre", "resume", "start"}


def _digest(ctx: DialogContext, word: str) -> Step:
    """``/admin digest off`` / ``on``: the room's weekly digest (it takes effect at once);
    ``/admin digest``: whether the room gets it."""
    binding = _binding(ctx)
    if binding is None:
        return Step.done(say(ctx, "admin.not_bound"))
    if word in DIGEST_OFF_WORDS:
        digests.unsubscribe(ctx.session, _room(ctx))
        return Step.done(say(ctx, "admin.digest_off"))
    if word in DIGEST_ON_WORDS:
        digests.subscribe(ctx.session, _room(ctx), frequency="weekly", communes=[binding.commune_insee],
                          now=ctx.now)
        return Step.done(say(ctx, "admin.digest_on", commune=commune_label(binding.commune_insee)))
    row = digests.subscription_of(ctx.session, _room(ctx))
    status = (say(ctx, "admin.digest_status_on", current=digest_dialog.describe_row(ctx, row))
              if row is not None else say(ctx, "admin.digest_status_off"))
    if not word:
        return Step.done(status, say(ctx, "admin.digest_usage"))
    return Step.done(say(ctx, "admin.digest_usage"))


class Admin:
    name: ClassVar[str] = "admin"

    def start(self, ctx: DialogContext, args: JSON) -> Step:
        text = str(args.get("text") or "")
        head, _sep, tail = text.strip().partition(" ")
        moderating = admin_moderation.action_of(head) if head else None
        if moderating is None and not head and ctx.incoming.chat_kind != ChatKind.GROUP:
            moderating = "help"  # "/admin" in a direct chat: what the caller may do
        if moderating is not None:
            return admin_moderation.run(ctx, moderating, tail)
        if ctx.incoming.chat_kind != ChatKind.GROUP:
            return Step.done(say(ctx, "admin.group_only"))
        action, rest = split_args(text)
        if action in {"bind", "unbind", "digest"} and not (ctx.is_admin or ctx.incoming.chat_moderator):
            return Step.done(say(ctx, "admin.digest_refused" if action == "digest" else "admin.refused"))
        if action == "digest":
            return _digest(ctx, rest)
        if action == "bind":
            if not rest:
                return Step.done(say(ctx, "admin.usage"))
            answer = resolve_commune_answer(
                ctx, {"_commune_key": "admin.ask_commune"}, text=rest
            )
            if answer.insee is not None:
                return _bind(ctx, answer.insee)
            assert answer.step is not None
            return Step.wait({**(answer.step.state or {}), "step": "bind"}, *answer.step.replies)
        if action == "unbind":
            binding = _binding(ctx)
            if binding is None:
                return Step.done(say(ctx, "admin.not_bound"))
            ctx.session.delete(binding)
            digests.unsubscribe(ctx.session, _room(ctx))
            ctx.session.flush()
            return Step.done(say(ctx, "admin.unbound"))
        binding = _binding(ctx)
        status = (
            say(ctx, "admin.status", commune=commune_label(binding.commune_insee))
            if binding is not None
            else say(ctx, "admin.not_bound")
        )
        return Step.done(status, say(ctx, "admin.usage"))

    def resume(self, ctx: DialogContext, state: JSON) -> Step:
        if state.get("step") == "confirm":
            return admin_moderation.on_confirm(ctx, state)
        if state.get("step") != "bind":
            return Step.pass_on()
        if not (ctx.is_admin or ctx.incoming.chat_moderator):
            return Step.done(say(ctx, "admin.refused"))
        answer = resolve_commune_answer(ctx, state)
        if answer.insee is not None:
            return _bind(ctx, answer.insee)
        assert answer.step is not None
        return Step.wait({**(answer.step.state or {}), "step": "bind"}, *answer.step.replies)


DIALOG = Admin()

class AdminState(CommuneQuestion):
    """Admin: the commune question of ``/admin bind``, or a destructive moderation command
    waiting for its confirmation (``pending``)."""

    pending: dict[str, Any] | None = None

SPEC = DialogSpec(
    state=AdminState,
    name="admin",
    commands=(Command("admin", menu=False),),
    steps=("bind", "confirm"),
    summary="bind a group or room to a commune",
)
