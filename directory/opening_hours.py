"""An entry's OpenStreetMap ``opening_hours`` said in words (French, English).

The value is read by ``opening-hours-py`` (the Rust ``opening-hours`` parser): the OSM
syntax has rule overrides, month and week selectors, holidays, times past midnight and
comments, which a home-made regex would get wrong. Evaluation happens in the commune's
time zone (``Commune.timezone``: Paris, La Réunion UTC+4, Nouméa UTC+11), so "open now"
holds across daylight saving and whatever the server's zone.

Public holidays (``PH off``) are France's national ones (the parser knows ``FR``, not the
overseas departments' own days such as 20 December in La Réunion). :func:`week_lines`
shows a typical week: holidays are left out of it and get a line of their own.

A value the parser refuses is never an error: it was imported as written, so it is quoted
as written ("Horaires indiqués : …"). Every sentence comes from ``locales/*/hours.po``;
clock and day names are CLDR's (Babel), with the clock patterns in the catalogs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import opening_hours as _library
from babel.dates import format_date, format_skeleton, format_time
from babel.lists import format_list
from opening_hours import OpeningHours, State

from bot.i18n import Translator, translator

#: what the parser raises on a value it refuses (missing from the library's type stub)
_ParserError: type[Exception] = _library.ParserError  # type: ignore[attr-defined]
#: the country whose public holidays ``PH`` means
HOLIDAY_COUNTRY = "FR"
#: how far ahead to look for the next opening or closing
HORIZON = timedelta(days=366)
#: a closing on the next day before this hour, less than 12 hours away, is "tonight"
_NIGHT_ENDS = 6
_HOLIDAY_RULE = re.compile(r"\bPH\b")
_HOLIDAY_CLOSED = re.compile(r"\bPH\s+(off|closed)\b", re.IGNORECASE)


@lru_cache(maxsize=4096)
def parse(value: str, tz: str | None = None) -> OpeningHours | None:
    """The parsed expression, or None when the parser refuses it.

    With ``tz``, evaluation takes aware datetimes and answers in that zone, with France's
    public holidays; without, it works on naive local times and knows no holiday."""
    try:
        if tz is None:
            return OpeningHours(value, auto_country=False, auto_timezone=False)
        return OpeningHours(
            value, timezone=ZoneInfo(tz), country=HOLIDAY_COUNTRY,
            auto_country=False, auto_timezone=False,
        )
    except _ParserError:
        return None


def is_parseable(value: str) -> bool:
    return parse(value) is not None


def as_given(value: str, lang: str) -> str:
    """The value quoted as written: what every function says when it cannot parse it."""
    return translator(lang)("hours.as_given", value=value.strip())


# --- right now ------------------------------------------------------------------------------


def describe_now(value: str, now: datetime, lang: str, tz: str) -> str:
    """"Ouvert maintenant, ferme à 18 h." / "Closed, opens Monday at 8:30 AM." at ``now``
    (timezone-aware) in the commune's zone ``tz``; the rule's comment follows in brackets."""
    local = _local(now, tz)
    oh = parse(value, tz)
    if oh is None:
        return as_given(value, lang)
    t = translator(lang)
    state, comment = oh.state(local)
    if state == State.OPEN:
        end = _next_change(oh, local, State.OPEN)
        text = (
            t("hours.now.open.always") if end is None
            else _at(t, "hours.now.open", end, local, closing=True)
        )
    elif state == State.CLOSED:
        start = _next_open(oh, local)
        text = (
            t("hours.now.closed.never") if start is None
            else _at(t, "hours.now.closed", start, local, closing=False)
        )
    else:
        text = t("hours.now.unknown")
    comment = comment.strip()
    if not comment:
        return text
    return t("hours.with_comment", text=text.rstrip("."), comment=comment)  # "… 18 h (sur rdv)."


def _local(now: datetime, tz: str) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(ZoneInfo(tz))


def _intervals(
    oh: OpeningHours, start: datetime, end: datetime
) -> Iterator[tuple[datetime, datetime, State]]:
    for begin, finish, state, _comment in oh.intervals(start, end):
        yield begin, finish, state


def _next_change(oh: OpeningHours, local: datetime, state: State) -> datetime | None:
    """When ``state`` (the current one) ends, or None if it lasts beyond the horizon.
    Consecutive intervals of the same state (split by a comment) count as one."""
    for begin, _end, found in _intervals(oh, local, local + HORIZON):
        if found != state:
            return begin
    return None


def _next_open(oh: OpeningHours, local: datetime) -> datetime | None:
    for begin, _end, found in _intervals(oh, local, local + HORIZON):
        if found == State.OPEN:
            return begin
    return None


def _at(t: Translator, prefix: str, moment: datetime, local: datetime, *, closing: bool) -> str:
    """``prefix`` + today | tonight | tomorrow | weekday | date, with the time."""
    moment = moment.astimezone(local.tzinfo)
    days = (moment.date() - local.date()).days
    midnight = closing and moment.time() == time(0)
    clock = _clock(t, moment.time(), end=closing)
    if midnight and days == 1:
        return t(f"{prefix}.today", time=clock)  # "ferme à minuit"
    if days == 0:
        return t(f"{prefix}.today", time=clock)
    if days == 1:
        night = closing and moment.hour < _NIGHT_ENDS and moment - local < timedelta(hours=12)
        return t(f"{prefix}.tonight" if night else f"{prefix}.tomorrow", time=clock)
    if days < 7:
        return t(f"{prefix}.weekday", day=_day_name(t, moment.date()), time=clock)
    return t(f"{prefix}.date", date=format_skeleton("MMMMd", moment.date(), locale=t.lang),
             time=clock)


# --- one day --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DaySummary:
    """What a day holds: open all day, open at some times, uncertain, or closed."""

    all_day: bool = False
    #: opening times that start on this day, as local wall-clock times; an end may be past
    #: midnight (``20:00``–``02:00``)
    ranges: tuple[tuple[time, time], ...] = ()
    unknown: bool = False


def day_summary(oh: OpeningHours, day: date, zone: ZoneInfo | None) -> DaySummary:
    """The openings of ``day``: those starting that day, merged when only a comment
    separates them. One spilling over from the evening before belongs to that evening."""
    start = datetime.combine(day, time(0), tzinfo=zone)
    next_day = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    spans: list[tuple[datetime, datetime]] = []
    unknown = False
    for begin, end, state in _intervals(oh, start - timedelta(days=1), next_day + timedelta(days=1)):
        if state == State.OPEN:
            if spans and spans[-1][1] == begin:
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((begin, end))
        elif state == State.UNKNOWN and begin < next_day and end > start:
            unknown = True
    if any(b <= start and e >= next_day for b, e in spans):
        return DaySummary(all_day=True)
    ranges = tuple(
        (b.astimezone(zone).time() if zone else b.time(), e.astimezone(zone).time() if zone else e.time())
        for b, e in spans if start <= b < next_day
    )
    return DaySummary(ranges=ranges, unknown=unknown and not ranges)


def describe_day(value: str, weekday: int, now: datetime, lang: str, tz: str) -> str:
    """"Le samedi : 8 h – 12 h." / "Fermé le dimanche." for the next ``weekday``
    (0 = Monday) from ``now`` on, today included, in the commune's zone ``tz``. Holidays
    count: a Monday that is a closed public holiday is said closed."""
    if not 0 <= weekday <= 6:
        raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), not {weekday}")
    local = _local(now, tz)
    oh = parse(value, tz)
    if oh is None:
        return as_given(value, lang)
    t = translator(lang)
    day = local.date() + timedelta(days=(weekday - local.weekday()) % 7)
    summary = day_summary(oh, day, ZoneInfo(tz))
    name = _day_name(t, day)
    return _summary_said(t, "hours.day", summary, day=name)


# --- a typical week -------------------------------------------------------------------------


def week_lines(value: str, lang: str, *, week_of: date | None = None) -> list[str]:
    """An entry card's lines: days with the same hours grouped ("Lun.–ven. : 8 h – 18 h",
    "Dim. : fermé"), then public holidays when the value has a rule for them. The week
    is the one holding ``week_of`` (default: today), evaluated without holidays."""
    oh = parse(value)
    if oh is None:
        return [as_given(value, lang)]
    t = translator(lang)
    today = week_of or date.today()
    monday = today - timedelta(days=today.weekday())
    days = [monday + timedelta(days=n) for n in range(7)]
    summaries = [day_summary(oh, d, None) for d in days]
    lines: list[str] = []
    first = 0
    for n in range(1, 8):
        if n < 7 and summaries[n] == summaries[first]:
            continue
        label = _days_label(t, days[first], days[n - 1], whole_week=first == 0 and n == 7)
        lines.append(_capitalised(_week_line(t, label, summaries[first])))
        first = n
    if _HOLIDAY_RULE.search(value):
        closed = _HOLIDAY_CLOSED.search(value)
        lines.append(t("hours.week.holidays_closed" if closed else "hours.week.holidays_other"))
    return lines


def _week_line(t: Translator, label: str, summary: DaySummary) -> str:
    return _summary_said(t, "hours.week", summary, days=label)


def _summary_said(t: Translator, prefix: str, summary: DaySummary, **names: str) -> str:
    """One day's (or days') hours in words: ``<prefix>.all_day|open|unknown|closed``."""
    if summary.all_day:
        return t(f"{prefix}.all_day", **names)
    if summary.ranges:
        return t(f"{prefix}.open", ranges=_ranges(t, summary.ranges), **names)
    if summary.unknown:
        return t(f"{prefix}.unknown", **names)
    return t(f"{prefix}.closed", **names)


def _days_label(t: Translator, first: date, last: date, *, whole_week: bool) -> str:
    if whole_week:
        return t("hours.week.every_day")
    short = format_date(first, "EEE", locale=t.lang)
    if first == last:
        return short
    return t("hours.week.days_range", first=short, last=format_date(last, "EEE", locale=t.lang))


# --- words ----------------------------------------------------------------------------------


def _clock(t: Translator, moment: time, *, end: bool = False) -> str:
    """``18 h`` / ``8 h 30`` / ``6 PM`` / ``8:30 AM``; a closing at 00:00 is midnight."""
    if end and moment == time(0):
        return t("hours.clock.midnight")
    pattern = t("hours.clock.hour") if moment.minute == 0 else t("hours.clock.hour_minute")
    return format_time(moment, pattern, locale=t.lang)


def _ranges(t: Translator, ranges: tuple[tuple[time, time], ...]) -> str:
    return format_list(
        [t("hours.range", start=_clock(t, b), end=_clock(t, e, end=True)) for b, e in ranges],
        locale=t.lang,
    )


def _day_name(t: Translator, day: date) -> str:
    return format_date(day, "EEEE", locale=t.lang)


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]
