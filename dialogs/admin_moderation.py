"""``/admin`` moderation commands (``!admin`` on Matrix): help, stats, reports, hide,
restore, delete, edit, merge, verify, ban, unban, broadcast, grant, revoke, log.

Who may do what: superadmins (config ``admins``: account ids) everything; a commune's
moderators (granted with ``/admin grant``, or the moderators of a room or group bound to
it, typing there) act on that commune's entries, reports, statistics, log and broadcast;
anyone else gets one clear "not allowed" and nothing happens. Destructive commands
(delete, merge, ban, broadcast) show what they will do and wait for a confirmation; the
confirmation re-checks everything (a replayed or forged button acts on nothing else).
Every action writes its audit row in the same transaction (``directory.moderation``).
"""

from __future__ import annotations

from typing import Any

from bot.dialog import JSON, DialogContext, Step
from bot.i18n import translator
from bot.messages import Bold, Choice, LineBreak, ListItems, Outgoing, Span, Target, TargetKind, Text
from bot.outbox import citizen_target
from dialogs import common
from directory import moderation, services
from directory.gazetteer import get_gazetteer
from directory.models import Entry, EntryStatus
from directory.text import fold

#: every moderation action, and who may use it (True: superadmins only)
ACTIONS: dict[str, bool] = {
    "help": False, "stats": False, "reports": False, "hide": False, "restore": False,
    "delete": False, "edit": False, "merge": False, "verify": False, "log": False,
    "broadcast": False, "ban": True, "unban": True, "grant": True, "revoke": True,
}  # fmt: skip
ALIASES = {"aide": "help", "stat": "stats", "statistiques": "stats", "signalements": "reports",
           "masquer": "hide", "cacher": "hide", "retablir": "restore", "supprimer": "delete",
           "modifier": "edit", "fusionner": "merge", "verifier": "verify", "valider": "verify",
           "journal": "log", "diffuser": "broadcast", "annonce": "broadcast", "bannir": "ban",
           "debannir": "unban", "nommer": "grant", "retirer": "revoke"}
DESTRUCTIVE = frozenset({"delete", "merge", "ban", "broadcast"})
CONFIRM = "confirm"
DROP = "drop"


def action_of(word: str) -> str | None:
    folded = fold(word)
    folded = ALIASES.get(folded, folded)
    return folded if folded in ACTIONS else None


def actor(ctx: DialogContext) -> str:
    return moderation.account_key(ctx.incoming.platform, ctx.incoming.user_id)


def communes_of(ctx: DialogContext) -> set[str] | None:
    """The communes the caller moderates; None for a superadmin (every commune)."""
    if ctx.is_admin:
        return None
    found = moderation.moderated_communes(ctx.session, actor(ctx))
    if ctx.incoming.chat_moderator and ctx.chat_commune:
        found.add(ctx.chat_commune)  # a bound room's or group's own moderators
    return found


def may(ctx: DialogContext, action: str, commune: str | None = None) -> bool:
    scope = communes_of(ctx)
    if scope is None:
        return True
    if ACTIONS.get(action, True) or not scope:
        return False
    return commune is None or commune in scope


def _entry(ctx: DialogContext, text: str, *, any_status: bool = True) -> Entry | None:
    key = text.strip().lstrip("#").removeprefix("e")
    if not key.isdigit() or len(key) > 12:
        return None
    entry = ctx.session.get(Entry, int(key))
    if entry is None or (not any_status and entry.status != EntryStatus.ACTIVE.value):
        return None
    return entry


def _commune(ctx: DialogContext, text: str) -> str | None:
    """An INSEE code, a postcode or a name; of namesakes, the one near the caller's home
    (an admin command names a commune it knows, it does not start a conversation)."""
    code = text.strip()
    gazetteer = get_gazetteer()
    if gazetteer.current(code) is not None:
        return code
    found = [c for c in gazetteer.exact(fold(text), include_former=False) if c.is_current] or [
        c for c in gazetteer.by_postcode(code) if c.is_current]
    near = [c for c in found if common.near_home(ctx, c.insee)]
    if len(found) == 1 or len(near) == 1:
        return (near or found)[0].insee
    return None


