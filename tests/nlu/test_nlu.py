"""Focused behaviour of the NLU: each slot, the traps, bad input, speed, and the CLI."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.nlu import INTENTS, Parse, parse, warm_up

CONTRACT_KEYS = {"intent", "category", "commune", "near_me", "radius_km", "name"}


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    warm_up()


# --- slots ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, intent, category, commune",
    [
        ("g cherche 1 garagiste st paul", "search", "garage", "97415"),
        ("ya 1 bon medecin o port?", "search", "medecin", "97407"),
        ("une épicerie à l'Entre-Deux", "search", "epicerie", "97403"),
        ("épicerie d'Entre-Deux", "search", "epicerie", "97403"),
        ("creche a l etang sale", "search", "creche", "97404"),
        ("CRÈCHE SAINT-PIERRE", "search", "creche", "97416"),
        ("pharmaci sen andre", "search", "pharmacie", "97409"),
        ("restaurant à Salazi", "search", "restaurant", "97421"),
        ("garage 97420", "search", "garage", "97407"),  # a postcode, not an INSEE code
        ("medecin 97460", "search", "medecin", "97415"),
        ("boulangerie Marseille 13005", "search", "boulangerie", "13205"),
        ("une crèche dans le 974 à Saint-Louis", "search", "creche", "97414"),
        ("I need a mechanic in Le Port", "search", "garage", "97407"),
    ],
)
def test_search_slots(text: str, intent: str, category: str, commune: str) -> None:
    result = parse(text)
    assert (result.intent, result.category, result.commune) == (intent, category, commune)


def test_article_in_name_au_port() -> None:
    result = parse("garagiste au Port", home="97415")
    assert result.commune == "97407"
    assert result.commune_candidates[0] == "97407"


@pytest.mark.parametrize(
    "home, expected",
    [("97416", "97414"), ("68224", "68297"), ("97101", "97126"), (None, "97414")],
)
def test_same_name_communes_follow_home(home: str | None, expected: str) -> None:
    result = parse("une crèche à Saint-Louis", home=home)
    assert result.commune == expected
    assert set(result.commune_candidates) >= {"97414", "68297", "97126", "57618"}
    assert result.commune_candidates[0] == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("crèche Saint-Louis 68", "68297"),
        ("crèche saint louis (57)", "57618"),
        ("médecin à Saint-Denis 93", "93066"),
        ("une crèche dans le 971 à Saint-Louis", "97126"),
        ("saint louis dans le Haut-Rhin", "68297"),
    ],
)
def test_departement_qualifiers(text: str, expected: str) -> None:
    assert parse(text).commune == expected


@pytest.mark.parametrize(
    "text, home, expected",
    [
        ("un bar à Saint-Gilles-les-Bains", None, "97415"),
        ("halte garderie sainte clotilde", None, "97411"),
        ("restaurant à la Plaine des Cafres", None, "97422"),
        ("j'habite à Hell-Bourg", None, "97421"),
        ("yoga à Saint-Gilles", "97415", "97415"),  # the Réunion one, for an islander
        ("yoga à Saint-Gilles", None, "30258"),  # the commune of the Gard otherwise
        ("yoga à Saint-Gilles dans le Gard", "97415", "30258"),
    ],
)
def test_localities_lead_to_their_commune(text: str, home: str | None, expected: str) -> None:
    assert parse(text, home=home).commune == expected


def test_unknown_home_is_ignored() -> None:
    assert parse("crèche à Saint-Louis", home="00000").commune == "97414"


@pytest.mark.parametrize(
    "text, radius, near_me",
    [
        ("une crèche à moins de 5 km", 5.0, True),
        ("garage dans un rayon de 10km", 10.0, True),
        ("pharmacy within 3 miles", 4.828, True),
        ("boulangerie à 500 m", 0.5, True),
        ("un médecin à moins de 2,5 km de Saint-Leu", 2.5, False),
        ("dentist within 1.5 km", 1.5, True),
        ("un resto à 10 minutes de chez moi", None, True),
        ("près de chez moi une crèche", None, True),
        ("pharmacie autour de moi", None, True),
        ("daycare near me", None, True),
        ("bakery nearby", None, True),
        ("crèche à Saint-Paul", None, False),
    ],
)
def test_radius_and_near_me(text: str, radius: float | None, near_me: bool) -> None:
    result = parse(text)
    assert result.radius_km == radius
    assert result.near_me is near_me


@pytest.mark.parametrize(
    "text, intent, category, commune, name",
    [
        ("je recommande le garage Dupont au Port", "recommend", "garage", "97407", "Dupont"),
        ("I recommend Garage Dupont in Le Port", "recommend", "garage", "97407", "Dupont"),
        (
            "je recommande la pharmacie du Centre à St Pierre",
            "recommend", "pharmacie", "97416", "pharmacie du Centre",
        ),
        (
            "je fais partie de la troupe Les Zarlor à Saint-Denis",
            "join", "theatre", "97411", "Les Zarlor",
        ),
        ("je fais partie de la troupe de théâtre du Port", "join", "theatre", "97407", None),
        ("I'm a member of the theatre group in Le Port", "join", "theatre", "97407", None),
        (
            "je lance un projet de jardin partagé à Saint-Denis",
            "announce_project", "jardin-partage", "97411", None,
        ),
        ("j'habite à Saint-Pierre", "register", None, "97416", None),
        ("I live in Le Tampon", "register", None, "97422", None),
        ("tu me conseilles un garagiste au Tampon ?", "search", "garage", "97422", None),
        ("recommande-moi un garagiste au Tampon", "search", "garage", "97422", None),
        ("can you recommend a dentist in Le Port?", "search", "dentiste", "97407", None),
        ("je voudrais ajouter mon asso à Saint-Leu", "join", "association", "97413", None),
        ("je veux inscrire ma boulangerie au Port", "recommend", "boulangerie", "97407", None),
        ("jveux inscrire mon fils au judo a saint-paul", "search", "club-sportif", "97415", None),
        ("I run a theatre group in Saint-Denis", "join", "theatre", "97411", None),
        ("j'ai créé une asso de quartier à Saint-Leu", "join", "association", "97413", None),
        (
            "on cherche des bénévoles pour le jardin partagé de Saint-Leu",
            "announce_project", "jardin-partage", "97413", None,
        ),
    ],
)  # fmt: skip
def test_intents_and_names(
    text: str, intent: str, category: str | None, commune: str | None, name: str | None
) -> None:
    result = parse(text, home="97415")
    assert (result.intent, result.category, result.commune) == (intent, category, commune)
    if name is None:
        assert result.name is None
    else:
        assert result.name is not None and result.name.lower() == name.lower()


@pytest.mark.parametrize(
    "text, intent",
    [
        ("bonjour", "greeting"),
        ("hello", "greeting"),
        ("aide", "help"),
        ("how does this work?", "help"),
        ("merci !", "thanks"),
        ("annuler", "cancel"),
        ("oui", "yes"),
        ("ça marche", "ack"),
        ("non merci", "no"),
        ("la suite", "more"),
        ("mes recommandations", "me"),
        ("paramètres", "settings"),
        ("il fait beau", "unknown"),
    ],
)
def test_short_answers(text: str, intent: str) -> None:
    result = parse(text)
    assert result.intent == intent
    assert result.category is None and result.commune is None


@pytest.mark.parametrize(
    "text, commune, near_me, radius",
    [
        ("et à Saint-Leu ?", "97413", False, None),
        ("10 km", None, True, 10.0),
        ("près de chez moi", None, True, None),
        ("and in Le Port?", "97407", False, None),
    ],
)
def test_follow_ups_are_searches(text: str, commune: str | None, near_me: bool, radius: float | None) -> None:
    result = parse(text, home="97415")
    assert result.intent == "search"
    assert (result.category, result.commune, result.near_me, result.radius_km) == (
        None,
        commune,
        near_me,
        radius,
    )


@pytest.mark.parametrize(
    "text",
    [
        "il y a une boulangerie ?",  # "y" is a commune (80829)
        "une crèche à côté de chez moi",  # "La Côte"
        "un club de sport dans mon quartier",  # "Le Quartier"
        "un veto pas loin",  # "Le Pas"
        "pharmacie de garde",  # "La Garde"
        "the weather is nice today",  # "Nice"
        "vétérinaire près de chez moi",  # "Les Prés"
        "ça marche merci",  # not a market
        "je marche tous les jours",  # the verb
        "bonjour je m'appelle Marie",  # "Marie" (06), and not a misspelt "mairie"
        "un élagueur à la Réunion",  # the island, not La Réunion (47)
        "des jardins partagés sur Sainte-Bidule",  # not "Saint-Leu" by typo
    ],
)
def test_ordinary_words_are_not_communes(text: str) -> None:
    result = parse(text)
    assert result.commune is None, result
    assert result.category != "marche"


def test_small_communes_named_like_words_need_context() -> None:
    assert parse("un médecin à Y dans la Somme").commune == "80829"
    assert parse("une crèche à Eu").commune == "76255"
    assert parse("une crèche à Paris").commune == "75056"


def test_category_words_are_not_communes() -> None:
    # "Marché", "Plage", "Garage" could be lieux-dits; here they are what is searched for
    for text in ("marché à Saint-Paul", "plage à Saint-Leu", "garage à Saint-André"):
        result = parse(text)
        assert result.category in {"marche", "plage", "garage"}
        assert result.commune in {"97415", "97413", "97409"}


@pytest.mark.parametrize(
    "text, lang",
    [
        ("je cherche une crèche", "fr"),
        ("looking for a daycare", "en"),
        ("pharmacy in Saint-Denis", "en"),
        ("pharmacie à Saint-Denis", "fr"),
    ],
)
def test_language(text: str, lang: str) -> None:
    assert parse(text).lang == lang


def test_language_hint_breaks_ties() -> None:
    assert parse("Saint-Pierre", lang="en").lang == "en"
    assert parse("Saint-Pierre", lang="fr").lang == "fr"
    assert parse("Saint-Pierre", lang="de").lang == "fr"


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "🙂🙂🙂🎉",
        "\x00\x01\x02\x1b[31m",
        "\u200b\u200c\u200d\ufeff",
        "<script>alert('x')</script>",
        "**gras** _italique_ [lien](http://x)",
        "'; DROP TABLE entries; --",
        "a" * 65536,
        "je cherche " * 6000,
        "\ud800",  # a lone surrogate
    ],
)
def test_bad_input_never_crashes(text: str) -> None:
    started = time.perf_counter()
    result = parse(text)
    elapsed = time.perf_counter() - started
    assert isinstance(result, Parse)
    assert result.intent in INTENTS
    assert result.intent in {"unknown", "help", "search"}
    assert result.category is None and result.commune is None
    assert elapsed < 0.25


def test_markup_around_words_is_ignored() -> None:
    result = parse("<b>crèche</b> à <i>Saint-Paul</i>")
    assert (result.category, result.commune) == ("creche", "97415")


def test_zero_width_characters_inside_words() -> None:
    result = parse("cr\u200bèche à Saint\u200b-Paul")
    assert (result.category, result.commune) == ("creche", "97415")


def test_not_a_string() -> None:
    assert parse(None).intent == "unknown"  # type: ignore[arg-type]


def test_question_marks_only_ask_for_help() -> None:
    assert parse("???").intent == "help"








# --- JSON and CLI -------------------------------------------------------------------------


def test_to_json_has_the_contract_keys() -> None:
    data = parse("crèche à Saint-Louis", home="97416").to_json()
    assert set(data) >= CONTRACT_KEYS
    assert data["commune_candidates"][0] == "97414"
    assert data["lang"] == "fr"
    json.dumps(data)


def test_cli_parse_json() -> None:
    result = CliRunner().invoke(
        main, ["parse", "je recommande le garage Dupont au Port", "--home", "97415", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) >= CONTRACT_KEYS
    assert data["intent"] == "recommend"
    assert data["category"] == "garage"
    assert data["commune"] == "97407"
    assert data["near_me"] is False
    assert data["radius_km"] is None
    assert data["name"] == "Dupont"


def test_cli_parse_radius_json() -> None:
    result = CliRunner().invoke(main, ["parse", "a pharmacy within 3 miles", "--lang", "en", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["radius_km"] == pytest.approx(4.828, abs=0.01)
    assert data["near_me"] is True
    assert data["lang"] == "en"


def test_cli_parse_summary_is_localized() -> None:
    fr = CliRunner().invoke(main, ["parse", "crèche à Saint-Louis", "--home", "68224"])
    assert fr.exit_code == 0
    assert "Catégorie : Crèche" in fr.output and "68297" in fr.output
    en = CliRunner().invoke(main, ["parse", "daycare in Saint-Louis", "--lang", "en"])
    assert en.exit_code == 0
    assert "Category: Daycare" in en.output


def test_cli_parse_bad_home_is_a_clear_error() -> None:
    result = CliRunner().invoke(main, ["parse", "crèche", "--home", "99999", "--json"])
    assert result.exit_code == 2
    assert "99999" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("text", ["", "🙂", "\x00" * 10, "x" * 70000])
def test_cli_parse_bad_text(text: str) -> None:
    result = CliRunner().invoke(main, ["parse", text, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["intent"] in {"unknown", "help"}


# --- the conversational fields (the engine's contract) ---------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("quels projets à Saint-Paul ?", {"intent": "search", "kind": "project", "commune": "97415"}),
        ("évènements à Saint-Pierre", {"intent": "search", "kind": "event", "commune": "97416"}),
        ("je lance un projet de jardin", {"intent": "announce_project", "kind": "project"}),
        ("/project", {"intent": "announce_project", "kind": "project"}),
        ("et à Saint-Benoît ?", {"followup": True, "commune": "97410"}),
        ("what about Saint-Leu?", {"followup": True, "commune": "97413"}),
        ("la troisième", {"ordinal": 3}),
        ("le 2e", {"ordinal": 2}),
        ("the second one", {"ordinal": 2}),
        ("le dernier", {"ordinal": -1}),
        ("the other one", {"ordinal": 0}),
        ("2", {"ordinal": None}),
        ("lequel est le plus près ?", {"sort": "distance"}),
        ("le mieux noté", {"sort": "recommended", "intent": "search"}),
        ("the most recommended", {"sort": "recommended", "intent": "search"}),
        ("cherche plus large", {"widen": True}),
        ("further away, within 40 km", {"widen": True, "radius_km": 40}),
        ("son téléphone ?", {"field": "phone"}),
        ("where is it?", {"field": "address", "deictic": True}),
        ("ils ouvrent le samedi ?", {"field": "hours", "weekday": 5}),
        ("website?", {"field": "website"}),
        ("leur email ?", {"field": "email"}),
        ("on Sunday", {"weekday": 6}),
        ("ce garage ouvre le lundi ?", {"deictic": True, "category": None, "weekday": 0}),
        ("je la recommande", {"intent": "recommend", "deictic": True}),
        ("au revoir", {"intent": "bye"}),
        ("bonne journée", {"intent": "bye"}),
        ("ok", {"intent": "ack"}),
        ("cool", {"intent": "ack"}),
        ("oui", {"intent": "yes"}),
        ("partage-la", {"intent": "share", "deictic": True}),
        ("share it", {"intent": "share"}),
        ("en français svp", {"intent": "switch_language", "switch_lang": "fr"}),
        ("in English please", {"intent": "switch_language", "switch_lang": "en"}),
        ("nouveau dans le coin, j'habite maintenant à Saint-Leu", {"intent": "move", "commune": "97413"}),
        ("I just moved to Saint-Paul", {"intent": "move", "commune": "97415"}),
        (
            "une crèche et une pharmacie à Sainte-Marie",
            {"category": "creche", "also_categories": ("pharmacie",), "commune": "97418"},
        ),
        ("02 62 12 34 56", {"intent": "search", "contact": "0262123456"}),
        ("+262 262 12 34 56", {"contact": "+262262123456"}),
        ("https://www.zot.re/", {"contact": "zot.re"}),
        ("l'évier est bouché", {"intent": "search", "category": "plombier"}),
        ("my sink is blocked", {"intent": "search", "category": "plombier"}),
        ("mon chien boite", {"category": "veterinaire"}),
        ("j'ai perdu mes clés", {"category": "serrurier"}),
    ],
)
def test_conversational_fields(text: str, expected: dict[str, object]) -> None:
    result = parse(text)
    for key, value in expected.items():
        assert getattr(result, key) == value, (key, result)


def test_json_has_the_new_keys_after_the_old_ones() -> None:
    keys = list(parse("la troisième").to_json())
    # the design card's contract keys first (``when`` is one of them), then the others
    old = ["intent", "category", "commune", "near_me", "radius_km", "name", "when",
           "commune_candidates", "lang"]
    assert keys[: len(old)] == old
    assert keys[len(old) :] == [
        "kind", "followup", "ordinal", "sort", "widen", "field", "weekday", "deictic",
        "also_categories", "contact", "switch_lang", "needs", "stage", "clock",
    ]  # fmt: skip


def test_a_long_message_is_read_from_its_question() -> None:
    story = "Nous venons d'arriver et tout est nouveau pour nous, les cartons, les papiers. " * 40
    result = parse(story + "Connaissez-vous une crèche à Saint-Paul ?")
    assert len(story) > 3000
    assert (result.intent, result.category, result.commune) == ("search", "creche", "97415")


def test_lexicon_loads_no_parser() -> None:
    import subprocess
    import sys

    code = (
        "import sys, bot.nlu.lexicon as l; "
        "assert l.yes_no('ok merci') is True and l.yes_no('non') is False; "
        "assert l.is_cancel_words('Annuler !'); "
        "print(sorted(m for m in sys.modules if m.startswith(('bot.nlu', 'directory.gaz'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['bot.nlu', 'bot.nlu.lexicon']"
