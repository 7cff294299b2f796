"""Test support for the ask / recommend / join / announce dialogs: a chat that drives one
dialog directly through ``start``/``resume`` over a real migrated store (one transaction
per message, like the engine), and a small seeded directory.

The other ``test_dialog_*`` files load this module by path (``tests`` is not a package);
pytest also collects it, so it carries a self-check.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.dialog import JSON, DialogContext, Services, Step
from bot.i18n import translator
from bot.messages import Incoming, Location, Outgoing, plain_text
from bot.nlu import parse as nlu_parse
from directory.models import Account, Citizen, Entry

SAINT_PAUL = "97415"
LE_PORT = "97407"
SAINT_DENIS = "97411"


def text_of(replies: list[Outgoing]) -> str:
    """Every reply's text, plain, one after the other (what a console user reads)."""
    return "\n".join(plain_text(r.spans) for r in replies if r.spans)


def choice_ids(replies: list[Outgoing]) -> list[str]:
    return [c.id for r in replies for c in r.choices]


def choice_labels(replies: list[Outgoing]) -> list[str]:
    return [c.label for r in replies for c in r.choices]


def choice_with(replies: list[Outgoing], fragment: str) -> str:
    """The id of the (only) choice whose label or id contains ``fragment``."""
    found = [c.id for r in replies for c in r.choices if fragment in c.label or fragment in c.id]
    assert len(found) == 1, (fragment, [(c.id, c.label) for r in replies for c in r.choices])
    return found[0]


@dataclass
class Chat:
    """One citizen talking to one dialog; the state is kept between messages like the
    engine keeps it (JSON round trip included), each message in its own transaction."""

    factory: sessionmaker[Session]
    dialog_name: str
    lang: str = "fr"
    home: str | None = SAINT_PAUL
    point: tuple[float, float] | None = None
    chat_commune: str | None = None
    user: str = "u1"
    parse: Any = None
    services: Services = field(default_factory=Services)
    state: JSON | None = None
    replies: list[Outgoing] = field(default_factory=list)
    citizen_id: int = 0
    account_id: int = 0

    def __post_init__(self) -> None:
        with self.factory() as session, session.begin():
            citizen = Citizen(
                display_name="Test",
                lang=self.lang,
                home_insee=self.home,
                home_lat=self.point[0] if self.point else None,
                home_lon=self.point[1] if self.point else None,
            )
            session.add(citizen)
            session.flush()
            account = Account(citizen_id=citizen.id, platform="console", platform_user_id=self.user)
            session.add(account)
            session.flush()
            self.citizen_id, self.account_id = citizen.id, account.id

    @property
    def dialog(self) -> Any:
        from dialogs import get_dialog

        return get_dialog(self.dialog_name)

    def _run(self, incoming: Incoming, call: Any) -> list[Outgoing]:
        with self.factory() as session, session.begin():
            citizen = session.get(Citizen, self.citizen_id)
            account = session.get(Account, self.account_id)
            assert citizen is not None and account is not None
            ctx = DialogContext(
                session=session,
                citizen=citizen,
                account=account,
                incoming=incoming,
                t=translator(citizen.lang),
                now=datetime.now(UTC),
                chat_commune=self.chat_commune,
                parse=self.parse if self.parse is not None else self._understand(incoming, citizen),
                services=self.services,
            )
            step: Step = call(ctx)
        assert isinstance(step, Step)
        import json

        self.state = json.loads(json.dumps(step.state)) if step.state is not None else None
        self.replies = step.replies
        return step.replies

    def _understand(self, incoming: Incoming, citizen: Citizen) -> Any:
        """The engine's one parse of the message, as the engine hands it to the dialog."""
        if not incoming.text:
            return None
        return nlu_parse(incoming.text, lang=citizen.lang, home=citizen.home_insee or self.chat_commune)

    def incoming(
        self, text: str = "", choice: str | None = None, location: Location | None = None
    ) -> Incoming:
        return Incoming(
            platform="console",
            user_id=self.user,
            chat_id="c1",
            text=text,
            choice_id=choice,
            location=location,
        )

    def start(self, args: JSON | None = None, text: str = "") -> list[Outgoing]:
        return self._run(self.incoming(text), lambda ctx: self.dialog.start(ctx, dict(args or {})))

    def send(
        self, text: str = "", *, choice: str | None = None, location: Location | None = None
    ) -> list[Outgoing]:
        assert self.state is not None, "the dialog is over"
        state = self.state
        return self._run(self.incoming(text, choice, location), lambda ctx: self.dialog.resume(ctx, state))

    def pick(self, fragment: str) -> list[Outgoing]:
        """Press the choice of the last replies whose label (or id) contains ``fragment``."""
        return self.send(choice=choice_with(self.replies, fragment))

    @property
    def open(self) -> bool:
        return self.state is not None

    @property
    def step(self) -> str | None:
        return None if self.state is None else self.state.get("step", self.state.get("_delegate"))


