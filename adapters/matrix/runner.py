"""The Matrix adapter: a matrix-nio ``AsyncClient`` between rooms and the engine.

It only translates, and this module is the wiring: login and the session kept across
restarts, start and stop, one :class:`Incoming` to the engine and its answers back, and
``!admin room create``. Receiving (the sync loop, invitations, timeline events) is in
:mod:`.receive`, sending (rendering, replies and threads, direct rooms, the outbox) in
:mod:`.send`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from nio import (
    AsyncClientConfig,
    ErrorResponse,
    LoginResponse,
    RoomCreateError,
    RoomPreset,
    RoomVisibility,
    WhoamiResponse,
)
from sqlalchemy.orm import sessionmaker

from adapters.matrix.communes import commune_name
from adapters.matrix.config import MatrixConfig, MatrixStartError
from adapters.matrix.inbound import BotIdentity
from adapters.matrix.receive import MatrixReceiving
from adapters.matrix.send import Outbox, OutboxItemLike, PacedClient
from adapters.matrix.state import AdapterState, Bounded, load_state, save_state
from bot import outbox as outbox_module
from bot.engine import forget_replies
from bot.health import HEALTH
from bot.i18n import translator
from bot.leader import engine_of, hold, lock_for
from bot.messages import ChatKind, EngineWithSessions, Incoming, Link, MessageHandler, Outgoing

log = logging.getLogger("communebot.matrix")

_ROOM_CREATE = re.compile(r"^/admin\s+room\s+create\b\s*(.*)$", re.IGNORECASE | re.DOTALL)


class MatrixBot(MatrixReceiving):
    """One bot account on one homeserver. ``start()`` logs in and catches up,
    ``run()`` syncs until cancelled, ``stop()`` saves the state and closes."""

    def __init__(
        self,
        config: MatrixConfig,
        handler: MessageHandler,
        admins: Iterable[str] = (),
        outbox: Outbox | None = None,
        commune_rooms: Callable[[str], Sequence[str]] | None = None,
    ) -> None:
        self.config = config
        self.handler = handler
        self.admins = list(admins)
        self.outbox = outbox
        #: INSEE -> room ids bound to it (for COMMUNE_ROOM targets handed back directly)
        self.commune_rooms = commune_rooms
        self.store_path = Path(config.store_path)
        self.state: AdapterState = load_state(self.store_path)
        if self.state.user_id and (
            self.state.user_id != config.user_id or self.state.homeserver != config.homeserver
        ):
            # another account or server: its session, device and sync token do not apply
            log.warning("the Matrix store belongs to %s; starting afresh", self.state.user_id)
            self.state = AdapterState()
        self.client: PacedClient | None = None
        self.identity = BotIdentity(config.user_id)
        self._own_events = Bounded(2000)
        self._not_own = Bounded(2000)
        self._edits = Bounded(2000)
        self._handled = Bounded(5000)
        #: event id -> thread root, for messages written in a thread (answers go there too)
        self._threads = Bounded(2000)
        self._invites_seen: set[str] = set()
        self._e2e_warned: dict[str, float] = {}
        #: room id -> its creators (who outrank everyone in v12+ rooms)
        self._creators: dict[str, frozenset[str]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        #: (kind, ...) items for the worker: ("event", room id, event) or ("token", next_batch)
        self._queue: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self._sync_tick = asyncio.Event()
        #: set once the first batch is handled; pulsed after each handled batch
        self._first_sync_done = asyncio.Event()
        self.synced = asyncio.Event()

    # --- start and stop ---------------------------------------------------------------

    def _make_client(self) -> PacedClient:
        self.store_path.mkdir(parents=True, exist_ok=True)
        nio_config = AsyncClientConfig(
            encryption_enabled=self.config.encryption,
            store_sync_tokens=False,
            max_limit_exceeded=None,
            max_timeouts=None,
            backoff_factor=0.5,
            max_timeout_retry_wait_time=self.config.max_backoff_s,
            request_timeout=max(30.0, self.config.sync_timeout_ms / 1000 + 15),
        )
        return PacedClient(
            self.config.homeserver,
            self.config.user_id,
            device_id=self.state.device_id or self.config.device_id or "",
            store_path=str(self.store_path),
            config=nio_config,
        )

    async def login(self) -> None:
        """Reuse the saved session; else an access token; else a password login that keeps
        the saved device id (the encryption keys belong to that device)."""
        client = self.client = self._make_client()
        state, config = self.state, self.config
        if (
            state.access_token
            and state.homeserver == config.homeserver
            and state.user_id == config.user_id
        ):
            client.restore_login(state.user_id, state.device_id, state.access_token)
            if await self._token_works():
                return
            log.warning("the saved Matrix session was refused; logging in again")
            client.access_token = ""
        if config.access_token is not None:
            client.access_token = config.access_token.get_secret_value()
            who = await client.whoami()
            if not isinstance(who, WhoamiResponse):
                raise MatrixStartError(f"the Matrix access token was refused: {who}")
            device = who.device_id or state.device_id or config.device_id
            if not device:
                raise MatrixStartError("set matrix.device_id: the homeserver did not tell it")
            client.restore_login(who.user_id, device, client.access_token)
        elif config.password is not None:
            resp = await client.login(
                config.password.get_secret_value(), device_name=config.device_name
            )
            if not isinstance(resp, LoginResponse):
                raise MatrixStartError(f"the Matrix login was refused: {resp}")
            if state.device_id and client.olm is not None:
                # The device existed: if its session was signed out elsewhere, the
                # homeserver deleted the device with its keys, and this login made it
                # again under the same id. Publish its (unchanged) keys again, or nobody
                # could start an encrypted chat with the bot; an identical upload is a
                # no-op for a device that still has them.
                client.olm.account.shared = False
        else:
            raise MatrixStartError("set matrix.password or matrix.access_token")
        self.identity = BotIdentity(client.user_id, self.identity.display_name)
        state.user_id, state.device_id = client.user_id, client.device_id or ""
        state.access_token, state.homeserver = client.access_token, config.homeserver
        save_state(self.store_path, state)

    async def _token_works(self) -> bool:
        assert self.client is not None
        who = await self.client.whoami()
        if isinstance(who, WhoamiResponse):
            self.identity = BotIdentity(who.user_id)
            return True
        return False

    async def start(self) -> None:
        await self.login()
        client = self.client
        assert client is not None
        profile = await client.get_displayname(client.user_id)
        name = getattr(profile, "displayname", None)
        self.identity = BotIdentity(client.user_id, name or "")
        if client.should_upload_keys:
            await client.keys_upload()
        self._tasks.append(asyncio.create_task(self._sync_loop(), name="matrix-sync"))
        self._tasks.append(asyncio.create_task(self._worker(), name="matrix-worker"))
        if self.outbox is not None:
            self._tasks.append(asyncio.create_task(self._outbox_loop(), name="matrix-outbox"))

    async def wait_synced(self, timeout: float = 30.0) -> None:
        await asyncio.wait_for(self._first_sync_done.wait(), timeout)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        save_state(self.store_path, self.state)
        if self.client is not None:
            await self.client.close()

    async def run(self) -> None:
        """Start, then sync until cancelled (``communebot run`` cancels on SIGTERM); a stop
        while still waiting for the homeserver closes the client too."""
        # one process syncs this account, whatever the number of workers (bot/leader.py)
        lock = lock_for(engine_of(getattr(self.handler, "sessions", None)),
                        f"matrix-sync:{self.config.user_id}", Path(self.config.store_path))
        # a standby is healthy (/healthz); the one that takes over starts unconnected
        HEALTH.standby("matrix", f"standby: another process may sync {self.config.user_id}")
        await hold(lock, f"the Matrix sync of {self.config.user_id}")
        HEALTH.disconnected("matrix", "starting")
        try:
            await self.start()
            await asyncio.gather(*self._tasks)
        finally:
            await self.stop()
            await asyncio.to_thread(lock.release)
    async def dispatch(self, incoming: Incoming) -> None:
        """Hand one Incoming to the engine and deliver what it answers."""
        match = _ROOM_CREATE.match(incoming.text) if incoming.addressed else None
        if match:
            await self._create_commune_room(incoming, match.group(1).strip())
            return
        # an event whose sync token was not saved comes back after a crash: the engine
        # keeps its answer until it is delivered, so a crash between the turn's commit
        # and its sending loses no answer (bot.engine.forget_replies)
        sessions = getattr(self.handler, "sessions", None)
        keep = isinstance(sessions, sessionmaker) and incoming.event_id is not None
        if keep:
            # its transaction ids make a second sending of a kept answer harmless
            incoming = replace(incoming, redeliverable=True, replay=True)
        try:
            answers = await self.handler.handle(incoming)
        except Exception:
            log.exception("the engine failed on %s", incoming.event_id)
            answers = [Outgoing.text(translator(self.config.language)("matrix.internal_error"))]
        for number, out in enumerate(answers):
            # named after the event: an answer sent again after a crash is not shown twice
            txn = f"answer:{incoming.event_id}:{number}" if incoming.event_id else None
            await self.deliver(out, incoming, reply=number == 0, txn=txn)
        if keep and answers:
            await asyncio.to_thread(_delivered, sessions, str(incoming.event_id))

    # --- commune rooms -----------------------------------------------------------------------

    async def _create_commune_room(self, incoming: Incoming, code: str) -> None:
        """``!admin room create 97415``: a room named after the commune, bound to it."""
        client = self.client
        assert client is not None
        t = translator(self.config.language)
        if f"matrix:{incoming.user_id}" not in self.admins:
            await self.send_outgoing(incoming.chat_id, Outgoing.text(t("matrix.admin_only")))
            return
        if not code:
            await self.send_outgoing(incoming.chat_id, Outgoing.text(t("matrix.room_usage")))
            return
        commune = commune_name(code)
        if commune is None:
            await self.send_outgoing(
                incoming.chat_id, Outgoing.text(t("matrix.room_unknown_commune", code=code))
            )
            return
        server = self.identity.user_id.split(":", 1)[-1]
        alias = f"#commune-{commune.insee.lower()}:{server}"
        resp = await client.room_create(
            visibility=RoomVisibility.private,
            alias=f"commune-{commune.insee.lower()}",
            name=commune.label,
            topic=t("matrix.room_topic", name=commune.name, departement=commune.departement),
            preset=RoomPreset.public_chat,
            invite=[incoming.user_id],
        )
        if isinstance(resp, RoomCreateError):
            log.warning("creating %s failed: %s", alias, resp)
            key = "matrix.room_exists" if resp.status_code == "M_ROOM_IN_USE" else "matrix.room_failed"
            await self.send_outgoing(incoming.chat_id, Outgoing.text(t(key, alias=alias)))
            return
        room_id = str(resp.room_id)
        await self._make_moderator(room_id, incoming.user_id)
        bind = Incoming(
            platform="matrix",
            user_id=incoming.user_id,
            chat_id=room_id,
            text=f"/admin bind {commune.insee}",
            display_name=incoming.display_name,
            chat_kind=ChatKind.GROUP,
            event_id=f"{incoming.event_id}/bind" if incoming.event_id else None,
            addressed=True,
            chat_moderator=True,
        )
        for out in await self.handler.handle(bind):
            await self.deliver(out, bind)
        link = f"https://matrix.to/#/{alias}"
        await self.send_outgoing(
            incoming.chat_id,
            Outgoing.text(t("matrix.room_created", name=commune.label) + " ", Link(alias, link)),
            incoming.event_id if incoming.chat_kind == ChatKind.GROUP else None,
        )

    async def _make_moderator(self, room_id: str, user_id: str) -> None:
        """Give the admin who asked for the room full power in it. Done after creation,
        not with ``power_level_override``: in v12 rooms the creator may not be listed in
        the power levels, in older ones an override would drop the bot's own level."""
        client = self.client
        assert client is not None
        current = await client.room_get_state_event(room_id, "m.room.power_levels")
        content = dict(getattr(current, "content", {}) or {})
        users = dict(content.get("users") or {})
        users[user_id] = 100
        content["users"] = users
        resp = await client.room_put_state(room_id, "m.room.power_levels", content)
        if isinstance(resp, ErrorResponse):
            log.warning("could not make %s a moderator of %s: %s", user_id, room_id, resp)


def _delivered(sessions: Any, event_id: str) -> None:
    with sessions() as session, session.begin():
        forget_replies(session, "matrix", [event_id])


def _engine_outbox(engine: EngineWithSessions) -> Outbox:
    """The engine's outbox for platform ``matrix``, through its public session factory.

    Claim and mark are two short transactions, so no database lock is held while a
    message travels; one Matrix adapter runs per bot account (one sync stream), so no
    other worker competes for these rows.
    """
    factory = engine.sessions

    class _EngineOutbox:
        def claim(self, limit: int) -> Sequence[OutboxItemLike]:
            with factory() as session, session.begin():
                items: list[OutboxItemLike] = list(outbox_module.claim(session, "matrix", limit))
                return items

        def mark_sent(self, item_id: int) -> None:
            with factory() as session, session.begin():
                outbox_module.mark_sent(session, item_id)

    return _EngineOutbox()


async def run_matrix(config: MatrixConfig, engine: EngineWithSessions, admins: Iterable[str]) -> None:
    """What ``communebot run`` awaits: the Matrix bot until cancelled."""
    bot = MatrixBot(config, engine, admins, outbox=_engine_outbox(engine))
    await bot.run()