def say(ctx: DialogContext, key: str, **values: Any) -> Outgoing:
    return common.say(ctx, key, **values)


def refused(ctx: DialogContext) -> Step:
    return Step.done(say(ctx, "moderation.refused"))


def run(ctx: DialogContext, action: str, rest: str) -> Step:
    """Carry out ``/admin <action> <rest>`` (the caller's rights are checked here)."""
    if not ctx.is_admin and (ACTIONS[action] or communes_of(ctx) == set()):
        return refused(ctx)  # a superadmin's command, or no role at all: one clear "not allowed"
    handler = {
        "help": _help, "stats": _stats, "reports": _reports, "log": _log, "hide": _hide,
        "restore": _restore, "verify": _verify, "edit": _edit, "delete": _delete, "merge": _merge,
        "ban": _ban, "unban": _unban, "broadcast": _broadcast, "grant": _grant, "revoke": _revoke,
    }[action]
    return handler(ctx, rest)


# --- reading ------------------------------------------------------------------------------------


def _help(ctx: DialogContext, _rest: str) -> Step:
    lines = [say(ctx, "moderation.help.intro")]
    allowed = [a for a in ACTIONS if may(ctx, a)]
    items = tuple((Text(ctx.t(f"moderation.help.{a}")),) for a in allowed)
    return Step.done(*lines, common.say_spans(ctx, [ListItems(items)]))


def _stats(ctx: DialogContext, _rest: str) -> Step:
    scope = communes_of(ctx)
    found = moderation.stats(ctx.session, ctx.now, scope)
    where = (ctx.t("moderation.stats.everywhere") if scope is None else
             ", ".join(str(common.commune_label(c)) for c in sorted(scope)))
    n = ctx.t.number
    kinds = ", ".join(f"{ctx.t(f'moderation.kind.{k}')} {n(c)}" for k, c in sorted(found.entries.items()))
    spans: list[Span] = [Bold(ctx.t("moderation.stats.title", where=where)), LineBreak(),
                         Text(ctx.t("moderation.stats.citizens", count=n(found.citizens))), LineBreak(),
                         Text(ctx.t("moderation.stats.entries", kinds=kinds or "0")), LineBreak(),
                         Text(ctx.t("moderation.stats.recommendations", count=n(found.recommendations))),
                         LineBreak(), Text(ctx.t("moderation.stats.digests", count=n(found.digests)))]
    if found.days:
        spans += [LineBreak(), Text(ctx.t("moderation.stats.days")), ListItems(tuple(
            (Text(ctx.t("moderation.stats.day", day=day.isoformat(), messages=ctx.t.number(messages),
                        users=ctx.t.number(users))),) for day, messages, users in found.days))]
    return Step.done(common.say_spans(ctx, spans))


def _reports(ctx: DialogContext, _rest: str) -> Step:
    reports = moderation.open_reports(ctx.session, communes_of(ctx))
    if not reports:
        return Step.done(say(ctx, "moderation.reports.none"))
    items = []
    for report in reports:
        entry = ctx.session.get(Entry, report.entry_id)
        if entry is None:
            continue
        text = ctx.t("moderation.reports.line", id=entry.id, name=entry.name,
                     commune=common.commune_label(entry.commune_insee),
                     reason=ctx.t(f"report.reason.{report.reason}"))
        if report.details:
            text += f" — « {report.details} »"
        items.append((Text(text),))
    return Step.done(common.say_spans(ctx, [Text(ctx.t("moderation.reports.title")), ListItems(tuple(items)),
                                            Text(ctx.t("moderation.reports.how"))]))


