"""Routing one message inside the engine's transaction (``bot/engine.py`` owns the
transaction, the retries and the user): the one understanding of the message, whether it
answers the open dialog, is an aside or a new request, follow-ups on what is on screen,
and the conversation (open dialog, choices, memory) written back version-checked.

A small object per message, never shared: see :class:`Turn`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
from dataclasses import replace
from datetime import UTC
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, delete, update
from sqlalchemy.orm import Session

from bot import outbox
from bot.coalesce import coalesce
from bot.conversation import Conversation, SharedPoint
from bot.dialog import JSON, DialogContext, Step
from bot.dialog_state import StateError, dump_state, load_state
from bot.i18n import LANGUAGES, Translator, translator
from bot.messages import ChatKind, Incoming, Location, Outgoing, TargetKind, Text
from bot.nlu.lexicon import word_set
from bot.router import Command, decide, is_cancel, parse_command, parse_location_command, plain_yes_no
from bot.state import Offer, bind_choices, match_text, new_nonce, resolve_choice_id
from dialogs import get_dialog, get_spec, specs
from dialogs.common import category_name, commune_label
from dialogs.entry_questions import entry_of_payload
from directory.gazetteer_geo import valid_point
from directory.models import Account, ChatBinding, Citizen, DialogState
from directory.privacy import FORGOTTEN
from directory.services import DailyCapReached
from directory.text import clean, fold

if TYPE_CHECKING:
    from bot.engine import Engine

log = logging.getLogger(__name__)

#: longer messages are refused with a short answer (Telegram's own limit is 4096)
MAX_TEXT = 4096


class Conflict(Exception):
    """Another writer changed this dialog (or created this user) meanwhile: retry."""


def _reply(t: Translator, key: str, **values: Any) -> Outgoing:
    return Outgoing(spans=(Text(t(key, **values)),), lang=t.lang)


# version-checked write and delete of a dialog's row, built once (building them per message
# cost more than running them)
_STATE_COLUMNS = DialogState.__table__.c
_SAVE_STATE = (
    update(DialogState)
    .where(DialogState.id == bindparam("row_id"), DialogState.version == bindparam("version"))
    .values(
        dialog=bindparam("dialog", type_=_STATE_COLUMNS.dialog.type),
        state=bindparam("state", type_=_STATE_COLUMNS.state.type),
        version=bindparam("new_version", type_=_STATE_COLUMNS.version.type),
        updated_at=bindparam("now", type_=_STATE_COLUMNS.updated_at.type),
    )
    .execution_options(synchronize_session=False)
)
_DROP_STATE = (
    delete(DialogState)
    .where(DialogState.id == bindparam("row_id"), DialogState.version == bindparam("version"))
    .execution_options(synchronize_session=False)
)



class Turn:
    """Routing one message inside the transaction (a small object, not shared state)."""

    def __init__(
        self,
        engine: Engine,
        session: Session,
        incoming: Incoming,
        account: Account,
        citizen: Citizen,
        is_new: bool,
        row: DialogState | None,
    ) -> None:
        self.engine = engine
        self.session = session
        self.account = account
        self.citizen = citizen
        self.is_new = is_new
        self.followed = False  # a Step.then was already routed for this message
        self.t = translator(citizen.lang)
        self.now = engine.clock()
        self.specs = specs()
        location = incoming.location
        raw = clean(incoming.text)
        point = parse_location_command(raw)
        if point is not None:
            location, raw = Location(*point), ""
        self.incoming = dataclasses.replace(incoming, text=raw, location=location)
        command = parse_command(raw)
        self.location_command_invalid = point is None and command is not None and (
            command.name in {"location", "position"}
        )
        if location is not None and not valid_point(location.lat, location.lon):
            # a shared point off the globe (NaN, 1e16): said so, and it goes no further
            self.incoming = dataclasses.replace(self.incoming, location=None)
            self.location_command_invalid = True
        # only groups and rooms are ever bound (``/admin bind`` refuses direct chats)
        self.chat_commune: str | None = None
        if incoming.chat_kind == ChatKind.GROUP:
            binding = session.get(ChatBinding, (incoming.platform, incoming.chat_id))
            self.chat_commune = binding.commune_insee if binding is not None else None
        self.row = row  # read with the user (``_USER_AND_STATE``)
        #: the version read now: what our write must still find (not the ORM attribute,
        #: which a dialog's own session work could refresh)
        self.version = self.row.version if self.row is not None else 0
        self.row_id = self.row.id if self.row is not None else 0
        conv = (Conversation.from_json(self.row.dialog, self.row.state)
                if self.row is not None else Conversation())
        memory = conv.memory.fresh(self.now)
        self.conv = conv if memory is conv.memory else replace(conv, memory=memory)
        #: what the row holds now: an unchanged conversation is not written again
        self.stored = (self.row.dialog, self.row.state) if self.row is not None else None
        self.notes: list[Outgoing] = []  # said before the answer (an expired dialog)
        self._check_stored_state()
        if self.conv.open and not self.conv.closed and self.row is not None:
            idle = self.specs.idle_timeout(self.conv.dialog, engine.idle_timeout)
            updated = self.row.updated_at
            if updated is not None and updated.tzinfo is None:
                updated = updated.replace(tzinfo=UTC)
            if updated is not None and self.now - updated > idle:
                self.conv = self.conv.without_dialog()
                self.notes.append(self.say("engine.expired"))
        if location is not None and valid_point(location.lat, location.lon):
            self.conv = replace(self.conv, memory=replace(
                self.conv.memory, location=SharedPoint(location.lat, location.lon, self.now)))
        self._command_read = command
        self._parsed: Any = _UNREAD

    def _check_stored_state(self) -> None:
        """The open dialog's stored state, upgraded and checked against its model; a state
        that no longer fits (the bot was updated meanwhile) closes the dialog, said."""
        conv = self.conv
        spec = get_spec(conv.dialog) if conv.open and not conv.closed else None
        if spec is None or spec.state is None:
            return
        if conv.checked and conv.state_version == spec.state.version:
            return  # written by this very model, which checked it then
        try:
            data = load_state(spec.state, conv.data, conv.state_version)
        except StateError:
            log.warning("dropping an unreadable %s state", conv.dialog, exc_info=True)
            self.conv = conv.without_dialog()
            self.notes.append(self.say("engine.state_unreadable"))
            return
        self.conv = replace(conv, data=data, state_version=spec.state.version)

    # --- helpers ---------------------------------------------------------------------------

    @property
    def parse(self) -> Any:
        """The one understanding of this message, read the first time something needs it
        (a cancel word or a pressed button never pays for the NLU)."""
        if self._parsed is _UNREAD:
            self._parsed = self._understand(self._command_read)
        return self._parsed

    @parse.setter
    def parse(self, value: Any) -> None:
        self._parsed = value

    def _understand(self, command: Command | None) -> Any:
        """The one parse of this message: of a command's argument text, else of the text."""
        if command is not None:
            text_ = command.args
            dialog = self.specs.dialog_for_command(command.name)
            spec = self.specs.by_name.get(dialog) if dialog else None
            if not text_:
                return None
            parse = self.engine.parse(text_, lang=self.citizen.lang, home=self.home())
            if spec is not None and spec.command_intent and parse is not None:
                with contextlib.suppress(TypeError, ValueError):
                    parse = dataclasses.replace(parse, intent=spec.command_intent)
            return parse
        if not self.incoming.text:
            return None
        return self.engine.parse(self.incoming.text, lang=self.citizen.lang, home=self.home())

    def ctx(self, choice_id: str | None = None) -> DialogContext:
        return DialogContext(
            session=self.session,
            citizen=self.citizen,
            account=self.account,
            incoming=dataclasses.replace(self.incoming, choice_id=choice_id),
            t=self.t,
            now=self.now,
            chat_commune=self.chat_commune,
            parse=self.parse,
            is_admin=f"{self.incoming.platform}:{self.incoming.user_id}" in self.engine.admins,
            services=self.engine.services,
            memory=self.conv.memory,
        )

    def say(self, key: str, **values: Any) -> Outgoing:
        return _reply(self.t, key, **values)

    def home(self) -> str | None:
        return self.citizen.home_insee or self.chat_commune

    # --- routing ---------------------------------------------------------------------------

    @property
    def label(self) -> str:
        """What this message was about, for the metrics: the command's dialog, the parsed
        intent, else the open dialog; a bounded set (never anything the user typed)."""
        if self._command_read is not None:
            return self.specs.dialog_for_command(self._command_read.name) or "command"
        intent = getattr(self._parsed, "intent", None) if self._parsed is not _UNREAD else None
        if isinstance(intent, str) and intent in known_intents():
            return intent
        if self.conv.dialog:
            return self.conv.dialog
        return "choice" if self.incoming.choice_id else "other"

    def run(self) -> list[Outgoing]:
        try:
            replies = self._route()
        except DailyCapReached as cap:
            # a citizen past the day's cap of new entries or reports: said once, the
            # dialog closed, nothing written (the dialog's savepoint rolled it back)
            self._forget_screen()
            replies = [self.say(f"engine.daily_cap.{cap.what}", count=cap.limit)]
        self._persist()
        return coalesce([*self.notes, *replies])

    def _route(self) -> list[Outgoing]:
        text_ = self.incoming.text
        if self.location_command_invalid:  # a typo in /location must not end a dialog
            return [self.say("engine.bad_location")]
        self._first_language()
        conv = self.conv
        if conv.open:
            if is_cancel(text_):
                self._forget_screen()
                return [self.say("engine.cancelled")]
            if self.incoming.choice_id is not None:
                local = resolve_choice_id(conv.offer, self.incoming.choice_id)
                if local is None:
                    return [self.say("engine.stale_choice")]
                return self._resume_or_fresh(local)
            command = parse_command(text_)
            if command is None:
                kind, local = match_text(conv.offer, text_)
                if kind == "out_of_range" and self._number_is_the_answer():
                    kind = "none"  # "9" at the hour buttons 7, 8, 12, 18 h: nine o'clock
                if kind == "out_of_range":
                    assert conv.offer is not None
                    return [
                        Outgoing(
                            spans=(Text(self.t.plural("engine.choice_out_of_range",
                                                      len(conv.offer.last))),),
                            choices=conv.offer.last_choices(),
                            lang=self.t.lang,
                        )
                    ]
                if kind == "choice":
                    return self._resume_or_fresh(local)
                if not conv.closed:
                    decision = self._decide()
                    if decision == "answer":
                        return self._resume_or_fresh(None)
                    if decision == "aside":
                        return self._aside()
                    return self._interrupt()
                answered = _lingering_yes_no(conv.offer, text_)
                if answered is not None:  # "oui" to a finished dialog's yes/no buttons
                    return self._resume_or_fresh(answered)
            else:
                target = self.specs.dialog_for_command(command.name)
                spec = self.specs.by_name.get(target) if target else None
                if spec is not None and spec.aside and not conv.closed and target != conv.dialog:
                    return self._aside(target)
            # a command, or free text after lingering choices: the old dialog is left
            self._close()
        elif self.incoming.choice_id is not None:
            return [self.say("engine.stale_choice")]
        return self._fresh()

    def _number_is_the_answer(self) -> bool:
        """Whether the open dialog's step takes a number beyond its choices as the answer
        itself (``DialogSpec.number_steps``)."""
        spec = self.specs.by_name.get(self.conv.dialog)
        return spec is not None and not self.conv.closed and self.conv.step in spec.number_steps

    def _decide(self) -> str:
        spec = self.specs.by_name.get(self.conv.dialog)
        intent = getattr(self.parse, "intent", None)
        opens = self.specs.dialog_for_intent(intent) if intent else None
        return decide(
            self.parse,
            dialog=self.conv.dialog,
            opens=opens,
            step=self.conv.step,
            interruptible=spec.interruptible if spec is not None else True,
            free_text_steps=spec.free_text_steps if spec is not None else (),
            slot_steps=spec.slot_steps if spec is not None else (),
            question=_is_question(self.incoming.text),
            browse_steps=spec.browse_steps if spec is not None else (),
        )

    def _resume_or_fresh(self, choice_id: str | None) -> list[Outgoing]:
        resumed = self._resume(choice_id)
        return self._fresh() if resumed is None else resumed

    def _aside(self, dialog: str | None = None) -> list[Outgoing]:
        """Answer beside the open dialog, then ask its question again (same choices)."""
        intent = getattr(self.parse, "intent", None)
        if dialog is None:
            dialog = self.specs.dialog_for_intent(intent) if intent else None
        if dialog is not None and self.specs.by_name[dialog].aside:
            found = get_dialog(dialog)
            step = found.start(self.ctx(), self._args(self.parse, self.incoming.text)) if found else None
            # an aside's own buttons could not be pressed while the open dialog waits
            answer = ([dataclasses.replace(r, choices=()) for r in step.replies] if step is not None
                      else [self.say("engine.unavailable")])
        else:
            answer = self._small_talk(intent)
        redisplay = getattr(get_dialog(self.conv.dialog), "redisplay", None)
        if intent == "switch_language" and redisplay is not None:
            # what is on screen again, in the new language (buttons included)
            shown = redisplay(self.ctx(), dict(self.conv.data))
            if shown is not None:
                return [*answer, *self._apply(self.conv.dialog, shown)]
        spec = self.specs.by_name.get(self.conv.dialog)
        if dialog is None and spec is not None and self.conv.step in spec.browse_steps:
            return answer  # the list stays there to pick from; nothing was asked
        offer = self.conv.offer
        reminder = self.say("engine.still_waiting")
        if offer is not None and offer.last:
            reminder = dataclasses.replace(reminder, choices=offer.last_choices())
        return [*answer, reminder]

    def _interrupt(self) -> list[Outgoing]:
        """A new request typed where the open dialog asked something: let the dialog keep
        what was settled, then route the request afresh."""
        name = self.conv.dialog
        dialog = get_dialog(name)
        kept: list[Outgoing] = []
        hook = getattr(dialog, "interrupted", None)
        if hook is not None:
            answer = hook(self.ctx(), dict(self.conv.data))
            if isinstance(answer, Step):  # the dialog keeps the floor (and the request)
                return self._apply(name, answer)
            if answer is None:  # nothing was under way worth a word: leave quietly
                self._close()
                return self._fresh()
            kept = list(answer)
        spec = self.specs.by_name.get(name)
        if not kept and spec is not None and spec.commands and len(self.conv.data) > 2:
            # something was under way: say it is left, and how to start it again
            kept = [self.say("engine.left", command="/" + spec.commands[0].name)]
        self._close()
        return [*kept, *self._fresh()]

    def _small_talk(self, intent: str | None) -> list[Outgoing]:
        if intent == "greeting":
            name = self.citizen.display_name
            evening = fold(self.incoming.text).startswith(("bonsoir", "bsr", "good evening"))
            if evening:  # "bonsoir" is answered in kind
                return [self.say("engine.greeting_evening_named", name=name) if name
                        else self.say("engine.greeting_evening")]
            return [self.say("engine.greeting_named", name=name) if name
                    else self.say("engine.greeting")]
        if intent == "switch_language":
            return [self._switch_language()]
        key = {"thanks": "engine.thanks", "bye": "engine.bye", "ack": "engine.ack"}.get(
            intent or "", "engine.not_understood")
        return [self.say(key)]

    def _switch_language(self) -> Outgoing:
        lang = getattr(self.parse, "switch_lang", None)
        if lang in LANGUAGES:
            self.citizen.lang = lang
            self.t = translator(lang)
        return self.say("engine.language_set")

    def _first_language(self) -> None:
        """A newcomer with no platform language hint gets the language they write in: their
        first words decide, and when the first message had none ("/start", a postcode) the
        next few messages still may (a note in the memory counts them down)."""
        memory = self.conv.memory
        pending = memory.notes.get(LANGUAGE_OPEN)
        if not ((self.is_new or pending) and self.incoming.language_hint is None):
            return
        text_ = self.incoming.text
        words = text_ and parse_command(text_) is None and any(ch.isalpha() for ch in text_)
        if words:
            lang = getattr(self.parse, "lang", None)
            if lang in LANGUAGES and lang != self.citizen.lang:
                self.citizen.lang = lang
                self.t = translator(lang)
                left = 0
            else:
                left = int(pending or LANGUAGE_TRIES) - 1
        else:
            left = int(pending or LANGUAGE_TRIES)
        notes = {k: v for k, v in memory.notes.items() if k != LANGUAGE_OPEN}
        if left > 0:
            notes[LANGUAGE_OPEN] = str(left)
        self.conv = replace(self.conv, memory=replace(memory, notes=notes,
                                                       noted_at=memory.noted_at or self.now))

    def _fresh(self) -> list[Outgoing]:
        """Route with no dialog open: command, first contact, NLU intent, short help."""
        text_ = self.incoming.text
        if is_cancel(text_):
            if self.conv.memory.shown is not None:
                self._forget_screen()
                return [self.say("engine.cancelled")]
            return [self.say("engine.nothing_to_cancel")]
        command = parse_command(text_)
        if command is not None:
            return self._command(command)
        if self.incoming.location is not None:
            if self.conv.memory.shown is not None and self.citizen.home_insee is not None:
                return self._open("ask", {"followup": True, "relocate": True})
            dialog = "register" if self.citizen.home_insee is None else "settings"
            return self._open(dialog, {"location": True})
        if not text_:
            return [self.say("engine.empty")]
        if not any(ch.isalnum() for ch in text_):
            return [self.say("engine.no_letters")]
        parse = self.parse
        intent = getattr(parse, "intent", "unknown") if parse is not None else "unknown"
        args = self._args(parse, text_)
        if self.is_new and self.incoming.chat_kind == ChatKind.DIRECT:
            return self._open("register", {**args, "first": True})
        if self.conv.memory.shown is not None and _is_follow_up(parse):
            return self._open("ask", {**args, "followup": True})
        opens = self.specs.dialog_for_intent(intent)
        if opens is not None:
            return self._open(opens, args)
        if parse is not None and intent == "unknown" and _looks_like_a_name(text_):
            # "kabar": a word or two the NLU does not know may be a place's name; the ask
            # dialog shows the places so named, or declines (then: not understood)
            return self._open("ask", {**args, "intent": "search", "guess": True})
        if intent == "greeting":
            return [*self._small_talk(intent), self.say("engine.short_help")]
        if intent in {"thanks", "bye", "ack", "switch_language"}:
            return self._small_talk(intent)
        if intent == "cancel":
            return [self.say("engine.nothing_to_cancel")]
        return [self._not_understood(), self.say("engine.short_help")]

    def _not_understood(self) -> Outgoing:
        """"I did not understand", with what was understood all the same (a commune, a
        kind of place), so that the citizen sees which part to say differently."""
        parse = self.parse
        parts: list[str] = []
        category = getattr(parse, "category", None)
        if category:
            parts.append(category_name(category, self.t.lang))
        commune = getattr(parse, "commune", None)
        if commune:
            parts.append(commune_label(commune))
        if not parts:
            return self.say("engine.not_understood")
        return self.say("engine.not_understood_but", understood=", ".join(parts))

    def _args(self, parse: Any, text_: str, intent: str | None = None) -> JSON:
        args: JSON = {}
        if parse is not None:
            if hasattr(parse, "to_json"):
                args.update(parse.to_json())
            elif dataclasses.is_dataclass(parse):
                args.update(dataclasses.asdict(parse))  # type: ignore[arg-type]
        args["text"] = text_
        if intent is not None:
            args["intent"] = intent
        return args

    def _command(self, command: Command) -> list[Outgoing]:
        name = command.name
        if name in {"cancel", "annuler", "stop"}:
            return [self.say("engine.nothing_to_cancel")]
        dialog = self.specs.dialog_for_command(name)
        if dialog is None:
            return [self.say("engine.unknown_command", command="/" + name),
                    self.say("engine.short_help")]
        if dialog == "register":
            shared = entry_of_payload(command.args)
            if shared is not None:  # "/start e42" from a shared entry: open it
                return self._open("ask", {"entry_id": shared})
            return self._open("register", {"payload": command.args, "first": self.is_new,
                                           "command": True, "text": command.args})
        spec = self.specs.by_name[dialog]
        if spec.command_intent:
            return self._open(dialog, self._args(self.parse, command.args, spec.command_intent))
        # "command_name": which of a dialog's commands was typed (/privacy, /mydata…)
        return self._open(dialog, {"text": command.args, "command": True, "command_name": name})

    # --- dialogs ---------------------------------------------------------------------------

    def _open(self, name: str, args: JSON) -> list[Outgoing]:
        dialog = get_dialog(name)
        if dialog is None:
            return [self.say("engine.unavailable")]
        step = dialog.start(self.ctx(), args)
        if step.handoff:  # a dialog that declines to start: nothing more to do
            return [self.say("engine.not_understood"), self.say("engine.short_help")]
        return self._apply(name, step)

    def _resume(self, choice_id: str | None) -> list[Outgoing] | None:
        """Give the message to the open dialog; None when it hands the message back."""
        name = self.conv.dialog
        dialog = get_dialog(name)
        if dialog is None:
            self._close()
            return [self.say("engine.unavailable")]
        data = {} if self.conv.closed else dict(self.conv.data)
        step = dialog.resume(self.ctx(choice_id=choice_id), data)
        if step.handoff:
            self._close()
            return None
        return self._apply(name, step)

    def _apply(self, name: str, step: Step) -> list[Outgoing]:
        """Keep the step's state and outbox rows; return the replies for this chat."""
        bound, offer = bind_choices(list(step.replies), new_nonce())
        replies: list[Outgoing] = []
        for item in bound:
            if item.target.kind == TargetKind.REPLY:
                replies.append(item)
            else:
                outbox.enqueue(self.session, item)
        memory = self.conv.memory
        if step.shown is not None:
            memory = replace(memory, shown=replace(step.shown, at=self.now))
        if step.remember:
            memory = memory.noting(dict(step.remember), self.now)
        if step.state is not None:
            spec = get_spec(name)
            model = spec.state if spec is not None else None
            # a state that does not fit its model is a bug: it fails here, where it is written
            data = dump_state(model, step.state) if model is not None else step.state
            self.conv = Conversation(dialog=name, data=data, offer=offer, memory=memory,
                                     state_version=model.version if model is not None else 1,
                                     checked=model is not None)
        elif offer is not None:
            self.conv = Conversation(dialog=name, data={}, offer=offer, closed=True, memory=memory)
        else:
            self.conv = Conversation(memory=memory)
            if step.then and not self.followed:
                # e.g. the question a newcomer asked before registering, answered now
                self.followed = True
                self.is_new = False
                self.location_command_invalid = False
                self.incoming = dataclasses.replace(
                    self.incoming, text=clean(step.then)[:MAX_TEXT], choice_id=None,
                    location=None,
                )
                self._command_read = parse_command(self.incoming.text)
                self._parsed = _UNREAD
                replies += self._fresh()
        return replies

    def _close(self) -> None:
        """The open dialog is over; the memory stays."""
        self.conv = self.conv.without_dialog()

    def _forget_screen(self) -> None:
        """``/cancel``: the dialog and what is on screen are dropped."""
        self.conv = replace(self.conv.without_dialog(),
                            memory=replace(self.conv.memory, shown=None))

    # --- persistence -----------------------------------------------------------------------

    def _persist(self) -> None:
        """Write the conversation back (version-checked), or delete a row with nothing left;
        nothing when the citizen was just forgotten (their rows went with them)."""
        if self.session.info.get(FORGOTTEN) == self.citizen.id:
            return
        if self.conv.worth_keeping:
            stored = self.conv.to_json()
            if self.stored != (self.conv.dialog, stored):
                self._save(self.conv.dialog, stored)
        else:
            self._drop_state()

    def _save(self, name: str, stored: JSON) -> None:
        now = self.now
        if self.row is None:
            self.session.add(
                DialogState(account_id=self.account.id, chat_id=self.incoming.chat_id,
                            dialog=name, state=stored, version=1, updated_at=now)
            )
            self.session.flush()  # IntegrityError if another process opened one: retried
            return
        result = self._core().execute(
            _SAVE_STATE,
            {"row_id": self.row_id, "version": self.version, "dialog": name, "state": stored,
             "new_version": self.version + 1, "now": now},
        )
        if result.rowcount != 1:
            raise Conflict(f"dialog state {self.row_id} changed meanwhile")

    def _core(self) -> Connection:
        """The transaction's connection for the version-checked state writes (plain Core:
        the ORM's bulk-update path cost more than the write); pending ORM changes are
        flushed first, in the order ``session.execute`` would have written them."""
        session = self.session
        if session.new or session.dirty or session.deleted:
            session.flush()
        return session.connection()

    def _drop_state(self) -> None:
        """Delete this chat's row (version-checked); no-op when there is none."""
        if self.row is None:
            return
        gone, self.row = self.row, None
        result = self._core().execute(
            _DROP_STATE, {"row_id": self.row_id, "version": self.version}
        )
        if result.rowcount != 1:
            raise Conflict(f"dialog state {self.row_id} changed meanwhile")
        if gone in self.session:
            self.session.expunge(gone)


