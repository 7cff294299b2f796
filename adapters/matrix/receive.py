"""Receiving from Matrix: the sync loop, invitations, and timeline events turned into
:class:`Incoming` for the engine.

The sync loop is written out here rather than using ``sync_forever`` because the adapter
must (1) persist the sync token itself, (2) ignore the backlog of the first start and of
newly joined rooms, (3) back off and resume on sync errors instead of raising.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Iterable
from typing import Any

from nio import (
    InviteMemberEvent,
    JoinError,
    LocalProtocolError,
    MatrixRoom,
    MegolmEvent,
    RoomCreateEvent,
    RoomGetEventResponse,
    SyncError,
    SyncResponse,
)

from adapters.matrix.config import MatrixStartError
from adapters.matrix.inbound import (
    BotIdentity,
    RoomFacts,
    reply_target,
    sender_power,
    thread_root,
    to_incoming,
)
from adapters.matrix.send import MatrixSending
from adapters.matrix.state import Bounded, save_state
from bot import metrics
from bot.health import HEALTH
from bot.i18n import translator
from bot.messages import Incoming, Outgoing

log = logging.getLogger("communebot.matrix")

#: a generous timeline per room, so messages sent while the bot was down are all seen
SYNC_FILTER: dict[str, Any] = {
    "room": {
        "timeline": {"limit": 50},
        "state": {"lazy_load_members": False},
    },
    "presence": {"types": []},
}
#: events in hand at most before the worker waits for some to finish
MAX_IN_HAND = 1000
#: how long the bot stays quiet after telling a room it cannot read encrypted messages
_E2E_NOTICE_EVERY_S = 600.0


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


class MatrixReceiving(MatrixSending):
    """The receiving half of :class:`~adapters.matrix.runner.MatrixBot`, which sets these
    attributes up and provides ``login`` (again, when the homeserver forgot the session)
    and ``dispatch`` (one Incoming to the engine and back)."""

    identity: BotIdentity
    admins: list[str]
    #: event ids known not to be the bot's (people reply to each other a lot: ask once)
    _not_own: Bounded
    #: event ids already handed on (a sync may repeat the last ones)
    _handled: Bounded
    _invites_seen: set[str]
    #: room id -> when the room was last told its encrypted messages cannot be read
    _e2e_warned: dict[str, float]
    #: room id -> its creators (who outrank everyone in v12+ rooms)
    _creators: dict[str, frozenset[str]]
    #: (kind, ...) items for the worker: ("event", room id, event) or ("token", next_batch)
    _queue: asyncio.Queue[tuple[Any, ...]]
    #: pulsed after each handled batch
    synced: asyncio.Event

    async def login(self) -> None:
        raise NotImplementedError

    async def dispatch(self, incoming: Incoming) -> None:
        raise NotImplementedError

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
                HEALTH.disconnected("matrix", f"sync failed: {resp.status_code or resp.message}")
                metrics.error("platform_api")
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
            HEALTH.connected("matrix")
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
        """Hand queued events on, each room in order and rooms independently, so a slow
        answer or a slow send in one room never holds another room back (issue 19); save
        a sync token once every event of its batch and of the batches before is handled
        (a crash replays what was not, and the engine drops repeated event ids)."""
        in_hand: set[asyncio.Task[None]] = set()
        tails: dict[str, asyncio.Task[None]] = {}
        batch: list[asyncio.Task[None]] = []
        saved: asyncio.Task[None] | None = None

        def spawn(coro: Any) -> asyncio.Task[None]:
            task = asyncio.create_task(coro)
            in_hand.add(task)
            task.add_done_callback(in_hand.discard)
            return task

        def forget_tail(room_id: str, done: asyncio.Task[None]) -> None:
            if tails.get(room_id) is done:  # nothing of this room is waiting any more
                del tails[room_id]

        try:
            while True:
                kind, *args = await self._queue.get()
                if kind == "token":
                    saved = spawn(self._save_token(str(args[0]), batch, saved))
                    batch = []
                    continue
                while len(in_hand) >= MAX_IN_HAND:  # back-pressure: let answers catch up
                    await asyncio.wait(set(in_hand), return_when=asyncio.FIRST_COMPLETED)
                room_id = str(args[0])
                task = spawn(self._room_turn(room_id, args[1], tails.get(room_id)))
                tails[room_id] = task
                task.add_done_callback(functools.partial(forget_tail, room_id))
                batch.append(task)
        finally:
            for task in list(in_hand):
                task.cancel()

    async def _room_turn(self, room_id: str, event: Any,
                         before: asyncio.Task[None] | None) -> None:
        """One event, after the room's previous one (whatever became of it)."""
        if before is not None:
            await asyncio.wait([before])
        try:
            await self._on_timeline_event(room_id, event)
        except Exception:
            log.exception("handling a Matrix event failed")

    async def _save_token(self, token: str, batch: list[asyncio.Task[None]],
                          before: asyncio.Task[None] | None) -> None:
        """Save ``token`` once its batch and every earlier token's are handled."""
        waiting = [*batch, *([before] if before is not None else [])]
        if waiting:
            await asyncio.wait(waiting)
        self.state.next_batch = token
        save_state(self.store_path, self.state)
        self._first_sync_done.set()
        self.synced.set()
        self.synced.clear()

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
