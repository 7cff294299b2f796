"""Questions about others' projects by what they need, and telling of one's own event."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from click.testing import CliRunner

from bot.cli import main
from bot.nlu import parse


@pytest.mark.parametrize(
    ("text", "needs"),
    [
        ("projets qui cherchent des bénévoles", ("volunteers",)),
        ("projets qui cherchent des benevoles a st paul", ("volunteers",)),
        ("projects needing funding", ("funding",)),
        ("projects that need volunteers in saint pierre", ("volunteers",)),
        ("des projets ayant besoin de matériel et de financement ?", ("materials", "funding")),
        ("projets en recherche de compétences", ("skills",)),
    ],
)
def test_projects_by_need_are_a_search(text: str, needs: tuple[str, ...]) -> None:
    result = parse(text, lang="fr", home="97415")
    assert (result.intent, result.kind, result.needs, result.category) == ("search", "project", needs, None)


def test_ones_own_call_for_volunteers_still_announces() -> None:
    result = parse("je cherche des bénévoles pour mon projet de jardin", lang="fr", home="97415")
    assert result.intent == "announce_project" and result.needs == ()


def test_projects_by_stage() -> None:
    assert parse("quels projets en phase d'idée à Saint-Paul ?", lang="fr").stage == "idea"
    assert parse("quels projets à Saint-Paul ?", lang="fr").stage is None


@pytest.mark.parametrize(
    ("text", "category", "commune"),
    [
        ("j'organise un vide-grenier samedi au Port", "vide-grenier", "97407"),
        ("jorganise un concert le 24/12 a st pierre", "concert", "97416"),
        ("on organise une fête de quartier dimanche", "fete", None),
        ("we're organising a flea market on Saturday in Le Port", "vide-grenier", "97407"),
        ("/event", None, None),
        ("annoncer un évènement", None, None),
    ],
)
def test_telling_of_an_event(text: str, category: str | None, commune: str | None) -> None:
    result = parse(text, lang="fr", home="97415")
    assert (result.intent, result.kind, result.category, result.commune) == (
        "announce_event", "event", category, commune)


@pytest.mark.parametrize("text", ["marchés de Noël près de chez moi", "concerts samedi à Saint-Pierre",
                                  "christmas markets this weekend", "vide grenier dimanche"])
def test_an_event_category_asks_what_is_on(text: str) -> None:
    result = parse(text, lang="fr", home="97415")
    assert result.intent == "search" and result.kind == "event"


def test_the_cli_summary_says_the_window_and_the_time_of_day() -> None:
    with time_machine.travel(datetime(2026, 12, 4, 10, 0, tzinfo=UTC), tick=False):
        result = CliRunner().invoke(
            main, ["parse", "jorganise un concert samedi de 20h a 23h o port", "--home", "97415"])
    assert result.exit_code == 0, result.output
    assert "Quand : du 2026-12-05T00:00:00+04:00 au 2026-12-06T00:00:00+04:00" in result.output
    assert "Heure : 20:00–23:00" in result.output
    english = CliRunner().invoke(main, ["parse", "projects needing funding", "--lang", "en"])
    assert "Needs: funding" in english.output and "When" not in english.output


@pytest.mark.parametrize(("text", "lang"), [("any garage in le port", "en"), ("bakery in les avirons", "en"),
                                            ("garagiste au port", "fr"), ("un snack aux avirons", "fr")])
def test_a_places_own_words_do_not_decide_the_language(text: str, lang: str) -> None:
    assert parse(text, lang=None, home="97415").lang == lang
