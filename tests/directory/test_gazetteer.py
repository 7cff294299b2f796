"""Commune resolution on the real, packaged gazetteer (overseas included)."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from directory.gazetteer import Commune, CommuneMatch, Gazetteer, get_gazetteer


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return get_gazetteer()


def codes(matches: list[CommuneMatch]) -> list[str]:
    return [m.commune.insee for m in matches]


def first(gaz: Gazetteer, text: str, **kwargs: object) -> CommuneMatch:
    matches = gaz.resolve(text, **kwargs)  # type: ignore[arg-type]
    assert matches, f"nothing for {text!r}"
    return matches[0]


# --- the data -------------------------------------------------------------------------------


def test_every_current_commune_is_iterated_once(gaz: Gazetteer) -> None:
    communes = list(gaz)
    assert len(communes) == len(gaz) == 34969
    assert len({c.insee for c in communes}) == len(communes)
    assert all(c.kind == "commune" and c.is_current for c in communes)
    assert len(list(gaz.arrondissements())) == 45


def test_commune_fields_and_label(gaz: Gazetteer) -> None:
    saint_paul = gaz.get("97415")
    assert saint_paul == Commune(
        insee="97415",
        name="Saint-Paul",
        kind="commune",
        parent=None,
        departement="974",
        region="04",
        zone="drom",
        postcodes=("97411", "97422", "97423", "97434", "97435", "97460"),
        lat=-21.03664,
        lon=55.34022,
        population=108088,
        timezone="Indian/Reunion",
    )
    assert saint_paul.label == "Saint-Paul (974)"
    assert gaz.get("98818").label == "Nouméa (988)"  # type: ignore[union-attr]


def test_each_commune_knows_its_time_zone(gaz: Gazetteer) -> None:
    noon_utc = datetime(2026, 1, 15, 12, tzinfo=UTC)
    expected = {"97415": 4, "98818": 11, "97611": 3, "75056": 1, "97801": -4, "97302": -3}
    for insee, hours in expected.items():
        commune = gaz.get(insee)
        assert commune is not None
        assert noon_utc.astimezone(commune.tzinfo).utcoffset() == timedelta(hours=hours)
    zones = {c.timezone for c in gaz}
    for zone in zones:  # every zone named in the data exists in the tz database
        assert ZoneInfo(zone).key == zone
    assert {"Indian/Reunion", "Pacific/Noumea", "Indian/Mayotte", "Europe/Paris"} <= zones


def test_get_prefers_the_current_commune_on_a_shared_code(gaz: Gazetteer) -> None:
    # Valserhône (commune nouvelle) and its delegated Bellegarde-sur-Valserine share 01033.
    valserhone = gaz.get("01033")
    assert valserhone is not None and valserhone.name == "Valserhône"
    assert gaz.get("2a004") == gaz.get("2A004") and gaz.get("2A004").name == "Ajaccio"  # type: ignore[union-attr]
    assert gaz.get("99999") is None
    assert gaz.get("") is None
    assert gaz.get(None) is None  # type: ignore[arg-type]


def test_current_follows_delegated_and_associated_communes(gaz: Gazetteer) -> None:
    chatillon = gaz.get("01091")
    assert chatillon is not None and chatillon.kind == "deleguee"
    assert gaz.current("01091").insee == "01033"  # type: ignore[union-attr]
    cordieux = gaz.get("01120")
    assert cordieux is not None and cordieux.kind == "associee"
    assert gaz.current("01120").insee == cordieux.parent  # type: ignore[union-attr]
    assert gaz.current("97415").insee == "97415"  # type: ignore[union-attr]
    assert gaz.current("00000") is None


def test_arrondissements_resolve_to_themselves_and_know_their_city(gaz: Gazetteer) -> None:
    eleventh = gaz.current("75111")
    assert eleventh is not None and eleventh.kind == "arrondissement"
    assert gaz.municipality("75111").insee == "75056"  # type: ignore[union-attr]
    assert gaz.municipality("97415").insee == "97415"  # type: ignore[union-attr]
    paris = gaz.members("75056")
    assert paris[0] == "75056" and len(paris) == 21 and "75111" in paris
    assert len(gaz.members("13055")) == 17 and len(gaz.members("69123")) == 10
    assert gaz.members("97415") == ("97415",)
    assert gaz.members("nope") == ()


# --- codes ----------------------------------------------------------------------------------


def test_qualifier_names_departements(gaz: Gazetteer) -> None:
    """What the NLU reads after a commune's name: "Saint-Joseph, Martinique"."""
    assert gaz.qualifier("martinique") == {"972"}
    assert gaz.qualifier("la reunion") == gaz.qualifier("reunion island") == {"974"}
    assert gaz.qualifier("alpes de haute provence") == {"04"}
    assert gaz.qualifier("polynesie") == {"987"}
    assert "13" in gaz.qualifier("paca")
    assert gaz.qualifier("plage") == frozenset()


