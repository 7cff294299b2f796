"""Registration: greet a newcomer in their language and learn their home commune.

Ways in (``start`` args):
* first contact (``first``): a greeting, then the commune question;
* ``/start 97415`` (``payload``: an INSEE code or postcode, as a deep link carries it):
  registered at once when it names one commune, else the question;
* "j'habite à Saint-Pierre" (NLU ``intent=register`` with ``commune`` /
  ``commune_candidates``): a confirmation, or the candidates;
* a shared location (``location``): its commune, to confirm.

A newcomer whose first message asked for something ("garagiste au Port") is registered
first; the question is kept in the state and answered right after (``Step.then``).

A commune typed as text or found from a location is confirmed (yes/no) before it is
saved; a pressed candidate is itself the confirmation. "No" asks again; a new name typed
instead of yes/no is taken as a new answer; a question typed instead of yes/no ("crèche
près de chez moi") accepts the commune and is answered right after.
"""

from __future__ import annotations

from typing import Any, ClassVar

from bot.dialog import JSON, DialogContext, Step
from bot.dialog_state import CommuneQuestion
from bot.messages import Choice, Outgoing
from bot.spec import Command, DialogSpec
from dialogs.common import (
    COMMUNE_PREFIX,
    MAX_CANDIDATES,
    NO,
    YES,
    answer_yes_no,
    ask_commune,
    ask_yes_no,
    chosen,
    commune,
    commune_choices,
    commune_label,
    is_other_request,
    near_home,
    rank_communes,
    resolve_commune_answer,
    say,
)
from directory import digests
from directory.digests import Subscriber
from directory.gazetteer import get_gazetteer

ASK = "register.ask_commune"


#: the digest offer's buttons: plain yes/no ids, so that a typed "oui" or "non" answers
#: them too after registration ended (the engine maps it for a finished dialog's yes/no)
DIGEST_YES = YES
DIGEST_NO = NO


def _save(ctx: DialogContext, insee: str, point: Any) -> Step:
    """Store the home commune (and the point when one was shared); say what happens next,
    and offer the weekly digest (buttons the citizen may ignore: nobody is subscribed
    without saying yes)."""
    citizen = ctx.citizen
    if citizen.home_insee != insee or point:
        citizen.home_lat, citizen.home_lon = (point[0], point[1]) if point else (None, None)
    citizen.home_insee = insee
    ctx.session.flush()
    replies = [say(ctx, "register.done", commune=commune_label(insee)), say(ctx, "register.next")]
    if digests.subscription_of(ctx.session, Subscriber(citizen_id=citizen.id)) is None:
        replies.append(say(ctx, "register.digest_offer", commune=commune_label(insee),
                           choices=(Choice(DIGEST_YES, ctx.t("register.digest_yes")),
                                    Choice(DIGEST_NO, ctx.t("register.digest_no")))))
    return Step.done(*replies)


def _is_offer(reply: Outgoing) -> bool:
    return any(choice.id in {DIGEST_YES, DIGEST_NO} for choice in reply.choices)


def _digest_answer(ctx: DialogContext, picked: str) -> Step:
    """The offer's buttons, pressed after registration ended (the engine hands a button of
    a finished dialog back to it)."""
    if picked == DIGEST_NO or not ctx.citizen.home_insee:
        return Step.done(say(ctx, "register.digest_declined"))
    digests.subscribe(ctx.session, Subscriber(citizen_id=ctx.citizen.id), frequency="weekly",
                      communes=[ctx.citizen.home_insee], now=ctx.now)
    return Step.done(say(ctx, "register.digest_subscribed", commune=commune_label(ctx.citizen.home_insee)))


def _confirm(ctx: DialogContext, insee: str, point: Any = None, before: tuple[Any, ...] = ()) -> Step:
    state: JSON = {"step": "confirm", "insee": insee, "point": list(point) if point else None}
    return ask_yes_no(ctx, state, "register.confirm", before=before, commune=commune_label(insee))


def _from_payload(payload: str) -> str | None:
    """An INSEE code (preferred) or a postcode naming exactly one commune, from a deep link."""
    text = payload.strip()
    if not text or len(text) > 64:
        return None
    matches = get_gazetteer().resolve(text, limit=3)
    for match in matches:  # links carry INSEE codes: one wins over a same-looking postcode
        if match.matched == "insee":
            return str(match.commune.insee)
    if not matches or matches[0].matched != "postcode":
        return None
    insee, _candidates = rank_communes(matches)
    return insee


