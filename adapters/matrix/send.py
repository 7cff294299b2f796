"""Sending to Matrix: :class:`Outgoing` items become ``m.notice`` / ``m.location`` / ``m.file``
events in the rooms their targets name (the chat asked in, a user's direct room, a commune's
rooms). A document is uploaded to the homeserver's media repository first, encrypted when
the room is.

In a room the first event of an answer replies to the question, an answer to a message
written in a thread goes into that thread, and a new view of a paginated list replaces
the message that showed the previous one. nio's own loop retries a 429 (``PacedClient``
makes it honour the ``Retry-After`` header); the outbox (digests, announcements) is
delivered here too, each message marked sent only once the homeserver took it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import logging
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Protocol

from aiohttp import ClientResponse
from nio import (
    AsyncClient,
    ErrorResponse,
    LocalProtocolError,
    RoomCreateError,
    RoomPreset,
    RoomSendResponse,
    UploadResponse,
)
from nio.responses import Response

from adapters.matrix.config import MatrixConfig
from adapters.matrix.render import contents, file_content, replacement, reply_to
from adapters.matrix.state import AdapterState, Bounded, save_state
from bot import metrics
from bot.health import HEALTH
from bot.messages import ChatKind, Document, Incoming, Outgoing, TargetKind

log = logging.getLogger("communebot.matrix")
#: the transaction id of the event :meth:`MatrixSending.send_outgoing` is sending (None:
#: nio draws one); a context variable, so ``_send`` keeps its two-argument form
_TX_ID: ContextVar[str | None] = ContextVar("matrix_tx_id", default=None)


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


class _NioTimeoutLine(logging.Filter):
    """nio's own "Timed out, sleeping for 2s" says neither what nor where:
    :meth:`PacedClient.get_timeout_retry_wait_time` logs it with the homeserver."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Timed out, sleeping for")


_NIO_LOGGER = logging.getLogger("nio.client.async_client")
if not any(isinstance(f, _NioTimeoutLine) for f in _NIO_LOGGER.filters):
    _NIO_LOGGER.addFilter(_NioTimeoutLine())


class PacedClient(AsyncClient):
    """nio honours the body's ``retry_after_ms`` on a 429 but not the ``Retry-After``
    header (which newer servers send, the body field being deprecated): copy the header
    into the response so nio's own retry loop waits the time the server asked for.

    With the homeserver unreachable nio tries again forever (``max_timeouts=None``); each
    wait is logged with the homeserver and the delay, and a signal cancels it at once."""

    async def get_timeout_retry_wait_time(self, got_timeouts: int) -> float:
        wait = float(await super().get_timeout_retry_wait_time(got_timeouts))
        log.warning("waiting for the Matrix homeserver %s (no answer, %d in a row): next try in %.1f s",
                    self.homeserver, got_timeouts, wait)
        HEALTH.disconnected("matrix", f"waiting for the homeserver ({got_timeouts} in a row)")
        return wait

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


def transaction_id(txn: str, room_id: str, index: int) -> str:
    """A transaction id for the ``index``-th event of the message named ``txn`` in a room:
    the same on every try, URL-safe, and unlike any id nio draws (those are UUIDs)."""
    return "cb" + hashlib.sha256(f"{txn}\x00{room_id}\x00{index}".encode()).hexdigest()[:40]


