"""A Telegram Bot API emulator for the adapter's tests (aiohttp on 127.0.0.1, a free port).

It speaks the Bot API's JSON (``{"ok": true, "result": ...}`` and the error shape with
``error_code``, ``description`` and ``parameters.retry_after``), validates what a bot sends
the way Telegram does (HTML parse mode, text length, keyboard shapes, callback data size),
records every call so tests can assert on it (an uploaded document as an :class:`Upload`:
filename, MIME type and bytes), lets tests push user updates (messages,
locations, button presses, group messages with mentions and replies) and injects faults:
429 with ``retry_after``, 5xx, timeouts and "can't parse entities", one by one
(:meth:`BotAPIEmulator.inject`) or at random on a share of every call
(:meth:`BotAPIEmulator.chaos`). Two timeouts exist, as on the real server: ``timeout``
(nothing done, the answer never comes) and ``timeout_after`` (the call is carried out,
the message is in the chat, but the answer comes after the client gave up).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import aiohttp
from aiohttp import web

JSONDict = dict[str, Any]
#: ``make_adapter`` fixture: (engine, start=True, session_factory=None, **config) -> adapter
AdapterFactory = Callable[..., Awaitable[Any]]

#: the tags Telegram's HTML parse mode accepts (and the attributes each may carry)
ALLOWED_TAGS: dict[str, set[str]] = {
    "b": set(), "strong": set(), "i": set(), "em": set(), "u": set(), "ins": set(),
    "s": set(), "strike": set(), "del": set(), "tg-spoiler": set(), "span": {"class"},
    "a": {"href"}, "tg-emoji": {"emoji-id"}, "code": {"class"}, "pre": set(),
    "blockquote": {"expandable"},
}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
#: what a bot may upload (Telegram's Bot API limit for sendDocument)
MAX_UPLOAD = 50 * 1024 * 1024


class ApiError(Exception):
    """An error the emulated server answers with (status code and Telegram description)."""

    def __init__(self, code: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


def utf16_len(text: str) -> int:
    """Telegram measures text in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


