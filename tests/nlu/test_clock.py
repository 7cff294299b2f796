"""Times of day for an announced event: ``read_clock`` reads "samedi à 14h", "de 9h à
17h", "sat 2:30 pm" from folded text, and ``event_times`` places a day and a clock in the
commune's time zone (Nouméa, La Réunion, Paris across both daylight saving changes)."""

from __future__ import annotations

from datetime import datetime, time

import pytest

from bot.nlu import when as when_module
from bot.nlu.when import Clock, event_times, read_clock, read_when
from directory.text import fold


def _hm(text: str | None) -> time | None:
    return time.fromisoformat(text) if text else None


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("samedi à 14h", "14:00", None),
        ("sam 14h30", "14:30", None),
        ("le 24/12 de 9h à 17h", "09:00", "17:00"),
        ("demain 20h-23h", "20:00", "23:00"),
        ("dimanche midi", "12:00", None),
        ("saturday 2pm", "14:00", None),
        ("sat 2:30 pm", "14:30", None),
        ("from 9am to 5pm", "09:00", "17:00"),
        ("19h", "19:00", None),
        ("à 8h", "08:00", None),
        ("à minuit", "00:00", None),
        ("de 20h à minuit", "20:00", "00:00"),
        ("de 22h à 2h", "22:00", "02:00"),  # past midnight: the caller moves the end
        ("de 9 à 17h", "09:00", "17:00"),
        ("from 9 to 11pm", "21:00", "23:00"),
        ("from 9 to 5pm", "09:00", "17:00"),
        ("14 h 30", "14:30", None),
        ("14:30", "14:30", None),
        ("rdv à 9:05", "09:05", None),
        ("demain 20:00", "20:00", None),
        ("de 9:00 à 17:00", "09:00", "17:00"),
        ("vers 20h30", "20:30", None),
        ("8h du soir", "20:00", None),
        ("2h du matin", "02:00", None),
        ("3h de l'aprem", "15:00", None),
        ("midi et demi", "12:30", None),
        ("14h et demie", "14:30", None),
        ("à partir de 19h", "19:00", None),
        ("de 20h jusqu'à minuit", "20:00", "00:00"),
        ("12am", "00:00", None),
        ("12 pm", "12:00", None),
        ("noon", "12:00", None),
        ("samedi 12 décembre 14h", "14:00", None),
        ("samedi 12 14h", "14:00", None),  # the 12th at 14h, not 12h to 14h
        ("tél 0262 12 34 56 à 14h", "14:00", None),
    ],
)
def test_read_clock(text: str, start: str, end: str | None) -> None:
    assert read_clock(fold(text)) == Clock(_hm(start) or time(), _hm(end))


@pytest.mark.parametrize(
    "text",
    [
        "24 rue des Lilas", "j'ai 2 ans", "dans le 11e", "06 92 12 34 56", "0692 12 34 56",
        "3h de route", "2h30 de trajet", "à 2h d'ici", "pendant 3h", "dans 2h", "il y a 2h",
        "ouvert 24h/24", "1/2 heure", "le 24/12", "du 20 au 27", "10,30 euros", "samedi",
        "cet après-midi", "le canal du Midi", "jusqu'à 23h", "at 8", "2 hrs",
    ],
)  # fmt: skip
def test_no_clock_where_none_is_said(text: str) -> None:
    assert read_clock(fold(text)) is None


R, N, P = "Indian/Reunion", "Pacific/Noumea", "Europe/Paris"
FRI = "2026-12-04T10:00:00+00:00"  # Friday 14:00 in La Réunion, 21:00 in Nouméa
N_SUN = "2026-12-06T09:00:00+00:00"  # Sunday 20:00 in Nouméa
P_SPRING = "2027-03-27T09:00:00+00:00"  # Saturday 10:00 CET; summer time from Sunday 02:00
P_AUTUMN = "2026-10-24T08:00:00+00:00"  # Saturday 10:00 CEST; winter time from Sunday 03:00


