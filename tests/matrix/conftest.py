"""Matrix fixtures: one Synapse per test session, fresh accounts per test, test people
driven by matrix-nio, a fake engine that records what it was given."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    Event,
    MegolmEvent,
    RegisterResponse,
    RoomCreateResponse,
    RoomPreset,
    RoomSendResponse,
)

from adapters.matrix.config import MatrixConfig
from adapters.matrix.runner import MatrixBot
from bot.messages import Bold, Choice, Document, Incoming, MapPin, Outgoing, Text

from .homeserver import Synapse

PASSWORD = "correct horse battery staple"
#: the document the fake engine hands over on "send a file": every byte value, so a
#: download that decoded or re-encoded anything would not compare equal
FILE_NAME = "fête <de> la musique.ics"
FILE_BYTES = b"BEGIN:VCALENDAR\r\n" + bytes(range(256)) * 40 + b"END:VCALENDAR\r\n"


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    server = Synapse(tmp_path_factory.mktemp("synapse"))
    server.write_config()
    server.start()
    try:
        yield server
    finally:
        server.stop()


class FakeEngine:
    """Stands for the engine: echoes, and shows choices, a pin or a file on request."""

    def __init__(self) -> None:
        self.seen: list[Incoming] = []

    async def handle(self, incoming: Incoming) -> list[Outgoing]:
        self.seen.append(incoming)
        if not incoming.addressed:
            return []
        text = incoming.text or (
            f"location {incoming.location.lat},{incoming.location.lon}" if incoming.location else ""
        )
        if text == "choices please":
            return [Outgoing.text("Pick one", choices=(Choice("a", "Alpha"), Choice("b", "Beta")))]
        if text.startswith("page"):
            return [Outgoing.text(f"Results, {text}", edit_key="results")]
        if text in ("show a pin", "/pin"):
            return [Outgoing.text("Here:", pin=MapPin("Crèche <Les Lutins>", -21.01, 55.27, "1 rue"))]
        if text in ("send a file", "/file"):
            return [Outgoing.text("Your file:",
                                  document=Document(FILE_NAME, "text/calendar", FILE_BYTES))]
        return [Outgoing(spans=(Text("echo: "), Bold(text), Text(f" from {incoming.display_name}")))]


class Person:
    """A test user on the homeserver, syncing in the background and keeping every
    m.room.message it sees (decrypted when it can)."""

    def __init__(self, server: Synapse, folder: Path, name: str, encryption: bool = False) -> None:
        self.server = server
        self.name = f"{name}{uuid.uuid4().hex[:6]}"
        self.user_id = f"@{self.name}:{server.server_name}"
        store = folder / self.name
        store.mkdir(parents=True, exist_ok=True)
        self.client = AsyncClient(
            server.url,
            self.name,
            store_path=str(store),
            config=AsyncClientConfig(encryption_enabled=encryption, store_sync_tokens=True,
                                     max_timeout_retry_wait_time=1),
        )
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.undecryptable: list[MegolmEvent] = []
        #: ids of the events that arrived encrypted and were decrypted
        self.decrypted: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    async def register(self, display_name: str | None = None) -> Person:
        resp = await self.client.register(self.name, PASSWORD)
        assert isinstance(resp, RegisterResponse), resp
        if self.client.store is None and self.client.config.encryption_enabled:
            self.client.load_store()
        if display_name:
            await self.client.set_displayname(display_name)
        self.client.add_event_callback(self._on_event, (Event,))
        return self

    async def _on_event(self, room: Any, event: Event) -> None:
        if isinstance(event, MegolmEvent):
            self.undecryptable.append(event)
            return
        source = getattr(event, "source", {})
        if getattr(event, "decrypted", False):
            self.decrypted.add(str(getattr(event, "event_id", "")))
        if source.get("type") == "m.room.message" and source.get("sender") != self.user_id:
            self.messages.append((room.room_id, source))

    async def start(self) -> None:
        await self.client.sync(timeout=0)
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        self._task = asyncio.create_task(self.client.sync_forever(timeout=300))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.client.close()

    async def wait_for(
        self, predicate: Callable[[str, dict[str, Any]], bool], timeout: float = 30.0
    ) -> dict[str, Any]:
        """The first message (already received or coming) matching the predicate."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for room_id, source in self.messages:
                if predicate(room_id, source):
                    return source
            if asyncio.get_running_loop().time() > deadline:
                seen = [s.get("content") for _, s in self.messages]
                raise AssertionError(f"no matching message within {timeout}s; got {seen}")
            await asyncio.sleep(0.05)

    async def download(self, mxc: str) -> bytes:
        """A media file as today's clients fetch it (authenticated media, Matrix 1.11):
        Synapse no longer serves new uploads on the old unauthenticated endpoint nio uses."""
        server_name, media_id = mxc.removeprefix("mxc://").split("/", 1)
        url = f"{self.server.url}/_matrix/client/v1/media/download/{server_name}/{media_id}"
        headers = {"Authorization": f"Bearer {self.client.access_token}"}
        async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as resp:
            assert resp.status == 200, (resp.status, await resp.text())
            return await resp.read()

    def in_room(self, room_id: str) -> list[dict[str, Any]]:
        return [s for r, s in self.messages if r == room_id]

    async def dm(self, other: str, encrypted: bool = False) -> str:
        state = (
            [{"type": "m.room.encryption", "state_key": "",
              "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]
            if encrypted else []
        )
        resp = await self.client.room_create(
            is_direct=True, invite=[other], preset=RoomPreset.trusted_private_chat,
            initial_state=state,
        )
        assert isinstance(resp, RoomCreateResponse), resp
        return str(resp.room_id)

    async def room(self, name: str, invite: list[str]) -> str:
        resp = await self.client.room_create(name=name, invite=invite,
                                             preset=RoomPreset.private_chat)
        assert isinstance(resp, RoomCreateResponse), resp
        return str(resp.room_id)

    async def say(self, room_id: str, body: str, **extra: Any) -> str:
        content: dict[str, Any] = {"msgtype": "m.text", "body": body, **extra}
        resp = await self.client.room_send(room_id, "m.room.message", content,
                                           ignore_unverified_devices=True)
        assert isinstance(resp, RoomSendResponse), resp
        return str(resp.event_id)

    async def wait_joined(self, room_id: str, user_id: str, timeout: float = 15.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            room = self.client.rooms.get(room_id)
            if room is not None and user_id in room.users and user_id not in room.invited_users:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{user_id} did not join {room_id}")


@pytest.fixture
async def people(synapse: Synapse, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """``await people("alice", encryption=True)`` -> a registered, syncing Person."""
    made: list[Person] = []

    async def make(name: str, encryption: bool = False, display_name: str | None = None,
                   start: bool = True) -> Person:
        person = Person(synapse, tmp_path / "people", name, encryption)
        await person.register(display_name)
        if start:
            await person.start()
        made.append(person)
        return person

    yield make
    for person in made:
        await person.stop()


async def register_bot(synapse: Synapse, name: str = "communebot") -> tuple[str, str]:
    """A fresh bot account (user id, localpart) with a display name, via nio."""
    localpart = f"{name}{uuid.uuid4().hex[:6]}"
    client = AsyncClient(synapse.url, localpart)
    resp = await client.register(localpart, PASSWORD)
    assert isinstance(resp, RegisterResponse), resp
    await client.set_displayname("CommuneBot")
    await client.logout()
    await client.close()
    return f"@{localpart}:{synapse.server_name}", localpart


def bot_config(synapse: Synapse, user_id: str, store: Path, **overrides: Any) -> MatrixConfig:
    values: dict[str, Any] = {
        "enabled": True,
        "homeserver": synapse.url,
        "user_id": user_id,
        "password": PASSWORD,
        "store_path": str(store),
        "sync_timeout_ms": 300,
        "outbox_interval_s": 0.2,
        "allowed_servers": ["*"],
    }
    values.update(overrides)
    return MatrixConfig.model_validate(values)


@pytest.fixture
async def bot_factory(
    synapse: Synapse, tmp_path: Path
) -> AsyncIterator[Callable[..., Any]]:
    """``await bot_factory(handler, **config)`` -> a started MatrixBot on a fresh account
    (pass ``user_id=`` and ``store=`` to restart the same bot)."""
    running: list[MatrixBot] = []

    async def make(handler: Any, user_id: str | None = None, store: Path | None = None,
                   admins: tuple[str, ...] = (), outbox: Any = None,
                   commune_rooms: Any = None, **overrides: Any) -> MatrixBot:
        if user_id is None:
            user_id, _ = await register_bot(synapse)
        store = store or tmp_path / f"store-{uuid.uuid4().hex[:6]}"
        bot = MatrixBot(bot_config(synapse, user_id, store, **overrides), handler, admins,
                        outbox=outbox, commune_rooms=commune_rooms)
        await bot.start()
        await bot.wait_synced()
        running.append(bot)
        return bot

    yield make
    for bot in running:
        await bot.stop()


@pytest.fixture
def fake_engine() -> FakeEngine:
    return FakeEngine()