def test_insee_code(gaz: Gazetteer) -> None:
    match = first(gaz, "97415")
    assert (match.commune.name, match.matched, match.score) == ("Saint-Paul", "insee", 100.0)
    assert first(gaz, "2A004").commune.name == "Ajaccio"
    assert first(gaz, " 2a004 ").commune.name == "Ajaccio"


def test_insee_code_of_a_delegated_commune_leads_to_its_commune(gaz: Gazetteer) -> None:
    match = first(gaz, "01091")
    assert match.commune.insee == "01033"
    assert match.alias == "Châtillon-en-Michaille"


def test_code_that_is_both_a_postcode_and_an_insee_code(gaz: Gazetteer) -> None:
    # People type postcodes: 97410 is Saint-Pierre's, and also Saint-Benoît's INSEE code.
    matches = gaz.resolve("97410")
    assert [(m.commune.insee, m.matched) for m in matches] == [
        ("97416", "postcode"),
        ("97410", "insee"),
    ]
    assert matches[0].score == 100.0 and 90.0 <= matches[1].score < 100.0
    assert codes(gaz.resolve("97420"))[0] == "97407"  # Le Port, not Sainte-Suzanne
    assert codes(gaz.resolve("98818")) == ["98833", "98818"]  # Kouaoua's postcode; Nouméa


def test_unknown_codes_give_nothing(gaz: Gazetteer) -> None:
    for code in ("99999", "97499", "00000", "2C001"):
        assert gaz.resolve(code) == [], code


def test_postcode(gaz: Gazetteer) -> None:
    match = first(gaz, "97460")
    assert (match.commune.insee, match.matched, match.score) == ("97415", "postcode", 100.0)
    assert first(gaz, "97410").commune.insee == "97416"  # Saint-Pierre, La Réunion
    assert first(gaz, "98800").commune.insee == "98818"  # Nouméa


def test_shared_postcode_gives_every_commune(gaz: Gazetteer) -> None:
    expected = {c.insee for c in gaz if "97620" in c.postcodes}
    assert expected == {"97604", "97606"}  # Bouéni and Chirongui, Mayotte
    matches = gaz.resolve("97620")
    assert set(codes(matches)) == expected
    assert all(m.matched == "postcode" and m.score == 100.0 for m in matches)
    # Ties are ordered by distance from the reference point.
    assert codes(gaz.resolve("97620", near="97606"))[0] == "97606"
    assert codes(gaz.resolve("97620", near="97604"))[0] == "97604"


def test_paris_postcode_gives_the_arrondissement_not_the_city(gaz: Gazetteer) -> None:
    assert codes(gaz.resolve("75011")) == ["75111"]
    assert codes(gaz.resolve("75116")) == ["75116"]
    assert codes(gaz.resolve("69003"))[0] == "69383"  # then the INSEE code 69003
    # 13001 is Marseille 1er's postcode and Aix-en-Provence's INSEE code.
    assert codes(gaz.resolve("13001")) == ["13201", "13001"]
    assert "13055" not in codes(gaz.resolve("13001"))


# --- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "insee"),
    [
        ("Saint-Paul", "97415"),
        ("Le Port", "97407"),
        ("l'etang sale", "97404"),
        ("L'Étang-Salé", "97404"),
        ("Etang Salé", "97404"),
        ("ETANG-SALE", "97404"),
        ("Entre-Deux", "97403"),
        ("entre deux", "97403"),
        ("Entredeux", "97403"),
        ("plaine des palmistes", "97406"),
        ("Les Trois-Bassins", "97423"),
        ("trois bassins", "97423"),
        ("Tampon", "97422"),
        ("ste marie", "97418"),
        ("Ste-Suzanne", "97420"),
        ("st benoit", "97410"),
        ("Nouméa", "98818"),
        ("noumea", "98818"),
        ("Mamoudzou", "97611"),
        ("M'Tsangamouji", "97613"),
        ("mtsangamouji", "97613"),
        ("Dzaoudzi", "97608"),
        ("Cayenne", "97302"),
        ("Papeete", "98735"),
    ],
)
def test_names_of_la_reunion_and_overseas(gaz: Gazetteer, text: str, insee: str) -> None:
    assert first(gaz, text, near="97411").commune.insee == insee


