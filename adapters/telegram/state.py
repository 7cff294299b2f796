"""What the Telegram adapter keeps across restarts, in the ``adapter_state`` table.

- ``offset``: the last update handled to the end (polling resumes just after it);
- ``inbox:<update_id>`` (``inbox@<worker>:<update_id>`` for a named webhook worker): an
  update taken but not yet answered to the end (replayed at start by the worker that took it;
  its answer, kept by the engine with the update id until :meth:`inbox_done`, is sent again
  rather than lost when a crash came between the turn's commit and its delivery);
- ``cb:<digest>``: a choice id too long for callback data, under the digest sent instead.

Keys are prefixed with ``telegram:<bot id>:`` so two bots can share one database.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.engine import forget_replies
from directory.db import sqlite_writer
from directory.models import AdapterState, ChatBinding


class TelegramState:
    def __init__(self, sessions: sessionmaker[Session], bot_id: int, worker: str = "") -> None:
        self.sessions = sessions
        self.prefix = f"telegram:{bot_id}:"
        #: this process's own inbox: several webhook workers on one database each replay
        #: only what they took themselves (another's in-flight updates are not theirs)
        self.inbox_prefix = f"inbox@{worker}:" if worker else "inbox:"
        #: updates answered, waiting for the commit that takes them out of the inbox
        self._done_waiting: list[tuple[int, asyncio.Future[None]]] = []
        self._done_writer: asyncio.Task[None] | None = None

    # --- synchronous core (run in a thread) ---------------------------------------------
    def _get(self, key: str) -> str | None:
        with self.sessions() as session:
            row = session.get(AdapterState, self.prefix + key)
            return row.value if row else None

    def _set(self, key: str, value: str) -> None:
        with sqlite_writer(self.sessions), self.sessions() as session, session.begin():
            row = session.get(AdapterState, self.prefix + key)
            if row is None:
                session.add(AdapterState(key=self.prefix + key, value=value))
            else:
                row.value = value

    def _delete(self, key: str) -> None:
        with sqlite_writer(self.sessions), self.sessions() as session, session.begin():
            session.execute(delete(AdapterState).where(AdapterState.key == self.prefix + key))

    def _items(self, prefix: str) -> list[tuple[str, str]]:
        full = self.prefix + prefix
        with self.sessions() as session:
            rows = session.scalars(select(AdapterState).where(AdapterState.key.startswith(full)))
            return [(row.key[len(self.prefix):], row.value) for row in rows]

    def _take_batch(self, items: list[tuple[int, str]], offset: int) -> None:
        """A polled batch kept in the inbox and the offset moved past it, in one commit.
        Core statements, three at most whatever the batch size: it runs for every batch,
        and the ORM's per-row ``get`` cost as much as half an engine turn under load."""
        keys = {self.prefix + f"{self.inbox_prefix}{update_id:020d}": value for update_id, value in items}
        offset_key = self.prefix + "offset"
        table = cast("Table", AdapterState.__table__)
        with sqlite_writer(self.sessions), self.sessions() as session, session.begin():
            found = dict(session.execute(
                select(table.c.key, table.c.value).where(
                    table.c.key.in_([*keys, offset_key]))).all())
            rows = [{"key": key, "value": value} for key, value in keys.items()
                    if key not in found]
            if offset_key not in found:
                rows.append({"key": offset_key, "value": str(offset)})
            elif offset > int(found[offset_key] or 0):
                session.execute(update(table).where(table.c.key == offset_key)
                                .values(value=str(offset)))
            if rows:
                session.execute(insert(table), rows)

    def _inbox_done(self, update_ids: Sequence[int]) -> None:
        """The updates answered: out of the inbox, and their kept answers forgotten, in one
        commit (Core statements: two whatever the number of updates)."""
        table = cast("Table", AdapterState.__table__)
        keys = [self.prefix + f"{self.inbox_prefix}{update_id:020d}" for update_id in update_ids]
        with sqlite_writer(self.sessions), self.sessions() as session, session.begin():
            session.execute(delete(table).where(table.c.key.in_(keys)))
            forget_replies(session, "telegram", [str(update_id) for update_id in update_ids])

    def _bound_chats(self, insee: str) -> list[str]:
        with self.sessions() as session:
            return list(session.scalars(
                select(ChatBinding.chat_id).where(
                    ChatBinding.platform == "telegram", ChatBinding.commune_insee == insee)
            ))

    def _migrate(self, old: str, new: str) -> int:
        with self.sessions() as session, session.begin():
            rows = list(session.scalars(select(ChatBinding).where(
                ChatBinding.platform == "telegram", ChatBinding.chat_id == old)))
            for row in rows:
                if session.get(ChatBinding, ("telegram", new)) is None:
                    row.chat_id = new
                else:
                    session.delete(row)
            return len(rows)

    # --- async API --------------------------------------------------------------------
    async def get(self, key: str) -> str | None:
        return await asyncio.to_thread(self._get, key)

    async def set(self, key: str, value: str) -> None:
        await asyncio.to_thread(self._set, key, value)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._delete, key)

    async def offset(self) -> int | None:
        value = await self.get("offset")
        return int(value) if value else None

    async def save_offset(self, update_id: int) -> None:
        await self.set("offset", str(update_id))

    async def inbox_put(self, update_id: int, data: dict[str, Any]) -> None:
        await self.set(f"{self.inbox_prefix}{update_id:020d}", json.dumps(data))

    async def take_batch(self, updates: list[tuple[int, dict[str, Any]]], offset: int) -> None:
        await asyncio.to_thread(self._take_batch, [(i, json.dumps(d)) for i, d in updates], offset)

    async def inbox_done(self, update_id: int) -> None:
        """Returns once the update is out of the inbox (committed).

        Group commit: while one commit is being written, the updates answered meanwhile
        wait and go together in the next, so under load there are far fewer commits than
        updates, and an idle bot still commits at once (no timer, no added delay)."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # a caller cancelled meanwhile (a stop) leaves its failure read, not logged as lost
        waiter.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._done_waiting.append((update_id, waiter))
        if self._done_writer is None or self._done_writer.done():
            self._done_writer = asyncio.create_task(self._write_done())
        await asyncio.shield(waiter)

    async def _write_done(self) -> None:
        while self._done_waiting:
            batch, self._done_waiting = self._done_waiting, []
            try:
                await asyncio.to_thread(self._inbox_done, [update_id for update_id, _ in batch])
            except BaseException as exc:  # each waiter hears it (a stop cancels this task too)
                failure = exc if isinstance(exc, Exception) else RuntimeError("stopped")
                for _, waiter in batch:
                    if not waiter.done():
                        waiter.set_exception(failure)
                if not isinstance(exc, Exception):
                    raise
            else:
                for _, waiter in batch:
                    if not waiter.done():
                        waiter.set_result(None)

    async def inbox(self) -> list[dict[str, Any]]:
        items = await asyncio.to_thread(self._items, self.inbox_prefix)
        return [json.loads(value) for _key, value in sorted(items)]

    async def migrate_chat(self, old: str, new: str) -> int:
        """A group became a supergroup (a new chat id): its commune binding follows."""
        return await asyncio.to_thread(self._migrate, old, new)

    async def bound_chats(self, insee: str) -> list[str]:
        return await asyncio.to_thread(self._bound_chats, insee)
