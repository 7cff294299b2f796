"""Gazetteer.place_rows: the NLU's place index is built from stored keys, not by folding
35k names at start (issue 15); the rows must be what the ``Commune`` objects say."""

from __future__ import annotations

from directory.gazetteer import Commune, Gazetteer, get_gazetteer
from directory.gazetteer_names import fold_name, keys_of_folded


def expected(gaz: Gazetteer) -> list[tuple[str, str, str, str, str, str, int]]:
    return [(keys_of_folded(fold_name(c.name)).compact, c.insee, c.name, c.kind, c.departement,
             c.zone, c.population) for c in [*gaz, *gaz.arrondissements()]]


def test_place_rows_are_the_communes_then_the_arrondissements_with_their_key() -> None:
    gaz = get_gazetteer()
    assert list(gaz.place_rows()) == expected(gaz)


def test_place_rows_of_a_custom_extract() -> None:
    gaz = Gazetteer.from_communes([
        Commune("97407", "Le Port", "commune", None, "974", "04", "drom", ("97420",), -20.9,
                55.3, 33969, "Indian/Reunion"),
        Commune("75056", "Paris", "commune", None, "75", "11", "metro", (), 48.86, 2.35,
                2_100_000, "Europe/Paris"),
        Commune("75111", "Paris 11e Arrondissement", "arrondissement", "75056", "75", "11",
                "metro", ("75011",), 48.86, 2.38, 140_000, "Europe/Paris"),
    ])
    rows = list(gaz.place_rows())
    assert rows == expected(gaz)
    assert [row[0] for row in rows] == ["port", "paris", "paris11earrondissement"]