def test_article_is_optional_when_not_typed(gaz: Gazetteer) -> None:
    port = gaz.resolve("port")
    assert {"97407", "01307", "09231"} <= set(codes(port))
    assert all(m.score == 100.0 for m in port if m.commune.insee in {"97407", "01307", "09231"})
    # Same score: the reference point decides, then population.
    assert codes(gaz.resolve("port", near="97415"))[0] == "97407"
    assert codes(gaz.resolve("port", near=(46.0, 5.0)))[0] == "01307"
    assert codes(port)[0] == "97407"  # 34k inhabitants against a few hundred


def test_a_typed_article_must_match(gaz: Gazetteer) -> None:
    scores = {m.commune.insee: m.score for m in gaz.resolve("Le Port")}
    assert scores["97407"] == 100.0 and scores["09231"] == 100.0
    assert scores["01307"] < 100.0  # "Port" has no article
    wrong = {m.commune.insee: m.score for m in gaz.resolve("la port")}
    assert wrong["97407"] < 100.0


def test_same_name_communes_ranked_by_distance_then_population(gaz: Gazetteer) -> None:
    near_reunion = gaz.resolve("St Pierre", near="97416")
    assert near_reunion[0].commune.insee == "97416"
    assert near_reunion[0].distance_km == 0.0
    assert len(near_reunion) == 5 and all(m.score == 100.0 for m in near_reunion)
    distances = [m.distance_km for m in near_reunion]
    assert distances == sorted(distances)  # type: ignore[type-var]
    # No reference: the most populated Saint-Louis first, all four offered.
    louis = gaz.resolve("Saint-Louis")
    assert codes(louis)[:4] == ["97414", "68297", "97126", "57618"]
    assert [m.commune.population for m in louis[:4]] == sorted(
        (m.commune.population for m in louis[:4]), reverse=True
    )
    assert codes(gaz.resolve("Saint-Louis", near="68224"))[0] == "68297"
    assert codes(gaz.resolve("Saint-Louis", near=(16.0, -61.7)))[0] == "97126"
    json_point = [16.0, -61.7]  # as a point comes back from JSON state
    assert codes(gaz.resolve("Saint-Louis", near=json_point))[0] == "97126"  # type: ignore[arg-type]


def test_saint_martin(gaz: Gazetteer) -> None:
    matches = gaz.resolve("Saint-Martin", limit=10)
    assert matches[0].commune.insee == "97801"  # the collectivity, 31k inhabitants
    assert matches[0].commune.timezone == "America/Marigot"
    # Exactly the five current communes of that name: no typo noise after exact matches.
    assert {m.commune.departement for m in matches} == {"978", "32", "54", "65", "67"}
    assert all(m.score == 100.0 and m.commune.name == "Saint-Martin" for m in matches)
    assert codes(gaz.resolve("Saint-Martin", near=(48.6, 7.3)))[0] == "67426"


@pytest.mark.parametrize(
    ("text", "insee"),
    [
        ("Saint-Louis 974", "97414"),
        ("Saint-Louis (68)", "68297"),
        ("saint louis reunion", "97414"),
        ("saint louis à la Réunion", "97414"),
        ("Saint-Louis, Guadeloupe", "97126"),
        ("saint-louis moselle", "57618"),
        ("Saint-Louis Alsace", "68297"),
        ("sant louis reunion", "97414"),
        ("Saint-Denis 93", "93066"),
        ("Saint-Denis (974)", "97411"),
        ("saint paul 97460", "97415"),
        ("97460 Saint-Paul", "97415"),
        ("Saint-Pierre Martinique", "97225"),
        ("Saint-Pierre SPM", "97502"),
        ("paris 75011", "75111"),
        ("Saint-Paul, Reunion Island", "97415"),
        ("Saint-Louis (Guadeloupe)", "97126"),
        ("Le Port, 97420", "97407"),
    ],
)
def test_qualifier_picks_among_same_names(gaz: Gazetteer, text: str, insee: str) -> None:
    match = first(gaz, text)
    assert match.commune.insee == insee
    runner_up = gaz.resolve(text)[1:] if len(gaz.resolve(text)) > 1 else []
    assert all(m.score < match.score for m in runner_up)


