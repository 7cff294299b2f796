"""A lean Bot API emulator for load runs: ``getUpdates`` long-polls as Telegram's does.

``tests/telegram/emulator.py`` validates every message and records every call, and its
``getUpdates`` checks for news every 20 ms: right for behaviour tests, wrong for latency.
Here a ``getUpdates`` with a timeout is answered the moment an update arrives (an
``asyncio.Event``), an offset confirms everything below it (those updates are gone for
good), and what the bot sends is only stamped with the time it arrived, per chat. It
answers the calls a bot makes (getMe, deleteWebhook, setMyCommands, sendMessage,
editMessageText, sendVenue, sendDocument, sendChatAction, answerCallbackQuery) with the
shapes python-telegram-bot parses.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

JSONDict = dict[str, Any]

#: the calls that put something in a chat (what a user sees as an answer)
VISIBLE = frozenset({"sendMessage", "editMessageText", "sendVenue", "sendDocument",
                     "sendLocation", "sendPhoto"})


@dataclass
class ChatLog:
    """What the bot showed in one chat: arrival times, and a waiter woken on each."""

    stamps: list[float] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class LoadEmulator:
    """One bot's Bot API on 127.0.0.1 (a free port)."""

    def __init__(self, token: str = "123456:LOAD-token", username: str = "loadbot") -> None:
        self.token = token
        self.bot_id = int(token.split(":")[0])
        self.username = username
        self.pending: list[JSONDict] = []
        self.next_update_id = 1
        self.chats: dict[int, ChatLog] = defaultdict(ChatLog)
        self.calls: dict[str, int] = defaultdict(int)
        self.errors: list[str] = []
        #: the highest offset the bot confirmed (updates below it are gone)
        self.confirmed_below = 0
        self._news = asyncio.Event()
        self._message_ids: dict[int, int] = defaultdict(lambda: 1)
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._endpoint)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        # a getUpdates held open would make the server's clean-up wait for its whole
        # timeout (4-9 s a run): it answers now, with whatever is pending (nothing)
        self._news.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    # --- the users' side ------------------------------------------------------------------
    def user_json(self, user_id: int, lang: str = "fr") -> JSONDict:
        return {"id": user_id, "is_bot": False, "first_name": f"U{user_id}", "language_code": lang}

    def send_text(self, user_id: int, text: str, lang: str = "fr") -> int:
        """A user writes ``text`` in the private chat with the bot; returns the update id."""
        message_id = self._message_ids[user_id]
        self._message_ids[user_id] += 1
        message: JSONDict = {
            "message_id": message_id, "date": int(time.time()), "text": text,
            "chat": {"id": user_id, "type": "private", "first_name": f"U{user_id}"},
            "from": self.user_json(user_id, lang),
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        update_id = self.next_update_id
        self.next_update_id += 1
        self.pending.append({"update_id": update_id, "message": message})
        self._news.set()
        return update_id

    # --- the bot's side -------------------------------------------------------------------
    async def _endpoint(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401,
                                      "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params: JSONDict = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                params[key] = value if not isinstance(value, str) else _maybe_json(value)
        self.calls[method] += 1
        if method == "getUpdates":
            result: Any = await self._get_updates(params)
        else:
            result = self._answer(method, params)
            if result is None:
                self.errors.append(f"unknown method {method}")
                return web.json_response({"ok": False, "error_code": 404,
                                          "description": "Not Found"}, status=404)
        return web.json_response({"ok": True, "result": result})

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        offset = int(params.get("offset") or 0)
        if offset:
            self.confirmed_below = max(self.confirmed_below, offset)
            self.pending = [u for u in self.pending if u["update_id"] >= offset]
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        if not self.pending and timeout > 0:
            self._news.clear()
            try:
                await asyncio.wait_for(self._news.wait(), timeout)
            except TimeoutError:
                return []
        return list(self.pending[:limit])

    def _bot_user(self) -> JSONDict:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Load",
                "username": self.username, "can_join_groups": True,
                "can_read_all_group_messages": False, "supports_inline_queries": False}

    def _message(self, chat_id: int, **content: Any) -> JSONDict:
        message_id = self._message_ids[chat_id]
        self._message_ids[chat_id] += 1
        return {"message_id": message_id, "date": int(time.time()), "from": self._bot_user(),
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group",
                         "first_name": f"U{chat_id}"}, **content}

    def _shown(self, chat_id: int, text: str) -> None:
        log = self.chats[chat_id]
        log.stamps.append(time.monotonic())
        log.texts.append(text)
        log.changed.set()

    def _answer(self, method: str, params: JSONDict) -> Any:
        if method == "getMe":
            return self._bot_user()
        if method in ("deleteWebhook", "setMyCommands", "sendChatAction",
                      "answerCallbackQuery", "deleteMyCommands", "setWebhook"):
            return True
        if method == "getWebhookInfo":
            return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        if method in VISIBLE:
            chat_id = int(params.get("chat_id") or 0)
            text = str(params.get("text") or params.get("title") or params.get("caption") or "")
            self._shown(chat_id, text)
            if method == "editMessageText":
                return self._message(chat_id, text=text) | {
                    "message_id": int(params.get("message_id") or 1)}
            if method == "sendVenue":
                lat, lon = float(params["latitude"]), float(params["longitude"])
                return self._message(chat_id, venue={
                    "location": {"latitude": lat, "longitude": lon},
                    "title": params.get("title", ""), "address": params.get("address", "")})
            if method == "sendDocument":
                return self._message(chat_id, document={
                    "file_id": "f1", "file_unique_id": "u1", "file_name": "document"})
            return self._message(chat_id, text=text)
        return None


def _maybe_json(value: str) -> Any:
    """Form fields carry JSON for objects and numbers (python-telegram-bot's encoding)."""
    if value[:1] in "{[" or value.lstrip("-").isdigit():
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