#: first messages that are a request to answer once registered ("garagiste au Port")
_PENDING_INTENTS = frozenset({"search", "recommend", "join", "announce_project"})


def pending_request(args: JSON) -> str | None:
    """The text of a newcomer's first message when it asked for something (pure)."""
    text = str(args.get("text") or "").strip()
    intent = args.get("intent")
    if not text or intent not in _PENDING_INTENTS:
        return None
    if intent == "search" and not args.get("category"):
        return None  # "Le Port" alone is rather an answer to come than a question
    return text


def _carry(ctx: DialogContext, step: Step, then: str | None) -> Step:
    """Keep the pending request along the dialog; hand it to the engine at the end (and
    drop the "ask me for instance..." hint: the answer to their question follows)."""
    if then:
        if step.state is not None:
            step.state["then"] = then
        elif not step.handoff:
            step.then = then
            # the answer to their question follows: no "ask me for instance…" hint, and no
            # digest offer (its buttons would hold the question back; /digest is there)
            hint = say(ctx, "register.next").spans
            step.replies = [r for r in step.replies if r.spans != hint and not _is_offer(r)]
    return step


def _asks_something_else(ctx: DialogContext) -> bool:
    """A request other than saying where one lives: "i live in le port" or "j'habite au
    Tampon" typed at the commune question is its answer, not a new request."""
    return getattr(ctx.parse, "intent", None) not in {"register", "move"} and is_other_request(ctx)


def _names_another_commune(ctx: DialogContext, decision: bool | None) -> bool:
    """A no with a commune in it, or "j'habite à …" typed at the confirmation."""
    intent = getattr(ctx.parse, "intent", None)
    return bool(getattr(ctx.parse, "commune", None)) and (
        decision is False or intent == "no" or intent in {"register", "move"})


def _keep_asking(ctx: DialogContext, state: JSON) -> Step:
    """A question typed while a newcomer's commune is still being asked ("ya un garagiste
    pas loin ?" at the Saint-Pierre buttons): it is kept and answered once the commune is
    known, and the commune question stays on screen."""
    kept = {**state, "then": ctx.incoming.text}
    pending = [c for c in state.get("_commune_candidates") or [] if commune(c)]
    note = say(ctx, "register.answer_after")
    if pending:
        return Step.wait(kept, note, say(ctx, "common.commune.pick", choices=commune_choices(pending)))
    return ask_commune(ctx, kept, ASK, before=(note,))


