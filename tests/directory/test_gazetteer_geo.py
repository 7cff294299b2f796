"""A point resolves to its commune through the grid index (never a scan of 37k rows)."""

from __future__ import annotations

import math
import random

import pytest

from directory.gazetteer import Gazetteer, get_gazetteer
from directory.gazetteer_geo import GridIndex, haversine_km, valid_point


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return get_gazetteer()


@pytest.mark.parametrize(
    ("lat", "lon", "insee"),
    [
        (-20.8789, 55.4481, "97411"),  # Saint-Denis, rue de Paris
        (-21.3393, 55.4781, "97416"),  # Saint-Pierre, front de mer
        (-21.0096, 55.2707, "97415"),  # Saint-Paul, marché forain
        (-20.9373, 55.2919, "97407"),  # Le Port
        (-21.2662, 55.3662, "97404"),  # L'Étang-Salé
        (-21.1370, 55.4716, "97424"),  # Cilaos
        (-22.2758, 166.4580, "98818"),  # Nouméa, place des Cocotiers
        (-12.7806, 45.2278, "97611"),  # Mamoudzou
        (18.0708, -63.0501, "97801"),  # Marigot, Saint-Martin
        (-17.5350, -149.5696, "98735"),  # Papeete
        (43.2965, 5.3698, "13201"),  # Marseille, Vieux-Port: an arrondissement
    ],
)
def test_points_resolve_to_their_commune(gaz: Gazetteer, lat: float, lon: float, insee: str) -> None:
    commune = gaz.nearest(lat, lon)
    assert commune is not None and commune.insee == insee


def test_paris_points_give_an_arrondissement_of_paris(gaz: Gazetteer) -> None:
    for lat, lon in [(48.8530, 2.3499), (48.8584, 2.2945), (48.8867, 2.3431)]:
        commune = gaz.nearest(lat, lon)
        assert commune is not None and commune.kind == "arrondissement"
        assert commune.parent == "75056"
        assert gaz.municipality(commune.insee).insee == "75056"  # type: ignore[union-attr]
    assert gaz.nearest(48.8530, 2.3499).insee == "75104"  # type: ignore[union-attr]  # Notre-Dame


def test_points_never_give_a_former_commune(gaz: Gazetteer) -> None:
    rng = random.Random(5)
    found = [gaz.nearest(rng.uniform(44, 49), rng.uniform(0, 5)) for _ in range(300)]
    assert all(commune is not None and commune.is_current for commune in found)


@pytest.mark.parametrize(
    ("lat", "lon"),
    [
        (200.0, 1.0),
        (-91.0, 0.0),
        (45.0, 181.0),
        (float("nan"), 2.0),
        (48.0, float("nan")),
        (float("inf"), 0.0),
        (float("-inf"), float("inf")),
    ],
)
def test_invalid_coordinates_give_none(gaz: Gazetteer, lat: float, lon: float) -> None:
    assert gaz.nearest(lat, lon) is None


def test_wrong_types_give_none(gaz: Gazetteer) -> None:
    assert gaz.nearest("48.85", "2.35") is None  # type: ignore[arg-type]
    assert gaz.nearest(None, None) is None  # type: ignore[arg-type]
    assert gaz.nearest(True, False) is None
    assert gaz.nearest(48, 2) is not None  # integers are coordinates too


@pytest.mark.parametrize(
    ("lat", "lon"),
    [
        (0.0, -30.0),  # mid-Atlantic
        (-20.16, 57.50),  # Port-Louis, Mauritius (200 km from La Réunion)
        (40.4168, -3.7038),  # Madrid
        (51.5074, -0.1278),  # London
        (35.0, 150.0),  # North Pacific
        (89.9, 0.0),  # near the North Pole
    ],
)
def test_points_far_from_any_commune_give_none(gaz: Gazetteer, lat: float, lon: float) -> None:
    assert gaz.nearest(lat, lon) is None


def test_vast_overseas_communes_reach_far(gaz: Gazetteer) -> None:
    # Southern Guyane is far from every town hall but still in a commune.
    guyane = gaz.nearest(2.6, -53.2)
    assert guyane is not None and guyane.departement == "973"
    wallis = gaz.nearest(-13.28, -176.17)
    assert wallis is not None and wallis.departement == "986"


def test_grid_agrees_with_brute_force() -> None:
    rng = random.Random(9)
    points = [(rng.uniform(-50, 50), rng.uniform(-30, 30), i) for i in range(2000)]
    grid = GridIndex(points, cell=0.5)
    for _ in range(150):
        lat, lon = rng.uniform(-50, 50), rng.uniform(-30, 30)
        expected = min(points, key=lambda p: haversine_km(lat, lon, p[0], p[1]))
        expected_km = haversine_km(lat, lon, expected[0], expected[1])
        found = grid.nearest(lat, lon, max_km=2_000, max_rings=200)
        assert found is not None
        assert math.isclose(found[1], expected_km, rel_tol=1e-9)


def test_grid_wraps_at_the_antimeridian() -> None:
    grid = GridIndex([(-14.3, 179.95, "east"), (-14.3, 170.0, "far")], cell=0.1)
    found = grid.nearest(-14.3, -179.97, max_km=50)
    assert found is not None and found[0] == "east" and found[1] < 10


def test_grid_respects_max_km_and_emptiness() -> None:
    grid = GridIndex([(0.0, 0.0, "origin")], cell=0.1)
    assert grid.nearest(0.0, 1.0, max_km=50) is None  # 111 km away
    assert grid.nearest(0.0, 1.0, max_km=150) == ("origin", pytest.approx(111.2, abs=0.5))
    assert GridIndex([], cell=0.1).nearest(0.0, 0.0, max_km=1000) is None


def test_grid_rebuilt_from_cells_answers_the_same() -> None:
    rng = random.Random(4)
    points = [(rng.uniform(40, 50), rng.uniform(-5, 8), i) for i in range(500)]
    grid = GridIndex(points, cell=0.1)
    copy = GridIndex.from_cells(grid.cells, grid.cell)
    assert len(copy) == len(grid) == 500
    for _ in range(50):
        lat, lon = rng.uniform(40, 50), rng.uniform(-5, 8)
        assert copy.nearest(lat, lon, 100) == grid.nearest(lat, lon, 100)


def test_haversine_and_validity() -> None:
    assert haversine_km(0, 0, 0, 0) == 0
    assert haversine_km(48.8566, 2.3522, 45.764, 4.8357) == pytest.approx(392, abs=2)
    assert haversine_km(0, 179.9, 0, -179.9) == pytest.approx(22.2, abs=0.2)
    assert valid_point(-21.0, 55.5) and valid_point(90, 180) and valid_point(-90, -180)
    assert not valid_point(90.0001, 0) and not valid_point(0, -180.0001)

