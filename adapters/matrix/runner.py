"""The Matrix adapter: a matrix-nio ``AsyncClient`` between rooms and the engine.

It only translates: Matrix events become :class:`Incoming`, :class:`Outgoing` items
become ``m.notice`` / ``m.location`` events. The sync loop is written out here rather
than using ``sync_forever`` because the adapter must (1) persist the sync token itself,
(2) ignore the backlog of the first start and of newly joined rooms, (3) back off and
resume on sync errors instead of raising.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import click
from aiohttp import ClientResponse
from nio import (
    AsyncClient,
    AsyncClientConfig,
    ErrorResponse,
    InviteMemberEvent,
    JoinError,
    LocalProtocolError,
    LoginResponse,
    MatrixRoom,
    MegolmEvent,
    RoomCreateError,
    RoomCreateEvent,
    RoomGetEventResponse,
    RoomPreset,
    RoomSendResponse,
    RoomVisibility,
    SyncError,
    SyncResponse,
    WhoamiResponse,
)
from nio.responses import Response

from adapters.matrix.communes import commune_name
from adapters.matrix.config import MatrixConfig
from adapters.matrix.inbound import (
    BotIdentity,
    RoomFacts,
    reply_target,
    sender_power,
    thread_root,
    to_incoming,
)
from adapters.matrix.render import contents, replacement, reply_to
from adapters.matrix.state import AdapterState, load_state, save_state
from bot.i18n import translator
from bot.messages import (
    ChatKind,
    Incoming,
    Link,
    MessageHandler,
    Outgoing,
    TargetKind,
)

log = logging.getLogger("communebot.matrix")

#: a generous timeline per room, so messages sent while the bot was down are all seen
SYNC_FILTER: dict[str, Any] = {
    "room": {
        "timeline": {"limit": 50},
        "state": {"lazy_load_members": False},
    },
    "presence": {"types": []},
}
_ROOM_CREATE = re.compile(r"^/admin\s+room\s+create\b\s*(.*)$", re.IGNORECASE | re.DOTALL)
#: how long the bot stays quiet after telling a room it cannot read encrypted messages
_E2E_NOTICE_EVERY_S = 600.0


class MatrixStartError(click.ClickException):
    """The adapter cannot start: no credentials, or the homeserver refused them. A click
    error, so ``communebot run`` prints it as one clear line and exits with status 1."""


class OutboxItemLike(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def chat_id(self) -> str: ...

    @property
    def outgoing(self) -> Outgoing: ...


class Outbox(Protocol):
    """Pending announcements and digests for platform ``matrix`` (blocking calls; the
    adapter runs them in a thread)."""

    def claim(self, limit: int) -> Sequence[OutboxItemLike]: ...

    def mark_sent(self, item_id: int) -> None: ...


class PacedClient(AsyncClient):
    """nio honours the body's ``retry_after_ms`` on a 429 but not the ``Retry-After``
    header (which newer servers send, the body field being deprecated): copy the header
    into the response so nio's own retry loop waits the time the server asked for."""

    async def create_matrix_response(
        self,
        response_class: type,
        transport_response: ClientResponse,
        data: tuple[Any, ...] | None = None,
        save_to: Any = None,
    ) -> Response:
        resp: Response = await super().create_matrix_response(
            response_class, transport_response, data, save_to
        )
        if (
            transport_response.status == 429
            and isinstance(resp, ErrorResponse)
            and not resp.retry_after_ms
        ):
            resp.retry_after_ms = retry_after_header_ms(transport_response.headers.get("Retry-After"))
        return resp


def retry_after_header_ms(value: str | None) -> int | None:
    """``Retry-After: 3`` -> 3000 ms; an HTTP date or garbage -> None (nio then waits 5 s)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(0, int(seconds * 1000))


def invite_allowed(
    inviter: str,
    bot_user_id: str,
    allowed_inviters: Iterable[str],
    allowed_servers: Iterable[str],
    admins: Iterable[str],
) -> bool:
    """Admins and listed users always; listed servers (``*`` = all); with no list at all,
    the bot's own homeserver."""
    if f"matrix:{inviter}" in set(admins) or inviter in set(allowed_inviters):
        return True
    server = inviter.split(":", 1)[1] if ":" in inviter else ""
    servers = set(allowed_servers)
    if "*" in servers or server in servers:
        return True
    if not servers and not list(allowed_inviters):
        return server == bot_user_id.split(":", 1)[-1]
    return False


