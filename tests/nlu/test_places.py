"""Which commune a message names: ordinary words, qualifiers, typos near home, arrondissements.

The labelled set ``heldout4.yaml`` measures the whole; these cases pin each rule down, and
``test_candidates_on_heldout4`` checks the namesakes offered beside the chosen commune.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.nlu import parse
from bot.nlu.places import arrondissement_number, order_by_home
from directory.gazetteer import get_gazetteer

HELDOUT4 = Path(__file__).with_name("heldout4.yaml")


def labelled(path: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text("utf-8"))
    return [item for lang in ("fr", "en") for item in data[lang]]


def commune_of(text: str, home: str | None = None) -> str | None:
    return parse(text, home=home).commune


# --- ordinary words are not communes -------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "What a nice day! any bakery open?",  # "a" is an English article, not "à"
        "a long walk in the park, any park nearby?",
        "a grand old church to visit",
        "Grand merci, il me faut un dentiste",
        "rdv en mars pour le vaccin, un médecin ?",  # months
        "une salle de sport, je commence en avril",
        "un resto sympa en ville",
        "il fait beau, un camping à la montagne ?",
        "un bon resto au bord de la mer",
        "besoin d'un plombier pour la salle de bain",
        "je cherche un peintre pour la chambre du petit",
        "le port de plaisance a un resto ?",
        "un club de tennis en plein air",  # no misspelt Plérin
        "un électricien pour brancher la machine à laver",
        "on a changé de salon, un coiffeur pas cher svp",
        "a good lawyer, we need a plan",
        "hey, a pharmacy still open in town?",
        "un dentiste sur le chemin du travail",
    ],
)
def test_ordinary_words_name_no_commune(text: str) -> None:
    assert commune_of(text) is None


@pytest.mark.parametrize(
    ("text", "insee"),
    [
        ("un resto à Nice", "06088"),  # a preposition and a capital
        ("nice restaurant in Nice", "06088"),
        ("un médecin à Eu", "76255"),
        ("a bakery in Die", "26113"),
        ("Nice", "06088"),  # the whole message
        ("une crèche au Port", "97407"),
    ],
)
def test_ordinary_words_meant_as_a_place(text: str, insee: str) -> None:
    assert commune_of(text, home="97416") == insee


@pytest.mark.parametrize("text", ["un médecin stp", "stp un dentiste vite", "plombier stp"])
def test_stp_is_please_not_saint_p(text: str) -> None:
    assert commune_of(text, home="97416") is None


# --- qualifiers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "insee"),
    [
        ("pharmacie a Saint-Joseph, Martinique", "97224"),
        ("médecin à Saint-Pierre (Martinique)", "97225"),
        ("pharmacie a saint pierre martinique", "97225"),
        ("Sainte-Rose, Réunion : un garage ?", "97419"),
        ("garage à Villeneuve (Aveyron)", "12301"),
        ("Villeneuve dans les Alpes-de-Haute-Provence, un plombier", "04242"),
        ("crèche à Saint-Denis 93", "93066"),
        ("je cherche un kiné à Saint-Denis de la Réunion", "97411"),
        ("garage à Saint-André (Pyrénées-Orientales)", "66168"),
        ("boulangerie à Saint-Pierre, Saint-Pierre-et-Miquelon", "97502"),
        ("restaurant in Saint-Pierre, Martinique", "97225"),
        ("pharmacy in Saint-Louis, Guadeloupe", "97126"),
    ],
)
def test_a_qualifier_picks_the_namesake(text: str, insee: str) -> None:
    parsed = parse(text, home="93048")
    assert parsed.commune == insee
    assert parsed.commune_candidates[0] == insee


# --- namesakes near home ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("home", "insee"),
    [("97416", "97414"), ("68224", "68297"), ("97101", "97126"), (None, "97414")],
)
def test_namesake_nearest_home_and_the_others_offered(home: str | None, insee: str) -> None:
    parsed = parse("sage femme st louis", home=home)
    assert parsed.commune == insee
    assert {"97414", "68297", "97126"} <= set(parsed.commune_candidates)


def test_a_tiny_namesake_near_home_does_not_hide_a_big_one() -> None:
    """From Paris, "Saint-Pierre" is not a village of 293 people 150 km away."""
    parsed = parse("dentiste saint pierre", home="75056")
    assert parsed.commune == "97416"
    assert "51509" in parsed.commune_candidates


# --- abbreviations, typos, creole ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "home", "insee"),
    [
        ("un plombier saint pier", "97416", "97416"),
        ("garage sin-pol", "97416", "97415"),
        ("garage sin-dni", "97416", "97411"),
        ("médecin sin-lwi", "97416", "97414"),
        ("garagiste tampon", "97416", "97422"),
        ("une pharmacie la poss", "97415", "97408"),
        ("dentiste sainte suzane", "97411", "97420"),
        ("dentiste a saint lou", "97416", "97414"),
        ("dentiste à saint-louiss", "97416", "97414"),
        ("pharmacie saint pierrre", "97416", "97416"),
        ("garage saint-paull", "97416", "97415"),
        ("medecin sainte mari", "97411", "97418"),
        ("un resto a fort de frans", "97213", "97209"),
        ("pharmacie st gilles", "97415", "97415"),
    ],
)
def test_typos_and_abbreviations_near_home(text: str, home: str, insee: str) -> None:
    assert commune_of(text, home=home) == insee


def test_no_saint_alone_reads_as_le_saint() -> None:
    """A misspelt saint's name is never "Le Saint" (Morbihan), the bare word."""
    assert commune_of("un médecin à sin-pyer", home="97415") != "56201"
    assert commune_of("daycare in saint pier", home="97416") == "97416"


