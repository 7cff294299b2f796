"""When a message asks about: "ce week-end", "demain soir", "samedi", "la semaine
prochaine", "en décembre", "le 24/12", "du 20 au 27", "this weekend", "on Saturday",
"Dec 24"; French and English, SMS spellings tolerated.

Reading is pure and independent of the clock: :func:`read_when` returns a :class:`When`
(what was said), and :func:`window` turns it into a start and an end in a time zone for a
given instant. So a parse can be cached across days, and "ce week-end" said on Sunday
night in Nouméa (UTC+11) means Nouméa's weekend.

A small grammar over the message's folded words, measured against ``dateparser``: a parse
with it stayed under 1 ms here, and dateparser reads one date, not a window ("ce
week-end", "du 20 au 27", "la semaine prochaine").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["When", "read_when", "window"]

_DAYS = {
    "lundi": 0, "mardi": 1, "mercredi": 2, "jeudi": 3, "vendredi": 4, "samedi": 5,
    "dimanche": 6, "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4,
    "saturday": 5, "sunday": 6, "lun": 0, "mar": 1, "mer": 2, "jeu": 3, "ven": 4, "sam": 5,
    "dim": 6, "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
}  # fmt: skip
_MONTHS = {
    "janvier": 1, "janv": 1, "fevrier": 2, "fevr": 2, "fev": 2, "mars": 3, "avril": 4,
    "avr": 4, "mai": 5, "juin": 6, "juillet": 7, "juil": 7, "aout": 8, "septembre": 9,
    "sept": 9, "octobre": 10, "oct": 10, "novembre": 11, "nov": 11, "decembre": 12,
    "dec": 12, "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "april": 4,
    "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sep": 9, "october": 10, "november": 11, "december": 12,
}  # fmt: skip
_NEXT = {"prochain", "prochaine", "next"}
_EVENING_FROM = time(18, 0)


@dataclass(frozen=True)
class When:
    """What was said, not yet placed in time: ``kind`` and up to two numbers.

    kinds: ``today``, ``tonight``, ``tomorrow``, ``after_tomorrow``, ``weekend`` (n: 0 this,
    1 next), ``weekday`` (a: 0..6, n: 0 coming, 1 next week's), ``week`` (n), ``month``
    (n: 0 this, 1 next), ``month_named`` (a: 1..12), ``day`` (a: day, b: month or 0),
    ``range`` (a: first day, b: last day, same month as said or the coming one),
    ``from_weekday`` (a: 0..6), ``evening`` added as ``evening=True``.
    """

    kind: str
    a: int = 0
    b: int = 0
    n: int = 0
    evening: bool = False


_DATE = re.compile(r"\b(\d{1,2})\s*/\s*(\d{1,2})(?:\s*/\s*\d{2,4})?\b")
_RANGE = re.compile(r"\bdu (\d{1,2}) (?:au|jusqu au) (\d{1,2})\b|\bfrom (\d{1,2}) to (\d{1,2})\b")
_DAY_MONTH = re.compile(r"\b(?:le )?(\d{1,2})(?:er|st|nd|rd|th)? (" + "|".join(_MONTHS) + r")\b")
_MONTH_DAY = re.compile(r"\b(" + "|".join(_MONTHS) + r") (\d{1,2})(?:st|nd|rd|th)?\b")
_THE_DAY = re.compile(r"\b(?:le|the|on the) (\d{1,2})(?:er|e|eme|st|nd|rd|th)?\b(?! (?:km|m|h|ans|euros))")


def read_when(folded: str, *, bare_day: bool = False) -> When | None:
    """The time a folded message names, or None. Most specific forms first; a bare "le
    24" only with ``bare_day`` (an event asked about: elsewhere it is an address, an
    arrondissement or an age)."""
    words = folded.split()
    evening = bool(re.search(r"\b(?:ce soir|soir|soiree|tonight|evening)\b", folded))
    if m := _RANGE.search(folded):
        first, last = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        return When("range", int(first), int(last))
    if m := _DATE.search(folded):
        day, month = int(m.group(1)), int(m.group(2))
        if 1 <= day <= 31 and 1 <= month <= 12:
            return When("day", day, month, evening=evening)
    if m := _DAY_MONTH.search(folded):
        return When("day", int(m.group(1)), _MONTHS[m.group(2)], evening=evening)
    if m := _MONTH_DAY.search(folded):
        return When("day", int(m.group(2)), _MONTHS[m.group(1)], evening=evening)
    if re.search(r"\b(?:apres demain|apres dem|day after tomorrow)\b", folded):
        return When("after_tomorrow", evening=evening)
    if re.search(r"\b(?:demain|dem1|2main|tomorrow|tmrw|tmr)\b", folded):
        return When("tomorrow", evening=evening)
    if re.search(r"\b(?:ce soir|tonight|ce sr|2nite|tonite)\b", folded):
        return When("tonight")
    if re.search(r"\b(?:aujourd hui|auj|ajd|today|2day)\b", folded):
        return When("today", evening=evening)
    if re.search(r"\b(?:week ?end|wk end|ce we|le we)\b", folded):
        return When("weekend", n=1 if any(w in _NEXT for w in words) else 0)
    if re.search(r"\b(?:semaine prochaine|next week)\b", folded):
        return When("week", n=1)
    if re.search(r"\b(?:cette semaine|this week)\b", folded):
        return When("week", n=0)
    if re.search(r"\b(?:mois prochain|next month)\b", folded):
        return When("month", n=1)
    if re.search(r"\b(?:ce mois ci|ce mois|this month)\b", folded):
        return When("month", n=0)
    if m := re.search(r"\b(?:a partir de|des|from|starting) (" + "|".join(_DAYS) + r")\b", folded):
        return When("from_weekday", _DAYS[m.group(1)])
    for i, word in enumerate(words):
        if word in _DAYS and len(word) > 3:
            following = words[i + 1] if i + 1 < len(words) else ""
            before = words[i - 1] if i > 0 else ""
            nxt = following in _NEXT or before in _NEXT
            return When("weekday", _DAYS[word], n=1 if nxt else 0, evening=evening)
    if m := re.search(r"\b(?:en|in) (" + "|".join(k for k in _MONTHS if len(k) > 3) + r")\b", folded):
        return When("month_named", _MONTHS[m.group(1)])
    if bare_day and (m := _THE_DAY.search(folded)):
        day = int(m.group(1))
        if 1 <= day <= 31:
            return When("day", day, 0, evening=evening)
    return None


def _at(day: date, moment: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, moment, tzinfo=zone)


def _days(first: date, last: date, zone: ZoneInfo, evening: bool = False) -> tuple[datetime, datetime]:
    """From the start of ``first`` (its evening) to the end of ``last``, in ``zone``."""
    start = _at(first, _EVENING_FROM if evening else time(0, 0), zone)
    return start, _at(last + timedelta(days=1), time(0, 0), zone)


def _month_after(year: int, month: int) -> date:
    return date(year + (month == 12), month % 12 + 1, 1)


def _next_date(today: date, day: int, month: int) -> date | None:
    """The coming ``day`` of ``month`` (this year, or next year when it has passed)."""
    for year in (today.year, today.year + 1):
        try:
            found = date(year, month, day)
        except ValueError:
            continue
        if found >= today:
            return found
    return None


def window(when: When, now: datetime, tz: str) -> tuple[datetime, datetime] | None:
    """The [start, end) ``when`` means at ``now`` in the time zone ``tz`` (aware)."""
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    today = local.date()
    kind = when.kind
    if kind in {"today", "tonight"}:
        start, end = _days(today, today, zone, when.evening or kind == "tonight")
        return max(start, local), end
    if kind in {"tomorrow", "after_tomorrow"}:
        day = today + timedelta(days=1 if kind == "tomorrow" else 2)
        return _days(day, day, zone, when.evening)
    if kind == "weekend":
        saturday = today + timedelta(days=(5 - today.weekday()) % 7)
        if today.weekday() == 6 and when.n == 0:
            saturday = today - timedelta(days=1)  # on Sunday, "ce week-end" is today
        saturday += timedelta(days=7 * when.n)
        start, end = _days(saturday, saturday + timedelta(days=1), zone)
        return max(start, local) if when.n == 0 else start, end
    if kind == "weekday":
        ahead = (when.a - today.weekday()) % 7
        if when.n and ahead <= 1:  # "samedi prochain" said on Friday: not tomorrow
            ahead += 7
        day = today + timedelta(days=ahead)
        return _days(day, day, zone, when.evening)
    if kind == "week":
        monday = today - timedelta(days=today.weekday()) + timedelta(days=7 * when.n)
        start, end = _days(monday, monday + timedelta(days=6), zone)
        return (max(start, local) if when.n == 0 else start), end
    if kind == "month":
        first = today.replace(day=1)
        if when.n:
            first = _month_after(first.year, first.month)
        start, _ = _days(first, first, zone)
        end = _at(_month_after(first.year, first.month), time(0, 0), zone)
        return (max(start, local) if when.n == 0 else start), end
    if kind == "month_named":
        year = today.year if when.a >= today.month else today.year + 1
        first = date(year, when.a, 1)
        start = max(_at(first, time(0, 0), zone), local)
        return start, _at(_month_after(year, when.a), time(0, 0), zone)
    if kind == "day":
        month = when.b or (today.month if when.a >= today.day else today.month % 12 + 1)
        on = _next_date(today, when.a, month)
        return _days(on, on, zone, when.evening) if on else None
    if kind == "range":
        month = today.month if when.a >= today.day else today.month % 12 + 1
        since = _next_date(today, when.a, month)
        if since is None:
            return None
        until = _next_date(since, when.b, since.month if when.b >= when.a else since.month % 12 + 1)
        return _days(since, until, zone) if until is not None else None
    if kind == "from_weekday":
        day = today + timedelta(days=(when.a - today.weekday()) % 7)
        return _at(day, time(0, 0), zone), _at(day + timedelta(days=30), time(0, 0), zone)
    return None