class _Bounded(OrderedDict[str, str]):
    """A small LRU map (own event ids, edit keys): memory stays flat on a long run."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: str, value: str) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


class MatrixBot:
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
        self._own_events = _Bounded(2000)
        self._not_own = _Bounded(2000)
        self._edits = _Bounded(2000)
        self._handled = _Bounded(5000)
        #: event id -> thread root, for messages written in a thread (answers go there too)
        self._threads = _Bounded(2000)
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
        """Start, then sync until cancelled (``communebot run`` cancels on SIGTERM)."""
        await self.start()
        try:
            await asyncio.gather(*self._tasks)
        finally:
            await self.stop()

    # --- the sync loop ----------------------------------------------------------------

    async def _sync_loop(self) -> None:
        """Sync forever. Events go to the worker queue so a slow answer (or one that waits
        for a room to appear) never stalls the sync; the token is saved by the worker once
        the batch is handled, so a crash replays it (the engine drops repeated event ids)
        rather than losing it."""
        client = self.client
        assert client is not None
        token = self.state.next_batch or None
        first = True
        backoff = 0.5
        token_refused_said = False
        while True:
            try:
                resp = await client.sync(
                    timeout=0 if first else self.config.sync_timeout_ms,
                    sync_filter=SYNC_FILTER,
                    since=token,
                    # nio keeps no room state across restarts: ask for all of it once
                    full_state=True if first else None,
                )
            except (asyncio.CancelledError, MatrixStartError):
                raise
            except Exception as exc:  # a proxy's HTML error page, a broken stream…
                resp = SyncError(f"{type(exc).__name__}: {exc}")
            if isinstance(resp, SyncError):
                log.warning("Matrix sync failed (%s); retrying in %.1f s", resp, backoff)
                if resp.status_code == "M_UNKNOWN_TOKEN" and self.config.password is not None:
                    self.state.access_token = ""
                    await client.close()
                    await self.login()
                    client = self.client
                    assert client is not None
                    first = True
                elif resp.status_code == "M_UNKNOWN_TOKEN" and not token_refused_said:
                    log.error(
                        "the Matrix access token was revoked: set a new matrix.access_token "
                        "(or matrix.password, which lets the bot log in again by itself) "
                        "and restart"
                    )
                    token_refused_said = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.config.max_backoff_s)
                continue
            backoff = 0.5
            try:
                await self._on_sync(resp, backlog=token is None)
            except Exception:  # one bad event must not stop the bot; nio state is fine
                log.exception("handling a Matrix sync batch failed")
            token = resp.next_batch
            await self._queue.put(("token", token))
            await self._crypto_chores()
            first = False
            self._sync_tick.set()
            self._sync_tick.clear()

    async def _worker(self) -> None:
        """Handle queued events in order; save the sync token after each whole batch."""
        while True:
            kind, *args = await self._queue.get()
            if kind == "token":
                self.state.next_batch = str(args[0])
                save_state(self.store_path, self.state)
                self._first_sync_done.set()
                self.synced.set()
                self.synced.clear()
                continue
            try:
                await self._on_timeline_event(str(args[0]), args[1])
            except Exception:
                log.exception("handling a Matrix event failed")

    async def _crypto_chores(self) -> None:
        """What ``sync_forever`` does between syncs: keys and to-device messages."""
        client = self.client
        assert client is not None
        if client.olm is None:
            return
        try:
            await client.send_to_device_messages()
            if client.should_upload_keys:
                await client.keys_upload()
            if client.should_query_keys:
                await client.keys_query()
            if client.should_claim_keys:
                await client.keys_claim(client.get_users_for_key_claiming())
        except Exception as exc:  # keys are retried after the next sync
            log.warning("Matrix key maintenance: %s", exc)

    async def _on_sync(self, resp: SyncResponse, backlog: bool) -> None:
        for room_id, invite in resp.rooms.invite.items():
            await self._on_invite(room_id, invite.invite_state)
        for room_id, joined in resp.rooms.join.items():
            events = list(joined.timeline.events)
            for event in [*joined.state, *events]:
                if isinstance(event, RoomCreateEvent):
                    extra = event.source.get("content", {}).get("additional_creators", [])
                    creators = {event.sender, *(u for u in extra if isinstance(u, str))}
                    self._creators[room_id] = frozenset(creators)
            start = 0
            for index, event in enumerate(events):
                if (
                    getattr(event, "membership", None) == "join"
                    and getattr(event, "state_key", None) == self.identity.user_id
                    and getattr(event, "prev_membership", None) != "join"
                ):
                    # everything before the bot's own join is the room's history
                    start = index + 1
            if backlog:
                continue
            for event in events[start:]:
                await self._queue.put(("event", room_id, event))

    # --- invites ------------------------------------------------------------------------

    async def _on_invite(self, room_id: str, invite_state: list[Any]) -> None:
        client = self.client
        assert client is not None
        if room_id in self._invites_seen:
            return
        inviter, direct = "", False
        for event in invite_state:
            if (
                isinstance(event, InviteMemberEvent)
                and event.state_key == self.identity.user_id
                and event.membership == "invite"
            ):
                inviter = event.sender
                direct = bool(event.content.get("is_direct"))
        if not inviter:
            return
        self._invites_seen.add(room_id)
        allowed = invite_allowed(
            inviter,
            self.identity.user_id,
            self.config.allowed_inviters,
            self.config.allowed_servers,
            self.admins,
        )
        if not allowed:
            log.info("declining the invitation of %s to %s", inviter, room_id)
            await client.room_leave(room_id)
            return
        joined = await client.join(room_id)
        if isinstance(joined, JoinError):
            log.warning("could not join %s: %s", room_id, joined)
            return
        if direct:
            self.state.direct_rooms.setdefault(inviter, room_id)
            save_state(self.store_path, self.state)

    # --- incoming messages ----------------------------------------------------------------

    def _is_direct(self, room: MatrixRoom) -> bool:
        if room.room_id in self.state.direct_rooms.values():
            return True
        return room.member_count <= 2 and not room.name and not room.canonical_alias

    async def _replies_to_bot(self, room_id: str, content: dict[str, Any]) -> bool:
        target = reply_target(content)
        if target is None:
            return False
        if target in self._own_events:
            return True
        if target in self._not_own:
            return False
        assert self.client is not None
        resp = await self.client.room_get_event(room_id, target)
        if isinstance(resp, RoomGetEventResponse) and resp.event.sender == self.identity.user_id:
            self._own_events.put(target, room_id)
            return True
        self._not_own.put(target, room_id)  # people reply to each other a lot: ask once
        return False

    async def _on_timeline_event(self, room_id: str, event: Any) -> None:
        client = self.client
        assert client is not None
        room = client.rooms.get(room_id)
        if room is None:
            return
        event_id = getattr(event, "event_id", None)
        if not isinstance(event_id, str) or event_id in self._handled:
            return
        self._handled.put(event_id, "")
        if getattr(event, "sender", None) == self.identity.user_id:
            return
        if isinstance(event, MegolmEvent):
            await self._cannot_decrypt(room, event)
            return
        source = getattr(event, "source", None)
        if not isinstance(source, dict) or source.get("type") != "m.room.message":
            return
        content = source.get("content") or {}
        sender = str(source.get("sender", ""))
        direct = self._is_direct(room)
        facts = RoomFacts(
            room_id=room_id,
            direct=direct,
            sender_power=sender_power(
                room.power_levels.get_user_level(sender),
                sender,
                self._creators.get(room_id, frozenset()),
                room.room_version,
            ),
            sender_display_name=room.user_name(sender) or "",
            # in a direct chat everything is addressed: no need to look the replied event up
            reply_to_bot=False if direct else await self._replies_to_bot(room_id, content),
        )
        incoming = to_incoming(
            {**source, "event_id": event_id, "sender": sender}, facts, self.identity
        )
        root = thread_root(content)
        if root is not None:
            self._threads.put(event_id, root)
        if incoming is None:
            return
        await self.dispatch(incoming)

    async def _cannot_decrypt(self, room: MatrixRoom, event: MegolmEvent) -> None:
        """Say so in the room instead of staying silent (at most every ten minutes)."""
        client = self.client
        assert client is not None
        if client.olm is not None:
            with contextlib.suppress(LocalProtocolError):
                await client.request_room_key(event)
        now = time.monotonic()
        if now - self._e2e_warned.get(room.room_id, -_E2E_NOTICE_EVERY_S) < _E2E_NOTICE_EVERY_S:
            return
        self._e2e_warned[room.room_id] = now
        key = "matrix.e2e_undecryptable" if client.olm is not None else "matrix.e2e_disabled"
        await self.send_outgoing(room.room_id, Outgoing.text(translator(self.config.language)(key)))

    async def dispatch(self, incoming: Incoming) -> None:
        """Hand one Incoming to the engine and deliver what it answers."""
        match = _ROOM_CREATE.match(incoming.text) if incoming.addressed else None
        if match:
            await self._create_commune_room(incoming, match.group(1).strip())
            return
        try:
            answers = await self.handler.handle(incoming)
        except Exception:
            log.exception("the engine failed on %s", incoming.event_id)
            answers = [Outgoing.text(translator(self.config.language)("matrix.internal_error"))]
        first = True
        for out in answers:
            await self.deliver(out, incoming, reply=first)
            first = False

    # --- outgoing ---------------------------------------------------------------------------

    async def deliver(self, out: Outgoing, incoming: Incoming | None, reply: bool = False) -> None:
        target = out.target
        if target.kind == TargetKind.REPLY and incoming is not None:
            group = incoming.chat_kind == ChatKind.GROUP and incoming.event_id is not None
            thread = self._threads.get(incoming.event_id or "")
            await self.send_outgoing(
                incoming.chat_id,
                out,
                incoming.event_id if group and (reply or thread) else None,
                incoming.user_id,
                thread=thread,
                quote=reply,
            )
        elif (
            target.kind == TargetKind.USER
            and target.platform in (None, "matrix")
            and (target.ref or "").startswith("@")
        ):
            room_id = await self.direct_room(str(target.ref))
            if room_id:
                await self.send_outgoing(room_id, out)
        elif target.kind == TargetKind.COMMUNE_ROOM and target.platform in (None, "matrix"):
            rooms = self.commune_rooms(target.ref or "") if self.commune_rooms else ()
            for room_id in rooms:
                await self.send_outgoing(room_id, out)
        else:
            log.debug("not a Matrix target, left to its platform: %s", target)

    async def send_outgoing(
        self,
        room_id: str,
        out: Outgoing,
        reply_event: str | None = None,
        reply_sender: str | None = None,
        thread: str | None = None,
        quote: bool = True,
    ) -> bool:
        """Render and send; True when every event was accepted by the homeserver.

        In a room the first event of an answer replies to the question (and mentions its
        author); when the question was written in a thread, every event of the answer
        goes into that thread."""
        ok = True
        for index, content in enumerate(contents(out)):
            edit_key = f"{room_id}\x00{out.edit_key}" if out.edit_key and index == 0 else None
            first = quote and index == 0
            if edit_key and edit_key in self._edits:
                content = replacement(content, self._edits[edit_key])
            elif reply_event and (first or thread):
                content = reply_to(
                    content, reply_event, reply_sender if first else None, thread, not first
                )
            event_id = await self._send(room_id, content)
            if event_id is None:
                ok = False
            elif edit_key and edit_key not in self._edits:
                self._edits.put(edit_key, event_id)
        return ok

    async def wait_for_room(self, room_id: str, timeout: float = 10.0) -> bool:
        """A room just created or joined is known to nio only after the next sync."""
        client = self.client
        assert client is not None
        deadline = time.monotonic() + timeout
        while room_id not in client.rooms and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._sync_tick.wait(), max(0.01, deadline - time.monotonic())
                )
        return room_id in client.rooms

    async def _send(self, room_id: str, content: dict[str, Any]) -> str | None:
        client = self.client
        assert client is not None
        if client.olm is not None and room_id not in client.rooms:
            # nio must know whether the room is encrypted before it sends anything there
            await self.wait_for_room(room_id)
        try:
            resp = await client.room_send(
                room_id, "m.room.message", content, ignore_unverified_devices=True
            )
        except LocalProtocolError as exc:
            log.warning("cannot send to %s: %s", room_id, exc)
            return None
        if isinstance(resp, RoomSendResponse):
            self._own_events.put(resp.event_id, room_id)
            return str(resp.event_id)
        log.warning("sending to %s failed: %s", room_id, resp)
        return None

    async def direct_room(self, user_id: str) -> str | None:
        """The direct room with this user: the one known, else a new one."""
        client = self.client
        assert client is not None
        known = self.state.direct_rooms.get(user_id)
        if known and known in client.rooms:
            return known
        initial_state = (
            [{"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]
            if self.config.encrypt_direct_rooms and client.olm is not None
            else []
        )
        resp = await client.room_create(
            is_direct=True,
            invite=[user_id],
            preset=RoomPreset.trusted_private_chat,
            initial_state=initial_state,
        )
        if isinstance(resp, RoomCreateError):
            log.warning("cannot open a direct room with %s: %s", user_id, resp)
            return None
        self.state.direct_rooms[user_id] = resp.room_id
        save_state(self.store_path, self.state)
        return str(resp.room_id)

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

    # --- outbox -------------------------------------------------------------------------------

    async def deliver_outbox_once(self) -> int:
        """Send what the outbox holds for Matrix; an item is marked sent only once every
        event of it was accepted, so a failure is retried on the next round."""
        if self.outbox is None:
            return 0
        items = await asyncio.to_thread(self.outbox.claim, self.config.outbox_batch)
        sent = 0
        for item in items:
            if item.chat_id.startswith("user:"):
                room_id = await self.direct_room(item.chat_id.removeprefix("user:"))
            else:
                room_id = item.chat_id
            if room_id and await self.send_outgoing(room_id, item.outgoing):
                await asyncio.to_thread(self.outbox.mark_sent, item.id)
                sent += 1
        return sent

    async def _outbox_loop(self) -> None:
        await self._first_sync_done.wait()
        while True:
            try:
                await self.deliver_outbox_once()
            except Exception:
                log.exception("delivering the Matrix outbox failed")
            await asyncio.sleep(self.config.outbox_interval_s)


def _engine_outbox(engine: Any) -> Outbox | None:
    """The engine's outbox for platform ``matrix``, when the engine exposes its sessions.

    Claim and mark are two short transactions, so no database lock is held while a
    message travels; one Matrix adapter runs per bot account (one sync stream), so no
    other worker competes for these rows.
    """
    factory: Any = next(
        (
            getattr(engine, name)
            for name in ("session_factory", "sessions", "_factory")
            if callable(getattr(engine, name, None))
        ),
        None,
    )
    if factory is None:
        return None
    from bot import outbox as outbox_module

    class _EngineOutbox:
        def claim(self, limit: int) -> Sequence[OutboxItemLike]:
            with factory() as session, session.begin():
                items: list[OutboxItemLike] = list(outbox_module.claim(session, "matrix", limit))
                return items

        def mark_sent(self, item_id: int) -> None:
            with factory() as session, session.begin():
                outbox_module.mark_sent(session, item_id)

    return _EngineOutbox()


async def run_matrix(config: MatrixConfig, engine: MessageHandler, admins: Iterable[str]) -> None:
    """What ``communebot run`` awaits: the Matrix bot until cancelled."""
    bot = MatrixBot(config, engine, admins, outbox=_engine_outbox(engine))
    await bot.run()