def commune_point(insee: str, dlat: float = 0.0, dlon: float = 0.0) -> tuple[float, float]:
    from directory.gazetteer import get_gazetteer

    commune = get_gazetteer().get(insee)
    assert commune is not None and commune.lat is not None and commune.lon is not None
    return commune.lat + dlat, commune.lon + dlon


def add(
    session: Session,
    name: str,
    category: str,
    insee: str,
    *,
    dlat: float = 0.003,
    dlon: float = 0.003,
    kind: str = "organization",
    **extra: Any,
) -> Entry:
    """An active entry near the commune's centre, through the service layer (index kept)."""
    from directory.services import NewEntry, add_entry

    lat, lon = commune_point(insee, dlat, dlon)
    data = NewEntry(name=name, category=category, commune_insee=insee, kind=kind, lat=lat, lon=lon, **extra)
    return add_entry(session, data, force=True)


def seed(factory: sessionmaker[Session]) -> dict[str, int]:
    """A small directory on the west coast of La Réunion; returns name -> id."""
    ids: dict[str, int] = {}
    rows: list[tuple[str, str, str, dict[str, Any]]] = [
        (
            "Crèche Ti Bouts (fictive)",
            "creche",
            SAINT_PAUL,
            {"phone": "0262 11 22 33", "address": "12 rue des Lilas"},
        ),
        ("Crèche Les Cabris (fictive)", "creche", SAINT_PAUL, {"dlat": 0.01}),
        ("Crèche Marmailles (fictive)", "creche", SAINT_PAUL, {"dlat": -0.01}),
        ("Crèche Zoizeaux (fictive)", "creche", SAINT_PAUL, {"dlon": 0.01}),
        ("Crèche Ti Zanfan (fictive)", "creche", SAINT_PAUL, {"dlon": -0.005}),
        ("Crèche Papangue (fictive)", "creche", SAINT_PAUL, {"dlat": 0.02}),
        ("Crèche du Port (fictive)", "creche", LE_PORT, {}),
        ("Garage Auto Péi (fictive)", "garage", LE_PORT, {"website": "https://autopei.example"}),
        ("Troupe de théâtre du Port (fictive)", "theatre", LE_PORT, {"org_type": "association"}),
        (
            "Jardin partagé des Lataniers (fictive)",
            "jardin-partage",
            SAINT_PAUL,
            {"kind": "project", "stage": "started", "needs": ("volunteers",)},
        ),
    ]
    with factory() as session, session.begin():
        for name, category, insee, kw in rows:
            entry = add(session, name, category, insee, **kw)
            ids[name] = entry.id
    return ids


def entry_row(factory: sessionmaker[Session], entry_id: int) -> Entry:
    with factory() as session:
        entry = session.get(Entry, entry_id)
        assert entry is not None
        session.expunge(entry)
        return entry


def count(factory: sessionmaker[Session], model: Any, **where: Any) -> int:
    from sqlalchemy import func

    with factory() as session:
        statement = select(func.count()).select_from(model)
        for key, value in where.items():
            statement = statement.where(getattr(model, key) == value)
        return int(session.scalar(statement) or 0)


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """A migrated, seeded SQLite file built once per session; tests copy it (migrating
    and seeding each time is most of a test's cost)."""
    from directory.db import open_store

    path = tmp_path_factory.mktemp("dialogs-template") / "template.db"
    engine, factory = open_store(f"sqlite:///{path}")
    ids = seed(factory)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path, ids


@pytest.fixture
def sqlite_seeded(
    seeded_template: tuple[Path, dict[str, int]], tmp_path: Path
) -> Iterator[tuple[sessionmaker[Session], dict[str, int]]]:
    """A private copy of the seeded SQLite store."""
    from directory.db import open_store

    template, ids = seeded_template
    target = tmp_path / "dialogs.db"
    shutil.copyfile(template, target)
    engine, factory = open_store(f"sqlite:///{target}", migrate=False)
    yield factory, dict(ids)
    engine.dispose()
