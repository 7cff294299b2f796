"""A typed address is placed with the BAN geocoder (a loopback fake of its /search API), so
a new entry gets its own point instead of the commune's centre; offline, or when the BAN
finds nothing in the commune, the commune's centre stands in and nothing is lost."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import dialog_support as S
import pytest
from sqlalchemy import select

from bot.dialog import Services
from directory.geocoding import Geocoder
from directory.models import Entry

#: a point in Saint-Paul, 1.2 km from its centre, where the fake BAN puts the address
FILAOS = (-21.0006, 55.2805)


@pytest.fixture
def ban() -> Iterator[list[dict[str, Any]]]:
    """A BAN /search fake on loopback; the list it yields is what it answers."""
    answers: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            features = [f for f in answers
                        if f["properties"]["citycode"] == query.get("citycode", [""])[0]]
            body = json.dumps({"type": "FeatureCollection", "features": features}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    answers.append({"port": server.server_address[1]})
    yield answers
    server.shutdown()
    server.server_close()


def _feature(citycode: str) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [FILAOS[1], FILAOS[0]]},
            "properties": {"label": "12 Rue des Filaos 97460 Saint-Paul", "score": 0.95,
                           "citycode": citycode, "postcode": "97460", "city": "Saint-Paul",
                           "type": "housenumber", "name": "12 Rue des Filaos"}}


def _add_mimi(factory: Any, services: Services) -> Entry:
    chat = S.Chat(factory, "recommend", services=services)
    chat.start({"text": "je recommande la Boulangerie Chez Mimi", "category": "boulangerie",
                "commune": S.SAINT_PAUL})
    assert chat.step == "address"
    chat.send("12 rue des Filaos")
    chat.pick("Passer")
    chat.pick("Passer")
    assert not chat.open
    with factory() as session:
        return session.scalars(select(Entry).where(Entry.name.like("%Chez Mimi%"))).one()


def test_a_typed_address_gets_the_bans_point(sqlite_seeded: Any, ban: list[dict[str, Any]]) -> None:
    factory, _ids = sqlite_seeded
    port = ban.pop()["port"]
    ban.append(_feature(S.SAINT_PAUL))
    entry = _add_mimi(factory, Services(geocoder=Geocoder(domain=f"127.0.0.1:{port}", scheme="http",
                                                          timeout_s=1.0)))
    assert entry.address == "12 rue des Filaos"
    assert (round(entry.lat, 4), round(entry.lon, 4)) == FILAOS


def test_no_answer_in_the_commune_keeps_the_address_and_the_commune_centre(
    sqlite_seeded: Any, ban: list[dict[str, Any]]
) -> None:
    factory, _ids = sqlite_seeded
    port = ban.pop()["port"]
    ban.append(_feature("97407"))  # only in Le Port: filtered out by citycode
    entry = _add_mimi(factory, Services(geocoder=Geocoder(domain=f"127.0.0.1:{port}", scheme="http",
                                                          timeout_s=1.0)))
    assert entry.address == "12 rue des Filaos"
    assert entry.lat is None or (round(entry.lat, 4), round(entry.lon or 0, 4)) != FILAOS


def test_offline_the_address_is_kept(sqlite_seeded: Any) -> None:
    factory, _ids = sqlite_seeded
    entry = _add_mimi(factory, Services(geocoder=None))
    assert entry.address == "12 rue des Filaos"
