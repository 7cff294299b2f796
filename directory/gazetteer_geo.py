"""Great-circle distance and a uniform grid index of points: pure, in memory, no I/O.

The grid answers "nearest point" by visiting cells in growing square rings around the
query and stopping as soon as no unvisited cell can hold anything closer, so a query
touches a handful of cells in mainland France instead of 37k points. Longitudes wrap at
the antimeridian (Wallis-et-Futuna sits at -176°).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Generic, TypeVar

EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180

T = TypeVar("T")


def valid_point(lat: object, lon: object) -> bool:
    """True for finite WGS84 coordinates (latitude 200 or NaN are not a place)."""
    if isinstance(lat, bool) or isinstance(lon, bool):
        return False
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        return False
    return math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


class GridIndex(Generic[T]):
    """Points bucketed in ``cell``-degree squares; nearest-neighbour by ring search."""

    def __init__(self, points: Iterable[tuple[float, float, T]], cell: float = 0.1) -> None:
        self.cell = cell
        self._columns = round(360 / cell)
        self._cells: dict[tuple[int, int], list[tuple[float, float, T]]] = {}
        self._size = 0
        for lat, lon, item in points:
            self._cells.setdefault(self._key(lat, lon), []).append((lat, lon, item))
            self._size += 1

    @classmethod
    def from_cells(
        cls, cells: dict[tuple[int, int], list[tuple[float, float, T]]], cell: float
    ) -> GridIndex[T]:
        """Rebuild from ``cells`` as saved (e.g. in a cache), without re-bucketing."""
        index: GridIndex[T] = cls((), cell)
        index._cells = cells
        index._size = sum(len(points) for points in cells.values())
        return index

    @property
    def cells(self) -> dict[tuple[int, int], list[tuple[float, float, T]]]:
        return self._cells

    def __len__(self) -> int:
        return self._size

    def _key(self, lat: float, lon: float) -> tuple[int, int]:
        row = math.floor((lat + 90) / self.cell)
        column = math.floor((lon + 180) / self.cell) % self._columns
        return row, column

    def nearest(
        self, lat: float, lon: float, max_km: float, max_rings: int = 80
    ) -> tuple[T, float] | None:
        """The closest item within ``max_km`` and its distance, or None.

        Cost grows with ``max_km`` where nothing is near (open sea): keep it to the
        distance that still means something, not the size of the Earth.
        """
        if not self._size or not valid_point(lat, lon):
            return None
        row, column = self._key(lat, lon)
        best: tuple[T, float] | None = None
        for ring in range(max_rings + 1):
            # Anything in ring r or beyond is at least (r - 1) cells away on one axis.
            reach_lat = min(89.9, abs(lat) + (ring + 1) * self.cell)
            bound = max(0, ring - 1) * self.cell * KM_PER_DEGREE * math.cos(math.radians(reach_lat))
            if bound > max_km or (best is not None and bound > best[1]):
                break
            for key in self._ring(row, column, ring):
                for plat, plon, item in self._cells.get(key, ()):
                    distance = haversine_km(lat, lon, plat, plon)
                    if distance <= max_km and (best is None or distance < best[1]):
                        best = (item, distance)
        return best

    def _ring(self, row: int, column: int, ring: int) -> Iterable[tuple[int, int]]:
        if ring == 0:
            yield row, column
            return
        for dr in range(-ring, ring + 1):
            step = 1 if abs(dr) == ring else 2 * ring
            for dc in range(-ring, ring + 1, step):
                yield row + dr, (column + dc) % self._columns