@pytest.mark.parametrize(
    ("text", "tz", "frozen", "start", "end"),
    [
        ("samedi à 14h", R, FRI, "2026-12-05T14:00:00+04:00", None),
        ("le 24/12 de 9h à 17h", R, FRI, "2026-12-24T09:00:00+04:00", "2026-12-24T17:00:00+04:00"),
        ("demain 20h-23h", R, FRI, "2026-12-05T20:00:00+04:00", "2026-12-05T23:00:00+04:00"),
        ("samedi de 22h à 2h", R, FRI, "2026-12-05T22:00:00+04:00", "2026-12-06T02:00:00+04:00"),
        ("ce soir 9h", R, FRI, "2026-12-04T21:00:00+04:00", None),  # the evening's 9
        ("demain soir 8h-11h", R, FRI, "2026-12-05T20:00:00+04:00", "2026-12-05T23:00:00+04:00"),
        ("aujourd'hui à 8h", R, FRI, "2026-12-04T08:00:00+04:00", None),  # past: returned
        ("ce week-end à 10h", R, FRI, "2026-12-05T10:00:00+04:00", None),
        ("du 20 au 27 à 18h", R, FRI, "2026-12-20T18:00:00+04:00", None),
        ("à partir de lundi 9h", R, FRI, "2026-12-07T09:00:00+04:00", None),
        ("dans 3 jours à 10h", R, FRI, "2026-12-07T10:00:00+04:00", None),
        ("sam 14h30", N, FRI, "2026-12-05T14:30:00+11:00", None),
        ("ce soir 22h", N, FRI, "2026-12-04T22:00:00+11:00", None),
        ("dimanche midi", N, FRI, "2026-12-06T12:00:00+11:00", None),
        ("ce week-end à 21h", N, N_SUN, "2026-12-06T21:00:00+11:00", None),  # Sunday: today
        ("tonight 9pm", N, N_SUN, "2026-12-06T21:00:00+11:00", None),
        ("dimanche 2h30", P, P_SPRING, "2027-03-28T03:30:00+02:00", None),  # skipped hour
        ("dimanche de 1h à 4h", P, P_SPRING, "2027-03-28T01:00:00+01:00", "2027-03-28T04:00:00+02:00"),
        ("demain 20h-23h", P, P_SPRING, "2027-03-28T20:00:00+02:00", "2027-03-28T23:00:00+02:00"),
        ("samedi soir minuit", P, P_SPRING, "2027-03-28T00:00:00+01:00", None),
        ("dimanche 2h30", P, P_AUTUMN, "2026-10-25T02:30:00+02:00", None),  # first of the two
        ("samedi de 22h à 4h", P, P_AUTUMN, "2026-10-24T22:00:00+02:00", "2026-10-25T04:00:00+01:00"),
        ("sat 2:30 pm", P, P_AUTUMN, "2026-10-24T14:30:00+02:00", None),
        ("next saturday 2pm", P, P_AUTUMN, "2026-10-31T14:00:00+01:00", None),
        ("sunday from 9am to 5pm", P, P_AUTUMN, "2026-10-25T09:00:00+01:00", "2026-10-25T17:00:00+01:00"),
        ("le 24/12 de 9h à 17h", P, P_AUTUMN, "2026-12-24T09:00:00+01:00", "2026-12-24T17:00:00+01:00"),
    ],
)
def test_event_times(text: str, tz: str, frozen: str, start: str, end: str | None) -> None:
    folded = fold(text)
    now = datetime.fromisoformat(frozen)
    found = event_times(read_when(folded, bare_day=True), read_clock(folded), now, tz)
    assert found is not None, text
    assert (found[0].isoformat(), found[1].isoformat() if found[1] else None) == (start, end)
    assert found[0].tzinfo is not None and str(found[0].tzinfo) == tz


@pytest.mark.parametrize(
    "text",
    ["samedi", "19h", "la semaine prochaine à 14h", "en décembre à 20h", "jusqu'à dimanche 14h",
     "ce mois-ci à 18h", "bonjour"],
)
def test_event_times_asks_when_the_day_or_the_time_is_missing(text: str) -> None:
    folded = fold(text)
    now = datetime.fromisoformat(FRI)
    assert event_times(read_when(folded, bare_day=True), read_clock(folded), now, R) is None


def test_an_end_equal_to_the_start_is_no_end() -> None:
    day = read_when("samedi")
    found = event_times(day, Clock(time(20, 0), time(20, 0)), datetime.fromisoformat(FRI), R)
    assert found is not None and found[1] is None


def test_the_new_names_are_exported() -> None:
    assert {"Clock", "read_clock", "event_times"} <= set(when_module.__all__)
