"""Typed addresses to points, through the Base Adresse Nationale (geopy's ``BANFrance``).

A citizen who types "12 rue des Filaos" for a garage in Saint-Paul should get a pin on
that street, not on the town hall. The BAN (``api-adresse.data.gouv.fr``) covers every
French commune, overseas departments included, and needs no key.

The search is restricted to the commune: BAN's ``citycode`` filter carries its INSEE code
(geopy's ``BANFrance.geocode`` only sends ``q`` and ``limit``, so ``geocoding_ban.CommuneBAN``
adds the filter the API documents). Paris, Lyon and Marseille are filed by arrondissement
in the BAN (``75105``, not ``75056``): for them the commune's name goes into the query
and any of its arrondissements is accepted. Whatever comes back is checked again: a
result in another commune, farther than ``max_distance_km`` from the commune's centre,
below ``min_score`` or naming only the municipality is dropped.

Geocoding is an improvement, never a dependency: :meth:`Geocoder.geocode_address` returns
None on any failure (timeout, refused connection, HTTP error, malformed answer) and never
raises, and the caller keeps the commune's centre. It blocks for at most ``timeout_s``:
:meth:`Geocoder.geocode_address_async` runs it in a worker thread for async callers.

``communebot demo`` must work offline: it builds no geocoder at all
(``geocoder_from_config(config, offline=True)`` is None), rather than a short timeout that
would still make every typed address wait on a machine without network.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from directory.gazetteer_geo import haversine_km

if TYPE_CHECKING:
    from geopy.location import Location

    from directory.geocoding_ban import CommuneBAN

log = logging.getLogger(__name__)

DEFAULT_DOMAIN = "api-adresse.data.gouv.fr"
DEFAULT_TIMEOUT_S = 3.0
#: a result farther than this from the commune's centre is taken for a wrong match
MAX_DISTANCE_KM = 20.0
#: BAN's relevance (0..1) below which a match is too loose to place a pin
MIN_SCORE = 0.5
USER_AGENT = "communebot (citizen directory bot)"
#: communes the BAN files by arrondissement: INSEE code -> its arrondissements' codes
ARRONDISSEMENTS: dict[str, frozenset[str]] = {
    "75056": frozenset(f"751{n:02d}" for n in range(1, 21)),  # Paris
    "69123": frozenset(f"6938{n}" for n in range(1, 10)),  # Lyon
    "13055": frozenset(f"132{n:02d}" for n in range(1, 17)),  # Marseille
}
#: BAN result types precise enough to pin an address (not ``municipality``)
PRECISE_TYPES = frozenset({"housenumber", "street", "locality"})


class CommuneLike(Protocol):
    """What geocoding needs of a commune (``directory.gazetteer.Commune`` has it)."""

    @property
    def insee(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def postcodes(self) -> tuple[str, ...]: ...
    @property
    def lat(self) -> float | None: ...
    @property
    def lon(self) -> float | None: ...


class GeocoderSettings(Protocol):
    """The ``geocoder:`` section of the configuration (``bot.config.GeocoderConfig``)."""

    @property
    def enabled(self) -> bool: ...
    @property
    def domain(self) -> str: ...
    @property
    def scheme(self) -> str: ...
    @property
    def timeout_s(self) -> float: ...


@dataclass(frozen=True)
class GeocodedPoint:
    """Where an address is, as the BAN found it."""

    lat: float
    lon: float
    #: BAN's normalised address ("12 Rue des Filaos 97460 Saint-Paul")
    label: str
    #: BAN's relevance, 0..1
    score: float
    #: housenumber | street | locality
    kind: str
    citycode: str
    postcode: str | None
    #: from the commune's centre
    distance_km: float


class Geocoder:
    """Addresses in one commune to points, or None (never an exception)."""

    def __init__(
        self,
        *,
        domain: str = DEFAULT_DOMAIN,
        scheme: str = "https",
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_distance_km: float = MAX_DISTANCE_KM,
        min_score: float = MIN_SCORE,
        limit: int = 5,
    ) -> None:
        self.timeout_s = timeout_s
        self.max_distance_km = max_distance_km
        self.min_score = min_score
        self.limit = limit
        self._domain, self._scheme = domain, scheme
        self._ban: CommuneBAN | None = None
        self._ban_lock = threading.Lock()

    @property
    def ban(self) -> CommuneBAN:
        """geopy's client, built (and geopy imported) by the first geocoding: most runs
        start and answer their first messages without one (issue 15, peak RSS)."""
        if self._ban is None:
            with self._ban_lock:
                if self._ban is None:
                    from directory.geocoding_ban import make_ban

                    self._ban = make_ban(domain=self._domain, scheme=self._scheme,
                                         timeout_s=self.timeout_s, user_agent=USER_AGENT)
        return self._ban

    def geocode_address(self, address: str, commune: CommuneLike) -> GeocodedPoint | None:
        """The best BAN match for ``address`` inside ``commune``; None when there is none,
        when every match is outside or too loose, or when the service fails or is slow."""
        address = " ".join(address.split())
        if not address or len(address) < 3:
            return None  # BAN refuses queries under 3 characters
        arrondissements = ARRONDISSEMENTS.get(commune.insee)
        accepted = arrondissements or frozenset({commune.insee})
        query = f"{address} {commune.name}" if arrondissements else address
        try:
            found = self.ban.geocode_in(
                query[:200], citycode=None if arrondissements else commune.insee,
                limit=self.limit, timeout=self.timeout_s,
            )
            return self._best(found or [], commune, accepted)
        except Exception as exc:  # any failure means "no point": the caller falls back
            log.warning("geocoding %r in %s failed: %s", address, commune.insee, exc)
            return None

    async def geocode_address_async(self, address: str, commune: CommuneLike) -> GeocodedPoint | None:
        """:meth:`geocode_address` in a worker thread, so an event loop never waits on it."""
        return await asyncio.to_thread(self.geocode_address, address, commune)

    def _best(
        self, found: list[Location], commune: CommuneLike, accepted: frozenset[str]
    ) -> GeocodedPoint | None:
        points = [p for p in (self._point(loc, commune) for loc in found) if p is not None]
        good = [
            p for p in points
            if p.citycode in accepted and p.kind in PRECISE_TYPES and p.score >= self.min_score
            and p.distance_km <= self.max_distance_km
        ]
        return max(good, key=lambda p: p.score, default=None)

    @staticmethod
    def _point(location: Location, commune: CommuneLike) -> GeocodedPoint | None:
        raw = location.raw if isinstance(location.raw, dict) else {}
        props = raw.get("properties") or {}
        lat, lon = float(location.latitude), float(location.longitude)
        if not (math.isfinite(lat) and math.isfinite(lon)):
            return None
        distance = (
            haversine_km(lat, lon, commune.lat, commune.lon)
            if commune.lat is not None and commune.lon is not None else 0.0
        )
        return GeocodedPoint(
            lat=lat, lon=lon, label=str(props.get("label") or location.address or ""),
            score=float(props.get("score") or 0.0), kind=str(props.get("type") or ""),
            citycode=str(props.get("citycode") or ""),
            postcode=str(props["postcode"]) if props.get("postcode") else None,
            distance_km=distance,
        )


def geocoder_from_config(settings: GeocoderSettings, *, offline: bool = False) -> Geocoder | None:
    """The configured geocoder, or None when it is disabled or the run is ``offline``
    (``communebot demo``), in which case callers keep the commune's centre."""
    if offline or not settings.enabled:
        return None
    return Geocoder(domain=settings.domain, scheme=settings.scheme, timeout_s=settings.timeout_s)