def retry_after_header_ms(value: str | None) -> int | None:
    """``Retry-After: 3`` -> 3000 ms; an HTTP date or garbage -> None (nio then waits 5 s)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(0, int(seconds * 1000))


class MatrixSending:
    """The sending half of :class:`~adapters.matrix.runner.MatrixBot` (which sets these
    attributes up): it shares the client, the saved state and the event memories with
    the receiving half."""

    config: MatrixConfig
    client: PacedClient | None
    state: AdapterState
    store_path: Path
    outbox: Outbox | None
    #: INSEE -> room ids bound to it (for COMMUNE_ROOM targets handed back directly)
    commune_rooms: Callable[[str], Sequence[str]] | None
    #: event ids the bot sent -> their room (a reply to one of them is addressed to the bot)
    _own_events: Bounded
    #: "room id NUL edit key" -> the event showing that view, replaced by the next one
    _edits: Bounded
    #: event id -> thread root, for messages written in a thread (answers go there too)
    _threads: Bounded
    #: pulsed after every sync (a new room becomes known to nio only then)
    _sync_tick: asyncio.Event
    #: set once the first sync batch is handled
    _first_sync_done: asyncio.Event

    # --- outgoing ---------------------------------------------------------------------------

    async def deliver(self, out: Outgoing, incoming: Incoming | None, reply: bool = False,
                      txn: str | None = None) -> None:
        """``txn`` names this answer for the homeserver (see :meth:`send_outgoing`)."""
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
                txn=txn,
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
        txn: str | None = None,
    ) -> bool:
        """Render and send; True when every event was accepted by the homeserver.

        With ``txn`` (a name stable across restarts: the answered event's id, an outbox
        row's id) each event goes with a transaction id derived from it: sent again after
        a crash, it is recognised by the homeserver, which keeps the first and sends
        nothing twice (transaction ids are per access token, which a restart keeps).

        In a room the first event of an answer replies to the question (and mentions its
        author); when the question was written in a thread, every event of the answer
        goes into that thread. A document whose upload fails is missing from the answer
        (the rest still goes; False tells the outbox to try again)."""
        ok = True
        events = contents(out)
        if out.document is not None:
            uploaded = await self._upload(room_id, out.document)
            if uploaded is None:
                ok = False
            else:
                events.append(uploaded)
        for index, content in enumerate(events):
            edit_key = f"{room_id}\x00{out.edit_key}" if out.edit_key and index == 0 else None
            first = quote and index == 0
            if edit_key and edit_key in self._edits:
                content = replacement(content, self._edits[edit_key])
            elif reply_event and (first or thread):
                content = reply_to(
                    content, reply_event, reply_sender if first else None, thread, not first
                )
            tx_token = _TX_ID.set(transaction_id(txn, room_id, index) if txn else None)
            try:
                event_id = await self._send(room_id, content)
            finally:
                _TX_ID.reset(tx_token)
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

    async def _upload(self, room_id: str, document: Document) -> dict[str, Any] | None:
        """Put the bytes in the media repository and return the ``m.file`` content that
        points at them; in an encrypted room they are encrypted here (``encrypt=True``),
        the key travelling inside the (itself encrypted) event."""
        client = self.client
        assert client is not None
        if client.olm is not None and room_id not in client.rooms:
            await self.wait_for_room(room_id)  # encrypted or not decides how to upload
        room = client.rooms.get(room_id)
        encrypt = room is not None and room.encrypted
        try:
            resp, keys = await client.upload(
                io.BytesIO(document.data),
                content_type=document.mime or "application/octet-stream",
                filename=document.filename,
                encrypt=encrypt,
                filesize=len(document.data),
            )
        except (LocalProtocolError, OSError) as exc:
            log.warning("cannot upload %s for %s: %s", document.filename, room_id, exc)
            return None
        if not isinstance(resp, UploadResponse):
            log.warning("uploading %s for %s failed: %s", document.filename, room_id, resp)
            return None
        if not encrypt:
            return file_content(document, url=resp.content_uri)
        if not keys:  # the ciphertext without its key would be a useless file
            log.warning("uploading %s for %s gave no decryption keys", document.filename, room_id)
            return None
        return file_content(document, encrypted_file={**keys, "url": resp.content_uri})

    async def _send(self, room_id: str, content: dict[str, Any]) -> str | None:
        client = self.client
        assert client is not None
        if client.olm is not None and room_id not in client.rooms:
            # nio must know whether the room is encrypted before it sends anything there
            await self.wait_for_room(room_id)
        try:
            resp = await client.room_send(
                room_id, "m.room.message", content, tx_id=_TX_ID.get(), ignore_unverified_devices=True
            )
        except LocalProtocolError as exc:
            log.warning("cannot send to %s: %s", room_id, exc)
            metrics.error("delivery")
            return None
        if isinstance(resp, RoomSendResponse):
            self._own_events.put(resp.event_id, room_id)
            return str(resp.event_id)
        log.warning("sending to %s failed: %s", room_id, resp)
        metrics.error("delivery")
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
            # named after the row and its words: the same row sent again after a crash is
            # one message; a row id SQLite reuses after a purge names another message
            txn = f"outbox:{item.id}:{item.outgoing!r}"
            if room_id and await self.send_outgoing(room_id, item.outgoing, txn=txn):
                await asyncio.to_thread(self.outbox.mark_sent, item.id)
                sent += 1
            else:
                metrics.outbox_failed("matrix")
        return sent

    async def _outbox_loop(self) -> None:
        await self._first_sync_done.wait()
        while True:
            try:
                await self.deliver_outbox_once()
            except Exception:
                log.exception("delivering the Matrix outbox failed")
            await asyncio.sleep(self.config.outbox_interval_s)