#: memory note: how many more messages may still set a hint-less newcomer's language
LANGUAGE_OPEN = "language_open"
LANGUAGE_TRIES = 3

#: words a question starts with ("ousa na une pharmacie o port" has no "?")
_QUESTION_WORDS = word_set(
    """ou ousa quel quelle quels quelles kel kels ya y a t il est ce qu est qui where what
    which is are any do does how combien when quand kan"""
)


def _lingering_yes_no(offer: Offer | None, text: str) -> str | None:
    """``"yes"`` or ``"no"`` when a finished dialog left yes/no buttons (local ids ``yes``
    and ``no``, e.g. registration's digest offer) and the text plainly says one of them
    ("oui", "non merci"; not "ok"); else None, and the text is routed as a new message."""
    if offer is None or not {"yes", "no"} <= {offer.ids[i] for i in offer.last}:
        return None
    answer = plain_yes_no(text)
    return None if answer is None else ("yes" if answer else "no")


def _is_question(text: str) -> bool:
    """A "?" at the end, or a question word first (SMS questions often have no "?")."""
    words = fold(text).split()
    return text.rstrip().endswith("?") or bool(words and words[0] in _QUESTION_WORDS)


def _looks_like_a_name(text: str) -> bool:
    """One to three words with letters and no request in them: likely a place's name."""
    words = text.split()
    return 1 <= len(words) <= 3 and all(any(ch.isalpha() for ch in w) for w in words) and len(text) <= 60


#: not parsed yet (None is a parse result: no NLU, or nothing to read)
_UNREAD = object()

#: parse fields that make a message a follow-up to what is on screen
_FOLLOW_UP_FIELDS = ("followup", "ordinal", "sort", "widen", "field", "deictic")


def _is_follow_up(parse: Any) -> bool:
    """True when the message refers to the last question or what it showed (pure)."""
    if parse is None:
        return False
    intent = getattr(parse, "intent", None)
    if intent in {"more", "share"}:
        return True
    if any(getattr(parse, name, None) not in (None, False) for name in _FOLLOW_UP_FIELDS):
        return intent not in {"announce_project", "register", "move", "settings", "help"}
    # "within 40 km" alone: the last question, wider
    subject = any(getattr(parse, name, None) for name in ("category", "name", "commune", "kind"))
    return bool(getattr(parse, "radius_km", None)) and intent == "search" and not subject


@functools.cache
def known_intents() -> frozenset[str]:
    """The NLU's intents (imported on first use: the metrics label, not the turn, needs it)."""
    from bot.nlu.intents import INTENTS

    return frozenset(INTENTS)