def _log(ctx: DialogContext, rest: str) -> Step:
    scope = communes_of(ctx)
    wanted = _commune(ctx, rest) if rest.strip() else None
    if rest.strip() and wanted is None:
        return Step.done(say(ctx, "moderation.unknown_commune", text=rest.strip()[:60]))
    if wanted is not None:
        if scope is not None and wanted not in scope:
            return refused(ctx)
        scope = {wanted}
    rows = moderation.audit_log(ctx.session, scope)
    if not rows:
        return Step.done(say(ctx, "moderation.log.none"))
    items = tuple((Text(ctx.t("moderation.log.line", when=row.created_at.strftime("%Y-%m-%d %H:%M"),
                              actor=row.actor, action=row.action, target=row.target or "",
                              commune=row.commune_insee or "—")),) for row in rows)
    return Step.done(common.say_spans(ctx, [Text(ctx.t("moderation.log.title")), ListItems(items)]))


# --- entries --------------------------------------------------------------------------------------


def _on_entry(ctx: DialogContext, action: str, rest: str) -> tuple[Entry | None, Step | None]:
    key = rest.split(maxsplit=1)[0] if rest.strip() else ""
    entry = _entry(ctx, key)
    if entry is None:
        return None, Step.done(say(ctx, "moderation.no_entry", text=key[:20] or "—", action=action))
    if not may(ctx, action, entry.commune_insee):
        return None, refused(ctx)
    return entry, None


def _hide(ctx: DialogContext, rest: str) -> Step:
    entry, problem = _on_entry(ctx, "hide", rest)
    if entry is None:
        return problem or refused(ctx)
    changed = moderation.hide(ctx.session, entry, actor(ctx), ctx.now)
    return Step.done(say(ctx, "moderation.hidden" if changed else "moderation.already", name=entry.name))


def _restore(ctx: DialogContext, rest: str) -> Step:
    entry, problem = _on_entry(ctx, "restore", rest)
    if entry is None:
        return problem or refused(ctx)
    changed = moderation.restore(ctx.session, entry, actor(ctx), ctx.now)
    return Step.done(say(ctx, "moderation.restored" if changed else "moderation.already", name=entry.name))


def _verify(ctx: DialogContext, rest: str) -> Step:
    entry, problem = _on_entry(ctx, "verify", rest)
    if entry is None:
        return problem or refused(ctx)
    changed = moderation.verify(ctx.session, entry, actor(ctx), ctx.now)
    return Step.done(say(ctx, "moderation.verified" if changed else "moderation.already", name=entry.name))


def _edit(ctx: DialogContext, rest: str) -> Step:
    parts = rest.split(maxsplit=2)
    if len(parts) < 3:
        return Step.done(say(ctx, "moderation.edit.usage", fields=", ".join(moderation.EDITABLE)))
    entry, problem = _on_entry(ctx, "edit", parts[0])
    if entry is None:
        return problem or refused(ctx)
    field_name = fold(parts[1]).replace(" ", "_")
    if field_name not in moderation.EDITABLE:
        return Step.done(say(ctx, "moderation.edit.usage", fields=", ".join(moderation.EDITABLE)))
    try:
        with ctx.session.begin_nested():
            moderation.edit(ctx.session, entry, field_name, parts[2], actor(ctx), ctx.now)
    except services.InvalidEntry as invalid:
        if invalid.reason == "formula":
            return Step.done(say(ctx, "directory.invalid.formula"))
        return Step.done(say(ctx, "moderation.edit.invalid", field=field_name, reason=invalid.reason))
    return Step.done(say(ctx, "moderation.edited", name=entry.name, field=field_name))


def _delete(ctx: DialogContext, rest: str) -> Step:
    entry, problem = _on_entry(ctx, "delete", rest)
    if entry is None:
        return problem or refused(ctx)
    return confirm(ctx, {"action": "delete", "entry": entry.id},
                   say(ctx, "moderation.delete.preview", name=entry.name, id=entry.id,
                       recommendations=ctx.t.number(entry.recommendation_count)))