def test_qualifier_that_fits_no_commune_of_that_name_keeps_the_name(gaz: Gazetteer) -> None:
    match = first(gaz, "Cilaos 75")
    assert match.commune.insee == "97424"
    assert match.score < 96  # offered, but not as a sure answer


def test_a_name_ending_like_a_departement_is_still_itself(gaz: Gazetteer) -> None:
    assert first(gaz, "Saint-Laurent-du-Var").commune.insee == "06123"
    assert first(gaz, "Saint-Laurent-du-Var").score == 100.0


def test_arrondissement_names(gaz: Gazetteer) -> None:
    for text in ("Paris 11e", "paris 11", "Paris 11ème", "paris 11e arrondissement"):
        assert first(gaz, text).commune.insee == "75111", text
    assert first(gaz, "Lyon 3eme").commune.insee == "69383"
    assert first(gaz, "Marseille 1er").commune.insee == "13201"
    assert first(gaz, "Paris").commune.insee == "75056"


def test_delegated_commune_name_leads_to_its_current_commune(gaz: Gazetteer) -> None:
    match = first(gaz, "Bellegarde-sur-Valserine")
    assert match.commune.insee == "01033" and match.commune.name == "Valserhône"
    assert match.alias == "Bellegarde-sur-Valserine" and match.alias_kind == "deleguee"
    assert match.matched == "name" and 90 <= match.score < 100
    assert first(gaz, "chatillon en michaille").commune.insee == "01033"


@pytest.mark.parametrize(
    ("text", "insee"),
    [
        ("Saint-Gilles-les-Bains", "97415"),
        ("st gilles les bains", "97415"),
        ("Sainte-Clotilde", "97411"),
        ("plaine des cafres", "97422"),
        ("Hell-Bourg", "97421"),
        ("hellbourg", "97421"),
        ("Terre Sainte", "97416"),
    ],
)
def test_well_known_localities_lead_to_their_commune(
    gaz: Gazetteer, text: str, insee: str
) -> None:
    match = first(gaz, text)
    assert match.commune.insee == insee
    assert match.alias is not None and match.commune.kind == "commune"
    assert gaz.exact(text)[0].insee == insee
    assert gaz.exact(text, include_former=False) == []


def test_a_locality_never_hides_a_commune_of_that_name(gaz: Gazetteer) -> None:
    assert all(m.commune.name == "Saint-Gilles" for m in gaz.resolve("Saint-Gilles"))


def test_parenthesised_names_found_without_the_parenthesis(gaz: Gazetteer) -> None:
    assert {"16052", "16053"} <= set(codes(gaz.resolve("Bors")))


def test_leading_filler_words(gaz: Gazetteer) -> None:
    assert first(gaz, "à Saint-Paul", near="97411").commune.insee == "97415"
    assert first(gaz, "la commune de Cilaos").commune.insee == "97424"
    assert first(gaz, "near Lyon").commune.insee == "69123"


# --- typos ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "insee"),
    [
        ("sant-andre", "97409"),
        ("saint andré", "97409"),
        ("st benoit", "97410"),
        ("saint benoi", "97410"),
        ("saint-dnis", "97411"),
        ("sainte suzane", "97420"),
        ("salazi", "97421"),
        ("la posession", "97408"),
        ("petite ile", "97405"),
        ("etang sal", "97404"),
        ("nouemea", "98818"),
        ("mamoudzu", "97611"),
        ("cilaoss", "97424"),
    ],
)
def test_typos_near_home(gaz: Gazetteer, text: str, insee: str) -> None:
    assert first(gaz, text, near="97411").commune.insee == insee


def test_typo_score_stays_below_exact_matches(gaz: Gazetteer) -> None:
    match = first(gaz, "sant-andre")
    assert match.matched == "fuzzy"
    assert 75 <= match.score <= 95