class _StrictHTML(HTMLParser):
    """Telegram's HTML rules: known tags only, properly nested, every `<`/`&` escaped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.visible: list[str] = []

    def error(self, message: str) -> None:
        raise bad_request(f"can't parse entities: {message}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.error(f'Unsupported start tag "{tag}" at byte offset {self.getpos()[1]}')
        for name, _value in attrs:
            if name not in ALLOWED_TAGS[tag]:
                self.error(f'Unsupported attribute "{name}" in tag "{tag}"')
        if tag == "span" and dict(attrs).get("class") != "tg-spoiler":
            self.error('Tag "span" must have class "tg-spoiler"')
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.error(f'Unsupported start tag "{tag}/"')

    def handle_endtag(self, tag: str) -> None:
        if not self.stack:
            self.error(f'Unexpected end tag "{tag}"')
        expected = self.stack.pop()
        if expected != tag:
            self.error(f'Unmatched end tag, expected "</{expected}>", found "</{tag}>"')

    def handle_data(self, data: str) -> None:
        self.visible.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in NAMED_ENTITIES:
            self.error(f'Unsupported HTML entity "&{name};"')
        self.visible.append(NAMED_ENTITIES[name])

    def handle_charref(self, name: str) -> None:
        try:
            code = int(name[1:], 16) if name.lower().startswith("x") else int(name)
            self.visible.append(chr(code))
        except (ValueError, OverflowError):
            self.error(f'Wrong character reference "&#{name};"')

    def unknown_decl(self, data: str) -> None:
        self.error("Unsupported declaration")

    def handle_decl(self, decl: str) -> None:
        self.error("Unsupported declaration")

    def handle_comment(self, data: str) -> None:
        self.error("Unsupported comment")

    def handle_pi(self, data: str) -> None:
        self.error("Unsupported processing instruction")


_BARE_AMP = re.compile(r"&(?!(?:[a-zA-Z]+|#[0-9]+|#x[0-9a-fA-F]+);)")
_BARE_LT = re.compile(r"<(?!/?[a-zA-Z])")


def parse_html(text: str) -> str:
    """The visible text of an HTML message, or the ApiError Telegram would answer."""
    if m := _BARE_AMP.search(text):
        raise bad_request(
            f"can't parse entities: Character entity expected at byte offset {m.start()}"
        )
    if m := _BARE_LT.search(text):
        raise bad_request(
            f"can't parse entities: Unsupported start tag at byte offset {m.start()}"
        )
    parser = _StrictHTML()
    parser.feed(text)
    parser.close()
    if parser.rawdata:
        raise bad_request("can't parse entities: Unclosed start tag")
    if parser.stack:
        raise bad_request(
            f'can\'t parse entities: Can\'t find end tag corresponding to start tag "{parser.stack[-1]}"'
        )
    return "".join(parser.visible)


def check_text(text: Any, parse_mode: str | None) -> str:
    if not isinstance(text, str) or not text.strip():
        raise bad_request("message text is empty")
    visible = parse_html(text) if parse_mode and parse_mode.upper() == "HTML" else text
    if parse_mode and parse_mode.upper() not in ("HTML",):
        raise bad_request(f"unsupported parse_mode {parse_mode!r} in this emulator")
    if not visible.strip():
        raise bad_request("message text is empty")
    if utf16_len(visible) > MAX_TEXT:
        raise bad_request("message is too long")
    return visible


def check_caption(caption: Any, parse_mode: str | None) -> str:
    """A media caption: optional, HTML checked like a text, at most 1024 characters."""
    if caption is None or caption == "":
        return ""
    if not isinstance(caption, str):
        raise bad_request("caption must be a string")
    if parse_mode and parse_mode.upper() != "HTML":
        raise bad_request(f"unsupported parse_mode {parse_mode!r} in this emulator")
    visible = parse_html(caption) if parse_mode else caption
    if utf16_len(visible) > MAX_CAPTION:
        raise bad_request("message caption is too long")
    return visible


def check_markup(markup: Any, chat_type: str) -> None:
    """Reply markup shapes as Telegram checks them."""
    if markup is None:
        return
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request("field \"inline_keyboard\" must be an Array of Arrays")
        if sum(len(r) for r in rows) > 100:
            raise bad_request("too many inline buttons")
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise bad_request("button text must be non-empty")
                actions = [k for k in button if k != "text"]
                if len(actions) != 1:
                    raise bad_request("inline keyboard button must have exactly one action")
                data = button.get("callback_data")
                if "callback_data" in button and (
                    not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA
                ):
                    raise bad_request("BUTTON_DATA_INVALID")
    elif "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not rows or not all(isinstance(r, list) for r in rows):
            raise bad_request("field \"keyboard\" must be an Array of Arrays")
        for row in rows:
            for button in row:
                label = button if isinstance(button, str) else (button or {}).get("text")
                if not label:
                    raise bad_request("keyboard button text must be non-empty")
                if isinstance(button, dict) and button.get("request_location") and chat_type != "private":
                    raise bad_request("KEYBOARD_BUTTON_REQUEST_LOCATION_PRIVATE_ONLY")
    elif markup.get("remove_keyboard") is True or "force_reply" in markup:
        return
    else:
        raise bad_request("can't find field \"inline_keyboard\"")


@dataclass
class Call:
    """One request the bot made, as the server saw it."""

    method: str
    params: JSONDict
    ok: bool
    result: Any = None
    error: str | None = None
    at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Upload:
    """A file a bot uploaded (multipart/form-data), as the server received it."""

    filename: str
    mime: str
    data: bytes
    file_id: str


@dataclass
class Fault:
    method: str
    kind: str  # "429", "500", "502", "503", "timeout", "timeout_after", "parse_entities"
    times: int = 1
    retry_after: int = 1
    match: Callable[[JSONDict], bool] | None = None


#: the calls that create a message (the ones a client must not blindly send again)
CREATES_MESSAGE = frozenset({"sendMessage", "sendVenue", "sendLocation", "sendPhoto",
                             "sendDocument", "copyMessage", "forwardMessage"})


@dataclass
class Chaos:
    """Random faults on a share of every call, from a seeded generator.

    ``kinds`` weighs the fault kinds; a "timeout" on a call that creates a message is
    always ``timeout_after`` (Telegram got the request and posted the message, the answer
    was lost), elsewhere a coin picks ``timeout`` or ``timeout_after``."""

    rate: float
    seed: int
    kinds: dict[str, float]
    retry_after: int = 1
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def pick(self, method: str) -> Fault | None:
        if self.rng.random() >= self.rate:
            return None
        kind = self.rng.choices(list(self.kinds), weights=list(self.kinds.values()))[0]
        if kind == "timeout" and (method in CREATES_MESSAGE or self.rng.random() < 0.5):
            kind = "timeout_after"
        return Fault(method, kind, 1, self.retry_after)


@dataclass
class Chat:
    id: int
    type: str  # private, group, supergroup
    title: str = ""
    admins: set[int] = field(default_factory=set)
    messages: dict[int, JSONDict] = field(default_factory=dict)
    next_message_id: int = 1
    #: set when a group was upgraded to a supergroup (Telegram answers 400 + the new id)
    migrated_to: int | None = None


_INT_FIELDS = {"chat_id", "offset", "limit", "timeout", "message_id", "max_connections",
               "reply_to_message_id", "user_id", "cache_time"}
_FLOAT_FIELDS = {"latitude", "longitude"}
_JSON_FIELDS = {"reply_markup", "allowed_updates", "commands", "scope", "entities",
                "link_preview_options", "reply_parameters"}
_BOOL_FIELDS = {"drop_pending_updates", "disable_notification", "show_alert"}


def _coerce(params: dict[str, Any]) -> JSONDict:
    out: JSONDict = {}
    for key, value in params.items():
        if isinstance(value, str):
            if key in _JSON_FIELDS:
                value = json.loads(value)
            elif key in _INT_FIELDS:
                value = int(value) if re.fullmatch(r"-?\d+", value) else value
            elif key in _FLOAT_FIELDS:
                value = float(value)
            elif key in _BOOL_FIELDS:
                value = value.lower() == "true"
        out[key] = value
    return out


class BotAPIEmulator:
    """The server side of the Bot API, for one bot."""

    def __init__(self, token: str = "123456:TEST-token", username: str = "communetestbot",
                 timeout_sleep: float = 3.0) -> None:
        self.token = token
        self.bot_id = int(token.split(":")[0])
        self.username = username
        self.timeout_sleep = timeout_sleep
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self.chaos_faults: Chaos | None = None
        #: (method, kind) -> how many faults were injected
        self.injected: Counter[tuple[str, str]] = Counter()
        #: method -> how many requests came (getUpdates and failed ones included)
        self.requests: Counter[str] = Counter()
        self.chats: dict[int, Chat] = {}
        self.users: dict[int, JSONDict] = {}
        self.pending: list[JSONDict] = []
        self.next_update_id = 1000
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}
        self.webhook: JSONDict = {"url": "", "secret_token": None}
        self.webhook_responses: list[int] = []
        self.open_callbacks: set[str] = set()
        self.answered_callbacks: dict[str, JSONDict] = {}
        self.get_updates_calls: list[JSONDict] = []
        #: file_id -> what was uploaded under it (sendDocument)
        self.files: dict[str, Upload] = {}
        self._next_callback = 1
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._deliverer: asyncio.Task[None] | None = None
        self.port = 0

    # --- lifecycle --------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._endpoint)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self._deliverer = asyncio.create_task(self._deliver_webhooks())

    async def stop(self) -> None:
        if self._deliverer:
            self._deliverer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._deliverer
        if self._runner:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    # --- what tests do ----------------------------------------------------------------
    def inject(self, method: str, kind: str, times: int = 1, retry_after: int = 1,
               match: Callable[[JSONDict], bool] | None = None) -> None:
        self.faults.append(Fault(method, kind, times, retry_after, match))

    def chaos(self, rate: float, seed: int, kinds: dict[str, float] | None = None,
              retry_after: int = 1) -> None:
        """From now on, ``rate`` of all calls (getUpdates included) fail at random."""
        self.chaos_faults = Chaos(rate, seed, kinds or {"429": 1, "500": 1, "502": 1,
                                                       "timeout": 1}, retry_after)

    def user(self, user_id: int, first_name: str = "Marie", language_code: str = "fr",
             username: str | None = None) -> JSONDict:
        data: JSONDict = {"id": user_id, "is_bot": False, "first_name": first_name,
                          "language_code": language_code}
        if username:
            data["username"] = username
        self.users[user_id] = data
        return data

    def chat(self, chat_id: int, type_: str = "private", title: str = "",
             admins: set[int] | None = None) -> Chat:
        chat = self.chats.get(chat_id)
        if chat is None:
            chat = Chat(chat_id, type_, title, set(admins or ()))
            self.chats[chat_id] = chat
        return chat

    def _chat_json(self, chat: Chat) -> JSONDict:
        if chat.type == "private":
            user = self.users.get(chat.id, {"first_name": "?"})
            return {"id": chat.id, "type": "private", "first_name": user["first_name"]}
        return {"id": chat.id, "type": chat.type, "title": chat.title or f"Group {chat.id}"}

    def _user_message(self, chat: Chat, user_id: int, **content: Any) -> JSONDict:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        message = {"message_id": message_id, "date": int(time.time()),
                   "chat": self._chat_json(chat), "from": self.users[user_id], **content}
        chat.messages[message_id] = message
        return message

    def push_update(self, update: JSONDict) -> int:
        update_id = self.next_update_id
        self.next_update_id += 1
        self.pending.append({"update_id": update_id, **update})
        self._notify()
        return update_id

    def send_text(self, user_id: int, text: str, chat_id: int | None = None,
                  reply_to: int | None = None) -> int:
        """A user writes ``text`` (commands and @mentions get their entities, as in Telegram)."""
        chat = self.chat(chat_id if chat_id is not None else user_id)
        if user_id not in self.users:
            self.user(user_id)
        entities: list[JSONDict] = []
        for m in re.finditer(r"(?<![\w/])/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?", text):
            if m.start() == 0:
                entities.append({"type": "bot_command", "offset": utf16_len(text[: m.start()]),
                                 "length": utf16_len(m.group())})
        for m in re.finditer(r"(?<!\w)@[A-Za-z0-9_]{5,32}", text):
            entities.append({"type": "mention", "offset": utf16_len(text[: m.start()]),
                             "length": utf16_len(m.group())})
        content: JSONDict = {"text": text}
        if entities:
            content["entities"] = entities
        if reply_to is not None:
            content["reply_to_message"] = chat.messages[reply_to]
        return self.push_update({"message": self._user_message(chat, user_id, **content)})

    def send_location(self, user_id: int, lat: float, lon: float,
                      chat_id: int | None = None) -> int:
        chat = self.chat(chat_id if chat_id is not None else user_id)
        if user_id not in self.users:
            self.user(user_id)
        location = {"latitude": lat, "longitude": lon}
        return self.push_update({"message": self._user_message(chat, user_id, location=location)})

    def press(self, user_id: int, message_id: int, data: str, chat_id: int | None = None) -> int:
        """A user presses an inline button of one of the bot's messages."""
        chat = self.chats[chat_id if chat_id is not None else user_id]
        query_id = f"cq{self._next_callback}"
        self._next_callback += 1
        self.open_callbacks.add(query_id)
        query = {"id": query_id, "from": self.users[user_id], "chat_instance": str(chat.id),
                 "message": chat.messages[message_id], "data": data}
        return self.push_update({"callback_query": query})

    def migrate(self, chat_id: int, new_id: int) -> int:
        """A group becomes a supergroup: a new chat id, and a service message in the old one."""
        old = self.chats[chat_id]
        new = self.chat(new_id, "supergroup", old.title, old.admins)
        old.migrated_to = new.id
        user_id = next(iter(old.admins), next(iter(self.users)))
        return self.push_update({"message": self._user_message(
            old, user_id, migrate_to_chat_id=new.id)})

    # --- what tests read --------------------------------------------------------------
    def sent(self, method: str | None = None, chat_id: int | None = None,
             ok: bool | None = True) -> list[Call]:
        return [c for c in self.calls
                if (method is None or c.method == method)
                and (chat_id is None or c.params.get("chat_id") == chat_id)
                and (ok is None or c.ok == ok)]

    def messages_to(self, chat_id: int) -> list[JSONDict]:
        """The bot's messages in a chat as they look now (edits applied), oldest first."""
        chat = self.chats[chat_id]
        return [m for _, m in sorted(chat.messages.items())
                if m.get("from", {}).get("id") == self.bot_id]

    def last_bot_message(self, chat_id: int) -> JSONDict:
        return self.messages_to(chat_id)[-1]

    def buttons(self, message: JSONDict) -> dict[str, str]:
        """label -> callback data of a message's inline keyboard."""
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        return {b["text"]: b["callback_data"] for row in rows for b in row}

    def press_label(self, user_id: int, message: JSONDict, label: str,
                    chat_id: int | None = None) -> int:
        """Press the button whose label starts with ``label``."""
        for text, data in self.buttons(message).items():
            if text.startswith(label):
                return self.press(user_id, message["message_id"], data, chat_id)
        raise AssertionError(f"no button {label!r} in {list(self.buttons(message))}")

    def documents(self, chat_id: int) -> list[Upload]:
        """The files the bot sent into a chat, oldest first."""
        return [c.params["document"] for c in self.sent("sendDocument", chat_id)]

    def texts(self, chat_id: int) -> list[str]:
        return [m.get("text", "") for m in self.messages_to(chat_id)]

    def confirmed(self, update_id: int) -> bool:
        return all(u["update_id"] != update_id for u in self.pending)

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked after every call the bot makes)."""
        async def _wait() -> Any:
            async with self._changed:
                while not (result := predicate()):
                    await self._changed.wait()
                return result
        return await asyncio.wait_for(_wait(), timeout)

    async def wait_calls(self, method: str, count: int, chat_id: int | None = None,
                         timeout: float = 30.0) -> list[Call]:
        await self.wait_for(lambda: len(self.sent(method, chat_id)) >= count, timeout)
        return self.sent(method, chat_id)

    def _notify(self) -> None:
        async def _go() -> None:
            async with self._changed:
                self._changed.notify_all()
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().create_task(_go())

    # --- the HTTP side ----------------------------------------------------------------
    async def _endpoint(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401,
                                      "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        raw: JSONDict = dict(request.query)
        if request.content_type == "application/json":
            raw.update(await request.json())
        elif request.can_read_body:
            raw.update(await request.post())
        params = _coerce(raw)
        self.requests[method] += 1
        fault = self._take_fault(method, params)
        if fault is not None:
            self.injected[(method, fault.kind)] += 1
        try:
            if fault is not None and fault.kind != "timeout_after":
                await self._apply_fault(fault, params)
            handler = getattr(self, f"api_{method}", None)
            if handler is None:
                raise ApiError(404, "Not Found")
            result = await handler(params)
        except ApiError as exc:
            if method != "getUpdates":
                self.calls.append(Call(method, params, False, error=exc.description))
                self._notify()
            body: JSONDict = {"ok": False, "error_code": exc.code, "description": exc.description}
            if exc.parameters:
                body["parameters"] = exc.parameters
            return web.json_response(body, status=exc.code)
        if method != "getUpdates":
            self.calls.append(Call(method, params, True, result=result))
            self._notify()
        if fault is not None and fault.kind == "timeout_after":
            # done (the message is in the chat), but the answer comes too late
            await asyncio.sleep(self._client_gone(params))
        return web.json_response({"ok": True, "result": result})

    def _take_fault(self, method: str, params: JSONDict) -> Fault | None:
        for fault in self.faults:
            if fault.method == method and fault.times > 0 and (
                fault.match is None or fault.match(params)
            ):
                fault.times -= 1
                return fault
        return self.chaos_faults.pick(method) if self.chaos_faults is not None else None

    def _client_gone(self, params: JSONDict) -> float:
        """Seconds after which the client stopped waiting (a long poll waits longer)."""
        return self.timeout_sleep + float(params.get("timeout") or 0)

    async def _apply_fault(self, fault: Fault, params: JSONDict) -> None:
        if fault.kind == "429":
            raise ApiError(429, f"Too Many Requests: retry after {fault.retry_after}",
                           {"retry_after": fault.retry_after})
        if fault.kind in ("500", "502", "503"):
            phrases = {"500": "Internal Server Error", "502": "Bad Gateway",
                       "503": "Service Unavailable"}
            raise ApiError(int(fault.kind), phrases[fault.kind])
        if fault.kind == "timeout":
            # slower than the client waits: the client gives up, nothing is processed
            await asyncio.sleep(self._client_gone(params))
            raise ApiError(504, "Gateway Timeout")
        if fault.kind == "parse_entities":
            raise bad_request("can't parse entities: Unsupported start tag \"x\" at byte offset 0")
        raise ValueError(f"unknown fault {fault.kind}")

    # --- Bot API methods ----------------------------------------------------------------
    def _bot_user(self) -> JSONDict:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Commune",
                "username": self.username, "can_join_groups": True,
                "can_read_all_group_messages": False, "supports_inline_queries": False}

    async def api_getMe(self, params: JSONDict) -> JSONDict:
        return self._bot_user()

    async def api_getUpdates(self, params: JSONDict) -> list[JSONDict]:
        if self.webhook["url"]:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        self.get_updates_calls.append(params)
        offset = params.get("offset")
        if offset:
            self.pending = [u for u in self.pending if u["update_id"] >= offset]
            self._notify()
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        while not self.pending and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return list(self.pending[:limit])

    def _bot_message(self, chat: Chat, **content: Any) -> JSONDict:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        message = {"message_id": message_id, "date": int(time.time()),
                   "chat": self._chat_json(chat), "from": self._bot_user(), **content}
        chat.messages[message_id] = message
        return message

    def _target_chat(self, params: JSONDict) -> Chat:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise bad_request("chat_id is empty")
        chat = self.chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None and isinstance(chat_id, int) and chat_id > 0:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        if chat is None:
            raise bad_request("chat not found")
        if chat.migrated_to is not None:
            raise ApiError(400, "Bad Request: group chat was upgraded to a supergroup chat",
                           {"migrate_to_chat_id": chat.migrated_to})
        return chat

    async def api_sendMessage(self, params: JSONDict) -> JSONDict:
        chat = self._target_chat(params)
        check_text(params.get("text"), params.get("parse_mode"))
        markup = params.get("reply_markup")
        check_markup(markup, chat.type)
        content: JSONDict = {"text": params["text"], "parse_mode": params.get("parse_mode")}
        if markup and "inline_keyboard" in markup:
            content["reply_markup"] = markup
        elif markup:
            content["keyboard_markup"] = markup
        return self._bot_message(chat, **content)

    async def api_editMessageText(self, params: JSONDict) -> JSONDict:
        chat = self._target_chat(params)
        message = chat.messages.get(params.get("message_id", -1))
        if message is None:
            raise bad_request("message to edit not found")
        if message.get("from", {}).get("id") != self.bot_id or "text" not in message:
            raise bad_request("message can't be edited")
        check_text(params.get("text"), params.get("parse_mode"))
        markup = params.get("reply_markup")
        if markup is not None and "inline_keyboard" not in markup:
            raise bad_request("inline keyboard expected")
        check_markup(markup, chat.type)
        if message["text"] == params["text"] and message.get("reply_markup") == markup:
            raise bad_request("message is not modified: specified new message content and reply "
                              "markup are exactly the same as a current content and reply markup "
                              "of the message")
        message["text"] = params["text"]
        message["parse_mode"] = params.get("parse_mode")
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        message["edit_date"] = int(time.time())
        return message

    async def api_sendVenue(self, params: JSONDict) -> JSONDict:
        chat = self._target_chat(params)
        for name in ("latitude", "longitude", "title", "address"):
            if params.get(name) in (None, ""):
                raise bad_request(f"parameter \"{name}\" is required")
        if not (-90 <= params["latitude"] <= 90 and -180 <= params["longitude"] <= 180):
            raise bad_request("wrong latitude or longitude")
        check_markup(params.get("reply_markup"), chat.type)
        venue = {"location": {"latitude": params["latitude"], "longitude": params["longitude"]},
                 "title": params["title"], "address": params["address"]}
        return self._bot_message(chat, venue=venue, location=venue["location"])

    async def api_sendDocument(self, params: JSONDict) -> JSONDict:
        """A file upload (multipart/form-data) or a file_id sent before; the call records
        the :class:`Upload` in place of the form field."""
        chat = self._target_chat(params)
        field_ = params.get("document")
        if isinstance(field_, web.FileField):
            data = field_.file.read()
            if not data:
                raise bad_request("file must be non-empty")
            if len(data) > MAX_UPLOAD:
                raise ApiError(413, "Request Entity Too Large")
            file_id = f"BQACAgQAAx{len(self.files) + 1:06d}"
            upload = Upload(field_.filename or "document",
                            field_.content_type or "application/octet-stream", data, file_id)
            self.files[file_id] = upload
        elif isinstance(field_, str) and field_ in self.files:
            upload = self.files[field_]
        elif isinstance(field_, str) and field_:
            raise bad_request("wrong file identifier/HTTP URL specified")
        else:
            raise bad_request("there is no document in the request")
        params["document"] = upload
        check_caption(params.get("caption"), params.get("parse_mode"))
        markup = params.get("reply_markup")
        check_markup(markup, chat.type)
        document = {"file_id": upload.file_id, "file_unique_id": f"u{upload.file_id[-6:]}",
                    "file_name": upload.filename, "mime_type": upload.mime,
                    "file_size": len(upload.data)}
        content: JSONDict = {"document": document}
        if params.get("caption"):
            content["caption"] = params["caption"]
            content["parse_mode"] = params.get("parse_mode")
        if markup and "inline_keyboard" in markup:
            content["reply_markup"] = markup
        elif markup:
            content["keyboard_markup"] = markup
        return self._bot_message(chat, **content)

    async def api_answerCallbackQuery(self, params: JSONDict) -> bool:
        query_id = params.get("callback_query_id")
        if query_id not in self.open_callbacks:
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        text = params.get("text") or ""
        if len(text) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        self.open_callbacks.discard(query_id)
        self.answered_callbacks[query_id] = params
        return True

    async def api_setMyCommands(self, params: JSONDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("commands must be a list of at most 100 items")
        for item in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(item.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(item.get("description", ""))) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        lang = params.get("language_code") or ""
        if lang and not re.fullmatch(r"[a-z]{2}", lang):
            raise bad_request("invalid language code")
        scope = (params.get("scope") or {}).get("type", "default")
        self.commands[(scope, lang)] = commands
        return True

    async def api_getMyCommands(self, params: JSONDict) -> list[JSONDict]:
        scope = (params.get("scope") or {}).get("type", "default")
        return self.commands.get((scope, params.get("language_code") or ""), [])

    async def api_setWebhook(self, params: JSONDict) -> bool:
        url = params.get("url") or ""
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise bad_request("secret token contains unallowed characters")
        if url and not url.startswith(("https://", "http://127.0.0.1")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if params.get("drop_pending_updates"):
            self.pending.clear()
        self.webhook = {"url": url, "secret_token": secret,
                        "allowed_updates": params.get("allowed_updates")}
        return True

    async def api_deleteWebhook(self, params: JSONDict) -> bool:
        if params.get("drop_pending_updates"):
            self.pending.clear()
        self.webhook = {"url": "", "secret_token": None}
        return True

    async def api_getWebhookInfo(self, params: JSONDict) -> JSONDict:
        return {"url": self.webhook["url"], "has_custom_certificate": False,
                "pending_update_count": len(self.pending)}

    def _member(self, chat: Chat, user_id: int) -> JSONDict:
        user = self._bot_user() if user_id == self.bot_id else self.users.get(
            user_id, {"id": user_id, "is_bot": False, "first_name": "?"})
        if user_id in chat.admins:
            return {"status": "administrator", "user": user, "can_be_edited": False,
                    "is_anonymous": False, "can_manage_chat": True, "can_delete_messages": True,
                    "can_manage_video_chats": True, "can_restrict_members": True,
                    "can_promote_members": False, "can_change_info": True,
                    "can_invite_users": True, "can_post_stories": False,
                    "can_edit_stories": False, "can_delete_stories": False}
        return {"status": "member", "user": user}

    async def api_getChatAdministrators(self, params: JSONDict) -> list[JSONDict]:
        chat = self._target_chat(params)
        if chat.type == "private":
            raise bad_request("there are no administrators in the private chat")
        return [self._member(chat, uid) for uid in sorted(chat.admins)]

    async def api_getChatMember(self, params: JSONDict) -> JSONDict:
        chat = self._target_chat(params)
        return self._member(chat, int(params["user_id"]))

    async def api_sendChatAction(self, params: JSONDict) -> bool:
        self._target_chat(params)
        if params.get("action") not in {"typing", "upload_photo", "find_location"}:
            raise bad_request("wrong parameter action in request")
        return True

    async def api_deleteMyCommands(self, params: JSONDict) -> bool:
        return True

    # --- webhook delivery ---------------------------------------------------------------
    async def _deliver_webhooks(self) -> None:
        """POST pending updates to the webhook; unacknowledged ones are redelivered."""
        async with aiohttp.ClientSession() as session:
            while True:
                if not self.webhook["url"] or not self.pending:
                    await asyncio.sleep(0.02)
                    continue
                update = self.pending[0]
                headers = {}
                if self.webhook.get("secret_token"):
                    headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook["secret_token"]
                try:
                    async with session.post(self.webhook["url"], json=update, headers=headers,
                                            timeout=aiohttp.ClientTimeout(total=5)) as resp:
                        self.webhook_responses.append(resp.status)
                        if 200 <= resp.status < 300 and self.pending and self.pending[0] is update:
                            self.pending.pop(0)
                            self._notify()
                            continue
                except (aiohttp.ClientError, TimeoutError):
                    self.webhook_responses.append(0)
                await asyncio.sleep(0.2)
