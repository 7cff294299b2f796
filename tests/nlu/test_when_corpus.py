"""The NLU corpus of time expressions: what people type for "when" (French and English,
SMS spellings, typos, a few Réunion creole words) and the window each means, with the
clock frozen in Nouméa (UTC+11), La Réunion (UTC+4) and Paris, across both daylight
saving changes (Sunday 28 March 2027, Sunday 25 October 2026).

One table, ``CORPUS``: (text, time zone, frozen instant, expected start, expected end).
Each row is checked through the pure grammar (``read_when`` + ``window`` at the instant)
and, with the clock frozen by ``time_machine``, through the full ``parse`` and its
default-clock ``to_json()``/``window()``, as ``communebot parse --json`` prints it.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest
import time_machine
from click.testing import CliRunner

from bot.cli import main
from bot.nlu import parse
from bot.nlu.when import read_when, window
from directory.text import fold

R, N, P = "Indian/Reunion", "Pacific/Noumea", "Europe/Paris"
FRI = "2026-12-04T10:00:00+00:00"        # Friday 14:00 in La Réunion, 21:00 in Nouméa
N_SAT0030 = "2026-12-04T13:30:00+00:00"  # Saturday 00:30 in Nouméa
N_SUN = "2026-12-06T09:00:00+00:00"      # Sunday 20:00 in Nouméa
P_SPRING = "2027-03-27T09:00:00+00:00"   # Saturday 10:00 in Paris, DST starts Sunday 28 March
P_AUTUMN = "2026-10-24T08:00:00+00:00"   # Saturday 10:00 in Paris, DST ends Sunday 25 October
P_EVENING = "2026-10-24T17:30:00+00:00"  # Saturday 19:30 in Paris
P_0030 = "2026-10-24T22:30:00+00:00"     # Sunday 00:30 (CEST) in Paris, hours before DST ends
r = "+04:00"  # La Réunion all year

#: (text, time zone, frozen instant (UTC), expected start, expected end)
CORPUS: list[tuple[str, str, str, str, str]] = [
 ("aujourd'hui", R, FRI, "2026-12-04T14:00:00"+r, "2026-12-05T00:00:00"+r),
 ("auj", R, FRI, "2026-12-04T14:00:00"+r, "2026-12-05T00:00:00"+r),
 ("ajd", R, FRI, "2026-12-04T14:00:00"+r, "2026-12-05T00:00:00"+r),
 ("ojourdui", R, FRI, "2026-12-04T14:00:00"+r, "2026-12-05T00:00:00"+r),
 ("zordi", R, FRI, "2026-12-04T14:00:00"+r, "2026-12-05T00:00:00"+r),
 ("today", R, FRI, "2026-12-04T14:00:00"+r, "2026-12-05T00:00:00"+r),
 ("ce soir", R, FRI, "2026-12-04T18:00:00"+r, "2026-12-05T00:00:00"+r),
 ("tonight", R, FRI, "2026-12-04T18:00:00"+r, "2026-12-05T00:00:00"+r),
 ("tonite", R, FRI, "2026-12-04T18:00:00"+r, "2026-12-05T00:00:00"+r),
 ("this evening", R, FRI, "2026-12-04T18:00:00"+r, "2026-12-05T00:00:00"+r),
 ("aswar", R, FRI, "2026-12-04T18:00:00"+r, "2026-12-05T00:00:00"+r),
 ("demain", R, FRI, "2026-12-05T00:00:00"+r, "2026-12-06T00:00:00"+r),
 ("dmain", R, FRI, "2026-12-05T00:00:00"+r, "2026-12-06T00:00:00"+r),
 ("2main", R, FRI, "2026-12-05T00:00:00"+r, "2026-12-06T00:00:00"+r),
 ("dem1", R, FRI, "2026-12-05T00:00:00"+r, "2026-12-06T00:00:00"+r),
 ("tmrw", R, FRI, "2026-12-05T00:00:00"+r, "2026-12-06T00:00:00"+r),
 ("2moro", R, FRI, "2026-12-05T00:00:00"+r, "2026-12-06T00:00:00"+r),
 ("tomorrow", R, FRI, "2026-12-05T00:00:00"+r, "2026-12-06T00:00:00"+r),
 ("demain soir", R, FRI, "2026-12-05T18:00:00"+r, "2026-12-06T00:00:00"+r),
 ("après-demain", R, FRI, "2026-12-06T00:00:00"+r, "2026-12-07T00:00:00"+r),
 ("apres dmain", R, FRI, "2026-12-06T00:00:00"+r, "2026-12-07T00:00:00"+r),
 ("the day after tomorrow", R, FRI, "2026-12-06T00:00:00"+r, "2026-12-07T00:00:00"+r),
 ("ce week-end", R, FRI, "2026-12-05T00:00:00"+r, "2026-12-07T00:00:00"+r),
 ("ce wk", R, FRI, "2026-12-05T00:00:00"+r, "2026-12-07T00:00:00"+r),
 ("ce w-e", R, FRI, "2026-12-05T00:00:00"+r, "2026-12-07T00:00:00"+r),
 ("this weekend", R, FRI, "2026-12-05T00:00:00"+r, "2026-12-07T00:00:00"+r),
 ("this wknd", R, FRI, "2026-12-05T00:00:00"+r, "2026-12-07T00:00:00"+r),
 ("le we prochain", R, FRI, "2026-12-12T00:00:00"+r, "2026-12-14T00:00:00"+r),
 ("next weekend", R, FRI, "2026-12-12T00:00:00"+r, "2026-12-14T00:00:00"+r),
 ("samedi", R, FRI, "2026-12-05T00:00:00"+r, "2026-12-06T00:00:00"+r),
 ("samdi", R, FRI, "2026-12-05T00:00:00"+r, "2026-12-06T00:00:00"+r),
 ("on Saturday", R, FRI, "2026-12-05T00:00:00"+r, "2026-12-06T00:00:00"+r),
 ("this saturday", R, FRI, "2026-12-05T00:00:00"+r, "2026-12-06T00:00:00"+r),
 ("ce sam", R, FRI, "2026-12-05T00:00:00"+r, "2026-12-06T00:00:00"+r),
 ("samedi prochain", R, FRI, "2026-12-12T00:00:00"+r, "2026-12-13T00:00:00"+r),
 ("sam prochain", R, FRI, "2026-12-12T00:00:00"+r, "2026-12-13T00:00:00"+r),
 ("next saturday", R, FRI, "2026-12-12T00:00:00"+r, "2026-12-13T00:00:00"+r),
 ("sam 12", R, FRI, "2026-12-12T00:00:00"+r, "2026-12-13T00:00:00"+r),
 ("samedi 12 décembre", R, FRI, "2026-12-12T00:00:00"+r, "2026-12-13T00:00:00"+r),
 ("lundi soir", R, FRI, "2026-12-07T18:00:00"+r, "2026-12-08T00:00:00"+r),
 ("vendredi soir", R, FRI, "2026-12-04T18:00:00"+r, "2026-12-05T00:00:00"+r),
 ("la semaine prochaine", R, FRI, "2026-12-07T00:00:00"+r, "2026-12-14T00:00:00"+r),
 ("la semaine pro", R, FRI, "2026-12-07T00:00:00"+r, "2026-12-14T00:00:00"+r),
 ("sem prochaine", R, FRI, "2026-12-07T00:00:00"+r, "2026-12-14T00:00:00"+r),
 ("next week", R, FRI, "2026-12-07T00:00:00"+r, "2026-12-14T00:00:00"+r),
 ("cette semaine", R, FRI, "2026-12-04T14:00:00"+r, "2026-12-07T00:00:00"+r),
 ("this week", R, FRI, "2026-12-04T14:00:00"+r, "2026-12-07T00:00:00"+r),
 ("ce mois-ci", R, FRI, "2026-12-04T14:00:00"+r, "2027-01-01T00:00:00"+r),
 ("this month", R, FRI, "2026-12-04T14:00:00"+r, "2027-01-01T00:00:00"+r),
 ("le mois prochain", R, FRI, "2027-01-01T00:00:00"+r, "2027-02-01T00:00:00"+r),
 ("next month", R, FRI, "2027-01-01T00:00:00"+r, "2027-02-01T00:00:00"+r),
 ("en décembre", R, FRI, "2026-12-04T14:00:00"+r, "2027-01-01T00:00:00"+r),
 ("in December", R, FRI, "2026-12-04T14:00:00"+r, "2027-01-01T00:00:00"+r),
 ("en janvier", R, FRI, "2027-01-01T00:00:00"+r, "2027-02-01T00:00:00"+r),
 ("janvier prochain", R, FRI, "2027-01-01T00:00:00"+r, "2027-02-01T00:00:00"+r),
 ("le 24", R, FRI, "2026-12-24T00:00:00"+r, "2026-12-25T00:00:00"+r),
 ("le 24/12", R, FRI, "2026-12-24T00:00:00"+r, "2026-12-25T00:00:00"+r),
 ("24/12", R, FRI, "2026-12-24T00:00:00"+r, "2026-12-25T00:00:00"+r),
 ("24 dec", R, FRI, "2026-12-24T00:00:00"+r, "2026-12-25T00:00:00"+r),
 ("Dec 24", R, FRI, "2026-12-24T00:00:00"+r, "2026-12-25T00:00:00"+r),
 ("december 24th", R, FRI, "2026-12-24T00:00:00"+r, "2026-12-25T00:00:00"+r),
 ("the 24th", R, FRI, "2026-12-24T00:00:00"+r, "2026-12-25T00:00:00"+r),
 ("le 24 décembre au soir", R, FRI, "2026-12-24T18:00:00"+r, "2026-12-25T00:00:00"+r),
 ("le 24/12/2027", R, FRI, "2027-12-24T00:00:00"+r, "2027-12-25T00:00:00"+r),
 ("le 31", R, FRI, "2026-12-31T00:00:00"+r, "2027-01-01T00:00:00"+r),
 ("le 1er janvier", R, FRI, "2027-01-01T00:00:00"+r, "2027-01-02T00:00:00"+r),
 ("jan 1st", R, FRI, "2027-01-01T00:00:00"+r, "2027-01-02T00:00:00"+r),
 ("du 20 au 27", R, FRI, "2026-12-20T00:00:00"+r, "2026-12-28T00:00:00"+r),
 ("du 20 au 27 décembre", R, FRI, "2026-12-20T00:00:00"+r, "2026-12-28T00:00:00"+r),
 ("entre le 20 et le 27", R, FRI, "2026-12-20T00:00:00"+r, "2026-12-28T00:00:00"+r),
 ("from the 20th to the 27th", R, FRI, "2026-12-20T00:00:00"+r, "2026-12-28T00:00:00"+r),
 ("from Dec 20 to 27", R, FRI, "2026-12-20T00:00:00"+r, "2026-12-28T00:00:00"+r),
 ("du 28/12 au 3/01", R, FRI, "2026-12-28T00:00:00"+r, "2027-01-04T00:00:00"+r),
 ("du lundi au vendredi", R, FRI, "2026-12-07T00:00:00"+r, "2026-12-12T00:00:00"+r),
 ("à partir de lundi", R, FRI, "2026-12-07T00:00:00"+r, "2027-01-06T00:00:00"+r),
 ("d'ici dimanche", R, FRI, "2026-12-04T14:00:00"+r, "2026-12-07T00:00:00"+r),
 ("jusqu'à dimanche", R, FRI, "2026-12-04T14:00:00"+r, "2026-12-07T00:00:00"+r),
 ("until Sunday", R, FRI, "2026-12-04T14:00:00"+r, "2026-12-07T00:00:00"+r),
 ("jusqu'au 24", R, FRI, "2026-12-04T14:00:00"+r, "2026-12-25T00:00:00"+r),
 ("until the 24th", R, FRI, "2026-12-04T14:00:00"+r, "2026-12-25T00:00:00"+r),
 ("d'ici la fin du mois", R, FRI, "2026-12-04T14:00:00"+r, "2027-01-01T00:00:00"+r),
 ("dans 3 jours", R, FRI, "2026-12-07T00:00:00"+r, "2026-12-08T00:00:00"+r),
 ("in 3 days", R, FRI, "2026-12-07T00:00:00"+r, "2026-12-08T00:00:00"+r),
 ("dans 8 jours", R, FRI, "2026-12-11T00:00:00"+r, "2026-12-12T00:00:00"+r),
 # Nouméa, Friday 21:00: tonight is nearly over
 ("ce soir", N, FRI, "2026-12-04T21:00:00+11:00", "2026-12-05T00:00:00+11:00"),
 ("aujourd'hui", N, FRI, "2026-12-04T21:00:00+11:00", "2026-12-05T00:00:00+11:00"),
 ("ce week-end", N, FRI, "2026-12-05T00:00:00+11:00", "2026-12-07T00:00:00+11:00"),
 ("demain", N, FRI, "2026-12-05T00:00:00+11:00", "2026-12-06T00:00:00+11:00"),
 # Nouméa, Saturday 00:30: "ce soir" after midnight is the evening to come
 ("ce soir", N, N_SAT0030, "2026-12-05T18:00:00+11:00", "2026-12-06T00:00:00+11:00"),
 ("tonight", N, N_SAT0030, "2026-12-05T18:00:00+11:00", "2026-12-06T00:00:00+11:00"),
 ("ajd", N, N_SAT0030, "2026-12-05T00:30:00+11:00", "2026-12-06T00:00:00+11:00"),
 ("demain", N, N_SAT0030, "2026-12-06T00:00:00+11:00", "2026-12-07T00:00:00+11:00"),
 ("ce we", N, N_SAT0030, "2026-12-05T00:30:00+11:00", "2026-12-07T00:00:00+11:00"),
 # Nouméa, Sunday 20:00: this weekend is what is left of today
 ("ce week-end", N, N_SUN, "2026-12-06T20:00:00+11:00", "2026-12-07T00:00:00+11:00"),
 ("le we prochain", N, N_SUN, "2026-12-12T00:00:00+11:00", "2026-12-14T00:00:00+11:00"),
 ("samedi", N, N_SUN, "2026-12-12T00:00:00+11:00", "2026-12-13T00:00:00+11:00"),
 ("next week", N, N_SUN, "2026-12-07T00:00:00+11:00", "2026-12-14T00:00:00+11:00"),
 # Paris, Saturday 27 March 2027 10:00 CET; summer time from Sunday 28 March 02:00
 ("ce week-end", P, P_SPRING, "2027-03-27T10:00:00+01:00", "2027-03-29T00:00:00+02:00"),
 ("demain", P, P_SPRING, "2027-03-28T00:00:00+01:00", "2027-03-29T00:00:00+02:00"),
 ("dimanche", P, P_SPRING, "2027-03-28T00:00:00+01:00", "2027-03-29T00:00:00+02:00"),
 ("demain soir", P, P_SPRING, "2027-03-28T18:00:00+02:00", "2027-03-29T00:00:00+02:00"),
 ("ce soir", P, P_SPRING, "2027-03-27T18:00:00+01:00", "2027-03-28T00:00:00+01:00"),
 ("cette semaine", P, P_SPRING, "2027-03-27T10:00:00+01:00", "2027-03-29T00:00:00+02:00"),
 ("la semaine prochaine", P, P_SPRING, "2027-03-29T00:00:00+02:00", "2027-04-05T00:00:00+02:00"),
 ("ce mois-ci", P, P_SPRING, "2027-03-27T10:00:00+01:00", "2027-04-01T00:00:00+02:00"),
 ("en avril", P, P_SPRING, "2027-04-01T00:00:00+02:00", "2027-05-01T00:00:00+02:00"),
 ("du 28 au 3", P, P_SPRING, "2027-03-28T00:00:00+01:00", "2027-04-04T00:00:00+02:00"),
 ("jusqu'à dimanche", P, P_SPRING, "2027-03-27T10:00:00+01:00", "2027-03-29T00:00:00+02:00"),
 ("sam prochain", P, P_SPRING, "2027-04-03T00:00:00+02:00", "2027-04-04T00:00:00+02:00"),
 # Paris, Saturday 24 October 2026 10:00 CEST; winter time from Sunday 25 October 03:00
 ("ce week-end", P, P_AUTUMN, "2026-10-24T10:00:00+02:00", "2026-10-26T00:00:00+01:00"),
 ("dimanche", P, P_AUTUMN, "2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00"),
 ("tomorrow night", P, P_AUTUMN, "2026-10-25T18:00:00+01:00", "2026-10-26T00:00:00+01:00"),
 ("next week", P, P_AUTUMN, "2026-10-26T00:00:00+01:00", "2026-11-02T00:00:00+01:00"),
 ("le mois prochain", P, P_AUTUMN, "2026-11-01T00:00:00+01:00", "2026-12-01T00:00:00+01:00"),
 # Paris, Saturday 19:30: "ce soir" starts now
 ("ce soir", P, P_EVENING, "2026-10-24T19:30:00+02:00", "2026-10-25T00:00:00+02:00"),
 ("tonite", P, P_EVENING, "2026-10-24T19:30:00+02:00", "2026-10-25T00:00:00+02:00"),
 # Paris, Sunday 00:30 CEST: the evening to come is in winter time
 ("ce soir", P, P_0030, "2026-10-25T18:00:00+01:00", "2026-10-26T00:00:00+01:00"),
 ("aujourd'hui", P, P_0030, "2026-10-25T00:30:00+02:00", "2026-10-26T00:00:00+01:00"),
]  # fmt: skip

#: what is no time: ages, addresses, arrondissements, street names, "open 7/7", phone
#: numbers, words that look like weekday abbreviations, durations, clock hours; school
#: holidays ("vacances de Noël") are not read, their dates depend on data we do not have
NEGATIVES = [
    "j'ai 24 ans", "24 rue des Lilas", "dans le 11e", "le 3e arrondissement", "we are open",
    "garage du 8 mai", "rue du 8 mai 1945", "avenue du 14 juillet", "ouvert 7/7",
    "ouvert 24h/24", "open 24/7", "appelez le 06 92 12 34 56", "le jeu de société",
    "mon garage", "la mer est belle", "mon prochain rdv", "Sam a dit oui", "3h de route",
    "1/2 heure", "from 9 to 5", "entre 14 et 18 ans", "à 9:05", "plombier 2 ans d'expérience",
    "marché de Noël", "vacances de Noël", "dans 2 semaines", "sun cream",
]  # fmt: skip

HOME = {R: "97415", N: "98818", P: "75056"}  # Saint-Paul, Nouméa, Paris
_ENGLISH_START = ("today", "tonight", "tonite", "this", "tomorrow", "tmrw", "2moro", "the",
                  "next", "on", "in", "december", "dec", "jan", "from", "until")
#: every row goes through the whole parse too ("next week" alone is a time, not "more")
_PARSED = list(CORPUS)


def _message(text: str) -> tuple[str, str]:
    """The row as an events question, in its language."""
    english = text.lower().startswith(_ENGLISH_START)
    return ("events " if english else "évènements ") + text, "en" if english else "fr"


def test_the_corpus_is_large_and_covers_three_zones_and_both_dst_changes() -> None:
    assert len(CORPUS) >= 80 and len(NEGATIVES) >= 10
    assert {tz for _t, tz, *_ in CORPUS} == {R, N, P}
    assert {P_SPRING, P_AUTUMN} <= {frozen for _t, _tz, frozen, *_ in CORPUS}
    assert len({(text, tz, frozen) for text, tz, frozen, *_ in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize(("text", "tz", "frozen", "start", "end"), CORPUS)
def test_window(text: str, tz: str, frozen: str, start: str, end: str) -> None:
    when = read_when(fold(text), bare_day=True)
    assert when is not None, text
    found = window(when, datetime.fromisoformat(frozen), tz)
    assert found is not None, text
    assert (found[0].isoformat(), found[1].isoformat()) == (start, end)


@pytest.mark.parametrize(("text", "tz", "frozen", "start", "end"), _PARSED)
def test_full_parse_at_a_frozen_clock(text: str, tz: str, frozen: str, start: str, end: str) -> None:
    message, lang = _message(text)
    instant = datetime.fromisoformat(frozen)
    with time_machine.travel(instant, tick=False):
        result = parse(message, lang=lang, home=HOME[tz])
        assert result.tz == tz
        assert result.to_json()["when"] == {"start": start, "end": end}, message
        default = result.window()  # the default clock is the frozen one
    assert default is not None and (default[0].isoformat(), default[1].isoformat()) == (start, end)
    assert result.to_json(instant)["when"] == {"start": start, "end": end}


@pytest.mark.parametrize(
    ("text", "home", "frozen", "start", "end"),
    [
        ("évènements ce week-end", "98818", N_SUN, "2026-12-06T20:00:00+11:00", "2026-12-07T00:00:00+11:00"),
        ("ya koi ce soir", "97415", FRI, "2026-12-04T18:00:00+04:00", "2026-12-05T00:00:00+04:00"),
        ("évènements demain", "75056", P_SPRING, "2027-03-28T00:00:00+01:00", "2027-03-29T00:00:00+02:00"),
        ("events this weekend", "75056", P_AUTUMN, "2026-10-24T10:00:00+02:00", "2026-10-26T00:00:00+01:00"),
    ],
)
def test_communebot_parse_json_prints_the_window_at_the_frozen_clock(
        text: str, home: str, frozen: str, start: str, end: str) -> None:
    with time_machine.travel(datetime.fromisoformat(frozen), tick=False):
        result = CliRunner().invoke(main, ["parse", text, "--home", home, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["when"] == {"start": start, "end": end}


@pytest.mark.parametrize("text", NEGATIVES)
def test_no_time_where_none_is_said(text: str) -> None:
    assert read_when(fold(text), bare_day=True) is None
    assert parse(text, lang="fr", home="97415").when is None


def test_next_in_english_is_not_more_results() -> None:
    with time_machine.travel(datetime.fromisoformat(FRI), tick=False):
        result = parse("what's on next week", lang="en", home="97415")
    assert result.kind == "event" and result.to_json()["when"] == {
        "start": "2026-12-07T00:00:00+04:00", "end": "2026-12-14T00:00:00+04:00"}
