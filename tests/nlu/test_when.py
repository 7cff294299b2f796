"""Time expressions read from a message and placed in the commune's time zone (pure: the
clock is a parameter)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.nlu import parse
from bot.nlu.when import read_when, window
from directory.text import fold

FRIDAY_UTC = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)  # Friday 14:00 in La Réunion


def span(text: str, tz: str = "Indian/Reunion", now: datetime = FRIDAY_UTC) -> tuple[str, str]:
    when = read_when(fold(text), bare_day=True)
    assert when is not None, text
    found = window(when, now, tz)
    assert found is not None, text
    return found[0].isoformat(), found[1].isoformat()


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("ce week-end", "2026-12-05T00:00:00+04:00", "2026-12-07T00:00:00+04:00"),
        ("this weekend", "2026-12-05T00:00:00+04:00", "2026-12-07T00:00:00+04:00"),
        ("ce we", "2026-12-05T00:00:00+04:00", "2026-12-07T00:00:00+04:00"),
        ("demain", "2026-12-05T00:00:00+04:00", "2026-12-06T00:00:00+04:00"),
        ("tomorrow", "2026-12-05T00:00:00+04:00", "2026-12-06T00:00:00+04:00"),
        ("demain soir", "2026-12-05T18:00:00+04:00", "2026-12-06T00:00:00+04:00"),
        ("après-demain", "2026-12-06T00:00:00+04:00", "2026-12-07T00:00:00+04:00"),
        ("samedi", "2026-12-05T00:00:00+04:00", "2026-12-06T00:00:00+04:00"),
        ("on Saturday", "2026-12-05T00:00:00+04:00", "2026-12-06T00:00:00+04:00"),
        ("samedi prochain", "2026-12-12T00:00:00+04:00", "2026-12-13T00:00:00+04:00"),
        ("lundi", "2026-12-07T00:00:00+04:00", "2026-12-08T00:00:00+04:00"),
        ("la semaine prochaine", "2026-12-07T00:00:00+04:00", "2026-12-14T00:00:00+04:00"),
        ("next week", "2026-12-07T00:00:00+04:00", "2026-12-14T00:00:00+04:00"),
        ("le 24", "2026-12-24T00:00:00+04:00", "2026-12-25T00:00:00+04:00"),
        ("le 24/12", "2026-12-24T00:00:00+04:00", "2026-12-25T00:00:00+04:00"),
        ("Dec 24", "2026-12-24T00:00:00+04:00", "2026-12-25T00:00:00+04:00"),
        ("le 2 janvier", "2027-01-02T00:00:00+04:00", "2027-01-03T00:00:00+04:00"),
        ("du 20 au 27", "2026-12-20T00:00:00+04:00", "2026-12-28T00:00:00+04:00"),
        ("du 28 au 3", "2026-12-28T00:00:00+04:00", "2027-01-04T00:00:00+04:00"),
        ("le 3", "2027-01-03T00:00:00+04:00", "2027-01-04T00:00:00+04:00"),
        ("à partir de lundi", "2026-12-07T00:00:00+04:00", "2027-01-06T00:00:00+04:00"),
        ("in January", "2027-01-01T00:00:00+04:00", "2027-02-01T00:00:00+04:00"),
    ],
)
def test_windows_in_la_reunion(text: str, start: str, end: str) -> None:
    assert span(text) == (start, end)


def test_the_same_words_in_noumea_and_now_bounds_the_current_period() -> None:
    # Friday 10:00 UTC is Friday 21:00 in Nouméa (UTC+11): tonight is nearly over
    start, end = span("ce soir", "Pacific/Noumea")
    assert start == "2026-12-04T21:00:00+11:00" and end == "2026-12-05T00:00:00+11:00"
    # "ce mois-ci" starts now, not on the 1st
    assert span("ce mois-ci")[0] == "2026-12-04T14:00:00+04:00"


def test_paris_across_the_daylight_saving_change() -> None:
    saturday = datetime(2027, 3, 27, 9, 0, tzinfo=UTC)  # DST starts on Sunday 28 March 2027
    start, end = span("la semaine prochaine", "Europe/Paris", saturday)
    assert start == "2027-03-29T00:00:00+02:00" and end == "2027-04-05T00:00:00+02:00"
    assert span("ce week-end", "Europe/Paris", saturday) == (
        "2027-03-27T10:00:00+01:00", "2027-03-29T00:00:00+02:00")


@pytest.mark.parametrize("text", ["garagiste au Port", "we are open", "dans le 11e", "j'ai 24 ans",
                                  "24 rue des Lilas"])
def test_no_time_where_none_is_said(text: str) -> None:
    assert parse(text, lang="fr", home="97415").when is None


def test_parse_gives_the_window_in_the_communes_time_zone() -> None:
    result = parse("évènements à Nouméa ce week-end", lang="fr", home="97415")
    assert result.kind == "event" and result.tz == "Pacific/Noumea"
    when = result.to_json(FRIDAY_UTC)["when"]
    assert when == {"start": "2026-12-05T00:00:00+11:00", "end": "2026-12-07T00:00:00+11:00"}
    assert parse("quoi de neuf ce week-end au Port ?", lang="fr").kind == "event"
