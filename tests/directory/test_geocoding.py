"""Typed addresses geocoded through geopy's BANFrance, against a local fake of the BAN
API (``/search/?q=…``, the real GeoJSON answer's shape) on 127.0.0.1: matches inside the
commune, matches elsewhere refused, and every failure (slow, 500, refused, garbage) is
None, quickly."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.config import GeocoderConfig, parse_config
from directory.gazetteer import Commune, get_gazetteer
from directory.geocoding import Geocoder, geocoder_from_config


def commune(insee: str) -> Commune:
    found = get_gazetteer().get(insee)
    assert found is not None and found.lat is not None
    return found


def feature(label: str, lat: float, lon: float, *, citycode: str, postcode: str, city: str,
            kind: str = "housenumber", score: float = 0.93) -> dict[str, Any]:
    """One feature as the BAN returns it (``/search/``, GeoJSON, properties trimmed to
    those the API always sends)."""
    name = label.split(f" {postcode}")[0]
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {
            "label": label, "score": score, "id": f"{citycode}_0001_00012", "name": name,
            "postcode": postcode, "citycode": citycode, "x": 0.0, "y": 0.0, "city": city,
            "context": "974, La Réunion", "type": kind, "importance": 0.61,
            "street": name.lstrip("0123456789 "),
        },
    }


@dataclass
class FakeBAN:
    """What the fake answers next, and what it was asked."""

    port: int = 0
    features: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    delay_s: float = 0.0
    body: bytes | None = None
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.port}"

    def geocoder(self, **kwargs: Any) -> Geocoder:
        kwargs.setdefault("timeout_s", 1.0)
        return Geocoder(domain=self.domain, scheme="http", **kwargs)


@pytest.fixture
def ban() -> Iterator[FakeBAN]:
    fake = FakeBAN()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            fake.requests.append((url.path, query))
            if fake.delay_s:
                time.sleep(fake.delay_s)
            if fake.status != 200:
                self.send_error(fake.status)
                return
            features = fake.features
            if "citycode" in query:  # the real API's filter
                features = [f for f in features if f["properties"]["citycode"] == query["citycode"][0]]
            body = fake.body if fake.body is not None else json.dumps({
                "type": "FeatureCollection", "version": "draft", "features": features,
                "attribution": "BAN", "licence": "ETALAB-2.0", "query": query.get("q", [""])[0],
                "filters": {k: v[0] for k, v in query.items() if k == "citycode"},
                "limit": int(query.get("limit", ["5"])[0]),
            }).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # client gave up
                self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False  # a sleeping handler must not hold the test up
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


SAINT_PAUL = "97415"


def filaos(score: float = 0.93, **kwargs: Any) -> dict[str, Any]:
    sp = commune(SAINT_PAUL)
    assert sp.lat is not None and sp.lon is not None
    defaults: dict[str, Any] = {"citycode": SAINT_PAUL, "postcode": "97460", "city": "Saint-Paul"}
    return feature("12 Rue des Filaos 97460 Saint-Paul", sp.lat + 0.01, sp.lon + 0.01,
                   score=score, **{**defaults, **kwargs})


def test_an_address_in_the_commune_becomes_a_point(ban: FakeBAN) -> None:
    sp = commune(SAINT_PAUL)
    ban.features = [filaos()]
    point = ban.geocoder().geocode_address("12  rue des Filaos", sp)
    assert point is not None
    assert point.label == "12 Rue des Filaos 97460 Saint-Paul"
    assert (point.citycode, point.postcode, point.kind) == (SAINT_PAUL, "97460", "housenumber")
    assert point.lat == pytest.approx(sp.lat + 0.01) and point.lon == pytest.approx(sp.lon + 0.01)  # type: ignore[operator]
    assert 1.0 < point.distance_km < 2.0
    path, query = ban.requests[0]  # geopy's request, plus the commune filter
    assert path == "/search"
    assert query == {"q": ["12 rue des Filaos"], "limit": ["5"], "citycode": [SAINT_PAUL]}


def test_results_outside_the_commune_are_refused(ban: FakeBAN) -> None:
    sp = commune(SAINT_PAUL)
    assert sp.lat is not None and sp.lon is not None
    geocoder = ban.geocoder()
    # the same street name in Le Port (97407): BAN's filter would drop it; a server that
    # ignored the filter must not put the pin there either
    elsewhere = filaos(citycode="97407", postcode="97420", city="Le Port", score=0.97)
    ban.features = [elsewhere]
    assert geocoder.geocode_address("12 rue des Filaos", sp) is None
    ban.body = json.dumps({"type": "FeatureCollection", "features": [elsewhere, filaos(0.71)]}).encode()
    point = geocoder.geocode_address("12 rue des Filaos", sp)
    assert point is not None and point.citycode == SAINT_PAUL and point.score == 0.71
    ban.body = None
    far = feature("Rue des Filaos 97460 Saint-Paul", sp.lat + 0.3, sp.lon, citycode=SAINT_PAUL,
                  postcode="97460", city="Saint-Paul", kind="street")  # 33 km: a wrong match
    ban.features = [far]
    assert geocoder.geocode_address("rue des Filaos", sp) is None
    assert ban.geocoder(max_distance_km=40).geocode_address("rue des Filaos", sp) is not None


def test_loose_or_town_only_matches_are_not_pins(ban: FakeBAN) -> None:
    sp = commune(SAINT_PAUL)
    ban.features = [filaos(score=0.31)]
    assert ban.geocoder().geocode_address("12 rue des Filaos", sp) is None
    assert sp.lat is not None and sp.lon is not None
    ban.features = [feature("Saint-Paul", sp.lat, sp.lon, citycode=SAINT_PAUL, postcode="97460",
                            city="Saint-Paul", kind="municipality", score=0.9)]
    assert ban.geocoder().geocode_address("chez Zot, Saint-Paul", sp) is None
    assert ban.geocoder().geocode_address("  1 ", sp) is None  # under BAN's 3 characters
    assert len(ban.requests) == 2


def test_paris_is_searched_by_name_and_any_arrondissement_accepted(ban: FakeBAN) -> None:
    paris = commune("75056")
    assert paris.lat is not None and paris.lon is not None
    ban.features = [feature("5 Rue Mouffetard 75005 Paris", paris.lat - 0.01, paris.lon + 0.01,
                            citycode="75105", postcode="75005", city="Paris")]
    point = ban.geocoder().geocode_address("5 rue Mouffetard", paris)
    assert point is not None and point.citycode == "75105"
    assert ban.requests[0][1] == {"q": ["5 rue Mouffetard Paris"], "limit": ["5"]}


def test_a_slow_service_times_out_into_none(ban: FakeBAN) -> None:
    ban.features = [filaos()]
    ban.delay_s = 1.5
    started = time.monotonic()
    assert ban.geocoder(timeout_s=0.3).geocode_address("12 rue des Filaos", commune(SAINT_PAUL)) is None
    assert time.monotonic() - started < 1.0
    assert len(ban.requests) == 1  # not retried: the timeout bounds the wait


@pytest.mark.parametrize("status", [500, 503, 404, 429])
def test_http_errors_are_none(ban: FakeBAN, status: int) -> None:
    ban.features = [filaos()]
    ban.status = status
    assert ban.geocoder().geocode_address("12 rue des Filaos", commune(SAINT_PAUL)) is None
    assert len(ban.requests) == 1


@pytest.mark.parametrize("body", [b"<html>maintenance</html>", b'{"features": [{"geometry": {}}]}',
                                  b'{"type": "FeatureCollection"}', b"null"])
def test_garbage_answers_are_none(ban: FakeBAN, body: bytes) -> None:
    ban.body = body
    assert ban.geocoder().geocode_address("12 rue des Filaos", commune(SAINT_PAUL)) is None


def test_a_refused_connection_is_none() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    geocoder = Geocoder(domain=f"127.0.0.1:{port}", scheme="http", timeout_s=1.0)
    assert geocoder.geocode_address("12 rue des Filaos", commune(SAINT_PAUL)) is None


def test_async_callers_get_the_same_answer(ban: FakeBAN) -> None:
    ban.features = [filaos()]
    point = asyncio.run(ban.geocoder().geocode_address_async("12 rue des Filaos", commune(SAINT_PAUL)))
    assert point is not None and point.citycode == SAINT_PAUL


def test_geocoder_from_config() -> None:
    config = parse_config({"geocoder": {"domain": "ban.example.org", "scheme": "http",
                                        "timeout_s": 1.5}}, env={})
    geocoder = geocoder_from_config(config.geocoder)
    assert geocoder is not None and geocoder.timeout_s == 1.5
    assert geocoder.ban.geocode_api == "http://ban.example.org/search"
    assert geocoder_from_config(config.geocoder, offline=True) is None  # communebot demo
    assert geocoder_from_config(GeocoderConfig(enabled=False)) is None
    default = geocoder_from_config(GeocoderConfig())
    assert default is not None and default.ban.geocode_api == "https://api-adresse.data.gouv.fr/search"
    assert default.timeout_s == 3.0