def test_typo_prefers_the_homonym_near_the_user(gaz: Gazetteer) -> None:
    scores = {m.commune.insee: m.score for m in gaz.resolve("sant louis", near="97416")}
    assert max(scores, key=lambda k: scores[k]) == "97414"
    assert scores["97414"] > scores["68297"]


def test_random_names_with_one_typo_are_found(gaz: Gazetteer) -> None:
    rng = random.Random(2)
    communes = list(gaz)
    found = 0
    for _ in range(300):
        commune = rng.choice(communes)
        name = commune.name
        i = rng.randrange(len(name))
        typo = name[:i] + name[i + 1 :] if len(name) > 6 else name
        found += commune.insee in codes(gaz.resolve(typo, limit=10))
    assert found >= 280  # misses are names whose typo is another commune's name


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "\u200b\u200c\ufeff",
        "\x00\x01\x02",
        "'; DROP TABLE communes; --",
        "%",
        "*",
        "!!!???",
        "x" * 10_000,
        "é" * 10_000,
        "saint " * 2_000,
        "🏝️🌋",
    ],
)
def test_bad_input_gives_nothing_quickly(gaz: Gazetteer, text: str) -> None:
    started = time.process_time()
    assert gaz.resolve(text) == []
    assert gaz.exact(text) == []
    assert time.process_time() - started < 0.2


def test_invisible_and_control_characters_are_ignored(gaz: Gazetteer) -> None:
    assert first(gaz, "\u200bSaint\u200b-Paul\x00", near="97411").commune.insee == "97415"
    assert first(gaz, "Cilaos\n").commune.insee == "97424"


def test_wrong_types_and_limits(gaz: Gazetteer) -> None:
    assert gaz.resolve(None) == []  # type: ignore[arg-type]
    assert gaz.resolve(97415) == []  # type: ignore[arg-type]
    assert gaz.resolve("Saint-Paul", limit=0) == []
    assert gaz.resolve("Saint-Paul", limit=-3) == []
    assert len(gaz.resolve("saint martinn", limit=10_000)) == 50
    assert len(gaz.resolve("saint martinn", limit=10)) == 10
    assert len(gaz.resolve("Saint-Paul", limit=1)) == 1


def test_unusable_reference_points_are_ignored(gaz: Gazetteer) -> None:
    plain = codes(gaz.resolve("Saint-Louis"))
    for near in ["99999", "", "zzz", (200.0, 1.0), (float("nan"), 1.0), (1.0,), ("a", "b")]:
        matches = gaz.resolve("Saint-Louis", near=near)  # type: ignore[arg-type]
        assert codes(matches) == plain, near
        assert all(m.distance_km is None for m in matches)


# --- exact ----------------------------------------------------------------------------------


def test_exact_variants(gaz: Gazetteer) -> None:
    def exact(phrase: str) -> set[str]:
        return {c.insee for c in gaz.exact(phrase)}

    assert {"97407", "09231", "01307"} <= exact("port")
    assert "01307" not in exact("le port") and "97407" in exact("le port")
    assert exact("l etang sale") == exact("etang sale") == exact("etangsale") == {"97404"}
    assert "97416" in exact("st pierre") and exact("st pierre") == exact("saint pierre")
    assert exact("la possession") == {"97408"}
    assert exact("paris 11e") == {"75111"}
    assert exact("bellegarde sur valserine") == {"01033"}
    assert gaz.exact("bellegarde sur valserine", include_former=False) == []
    assert exact("saint pierr") == set()  # no typos here: that is resolve's job
    assert exact("") == set()
    assert gaz.exact(None) == []  # type: ignore[arg-type]


def test_exact_orders_by_population(gaz: Gazetteer) -> None:
    louis = gaz.exact("saint louis")
    assert [c.insee for c in louis] == ["97414", "68297", "97126", "57618"]


# --- distances and speed --------------------------------------------------------------------


def test_distance_km(gaz: Gazetteer) -> None:
    denis, pierre = gaz.get("97411"), gaz.get("97416")
    assert denis is not None and pierre is not None
    assert 35 < gaz.distance_km(denis, pierre) < 50  # type: ignore[operator]
    assert gaz.distance_km(denis, denis) == 0.0
    no_point = gaz.get("15031")  # re-created in 2025: no coordinates yet
    assert no_point is not None and no_point.point is None
    assert gaz.distance_km(denis, no_point) is None