def _merge(ctx: DialogContext, rest: str) -> Step:
    parts = rest.split()
    if len(parts) != 2:
        return Step.done(say(ctx, "moderation.merge.usage"))
    keep, problem = _on_entry(ctx, "merge", parts[0])
    if keep is None:
        return problem or refused(ctx)
    drop, problem = _on_entry(ctx, "merge", parts[1])
    if drop is None:
        return problem or refused(ctx)
    if keep.id == drop.id:
        return Step.done(say(ctx, "moderation.merge.same"))
    return confirm(ctx, {"action": "merge", "entry": keep.id, "other": drop.id},
                   say(ctx, "moderation.merge.preview", keep=keep.name, keep_id=keep.id, drop=drop.name,
                       drop_id=drop.id))


# --- people and communes ---------------------------------------------------------------------------


def _ban(ctx: DialogContext, rest: str) -> Step:
    account, _sep, reason = rest.strip().partition(" ")
    if not moderation.valid_account_key(account):
        return Step.done(say(ctx, "moderation.ban.usage"))
    citizen = moderation.citizen_of(ctx.session, account)
    if citizen is None:
        return Step.done(say(ctx, "moderation.no_account", account=account[:80]))
    if citizen.id == ctx.citizen.id:
        return Step.done(say(ctx, "moderation.ban.self"))
    return confirm(ctx, {"action": "ban", "account": account, "text": reason.strip()[:200]},
                   say(ctx, "moderation.ban.preview", account=account[:80]))


def _unban(ctx: DialogContext, rest: str) -> Step:
    account = rest.strip().split(" ")[0] if rest.strip() else ""
    citizen = moderation.citizen_of(ctx.session, account) if moderation.valid_account_key(account) else None
    if citizen is None:
        return Step.done(say(ctx, "moderation.no_account", account=account[:80] or "—"))
    changed = moderation.unban(ctx.session, citizen, actor(ctx), ctx.now)
    return Step.done(say(ctx, "moderation.unbanned" if changed else "moderation.not_banned", account=account))


def _broadcast(ctx: DialogContext, rest: str) -> Step:
    place, _sep, text = rest.strip().partition(" ")
    commune = _commune(ctx, place) if place else None
    if commune is None or not text.strip():
        return Step.done(say(ctx, "moderation.broadcast.usage"))
    if not may(ctx, "broadcast", commune):
        return refused(ctx)
    message = text.strip()[:2000]
    reach = len(moderation.citizens_of(ctx.session, commune))
    said = ctx.t("moderation.broadcast.preview", commune=common.commune_label(commune),
                 count=ctx.t.number(reach))
    preview = common.say_spans(ctx, [Text(said), LineBreak(), LineBreak(), Text(message)])
    return confirm(ctx, {"action": "broadcast", "commune": commune, "text": message}, preview)


def _grant(ctx: DialogContext, rest: str) -> Step:
    return _role(ctx, rest, grant=True)


def _revoke(ctx: DialogContext, rest: str) -> Step:
    return _role(ctx, rest, grant=False)


def _role(ctx: DialogContext, rest: str, *, grant: bool) -> Step:
    account, _sep, place = rest.strip().partition(" ")
    commune = _commune(ctx, place) if place.strip() else None
    if not moderation.valid_account_key(account) or commune is None:
        return Step.done(say(ctx, "moderation.grant.usage"))
    label = common.commune_label(commune)
    if grant:
        changed = moderation.grant(ctx.session, account, commune, actor(ctx), ctx.now)
        return Step.done(say(ctx, "moderation.granted" if changed else "moderation.already_granted",
                             account=account, commune=label))
    changed = moderation.revoke(ctx.session, account, commune, actor(ctx), ctx.now)
    return Step.done(say(ctx, "moderation.revoked" if changed else "moderation.not_granted",
                         account=account, commune=label))


