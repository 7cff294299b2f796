"""The report dialog: "Signaler" on an entry's card. A reason (closed, wrong information,
duplicate, abuse, other), what is wrong in the citizen's words (required for "other",
optional otherwise), then thanks. The citizen is not told who moderates.

Steps: ``reason``, ``details``. Writing the report is the only write; the commune's
moderators are told (one ``Outgoing`` per moderator account, through the outbox) at most
once per entry per hour. A citizen past the day's cap of reports is told so by the engine
(``DailyCapReached``).
"""

from __future__ import annotations

from typing import ClassVar

from bot.dialog import JSON, DialogContext, Step
from bot.dialog_state import StepState
from bot.i18n import translator
from bot.messages import Bold, Choice, LineBreak, Outgoing, Span, StartLink, Target, TargetKind, Text
from bot.spec import DialogSpec
from dialogs import common
from dialogs.entry_questions import share_payload
from dialogs.entry_view import Bad, load_entry, read_text
from directory import moderation
from directory.models import Entry
from directory.services import LIMITS, DailyCapReached
from directory.text import fold

REASON = "reason:"
SKIP_WORDS = frozenset({"passer", "skip", "non", "no", "rien", "nothing", "ok", "c est tout", "that s all"})


class ReportDialog:
    """Report an entry; see the module docstring."""

    name: ClassVar[str] = "report"

    def start(self, ctx: DialogContext, args: JSON) -> Step:
        entry = load_entry(ctx, args.get("entry_id"))
        if entry is None:
            return Step.done(common.say(ctx, "report.gone"))
        if moderation.reports_today(ctx.session, ctx.citizen, ctx.now) >= LIMITS.daily_reports:
            raise DailyCapReached("reports", LIMITS.daily_reports)
        return self.ask_reason(ctx, {"step": "reason", "entry": entry.id}, entry)

    def ask_reason(self, ctx: DialogContext, state: JSON, entry: Entry,
                   before: tuple[Outgoing, ...] = ()) -> Step:
        options = tuple(Choice(REASON + r, ctx.t(f"report.reason.{r}")) for r in moderation.REPORT_REASONS)
        return common.ask(ctx, {**state, "step": "reason"}, "report.ask_reason", choices=options,
                          before=before, name=entry.name)

    def resume(self, ctx: DialogContext, state: JSON) -> Step:
        entry = load_entry(ctx, state.get("entry"))
        if entry is None:
            return Step.done(common.say(ctx, "report.gone"))
        if state.get("step") == "details":
            return self.on_details(ctx, state, entry)
        picked = common.chosen(ctx)
        reason = picked[len(REASON):] if picked and picked.startswith(REASON) else self.typed_reason(ctx)
        if reason not in moderation.REPORT_REASONS:
            return self.ask_reason(ctx, state, entry, (common.say(ctx, "report.pick_hint"),))
        key = "report.ask_other" if reason == "other" else "report.ask_details"
        skip = () if reason == "other" else (Choice(common.SKIP, ctx.t("report.skip")),)
        return common.ask(ctx, {**state, "step": "details", "reason": reason}, key, choices=skip)

    def typed_reason(self, ctx: DialogContext) -> str | None:
        """A reason typed in words ("fermé", "doublon", "wrong number")."""
        words = fold(ctx.incoming.text).split()
        for reason, stems in (("closed", ("ferm", "closed", "n existe plus", "disparu")),
                              ("duplicate", ("doublon", "duplicate", "deux fois", "twice")),
                              ("abuse", ("abus", "insult", "arnaque", "spam", "scam", "offens")),
                              ("wrong", ("faux", "erron", "wrong", "incorrect", "mauvais", "numero"))):
            if any(word.startswith(stem) for word in words for stem in stems):
                return reason
        return None

    def on_details(self, ctx: DialogContext, state: JSON, entry: Entry) -> Step:
        reason = str(state.get("reason"))
        details = ""
        if common.chosen(ctx) != common.SKIP and fold(ctx.incoming.text) not in SKIP_WORDS:
            typed = read_text(ctx.incoming.text, max_len=1000)
            if isinstance(typed, Bad):
                key = "report.ask_other" if reason == "other" else "report.ask_details"
                return common.ask(ctx, state, key, before=(typed.reply(ctx),))
            details = typed
        elif reason == "other":
            needed = common.say(ctx, "report.other_needed")
            return common.ask(ctx, state, "report.ask_other", before=(needed,))
        _report, notify = moderation.file_report(ctx.session, ctx.citizen, entry, reason, details, ctx.now)
        replies = [common.say(ctx, "report.thanks", name=entry.name)]
        if notify:
            replies += [self.notice(entry, account, reason, details)
                        for account in moderation.moderators_of(ctx.session, entry.commune_insee)]
        return Step.done(*replies)

    def notice(self, entry: Entry, account: str, reason: str, details: str) -> Outgoing:
        """What a moderator of the commune reads (in French, the communes' language; the
        reporter is not named)."""
        t = translator("fr")
        platform, _sep, user_id = account.partition(":")
        spans: list[Span] = [Text(t("report.notice", commune=common.commune_label(entry.commune_insee))),
                             LineBreak(), Bold(entry.name), Text(" — " + t(f"report.reason.{reason}"))]
        if details:
            spans += [LineBreak(), Text(f"« {details} »")]
        spans += [LineBreak(), StartLink(t("report.open"), share_payload(entry.id)), LineBreak(),
                  Text(t("report.queue"))]
        target = Target(TargetKind.USER, platform=platform if platform in {"telegram", "matrix", "console"}
                        else None, ref=user_id)  # type: ignore[arg-type]
        return Outgoing(spans=tuple(spans), target=target, lang="fr")


DIALOG = ReportDialog()


class ReportState(StepState):
    """Report: the entry, and the reason once chosen."""

    entry: int | None = None
    reason: str | None = None


SPEC = DialogSpec(
    state=ReportState,
    name="report",
    steps=("reason", "details"),
    free_text_steps=("details",),
    summary="report an entry to the commune's moderators (from its card)",
)
