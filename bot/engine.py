"""The conversation engine: one :class:`Incoming` in, the replies for that chat out.

For each message, in ONE database transaction:

1. the user is found or created (Citizen + Account; language from the platform hint on
   first contact, from the citizen's settings after);
2. the message is routed (``bot/turn.py``: one understanding, answer / aside / new
   request, follow-ups on what is on screen, the conversation's memory);
3. the chat's conversation is written with optimistic concurrency (``UPDATE ... WHERE
   version = :old``), beside any directory change the dialog made through ``ctx.session``
   and the outbox rows of its non-reply messages;
4. last, the platform event is recorded in ``processed_events`` by one ``INSERT … ON
   CONFLICT DO NOTHING`` that carries the answer of a ``redeliverable`` event. When the
   event was recorded already (a redelivery; a concurrent worker's insert makes this one
   wait for its commit), the whole transaction is rolled back and the answer is ``[]``:
   the first handling replied. The answer kept with the event until the adapter says it
   went out (:func:`forget_replies`) is what the adapter's own replay after a crash gets
   (looked up first, the turn is not played again). Recording the event last rather than
   first costs a redelivery a turn played for nothing, and saves every message a round
   trip (issue 19).

A version conflict (another process answered the same user in the same chat meanwhile)
rolls everything back and the whole message is handled again once; a second conflict
gets a localized "busy, try again" and nothing is written. A dialog that crashes gets a
localized apology, its transaction rolled back and its state reset (no retry loop on a
state that always fails). On SQLite the transaction starts with ``BEGIN IMMEDIATE`` so
writers queue on the busy timeout instead of failing on a stale snapshot.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import JSON, Table, and_, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot import metrics
from bot.dialog import Services
from bot.flood import FloodControl
from bot.i18n import LANGUAGES, Translator, pick_language, translator
from bot.messages import ChatKind, Incoming, Outgoing
from bot.outbox import outgoing_from_json, outgoing_to_json
from bot.spec import DEFAULT_IDLE_TIMEOUT
from bot.turn import MAX_TEXT, Conflict, Turn, _reply
from directory.db import sqlite_writer
from directory.models import Account, Citizen, DialogState, ProcessedEvent, utcnow
from directory.moderation import count_message, count_statement
from directory.text import clean

log = logging.getLogger(__name__)


ParseFn = Callable[..., Any]

# Hot statements, built once: every message runs them (saves SQL construction per message).
_USER = (
    select(Account, Citizen)
    .join(Citizen, Citizen.id == Account.citizen_id)
    .where(
        Account.platform == bindparam("platform"),
        Account.platform_user_id == bindparam("user"),
    )
)
#: the user and this chat's open dialog in one read (every message needs both)
_USER_AND_STATE = (
    select(Account, Citizen, DialogState)
    .join(Citizen, Citizen.id == Account.citizen_id)
    .outerjoin(
        DialogState,
        and_(DialogState.account_id == Account.id, DialogState.chat_id == bindparam("chat")),
    )
    .where(
        Account.platform == bindparam("platform"),
        Account.platform_user_id == bindparam("user"),
    )
)
def prune_processed_events(session: Session, before: datetime) -> int:
    """Forget event ids recorded before ``before`` (platforms stop redelivering after a
    day or so; keep a week). Meant for a periodic job; returns how many were deleted."""
    result = session.execute(
        delete(ProcessedEvent).where(ProcessedEvent.processed_at < before)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


#: database errors worth another attempt (SQLite's lock, PostgreSQL's serialisation
#: failures and deadlocks): another writer was there first
_TRANSIENT = ("locked", "busy", "could not serialize", "deadlock detected", "lock not available")

#: how many distinct (text, language, home) parses are remembered
PARSE_CACHE = 4096


def _default_parse() -> ParseFn | None:
    try:
        nlu = importlib.import_module("bot.nlu")
    except Exception:  # the NLU is optional: without it free text gets the short help
        log.info("bot.nlu cannot be imported: free text gets the short help")
        return None
    # Parsing is pure (text, language, home -> an immutable Parse) and people send the
    # same short messages all the time ("1", "oui", "merci", "plus", "annuler"): the
    # last few thousand answers are kept
    parse: ParseFn = functools.lru_cache(maxsize=PARSE_CACHE)(nlu.parse)
    return parse


class Engine:
    """Routes messages to dialogs; see the module docstring for the guarantees."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        admins: Iterable[str] = (),
        parse: ParseFn | None = None,
        retries: int = 5,
        clock: Callable[[], datetime] | None = None,
        services: Services | None = None,
        idle_timeout: timedelta = DEFAULT_IDLE_TIMEOUT,
        flood: FloodControl | None = None,
    ) -> None:
        self._factory = session_factory
        #: the turn's metrics label, per worker thread (turns run in several at once)
        self._label = threading.local()
        self.admins = frozenset(admins)
        self._parse = parse
        self._parse_loaded = parse is not None
        self.retries = retries
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.services = services if services is not None else Services()
        self.idle_timeout = idle_timeout
        #: per-account flood control (None: off, as in library use and most tests)
        self.flood = flood

    # --- public API ------------------------------------------------------------------------

    @property
    def sessions(self) -> sessionmaker[Session]:
        """The store's session factory (adapters keep offsets and deliver the outbox)."""
        return self._factory

    async def handle(self, incoming: Incoming) -> list[Outgoing]:
        """The replies for ``incoming``'s chat; database work runs in a worker thread."""
        return await asyncio.to_thread(self.handle_sync, incoming)

    def handle_sync(self, incoming: Incoming) -> list[Outgoing]:
        if incoming.chat_kind == ChatKind.GROUP and not incoming.addressed:
            return []
        if self.flood is not None:
            verdict = self.flood.check(f"{incoming.platform}:{incoming.user_id}")
            if verdict == "warn":  # once, then silence until it cools down
                return [_reply(self._language_of(incoming), "engine.flood")]
            if verdict == "drop":
                return []
        started = time.perf_counter()
        self._label.value = "other"
        for attempt in range(self.retries + 1):
            if attempt:
                # two writers on one person (two processes, a double tap): wait a little,
                # a different little for each, and try again before apologising
                time.sleep(random.uniform(0.005, 0.03) * attempt)
            try:
                replies = self._handle_once(incoming)
                metrics.message_handled(incoming.platform, getattr(self._label, "value", "other"),
                                        time.perf_counter() - started)
                return replies
            except _HandledAlready:
                return []  # a redelivery: its first handling answered
            except Conflict:
                continue
            except IntegrityError:
                continue  # a concurrent insert (same new user, same event id): look again
            except DBAPIError as exc:
                if exc.connection_invalidated:
                    continue  # the connection died (server restart): a fresh one is taken
                text_ = str(exc).lower()
                if not isinstance(exc, OperationalError) or not any(
                        word in text_ for word in _TRANSIENT):
                    return self._failed(incoming, exc)
                continue
            except Exception as exc:
                return self._failed(incoming, exc)
        if self._handled_already(incoming):
            return []
        return [_reply(self._language_of(incoming), "engine.busy")]

    def _handled_already(self, incoming: Incoming) -> bool:
        """Whether the event was recorded by an earlier handling: a redelivery's failed
        turn (played on the state the first one left) must not apologise or reset."""
        key = _event_key(incoming)
        if key is None:
            return False
        try:
            with self._factory() as session:
                return session.execute(_EVENT_REPLIES, key).first() is not None
        except Exception:
            return False

    def warm_up(self) -> None:
        """Load the gazetteer, the taxonomy and the NLU's indexes now, before the first
        message is taken, rather than on it (about half a second, once)."""
        if not self._parse_loaded:
            self._parse = _default_parse()
            self._parse_loaded = True
        module = importlib.import_module("bot.nlu.parser")
        module.warm_up()

    def set_language(self, platform: str, user_id: str, lang: str) -> bool:
        """Switch a known user's language (e.g. ``communebot chat --lang en``); False when
        the user does not exist yet (their first message will carry the hint)."""
        if lang not in LANGUAGES:
            raise ValueError(f"unsupported language {lang!r}")
        with self._factory() as session, session.begin():
            found = session.execute(_USER, {"platform": platform, "user": user_id}).first()
            if found is None:
                return False
            found[1].lang = lang
            return True

    def parse(self, text: str, *, lang: str, home: str | None) -> Any:
        """The NLU parse of ``text`` (None when the NLU is unavailable or fails)."""
        if not self._parse_loaded:
            self._parse = _default_parse()
            self._parse_loaded = True
        if self._parse is None or not text:
            return None
        try:
            return self._parse(text, lang=lang, home=home)
        except Exception:
            log.exception("NLU failed on %r", text[:200])
            return None

    # --- one attempt -----------------------------------------------------------------------

    def _handle_once(self, incoming: Incoming) -> list[Outgoing]:
        with sqlite_writer(self._factory), self._factory() as session, session.begin():
            if session.get_bind().dialect.name == "sqlite":
                # straight to the driver: the ORM's statement machinery costs more than this
                session.connection().exec_driver_sql("BEGIN IMMEDIATE")
            key = _event_key(incoming)
            if key is not None and incoming.replay:
                # the adapter's own replay after a crash: an event handled already gets the
                # answer kept for it (if a crash kept it from going out), not a new turn.
                # Only there: a redelivery that reached another worker must not send what
                # the first one is sending
                kept = session.execute(_EVENT_REPLIES, key).first()
                if kept is not None:
                    return [outgoing_from_json(item) for item in kept[0] or []]
            replies, sender = self._turn(session, incoming)
            day = self.clock().astimezone(UTC).date()
            if key is None:
                if sender is not None:
                    count_message(session, sender, day)
                return replies
            keep = ([outgoing_to_json(item) for item in replies]
                    if incoming.redeliverable and replies else None)
            params = {**key, "ev_at": utcnow(), "ev_replies": keep}
            dialect = session.get_bind().dialect.name
            if sender is not None and dialect == "postgresql":
                # the day's message count rides on the same statement (a CTE)
                claim = _claim_and_count_event()
                params.update(day=day, account_id=sender)
            else:
                if sender is not None:
                    count_message(session, sender, day)
                claim = _claim_event(dialect)
            if session.execute(claim, params).first() is None:
                raise _HandledAlready  # rolls the turn back
            return replies

    def _turn(self, session: Session, incoming: Incoming) -> tuple[list[Outgoing], int | None]:
        """The turn proper, in the transaction of :meth:`_handle_once`: the replies, and
        the account whose message counts in the day's statistics (None: not counted)."""
        if len(incoming.text) > MAX_TEXT:
            # refused before anything else: no user is created for it
            t = self._language_in(session, incoming)
            return [_reply(t, "engine.too_long", max=t.number(MAX_TEXT))], None
        account, citizen, is_new, row = self._user(session, incoming)
        if citizen.banned:
            return [], None
        turn = Turn(self, session, incoming, account, citizen, is_new, row)
        del row  # the turn owns the dialog row now (and drops it when the dialog ends)
        replies = turn.run()
        self._label.value = turn.label
        return replies, account.id

    def _user(
        self, session: Session, incoming: Incoming
    ) -> tuple[Account, Citizen, bool, DialogState | None]:
        """The sender (created on first contact) and the chat's open dialog row, if any."""
        found = session.execute(
            _USER_AND_STATE,
            {"platform": incoming.platform, "user": incoming.user_id, "chat": incoming.chat_id},
        ).first()
        if found is not None:
            return found[0], found[1], False, found[2]
        name = clean(incoming.display_name, 200)
        citizen = Citizen(display_name=name, lang=pick_language(incoming.language_hint))
        session.add(citizen)
        session.flush()
        account = Account(
            citizen_id=citizen.id,
            platform=incoming.platform,
            platform_user_id=incoming.user_id,
            display_name=name,
        )
        session.add(account)
        session.flush()  # IntegrityError when another process created it: retried
        return account, citizen, True, None

    def _language_in(self, session: Session, incoming: Incoming) -> Translator:
        lang = session.scalar(
            select(Citizen.lang)
            .join(Account, Account.citizen_id == Citizen.id)
            .where(
                Account.platform == incoming.platform,
                Account.platform_user_id == incoming.user_id,
            )
        )
        return translator(lang or pick_language(incoming.language_hint))

    def _language_of(self, incoming: Incoming) -> Translator:
        try:
            with self._factory() as session:
                return self._language_in(session, incoming)
        except Exception:
            return translator(pick_language(incoming.language_hint))

    def _failed(self, incoming: Incoming, exc: Exception) -> list[Outgoing]:
        """A bug or an unusable state: apologise, and reset this chat's dialog."""
        if self._handled_already(incoming):
            log.info("redelivered event %s failed on replay: already answered", incoming.event_id)
            return []
        log.error("message from %s:%s failed", incoming.platform, incoming.user_id,
                  exc_info=exc)
        metrics.error(metrics.kind_of(exc))
        try:
            with self._factory() as session, session.begin():
                account_id = session.scalar(
                    select(Account.id).where(
                        Account.platform == incoming.platform,
                        Account.platform_user_id == incoming.user_id,
                    )
                )
                if account_id is not None:
                    session.execute(
                        delete(DialogState).where(
                            DialogState.account_id == account_id,
                            DialogState.chat_id == incoming.chat_id,
                        )
                    )
        except Exception:
            log.exception("could not reset the dialog state after a failure")
        return [_reply(self._language_of(incoming), "engine.error")]