# --- confirmation -----------------------------------------------------------------------------------


def confirm(ctx: DialogContext, pending: JSON, preview: Outgoing) -> Step:
    options = (Choice(CONFIRM, ctx.t("moderation.confirm")), Choice(DROP, ctx.t("moderation.drop")))
    question = say(ctx, "moderation.confirm_question")
    return Step.wait({"step": "confirm", "pending": pending},
                     preview, Outgoing(spans=question.spans, choices=options, lang=ctx.lang))


def on_confirm(ctx: DialogContext, state: JSON) -> Step:
    """The confirmation: everything is checked again (the entry may have changed, the
    caller's rights too)."""
    picked = common.chosen(ctx)
    yes_no = common.parse_yes_no(ctx.incoming.text) if picked is None else None
    if picked == DROP or yes_no is False:
        return Step.done(say(ctx, "moderation.dropped"))
    if picked != CONFIRM and yes_no is not True:
        return Step.wait(state, say(ctx, "moderation.confirm_hint"))
    pending = state.get("pending") or {}
    action = str(pending.get("action"))
    if action in {"delete", "merge"}:
        entry = _entry(ctx, str(pending.get("entry")))
        if entry is None or not may(ctx, action, entry.commune_insee):
            return Step.done(say(ctx, "moderation.gone"))
        if action == "delete":
            name = entry.name
            moderation.delete_entry(ctx.session, entry, actor(ctx), ctx.now)
            return Step.done(say(ctx, "moderation.deleted", name=name))
        other = _entry(ctx, str(pending.get("other")))
        if other is None or not may(ctx, action, other.commune_insee):
            return Step.done(say(ctx, "moderation.gone"))
        drop_name = other.name
        moved = moderation.merge(ctx.session, entry, other, actor(ctx), ctx.now)
        return Step.done(say(ctx, "moderation.merged", keep=entry.name, drop=drop_name,
                             recommendations=ctx.t.number(moved.recommendations),
                             memberships=ctx.t.number(moved.memberships),
                             follows=ctx.t.number(moved.follows)))
    if action == "ban":
        if not may(ctx, "ban"):
            return refused(ctx)
        citizen = moderation.citizen_of(ctx.session, str(pending.get("account")))
        if citizen is None:
            return Step.done(say(ctx, "moderation.gone"))
        reason = str(pending.get("text") or "")
        hidden = moderation.ban(ctx.session, citizen, actor(ctx), ctx.now, reason=reason)
        # one clear message in their language, then silence (the engine drops the rest)
        notice = Outgoing(spans=(Text(translator(citizen.lang or "fr")("moderation.ban.notice")),),
                          target=citizen_target(citizen.id), lang=citizen.lang or "fr")
        return Step.done(say(ctx, "moderation.banned", account=str(pending.get("account")),
                             hidden=ctx.t.number(hidden)), notice)
    if action == "broadcast":
        commune = str(pending.get("commune"))
        if not may(ctx, "broadcast", commune):
            return refused(ctx)
        text = str(pending.get("text") or "")
        people = moderation.citizens_of(ctx.session, commune)
        header = f"📣 {common.commune_label(commune)}"
        out = [Outgoing(spans=(Bold(header), LineBreak(), Text(text)), target=citizen_target(cid))
               for cid in people if cid != ctx.citizen.id]
        out.append(Outgoing(spans=(Bold(header), LineBreak(), Text(text)),
                            target=Target(TargetKind.COMMUNE_ROOM, ref=commune)))
        moderation.audit(ctx.session, actor(ctx), "broadcast", commune=commune, now=ctx.now,
                         people=len(people), text=text[:200])
        return Step.done(say(ctx, "moderation.broadcast.sent", count=ctx.t.number(len(people)),
                             commune=common.commune_label(commune)), *out)
    return Step.done(say(ctx, "moderation.gone"))

