"""Opening hours in words: now, one day, a typical week; in the commune's time zone
(Paris with daylight saving, La Réunion UTC+4), French and English."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine

from directory.opening_hours import (
    describe_day,
    describe_now,
    is_parseable,
    week_lines,
)

PARIS = "Europe/Paris"
REUNION = "Indian/Reunion"
SHOP = "Mo-Fr 08:00-18:00; Sa 08:00-12:00"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("now", "fr", "en"),
    [
        # Friday 27 March 2026, 06:30 UTC: 07:30 in Paris (winter time, UTC+1)
        (utc(2026, 3, 27, 6, 30), "Fermé, ouvre à 8 h.", "Closed, opens at 8 AM."),
        # Monday 30 March, 06:30 UTC: 08:30 in Paris (summer time since Sunday, UTC+2)
        (utc(2026, 3, 30, 6, 30), "Ouvert maintenant, ferme à 18 h.", "Open now, closes at 6 PM."),
        # Friday 17:30 Paris: the weekend's Saturday morning comes next
        (utc(2026, 3, 27, 17, 30), "Fermé, ouvre demain à 8 h.", "Closed, opens tomorrow at 8 AM."),
        # Saturday 13:00 Paris: closed until Monday
        (utc(2026, 3, 28, 12), "Fermé, ouvre lundi à 8 h.", "Closed, opens Monday at 8 AM."),
        (utc(2026, 3, 28, 10), "Ouvert maintenant, ferme à 12 h.", "Open now, closes at 12 PM."),
    ],
)
def test_now_in_paris_follows_daylight_saving(now: datetime, fr: str, en: str) -> None:
    assert describe_now(SHOP, now, "fr", PARIS) == fr
    assert describe_now(SHOP, now, "en", PARIS) == en


def test_the_same_instant_reads_in_the_communes_own_zone() -> None:
    """05:00 UTC is 06:00 in Paris (closed) and 09:00 in La Réunion (open)."""
    now = utc(2026, 3, 27, 5)
    assert describe_now(SHOP, now, "fr", PARIS) == "Fermé, ouvre à 8 h."
    assert describe_now(SHOP, now, "fr", REUNION) == "Ouvert maintenant, ferme à 18 h."
    # 14:30 UTC is 18:30 in La Réunion (UTC+4, no daylight saving): Saturday is next
    assert describe_now(SHOP, utc(2026, 3, 27, 14, 30), "en", REUNION) == (
        "Closed, opens tomorrow at 8 AM."
    )
    # a naive datetime would be read in the server's zone: refused
    with pytest.raises(ValueError, match="timezone-aware"):
        describe_now(SHOP, datetime(2026, 3, 27, 9), "fr", PARIS)


def test_minutes_and_days_further_away() -> None:
    now = utc(2026, 3, 27, 20)  # Friday evening in Paris
    mairie = "Mo 08:30-12:00; Tu-Th 13:30-17:00"
    assert describe_now(mairie, now, "fr", PARIS) == "Fermé, ouvre lundi à 8 h 30."
    assert describe_now(mairie, now, "en", PARIS) == "Closed, opens Monday at 8:30 AM."
    assert describe_now("Jan 05 08:30-12:00", now, "fr", PARIS) == (
        "Fermé, ouvre le 5 janvier à 8 h 30."
    )
    assert describe_now("Jan 05 08:30-12:00", now, "en", PARIS) == (
        "Closed, opens on January 5 at 8:30 AM."
    )


def test_around_the_clock_and_never() -> None:
    now = utc(2026, 3, 27, 3)
    assert describe_now("24/7", now, "fr", REUNION) == "Ouvert maintenant, 24 h/24."
    assert describe_now("24/7", now, "en", REUNION) == "Open now, around the clock."
    assert describe_now("off", now, "fr", PARIS) == "Fermé, aucune ouverture prévue."
    assert describe_now("off", now, "en", PARIS) == "Closed, no opening planned."


def test_times_past_midnight() -> None:
    bar = "Fr-Sa 20:00-02:00"
    friday_night = utc(2026, 3, 27, 22)  # 23:00 in Paris
    assert describe_now(bar, friday_night, "fr", PARIS) == "Ouvert maintenant, ferme cette nuit à 2 h."
    assert describe_now(bar, friday_night, "en", PARIS) == "Open now, closes tonight at 2 AM."
    saturday_small_hours = utc(2026, 3, 28, 0, 30)  # 01:30 Saturday: Friday's evening goes on
    assert describe_now(bar, saturday_small_hours, "fr", PARIS) == "Ouvert maintenant, ferme à 2 h."
    sunday_morning = utc(2026, 3, 29, 8)
    assert describe_now(bar, sunday_morning, "en", PARIS) == "Closed, opens Friday at 8 PM."
    late = "Mo-Su 18:00-24:00"
    assert describe_now(late, utc(2026, 7, 14, 19), "fr", PARIS) == "Ouvert maintenant, ferme à minuit."
    assert describe_now(late, utc(2026, 7, 14, 19), "en", PARIS) == "Open now, closes at midnight."


def test_public_holidays_are_frances() -> None:
    rule = "Mo-Fr 08:00-18:00; PH off"
    bastille_day = utc(2026, 7, 14, 9)  # a Tuesday
    assert describe_now(rule, bastille_day, "fr", PARIS) == "Fermé, ouvre demain à 8 h."
    assert describe_now(rule, bastille_day, "fr", REUNION) == "Fermé, ouvre demain à 8 h."
    assert describe_now(rule, utc(2026, 7, 15, 9), "fr", PARIS) == "Ouvert maintenant, ferme à 18 h."
    # Tuesday 14 July is the next Tuesday from the Monday before: closed that day
    assert describe_day(rule, 1, utc(2026, 7, 13, 9), "fr", PARIS) == "Fermé le mardi."
    assert describe_day(rule, 1, utc(2026, 7, 15, 9), "fr", PARIS) == "Le mardi : 8 h – 18 h."


def test_comments_and_uncertain_hours() -> None:
    rule = 'Mo-Fr 08:00-18:00 "sur rendez-vous"; Sa 09:00-12:00 unknown'
    assert describe_now(rule, utc(2026, 3, 27, 9), "fr", PARIS) == (
        "Ouvert maintenant, ferme à 18 h (sur rendez-vous)."
    )
    assert describe_now(rule, utc(2026, 3, 28, 9), "fr", PARIS) == "Ouverture incertaine en ce moment."
    assert describe_now(rule, utc(2026, 3, 28, 9), "en", PARIS) == (
        "May be open right now: hours uncertain."
    )
    assert describe_day(rule, 5, utc(2026, 3, 27, 9), "fr", PARIS) == "Le samedi : horaires incertains."


@pytest.mark.parametrize("value", ["lundi au vendredi 8h-18h", "Mo-Fr 8h", "24/24"])
def test_unparseable_values_are_quoted_as_given(value: str) -> None:
    assert not is_parseable(value)
    now = utc(2026, 3, 27, 9)
    assert describe_now(value, now, "fr", PARIS) == f"Horaires indiqués : {value}"
    assert describe_now(value, now, "en", PARIS) == f"Hours as given: {value}"
    assert describe_day(value, 5, now, "fr", PARIS) == f"Horaires indiqués : {value}"
    assert week_lines(value, "en") == [f"Hours as given: {value}"]


def test_one_day() -> None:
    friday = utc(2026, 3, 27, 9)
    assert describe_day(SHOP, 5, friday, "fr", PARIS) == "Le samedi : 8 h – 12 h."
    assert describe_day(SHOP, 5, friday, "en", PARIS) == "Saturday: 8 AM – 12 PM."
    assert describe_day(SHOP, 6, friday, "fr", PARIS) == "Fermé le dimanche."
    assert describe_day(SHOP, 6, friday, "en", PARIS) == "Closed on Sunday."
    pharmacy = "Mo-Fr 08:00-12:30,14:00-19:30; Sa 08:30-12:30"
    assert describe_day(pharmacy, 0, friday, "fr", REUNION) == "Le lundi : 8 h – 12 h 30 et 14 h – 19 h 30."
    assert describe_day(pharmacy, 0, friday, "en", REUNION) == (
        "Monday: 8 AM – 12:30 PM and 2 PM – 7:30 PM."
    )
    assert describe_day("24/7", 3, friday, "fr", PARIS) == "Le jeudi : ouvert 24 h/24."
    # past midnight: the evening belongs to the day it starts on, not to the next one
    bar = "Th-Fr 19:00-01:30"
    assert describe_day(bar, 4, friday, "fr", PARIS) == "Le vendredi : 19 h – 1 h 30."
    assert describe_day(bar, 5, friday, "fr", PARIS) == "Fermé le samedi."
    with pytest.raises(ValueError, match="weekday"):
        describe_day(SHOP, 7, friday, "fr", PARIS)


def test_a_typical_week_for_an_entry_card() -> None:
    week = date(2026, 3, 23)
    value = "Mo-Fr 08:00-12:00,14:00-18:00; Sa 08:00-12:00; PH off"
    assert week_lines(value, "fr", week_of=week) == [
        "Lun.–ven. : 8 h – 12 h et 14 h – 18 h",
        "Sam. : 8 h – 12 h",
        "Dim. : fermé",
        "Jours fériés : fermé",
    ]
    assert week_lines(value, "en", week_of=week) == [
        "Mon–Fri: 8 AM – 12 PM and 2 PM – 6 PM",
        "Sat: 8 AM – 12 PM",
        "Sun: closed",
        "Public holidays: closed",
    ]
    assert week_lines("24/7", "fr", week_of=week) == ["Tous les jours : 24 h/24"]
    assert week_lines("off", "en", week_of=week) == ["Every day: closed"]
    assert week_lines("Fr-Sa 20:00-02:00; PH 20:00-23:00", "fr", week_of=week) == [
        "Lun.–jeu. : fermé",
        "Ven.–sam. : 20 h – 2 h",
        "Dim. : fermé",
        "Jours fériés : horaires particuliers",
    ]
    assert week_lines("Mo,We 09:00-12:00", "en", week_of=week) == [
        "Mon: 9 AM – 12 PM", "Tue: closed", "Wed: 9 AM – 12 PM", "Thu–Sun: closed",
    ]


def test_a_typical_week_leaves_holidays_out_and_follows_the_season() -> None:
    """The week of Christmas still shows its Friday's hours; with no ``week_of`` the week
    is today's, so a summer rule shows in summer only."""
    assert week_lines("Mo-Fr 09:00-17:00; PH off", "fr", week_of=date(2026, 12, 25))[0] == (
        "Lun.–ven. : 9 h – 17 h"
    )
    seasonal = "Jun-Aug Mo-Su 09:00-20:00; Sep-May Mo-Sa 10:00-18:00"
    with time_machine.travel(datetime(2026, 7, 1, 12, tzinfo=UTC), tick=False):
        assert week_lines(seasonal, "fr") == ["Tous les jours : 9 h – 20 h"]
    with time_machine.travel(datetime(2026, 11, 4, 12, tzinfo=UTC), tick=False):
        assert week_lines(seasonal, "fr") == ["Lun.–sam. : 10 h – 18 h", "Dim. : fermé"]


def test_now_from_the_clock_with_time_machine() -> None:
    """Callers pass ``datetime.now(UTC)``: frozen here at Saturday 09:00 in La Réunion."""
    with time_machine.travel(datetime(2026, 3, 28, 5, tzinfo=UTC), tick=False):
        now = datetime.now(UTC)
        assert describe_now(SHOP, now, "fr", REUNION) == "Ouvert maintenant, ferme à 12 h."
        assert describe_now(SHOP, now, "fr", PARIS) == "Fermé, ouvre à 8 h."