class _HandledAlready(Exception):
    """The event was recorded by an earlier handling: this one's turn is rolled back."""


def _event_key(incoming: Incoming) -> dict[str, Any] | None:
    if not incoming.event_id:
        return None
    return {"ev_platform": incoming.platform, "ev_id": incoming.event_id[:255]}


_EVENT_TABLE = cast("Table", ProcessedEvent.__table__)
_EVENT_KEY = and_(_EVENT_TABLE.c.platform == bindparam("ev_platform"),
                  _EVENT_TABLE.c.event_id == bindparam("ev_id"))
_EVENT_REPLIES = select(_EVENT_TABLE.c.replies).where(_EVENT_KEY)


@functools.cache
def _claim_event(dialect: str) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING RETURNING``: one round trip records the event with
    the answer to keep (a row comes back) or says it was handled already (none does)."""
    module: Any = postgresql if dialect == "postgresql" else sqlite
    table = _EVENT_TABLE
    return (module.insert(table)
            .values(platform=bindparam("ev_platform"), event_id=bindparam("ev_id"),
                    processed_at=bindparam("ev_at"),
                    # nothing to keep is SQL NULL, not JSON 'null' (see forget_replies)
                    replies=bindparam("ev_replies", type_=JSON(none_as_null=True)))
            .on_conflict_do_nothing()
            .returning(table.c.event_id))


@functools.cache
def _claim_and_count_event() -> Any:
    """PostgreSQL: :func:`_claim_event` with the day's message count of the sender in a
    data-modifying CTE, one round trip instead of two (a redelivery's count goes with
    the rollback that :class:`_HandledAlready` brings)."""
    counted = count_statement("postgresql").cte("counted")
    return _claim_event("postgresql").add_cte(counted)


def forget_replies(session: Session, platform: str, event_ids: Iterable[str]) -> None:
    """The answers of these events went out: a replay of them now answers nothing (and no
    answer is kept longer than it takes to deliver it)."""
    ids = [event_id[:255] for event_id in event_ids]
    if ids:
        session.execute(
            update(ProcessedEvent)
            .where(ProcessedEvent.platform == platform, ProcessedEvent.event_id.in_(ids),
                   ProcessedEvent.replies.is_not(None))
            .values(replies=None)
        )