# --- arrondissements -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "home", "insee"),
    [
        ("une crèche dans le 11e", "75056", "75111"),
        ("une crèche dans le 11e", "75104", "75111"),
        ("creche 11ème", "75056", "75111"),
        ("plombier dans le 20eme arrondissement", "75056", "75120"),
        ("un resto dans le 3e à Lyon", None, "69383"),
        ("pharmacie dans le 1er arrondissement de lyon", None, "69381"),
        ("dans le 2ème à marseille, un garage", None, "13202"),
        ("un resto dans le 8e", "13201", "13208"),
        ("dentist in the 8th", "13055", "13208"),
        ("a daycare in the 11th arrondissement", "75056", "75111"),
        ("j'habite dans le 18e à Paris", None, "75118"),
    ],
)
def test_arrondissements(text: str, home: str | None, insee: str) -> None:
    assert commune_of(text, home=home) == insee


@pytest.mark.parametrize(
    ("text", "home"),
    [
        ("un resto dans le 11e", "97416"),  # no arrondissements at home
        ("kiné dans le 16e", None),
        ("je cherche un médecin pour le 15", "75056"),  # a date
        ("un kiné le 11 octobre", "75056"),
    ],
)
def test_no_arrondissement_without_a_city(text: str, home: str | None) -> None:
    assert commune_of(text, home=home) is None


# --- the labelled set's candidate lists ------------------------------------------------------


def test_candidates_on_heldout4() -> None:
    """Every namesake the label lists is offered, the chosen one first."""
    items = [i for i in labelled(HELDOUT4) if "commune_candidates" in i]
    assert len(items) >= 25
    misses = []
    for item in items:
        got = list(parse(item["text"], home=item.get("home")).commune_candidates)
        expected = item["commune_candidates"]
        if got[:1] != expected[:1] or not set(expected) <= set(got):
            misses.append(f"{item['text']!r} home={item.get('home')}: {expected} vs {got[:6]}")
    assert not misses, "\n".join(misses)


# --- the pure helpers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["dans", "le", "11e"], (11, 2)),
        (["creche", "11eme"], (11, 1)),
        (["pharmacie", "dans", "le", "1er"], (1, 3)),
        (["le", "20", "arrondissement"], (20, 1)),
        (["premier", "arrondissement"], (1, 0)),
        (["in", "the", "8th"], (8, 2)),
        (["rdv", "le", "1er", "mai"], None),  # a date
        (["on", "the", "15th"], None),
        (["pour", "le", "15"], None),
        (["le", "45e"], None),
    ],
)
def test_arrondissement_number(words: list[str], expected: tuple[int, int] | None) -> None:
    assert arrondissement_number(words) == expected


def test_order_by_home_weighs_people_by_distance() -> None:
    gaz = get_gazetteer()
    namesakes = gaz.exact("saint pierre")
    ordered = order_by_home(gaz, namesakes, gaz.current("97209"))  # Fort-de-France
    assert ordered[0].insee == "97225"
    assert order_by_home(gaz, namesakes, gaz.current("75056"))[0].insee == "97416"
    assert order_by_home(gaz, namesakes, None) == namesakes
    assert sorted(c.insee for c in ordered) == sorted(c.insee for c in namesakes)


@pytest.mark.parametrize(
    "text",
    [
        "un fleuriste pour la saint valentin",  # a feast day, not Saint-Valentin (36)
        "on a changé de salon, un coiffeur",  # "a" the verb
        "un bon resto au bord de la mer",  # "au bord", not Aubord
        "a bakery near the port",
    ],
)
def test_more_ordinary_phrases(text: str) -> None:
    assert commune_of(text, home="97416") is None