class Register:
    name: ClassVar[str] = "register"

    def start(self, ctx: DialogContext, args: JSON) -> Step:
        then = pending_request(args) if args.get("first") else None
        return _carry(ctx, self._start(ctx, args, answer_after=bool(then)), then)

    def resume(self, ctx: DialogContext, state: JSON) -> Step:
        then = state.get("then")
        return _carry(ctx, self._resume(ctx, state), str(then) if then else None)

    def interrupted(self, ctx: DialogContext, state: JSON) -> list[Outgoing] | Step:
        """A new request typed at the confirmation: they went on, so the commune stands
        ("97460" → "Saint-Paul ?" → "kel garaj o tampon" keeps Saint-Paul). Typed while a
        newcomer's commune is still asked, it waits for the commune."""
        if state.get("step") == "commune" and not ctx.citizen.home_insee:
            return _keep_asking(ctx, state)
        if state.get("step") != "confirm" or not state.get("insee") or not commune(str(state["insee"])):
            return []
        saved = _save(ctx, str(state["insee"]), state.get("point"))
        hint = say(ctx, "register.next").spans
        # the request is answered right after: no hint, and no offer whose buttons its
        # answer would replace (/digest is there)
        return [r for r in saved.replies if r.spans != hint and not _is_offer(r)]

    def _start(self, ctx: DialogContext, args: JSON, *, answer_after: bool = False) -> Step:
        name = ctx.citizen.display_name
        greeting = say(ctx, "register.hello_named", name=name) if name else say(
            ctx, "register.hello"
        )
        first = bool(args.get("first"))
        before: tuple[Outgoing, ...] = (greeting,) if first else ()
        if answer_after:  # their first message asked something: say it is not forgotten
            before += (say(ctx, "register.answer_after"),)
        payload = str(args.get("payload") or "")
        if payload:
            insee = _from_payload(payload)
            if insee is not None:
                step = _save(ctx, insee, None)
                return Step.done(*before, *step.replies)
        if args.get("location") and ctx.incoming.location is not None:
            answer = resolve_commune_answer(ctx, {"_commune_key": ASK})
            if answer.insee is not None:
                return _confirm(ctx, answer.insee, answer.point, before)
            if answer.step is not None:
                return Step.wait({"step": "commune", **(answer.step.state or {})},
                                 *before, *answer.step.replies)
        if args.get("intent") in {"register", "move"}:
            code = args.get("commune")
            candidates = [c for c in args.get("commune_candidates") or [] if commune(c)]
            if code and commune(code) is not None and (
                len(candidates) <= 1 or near_home(ctx, str(code))
            ):
                # one commune, or the namesake near home: confirm it (yes/no); "no" asks again
                return _confirm(ctx, str(code), None, before)
            candidates = candidates[:MAX_CANDIDATES]
            if candidates:
                state: JSON = {"step": "commune", "_commune_key": ASK, "_commune_values": {},
                               "_commune_candidates": candidates}
                named = commune(str(code)) if code else None
                question = say(ctx, "common.commune.which",
                               text=named.name if named is not None else str(args.get("text", "")),
                               choices=commune_choices(candidates))
                return Step.wait(state, *before, question)
        if not first and ctx.citizen.home_insee and not args.get("intent"):
            return Step.done(
                say(ctx, "register.welcome_back", commune=commune_label(ctx.citizen.home_insee)),
                say(ctx, "register.next"),
            )
        return ask_commune(ctx, {"step": "commune"}, ASK, before=before)

    def _resume(self, ctx: DialogContext, state: JSON) -> Step:
        picked_offer = chosen(ctx)
        if not state and picked_offer in {DIGEST_YES, DIGEST_NO}:
            return _digest_answer(ctx, str(picked_offer))
        if not state:
            return Step.pass_on()  # registration is over: anything typed is a new request
        if state.get("step") == "confirm" and state.get("insee"):
            picked = chosen(ctx)
            decision = answer_yes_no(ctx)
            if decision is True:
                return _save(ctx, str(state["insee"]), state.get("point"))
            if picked is None and _names_another_commune(ctx, decision):
                # "non, j'habite au Port", "en fait j'habite à St-Paul": a new answer
                return self._resume(ctx, {"step": "commune"})
            if decision is False or (picked is not None and not picked.startswith(COMMUNE_PREFIX)):
                return ask_commune(ctx, {"step": "commune"}, ASK)
            if not ctx.incoming.text and ctx.incoming.location is None:
                return _confirm(ctx, str(state["insee"]), state.get("point"))
            if picked is None and ctx.incoming.location is None and _asks_something_else(ctx):
                # "crèche près de chez moi" instead of yes: they went on, so the commune
                # stands; it is saved and the question answered right after
                return _carry(ctx, _save(ctx, str(state["insee"]), state.get("point")),
                              ctx.incoming.text)
            if picked is None and ctx.incoming.location is None:
                # the gazetteer alone: "o tampon" inside a sentence is no answer
                answer = resolve_commune_answer(ctx, {"_commune_key": ASK}, use_parse=False)
                if answer.insee is None and not (answer.step and answer.step.state
                                                 and answer.step.state.get("_commune_candidates")):
                    # no commune in it: a sentence typed instead of yes ("kel garaj o
                    # tampon"); the commune stands and the sentence is read afresh
                    return _carry(ctx, _save(ctx, str(state["insee"]), state.get("point")),
                                  ctx.incoming.text)
            # anything else is a new answer to the commune question
        if chosen(ctx) is None and ctx.incoming.location is None and _asks_something_else(ctx):
            if ctx.citizen.home_insee:
                return Step.pass_on()  # "garagiste au Port": a question, not a commune
            return _keep_asking(ctx, state)
        answer = resolve_commune_answer(ctx, {"_commune_key": ASK, **state})
        if answer.step is not None:
            return Step.wait({**(answer.step.state or {}), "step": "commune"},
                             *answer.step.replies)
        assert answer.insee is not None
        if chosen(ctx) is not None or answer.confirmed:
            return _save(ctx, answer.insee, answer.point)
        return _confirm(ctx, answer.insee, answer.point)


DIALOG = Register()

class RegisterState(CommuneQuestion):
    """Registration: the commune being confirmed, and a newcomer's question kept for after."""

    insee: str | None = None
    point: list[float] | None = None
    then: str | None = None

SPEC = DialogSpec(
    state=RegisterState,
    name="register",
    commands=(Command("start", ("register", "inscription"), menu=False),),
    intents=frozenset({"register", "move"}),
    steps=("commune", "confirm"),
    summary="greet a newcomer and learn their commune",
)
