"""What a directory search asks and returns: the query, its validation, hits, pages and
the opaque cursor that pages them (bound to the query it came from)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from dataclasses import dataclass

from directory.categories import get_taxonomy
from directory.models import EntryKind

DEFAULT_RADIUS_KM = 15.0
MAX_RADIUS_KM = 20_000.0
MAX_LIMIT = 100


class InvalidQuery(ValueError):
    """A query that cannot be run; ``reason`` is a stable code for a localized message."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""
    category: str | None = None
    point: tuple[float, float] | None = None  # the user's location
    commune: str | None = None  # INSEE; used as point (commune centre) and to boost same-commune
    radius_km: float | None = None
    kinds: tuple[str, ...] = ()
    limit: int = 10
    cursor: str | None = None


@dataclass(frozen=True)
class SearchHit:
    entry_id: int
    name: str
    category: str
    kind: str
    commune_insee: str
    distance_km: float | None
    recommendations: int
    score: float
    lat: float | None
    lon: float | None
    address: str | None


@dataclass(frozen=True)
class SearchPage:
    hits: list[SearchHit]
    next_cursor: str | None



def validate_query(query: SearchQuery) -> None:
    if query.point is not None:
        lat, lon = query.point
        if not (isinstance(lat, int | float) and math.isfinite(lat) and -90 <= lat <= 90):
            raise InvalidQuery("lat", "bad_latitude")
        if not (isinstance(lon, int | float) and math.isfinite(lon) and -180 <= lon <= 180):
            raise InvalidQuery("lon", "bad_longitude")
    if query.radius_km is not None and not (
        math.isfinite(query.radius_km) and 0 < query.radius_km <= MAX_RADIUS_KM
    ):
        raise InvalidQuery("radius_km", "bad_radius")
    if not 1 <= query.limit <= MAX_LIMIT:
        raise InvalidQuery("limit", "bad_limit")
    for kind in query.kinds:
        if kind not in {k.value for k in EntryKind}:
            raise InvalidQuery("kinds", "unknown_kind")
    if len(query.text) > 500:
        raise InvalidQuery("text", "too_long")
    if query.category is not None and get_taxonomy().get(query.category) is None:
        raise InvalidQuery("category", "unknown_category")


def fingerprint(query: SearchQuery) -> str:
    """What a cursor is bound to: the query minus its page."""
    key = repr((query.text, query.category, query.point, query.commune, query.radius_km,
                query.kinds))
    return hashlib.sha1(key.encode()).hexdigest()[:10]


def encode_cursor(query: SearchQuery, score: float, entry_id: int) -> str:
    raw = json.dumps({"f": fingerprint(query), "s": score, "i": entry_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(query: SearchQuery) -> tuple[float, int] | None:
    """(score, id) of the last hit already shown; the next page starts strictly after it."""
    if not query.cursor:
        return None
    try:
        padded = query.cursor + "=" * (-len(query.cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if data["f"] != fingerprint(query):
            raise InvalidQuery("cursor", "bad_cursor")
        return float(data["s"]), int(data["i"])
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        if isinstance(exc, InvalidQuery):
            raise
        raise InvalidQuery("cursor", "bad_cursor") from None

