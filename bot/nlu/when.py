"""When a message asks about: "ce week-end", "demain soir", "samedi", "la semaine
prochaine", "en décembre", "le 24/12", "du 20 au 27", "this weekend", "on Saturday",
"Dec 24"; and at what time of the day: "samedi à 14h", "de 9h à 17h", "sat 2:30 pm".
French and English, SMS spellings, common typos and a few Réunion creole words
("zordi", "demin", "aswar", "samdi") tolerated.

Reading is pure and independent of the clock: :func:`read_when` returns a :class:`When`
(what was said), and :func:`window` turns it into a start and an end in a time zone for a
given instant. So a parse can be cached across days, and "ce week-end" said on Sunday
night in Nouméa (UTC+11) means Nouméa's weekend. Likewise :func:`read_clock` returns a
:class:`Clock` (a time of day, maybe an end) and :func:`event_times` places a day and a
clock together for an event being announced.

Both read *folded* text (``directory.text.fold``: lower case, no accents, every
punctuation mark a space), so "24/12" arrives as "24 12", "14:30" as "14 30",
"20h-23h" as "20h 23h" and "w-e" as "w e": the grammar reads those shapes with the context
that tells them from a phone number, an address or an age.

How a message is read: words are first put in canonical form (every spelling of "demain"
becomes one marker, months and weekdays become numbered markers, "jusqu'à" and "d'ici"
become UNTIL, "à partir de" FROM, phone numbers are set aside), then a short list of
patterns is tried, the most specific first: ranges of days, dates, relative days, the
weekend, weeks and months, "dans 3 jours", weekdays, named months, and a bare "le 24" last.
A small grammar measured against ``dateparser``: a parse with it stays under 1 ms, and
dateparser reads one date, not a window ("ce week-end", "du 20 au 27").

Not read, on purpose: school holidays ("vacances de Noël": their dates depend on the
academy and we have no data), feasts ("Noël" alone is as often a market's name as a day),
weeks counted ahead ("dans 2 semaines": too vague for a window).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["Clock", "When", "event_times", "read_clock", "read_when", "window"]

def _words(text: str) -> list[str]:
    """A word list written as one string."""
    return text.split()


_DAY_NAMES = {
    0: "lundi lindi monday mondey",
    1: "mardi tuesday tuesdy tusday teusday",
    2: "mercredi mecredi mercerdi mercedi merkredi wednesday wensday wednsday wedensday "
       "wendsday wedsday",
    3: "jeudi zedi thursday thurday thursdy thrusday",
    4: "vendredi vendredie vendedi vendrdi vandredi friday firday fryday",
    5: "samedi samdi smedi samedie sammedi saturday saterday satruday saturdy satuday",
    6: "dimanche dimanch dimans dimache diamnche sunday sundy",
}  # fmt: skip
#: abbreviations, a weekday only in context ("sam prochain", "ce dim", "sat 2pm")
_DAY_ABBREVIATIONS = {
    "lun": 0, "mar": 1, "mer": 2, "jeu": 3, "ven": 4, "sam": 5, "dim": 6, "mon": 0, "tue": 1,
    "tues": 1, "wed": 2, "weds": 2, "thu": 3, "thur": 3, "thurs": 3, "fri": 4, "sat": 5,
    "sun": 6,
}  # fmt: skip
#: abbreviations that are also common words ("le jeu", "la mer", "mon garage", "the sun")
_WEAK_ABBREVIATIONS = {"mar", "mer", "jeu", "mon", "wed", "sat", "sun"}
_MONTHS = {
    "janvier": 1, "janv": 1, "fevrier": 2, "fevr": 2, "fev": 2, "mars": 3, "avril": 4,
    "avr": 4, "mai": 5, "juin": 6, "juillet": 7, "juil": 7, "aout": 8, "septembre": 9,
    "sept": 9, "octobre": 10, "oct": 10, "novembre": 11, "nov": 11, "decembre": 12,
    "dec": 12, "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "april": 4,
    "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sep": 9, "october": 10, "november": 11, "december": 12,
}  # fmt: skip
_EVENING_FROM = time(18, 0)
#: how long "à partir de lundi" looks ahead
_FROM_DAYS = 30

# --- canonical words -------------------------------------------------------------------
# markers are upper case: folded text never is, so they cannot be confused with a word

_PHRASES = {
    "aujourd hui": "TOD", "aujour d hui": "TOD", "ajourd hui": "TOD", "ojourd hui": "TOD",
    "auj d hui": "TOD", "cet aprem": "TOD", "cet apres midi": "TOD", "cette apres midi": "TOD",
    "this afternoon": "TOD", "ce matin": "TOD", "this morning": "TOD",
    "ce soir": "TNT", "ce sr": "TNT", "ce soire": "TNT", "ce swar": "TNT", "cette nuit": "TNT",
    "this evening": "TNT", "this eve": "TNT",
    "day after tomorrow": "ATMW", "the day after tomorrow": "ATMW",
    "week end": "WE", "wk end": "WE", "week ends": "weekends",
    "jusqu a la": "UNTIL", "jusqu au": "UNTIL le", "jusqu a": "UNTIL", "jusqu en": "UNTIL en",
    "jusque": "UNTIL", "jusqua": "UNTIL", "jusk a": "UNTIL", "jusk au": "UNTIL le",
    "jsq a": "UNTIL", "jsq au": "UNTIL le", "jsqu a": "UNTIL", "jsqu au": "UNTIL le",
    "d ici la": "UNTIL", "d ici le": "UNTIL le", "d ici a": "UNTIL", "d ici": "UNTIL",
    "until": "UNTIL", "till": "UNTIL", "til": "UNTIL", "up until": "UNTIL",
    "a partir de la": "FROM", "a partir du": "FROM le", "a partir de": "FROM",
    "a partir d": "FROM", "apartir de": "FROM", "apartir du": "FROM le", "a partir": "FROM",
    "starting from": "FROM", "starting": "FROM", "as of": "FROM", "from": "FROM",
    "la fin du mois": "ENDM", "fin du mois": "ENDM", "the end of the month": "ENDM",
    "end of the month": "ENDM", "end of month": "ENDM",
    "mois en cours": "MONTH ci", "semaine suivante": "WEEK NEXT", "mois suivant": "MONTH NEXT",
}  # fmt: skip
_PHRASE = re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, _PHRASES), key=len, reverse=True)) + r")\b")

_WORDS: dict[str, str] = {
    **dict.fromkeys(
        _words("demain dmain 2main dem1 dm1 2m1 demin dmin demainn demian tomorrow tmrw tmr tmrow tmw "
               "2moro 2morrow 2mrw 2morow tomoz tommorow tomorow tommorrow tomorro tomrw"), "TMW"),
    **dict.fromkeys(
        _words("auj ajd aujd ojd aujourdhui aujourdui ojourdui ojourdhui aujourd8 ojourd8 aujourd "
               "ajourd ojourd zordi today 2day tday tdy"), "TOD"),
    **dict.fromkeys(_words("tonight tonite 2nite 2night tonigth tonihgt aswar"), "TNT"),
    **dict.fromkeys(_words("soir soire soiree swar evening night nuit"), "EVE"),
    **dict.fromkeys(
        _words("weekend wkend wknd weeken weekd wekend weekent wikend wiken"), "WE"),
    **dict.fromkeys(_words("semaine semaines sem smaine semain week"), "WEEK"),
    **dict.fromkeys(_words("mois month"), "MONTH"),
    **dict.fromkeys(
        _words("prochain prochaine prochains prochaines proch prochin prochainne procahin next nxt "
               "suivant suivante"), "NEXT"),
    **{name: f"D{day}" for day, names in _DAY_NAMES.items() for name in names.split()},
    **{name: f"M{month}" for name, month in _MONTHS.items()},
}
#: every word that may start a time expression: a message with none of them (and no digit)
#: names no time, which most messages are
_VOCAB = frozenset(_WORDS) | frozenset(_DAY_ABBREVIATIONS) | frozenset(
    _words("we wk w aujour ajourd ojourd ici jusqu jusque jusqua jusk jsq jsqu partir apartir sr "
           "eve afternoon morning matin aprem until till til from starting fin end"))
_NUMBER_WORDS = {
    "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "dix": 10,
    "quinze": 15, "a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "seven": 7,
    "ten": 10,
}  # fmt: skip
#: what makes an abbreviation a weekday when it stands before ("ce sam", "next sat") or after
#: it ("sam prochain", "dim soir", "sam à 14h"); weak ones ("jeu", "mon", "sat") need more
_ABBREVIATION_BEFORE = {"ce", "cet", "this", "next", "NEXT", "on", "le", "du", "au", "UNTIL",
                        "FROM", "des", "by", "every", "chaque"}
_ABBREVIATION_AFTER = {"NEXT", "EVE", "pro", "a", "at", "de", "midi", "minuit", "noon",
                       "midnight", "matin", "morning", "aprem"}
_WEAK_BEFORE = {"this", "next", "NEXT", "on", "UNTIL", "FROM", "by", "every"}
_WEAK_AFTER = {"NEXT", "EVE", "pro", "midi", "noon", "morning"}
_CLOCKISH = re.compile(r"\d{1,2}(?:h\d{0,2}|am|pm)?")
#: a run of numbers this long is a phone number, not a date nor a time
_PHONE_DIGITS = 9


def _canon(folded: str) -> list[str]:
    """The folded words in canonical form (see the module's docstring)."""
    words = _PHRASE.sub(lambda m: _PHRASES[m.group()], folded).split()
    canon = [_WORDS.get(w, w) for w in words]
    # phone numbers ("06 92 12 34 56", "+262 692 12 34 56") are neither dates nor times
    k = 0
    while k < len(canon):
        j = k
        while j < len(canon) and canon[j].isdigit():
            j += 1
        if j - k >= 2 and sum(len(canon[i]) for i in range(k, j)) >= _PHONE_DIGITS:
            canon[k:j] = ["TEL"] * (j - k)
        k = max(j, k + 1)
    for i, word in enumerate(canon):
        before = canon[i - 1] if i else ""
        after = canon[i + 1] if i + 1 < len(canon) else ""
        if word in {"we", "wk"}:
            # "ce we", "le wk prochain", "we prochain": the weekend; "this wk", "next wk": the
            # week ("we are open" is neither)
            if word == "wk" and before in {"this", "next", "NEXT"}:
                canon[i] = "WEEK"
            elif before in {"ce", "le", "du", "NEXT"} or after == "NEXT":
                canon[i] = "WE"
        elif word == "w" and after == "e" and before in {"ce", "le", "du", "this", "NEXT"}:
            canon[i], canon[i + 1] = "WE", "_"  # "ce w-e"
        elif word in _DAY_ABBREVIATIONS:
            after2 = canon[i + 2] if i + 2 < len(canon) else ""
            if word in _WEAK_ABBREVIATIONS:
                known = before in _WEAK_BEFORE or (after in _WEAK_AFTER and word != "mon") or bool(
                    _CLOCKISH.fullmatch(after))
            else:
                # "sam à 14h", not "Sam a dit"
                known = before in _ABBREVIATION_BEFORE or bool(_CLOCKISH.fullmatch(after)) or (
                    after in _ABBREVIATION_AFTER and (after not in {"a", "at", "de"} or bool(
                        _CLOCKISH.fullmatch(after2)) or after2 in {"midi", "minuit", "noon"}))
            if known:
                canon[i] = f"D{_DAY_ABBREVIATIONS[word]}"
    return canon


# --- patterns over the canonical text --------------------------------------------------

_DN = r"(\d{1,2})(er|st|nd|rd|th)?"  # a day of the month ("1er", "24th")
_MON = r"M(\d{1,2})"
_TO = r"(?:au|a|UNTIL|to|through|thru|et|and)"
#: what a number is when it is followed by these: no day of the month
_NOT_A_DAY = (r"(?! (?:h|heures?|hr|hrs|am|pm|a m|p m|min|mn|minutes?|km|kms|m|metres?|ans?|"
              r"years?|yo|euros?|eur|e|rue|avenue|av|bd|boulevard|chemin|allee|impasse|place|"
              r"route|kg|g|l|cl|ml|personnes?|pers|people|fois|times|x|places?|jours?|j|days?|"
              r"WEEK|MONTH|TEL|\d+)\b)")
_RANGE_DAYS = re.compile(
    r"\b(du|FROM|entre|between)(?: le| the)? " + _DN + r"(?: (?:de )?(?:" + _MON + r"|(\d{1,2})))? "
    + _TO + r"(?: le| the)? " + _DN + r"(?: (?:de )?(?:" + _MON + r"|(\d{1,2})))?\b" + _NOT_A_DAY)
_RANGE_MONTH_FIRST = re.compile(r"\b" + _MON + r" " + _DN + r" (?:" + _TO + r" )?" + _DN + r"\b" + _NOT_A_DAY)
_RANGE_MONTH_LAST = re.compile(r"\b" + _DN + r" (?:" + _TO + r" )?" + _DN + r" (?:de )?" + _MON + r"\b")
_RANGE_WEEKDAYS = re.compile(r"\b(?:du|FROM|de|entre|between) D(\d) " + _TO + r" D(\d)\b")
_NUMERIC_DATE = re.compile(r"\b(\d{1,2}) (\d{1,2})(?: (\d{4}|\d{2}))?\b(?! (?:\d|h|heures?|am|pm|a m|p m)\b)")
_DAY_MONTH = re.compile(r"\b" + _DN + r" (?:de )?" + _MON + r"(?: (\d{4}))?\b")
_MONTH_DAY = re.compile(r"\b" + _MON + r" " + _DN + r"(?: (\d{4}))?\b" + _NOT_A_DAY)
_AFTER_TOMORROW = re.compile(r"\b(?:apres|apre|aprs|apr|ap|after) TMW\b|\bATMW\b")
_WEEKEND = re.compile(r"\b(?:(NEXT) )?WE(?: (NEXT|pro))?\b")
_WEEK = re.compile(r"\b(?:(?:ce|cette|cet|this) WEEK|WEEK (NEXT|pro)|(NEXT) WEEK)\b")
_MONTH = re.compile(r"\b(?:(?:ce|this) MONTH|MONTH ci|MONTH (NEXT|pro)|(NEXT) MONTH)\b|\bENDM\b")
_IN_DAYS = re.compile(r"\b(?:dans|ds|in) (\d{1,2}|" + "|".join(_NUMBER_WORDS) + r") (jours?|j|days?)\b")
_WEEKDAY = re.compile(r"\bD(\d)(?: (?:le )?(\d{1,2})(?:er|st|nd|rd|th)?\b" + _NOT_A_DAY + r")?")
_MONTH_NAMED = re.compile(
    r"\b(?:(?:en|in|MONTH de|MONTH d|during|for|pour|debut|fin|early|late|mid|UNTIL|FROM|des) "
    + _MON + r"(?: (\d{4}))?|" + _MON + r" (?:(NEXT)|(\d{4}))|NEXT " + _MON + r")\b")
_MONTH_ALONE = re.compile(r"^(?:(?:le )?MONTH de )?" + _MON + r"$")
_THE_DAY = re.compile(r"\b(?:le|the|on the|on) " + _DN + r"\b" + _NOT_A_DAY)
_BOUND_DAY = re.compile(r"\b(?:UNTIL|FROM)(?: le| the)? " + _DN + r"\b" + _NOT_A_DAY)
#: "rue du 8 mai 1945", "garage du 8 mai", "place du 14 juillet": a name, not a date
_STREETS = frozenset(
    _words("rue avenue av bd boulevard place pl allee chemin impasse quai route square cours pont "
           "garage residence cite ecole college lycee stade parc salle gymnase centre rond point "
           "lotissement quartier"))
#: before a numeric "24 12", what makes it a date ("le 24/12", "samedi 24/12")
_DATE_BEFORE = frozenset(_words("le du au the on for pour ce UNTIL FROM des"))
#: before "9 05": a time ("à 9:05"), not a date
_CLOCK_BEFORE = frozenset(_words("a at vers de to around by et and entre between"))


@dataclass(frozen=True)
class When:
    """What was said, not yet placed in time: ``kind`` and a few numbers.

    kinds: ``today``, ``tonight``, ``tomorrow``, ``after_tomorrow``, ``weekend`` (n: 0 this,
    1 next), ``weekday`` (a: 0..6, n: 0 coming, 1 next week's), ``week`` (n), ``month``
    (n: 0 this, 1 next), ``month_named`` (a: 1..12, ``year`` when said), ``day`` (a: day,
    b: month or 0, ``year`` when said), ``range`` (a: first day, b: last day, ``months``:
    theirs when said, else the same month as said or the coming one), ``weekday_range``
    (a, b: 0..6, "du lundi au vendredi"), ``in_days`` (n: "dans 3 jours"),
    ``from_weekday`` (a: 0..6; read as ``weekday`` with ``bound="from"`` now, still placed);
    ``evening=True`` for "soir"; ``bound``: "until" ("jusqu'à dimanche": from now to its
    end) or "from" ("à partir de lundi": from its start for 30 days).
    """

    kind: str
    a: int = 0
    b: int = 0
    n: int = 0
    evening: bool = False
    year: int = 0
    months: tuple[int, int] = (0, 0)
    bound: str = ""


def _ok_day(day: int, month: int = 1) -> bool:
    return 1 <= day <= 31 and 1 <= month <= 12


def _year(text: str | None) -> int:
    if not text:
        return 0
    return int(text) + 2000 if len(text) == 2 else int(text)


def _bound(canon_text: str, start: int) -> str:
    """"until" / "from" when the words just before ``start`` (or its first) say so."""
    before = canon_text[:start].split()[-2:] + canon_text[start:].split()[:1]
    if before[-1] not in {"UNTIL", "FROM"}:
        before = before[:-1]
    if before and before[-1] in {"le", "the", "en", "in"}:
        before = before[:-1]
    last = before[-1] if before else ""
    if last == "UNTIL":
        return "until"
    if last in {"FROM", "des", "since"}:
        return "from"
    return ""


def read_when(folded: str, *, bare_day: bool = False) -> When | None:
    """The time a folded message names, or None. Most specific forms first; a bare "le
    24" only with ``bare_day`` (an event asked about: elsewhere it is an address, an
    arrondissement or an age)."""
    words = folded.split()
    if not any(c.isdigit() for c in folded) and _VOCAB.isdisjoint(words):
        return None  # the common case: no word of time at all
    canon = _canon(folded)
    text = " ".join(canon)
    evening = "EVE" in canon
    found = _read_span(text, canon, evening, bare_day)
    if found is None:
        return None
    when, start = found
    bound = _bound(text, start)
    if bound and when.kind not in {"range", "weekday_range"}:
        return When(when.kind, when.a, when.b, when.n, when.evening, when.year, when.months, bound)
    return when


def _read_span(text: str, canon: list[str], evening: bool, bare_day: bool) -> tuple[When, int] | None:
    """What ``text`` (canonical words) names and where it starts, or None."""
    m: re.Match[str] | None
    # --- ranges of days
    for m in _RANGE_DAYS.finditer(text):
        opener, first, suffix1, month1, num1, last, suffix2, month2, num2 = m.groups()
        ma, mb = int(month1 or num1 or 0), int(month2 or num2 or 0)
        loose = opener in {"FROM", "between", "entre"}  # also opens spans of hours and ages
        if loose and not (suffix1 or suffix2 or ma or mb or " the " in m.group() or " le " in m.group()):
            continue  # "from 9 to 5", "entre 14 et 18": hours or ages, not days
        if _ok_day(int(first), ma or 1) and _ok_day(int(last), mb or 1):
            return When("range", int(first), int(last), months=(ma, mb)), m.start()
    if m := _RANGE_WEEKDAYS.search(text):
        return When("weekday_range", int(m.group(1)), int(m.group(2))), m.start()
    for m in _RANGE_MONTH_FIRST.finditer(text):
        month, first, last = int(m.group(1)), int(m.group(2)), int(m.group(4))
        if _ok_day(first, month) and _ok_day(last) and first < last:
            return When("range", first, last, months=(month, month)), m.start()
    for m in _RANGE_MONTH_LAST.finditer(text):
        first, last, month = int(m.group(1)), int(m.group(3)), int(m.group(5))
        if _ok_day(first, month) and _ok_day(last) and first < last:
            return When("range", first, last, months=(0, month)), m.start()
    # --- one date
    for m in _NUMERIC_DATE.finditer(text):
        day, month = int(m.group(1)), int(m.group(2))
        before = text[: m.start()].split()[-1:]
        previous = before[0] if before else ""
        if not _ok_day(day, month) or (day, month) in {(7, 7), (24, 7)} or previous in _CLOCK_BEFORE:
            continue  # "7/7", "24/7": every day; "à 9:05": a time
        if previous.isdigit() or previous == "TEL":
            continue
        if previous in _DATE_BEFORE or re.fullmatch(r"D\d", previous) or m.start() == 0 or bare_day:
            return When("day", day, month, evening=evening, year=_year(m.group(3))), m.start()
    for m in _DAY_MONTH.finditer(text):
        day, month, year = int(m.group(1)), int(m.group(3)), _year(m.group(4))
        before = text[: m.start()].split()[-2:]
        street = len(before) == 2 and before[1] in {"du", "de"} and before[0] in _STREETS
        if _ok_day(day, month) and not street and not (year and year < 2000):
            return When("day", day, month, evening=evening, year=year), m.start()
    for m in _MONTH_DAY.finditer(text):
        month, day = int(m.group(1)), int(m.group(2))
        if _ok_day(day, month):
            return When("day", day, month, evening=evening, year=_year(m.group(4))), m.start()
    # --- days said in words
    if m := _AFTER_TOMORROW.search(text):
        return When("after_tomorrow", evening=evening), m.start()
    if "TMW" in canon:
        return When("tomorrow", evening=evening), text.index("TMW")
    if "TNT" in canon:
        return When("tonight"), text.index("TNT")
    if "TOD" in canon:
        return When("today", evening=evening), text.index("TOD")
    if m := _WEEKEND.search(text):
        return When("weekend", n=1 if (m.group(1) or m.group(2)) else 0), m.start()
    if m := _WEEK.search(text):
        return When("week", n=1 if (m.group(1) or m.group(2)) else 0), m.start()
    if m := _MONTH.search(text):
        if m.group() == "ENDM":
            return When("month", bound="until"), m.start()
        return When("month", n=1 if (m.group(1) or m.group(2)) else 0), m.start()
    if m := _IN_DAYS.search(text):
        count = int(m.group(1)) if m.group(1).isdigit() else _NUMBER_WORDS[m.group(1)]
        if m.group(2).startswith("j") and count in {8, 15}:
            count -= 1  # "dans 8 jours", "dans 15 jours": a week, two weeks
        if 1 <= count <= 31:
            return When("in_days", n=count), m.start()
    for m in _WEEKDAY.finditer(text):
        if m.group(2) and _ok_day(int(m.group(2))):
            return When("day", int(m.group(2)), 0, evening=evening), m.start()  # "sam 12"
        i = len(text[: m.start()].split())
        near = {canon[i - 1] if i else "", canon[i + 1] if i + 1 < len(canon) else ""}
        after_next = 1 if near & {"NEXT", "pro"} else 0
        return When("weekday", int(m.group(1)), n=after_next, evening=evening), m.start()
    if m := _MONTH_NAMED.search(text):
        named, year = m.group(1) or m.group(3) or m.group(6), _year(m.group(2) or m.group(5))
        if not year or year >= 2000:  # "rue du 8 mai 1945" names a street
            return When("month_named", int(named), year=year), m.start()
    if bare_day and (m := _MONTH_ALONE.search(text)):
        return When("month_named", int(m.group(1))), m.start()
    m = _BOUND_DAY.search(text)
    if m and _ok_day(int(m.group(1))) and (m.group(2) or " le " in m.group() or " the " in m.group()):
        return When("day", int(m.group(1)), 0, evening=evening), m.start()
    if bare_day:
        for m in _THE_DAY.finditer(text):
            if _ok_day(int(m.group(1))):
                return When("day", int(m.group(1)), 0, evening=evening), m.start()
    return None


# --- placing a When in time -------------------------------------------------------------


def _at(day: date, moment: time, zone: ZoneInfo) -> datetime:
    """``moment`` on ``day`` in ``zone``; a time skipped by a daylight saving change
    (02:30 on a spring-forward night) becomes the instant it names (03:30)."""
    found = datetime.combine(day, moment, tzinfo=zone)
    return found.astimezone(UTC).astimezone(zone)


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


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _range(today: date, when: When) -> tuple[date, date] | None:
    """The first and last day of a range, the ongoing one if today is in it."""
    a, b = when.a, when.b
    ma, mb = when.months
    if ma and not mb:
        mb = ma if b >= a else ma % 12 + 1
    if mb and not ma:
        ma = mb if a <= b else (mb - 2) % 12 + 1
    if ma:
        starts = [(year, ma) for year in (today.year - 1, today.year, today.year + 1)]
    else:
        month0 = today.year * 12 + today.month - 1
        starts = [(k // 12, k % 12 + 1) for k in range(month0 - 1, month0 + 3)]
    for year, month in starts:
        since = _date(year, month, a)
        if since is None:
            continue
        end_month = mb if ma else (month if b >= a else month % 12 + 1)
        until = _date(year + (end_month < month), end_month, b)
        if until is not None and since <= until and until >= today:
            return since, until
    return None


def window(when: When, now: datetime, tz: str) -> tuple[datetime, datetime] | None:
    """The [start, end) ``when`` means at ``now`` in the time zone ``tz`` (aware).

    A period that has begun ("ce week-end" on Saturday, "ce soir" at 21:00, "cette
    semaine") starts at ``now``; "ce soir" after midnight is the evening to come. With
    ``bound="until"`` the window runs from ``now`` to the end of what was said; with
    ``bound="from"``, from its start for 30 days."""
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    found = _window(when, local, zone)
    if found is None or not when.bound:
        return found
    if when.bound == "until":
        return (local, found[1]) if found[1] > local else None
    start = found[0]
    return start, _at(start.date() + timedelta(days=_FROM_DAYS), time(0, 0), zone)


def _window(when: When, local: datetime, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
    today = local.date()
    kind = when.kind
    if kind in {"today", "tonight"}:
        start, end = _days(today, today, zone, when.evening or kind == "tonight")
        return max(start, local), end
    if kind in {"tomorrow", "after_tomorrow", "in_days"}:
        day = today + timedelta(days={"tomorrow": 1, "after_tomorrow": 2}.get(kind, when.n))
        return _days(day, day, zone, when.evening)
    if kind == "weekend":
        # this weekend's Saturday: the coming one, or yesterday on a Sunday
        saturday = today + timedelta(days=(5 - today.weekday()) % 7)
        if today.weekday() == 6:
            saturday = today - timedelta(days=1)
        saturday += timedelta(days=7 * when.n)
        start, end = _days(saturday, saturday + timedelta(days=1), zone)
        return max(start, local) if when.n == 0 else start, end
    if kind in {"weekday", "from_weekday"}:
        ahead = (when.a - today.weekday()) % 7
        if when.n and ahead <= 1:  # "samedi prochain" said on Friday: not tomorrow
            ahead += 7
        day = today + timedelta(days=ahead)
        if kind == "from_weekday":
            return _at(day, time(0, 0), zone), _at(day + timedelta(days=_FROM_DAYS), time(0, 0), zone)
        return _days(day, day, zone, when.evening)
    if kind == "weekday_range":
        since_start = (today.weekday() - when.a) % 7
        if since_start < (when.b - when.a) % 7:  # ongoing: "du vendredi au dimanche" on Saturday
            first = today - timedelta(days=since_start)
        else:
            first = today + timedelta(days=(when.a - today.weekday()) % 7)
        start, end = _days(first, first + timedelta(days=(when.b - when.a) % 7), zone)
        return max(start, local), end
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
        year = when.year or (today.year if when.a >= today.month else today.year + 1)
        first = date(year, when.a, 1)
        end = _at(_month_after(year, when.a), time(0, 0), zone)
        return max(_at(first, time(0, 0), zone), min(local, end)), end
    if kind == "day":
        if when.year:
            on = _date(when.year, when.b or today.month, when.a)
        else:
            month = when.b or (today.month if when.a >= today.day else today.month % 12 + 1)
            on = _next_date(today, when.a, month)
            if on is None and not when.b:  # "le 31" in a 30-day month: the next month with one
                on = _next_date(today, when.a, month % 12 + 1)
        return _days(on, on, zone, when.evening) if on else None
    if kind == "range":
        days = _range(today, when)
        if days is None:
            return None
        start, end = _days(days[0], days[1], zone)
        return max(start, local), end
    return None


# --- times of day -----------------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    """A time of day said ("14h30", "2pm", "midi") and the end of a span when one is said
    ("de 9h à 17h"); ``end`` earlier than ``start`` means past midnight ("de 22h à 2h")."""

    start: time
    end: time | None = None


_CLOCK_PHRASES = {
    "apres midi": "APM", "aprem": "APM", "ap midi": "APM", "apres m": "APM",
    "du matin": "AMX", "in the morning": "AMX", "du soir": "PMX", "de l apres midi": "PMX",
    "de l aprem": "PMX", "in the afternoon": "PMX", "in the evening": "PMX", "at night": "PMX",
    "et demi": "DEMI", "et demie": "DEMI", "et quart": "QUART", "jusqu a": "UNTIL",
    "jusqu au": "UNTIL", "jusque": "UNTIL", "until": "UNTIL", "till": "UNTIL", "til": "UNTIL",
    "a partir de": "FROM", "a partir d": "FROM", "from": "FROM", "starting at": "FROM",
    "il y a": "AGO", "y a": "AGO", "ya": "AGO",
}  # fmt: skip
_CLOCK_PHRASE = re.compile(
    r"\b(?:" + "|".join(sorted(map(re.escape, _CLOCK_PHRASES), key=len, reverse=True)) + r")\b")
_CLOCK = re.compile(
    r"\b(?:(?P<h>\d{1,2}) ?(?:h|heures?)(?: ?(?P<m>\d{2}))?"
    r"|(?P<ah>\d{1,2})(?: (?P<am>\d{2}))? ?(?P<ap>am|pm|a m|p m)"
    r"|(?P<noon>midi|noon|minuit|midnight)(?: (?P<nm>\d{2}|trente))?"
    r"|(?P<ch>\d{1,2}) (?P<cm>\d{2}))\b(?: (?P<x>AMX|PMX|DEMI|QUART)\b)?")
_CLOCK_WORDS = ("midi", "minuit", "noon", "midnight")
#: before a time: a duration or a delay ("pendant 3h", "dans 2h", "il y a 2h")
_DURATION_BEFORE = frozenset(
    _words("pendant en dans ds depuis for in within during AGO environ about approx plus moins "
           "toutes tous chaque every over under"))
#: after a time: a duration ("3h de route", "24h sur 24", "2h par jour", "2h max")
_DURATION_AFTER = frozenset(_words("de d sur par of per max maxi ago later plus"))
#: before "14 30" (14:30), words that make it a time
_COLON_BEFORE = frozenset(_words("a at vers de FROM UNTIL to des around by et and entre between rdv"))
_DAY_WORDS = frozenset(
    [*_WORDS, *_DAY_ABBREVIATIONS, "auj", "ajd", "ce", "soir", "tonight", "today"])
_UNITS = frozenset(_words("euros euro eur e km m kg g ans min mn"))
_JOIN = frozenset(_words("a au to UNTIL et and through thru"))
_FRACTIONS = re.compile(r"\b[13] [24] ?(?:h|heures?)\b")  # "1/2 h", "3/4 heure": durations


@dataclass(frozen=True)
class _Found:
    at: int  # index of the first word
    upto: int  # index after the last word
    moment: time
    meridiem: str  # "am" | "pm" | "" (24-hour)


def _clock_words(folded: str) -> list[str]:
    words = _CLOCK_PHRASE.sub(lambda m: _CLOCK_PHRASES[m.group()], folded).split()
    k = 0
    while k < len(words):  # phone numbers are not times
        j = k
        while j < len(words) and words[j].isdigit():
            j += 1
        if j - k >= 2 and sum(len(words[i]) for i in range(k, j)) >= _PHONE_DIGITS:
            words[k:j] = ["TEL"] * (j - k)
        k = max(j, k + 1)
    return words


def _clocks(words: list[str]) -> list[_Found]:
    """Every time of day in the words, in order, durations and dates left out."""
    text = " ".join(words)
    offsets: dict[int, int] = {}
    position = 0
    for i, word in enumerate(words):
        offsets[position] = i
        position += len(word) + 1
    found: list[_Found] = []
    for m in _CLOCK.finditer(text):
        at = offsets.get(m.start(), -1)
        if at < 0:
            continue
        upto = at + len(m.group().split())
        before = words[at - 1] if at else ""
        after = words[upto] if upto < len(words) else ""
        after2 = words[upto + 1] if upto + 1 < len(words) else ""
        extra = m.group("x") or ""
        if before in _DURATION_BEFORE or before == "TEL" or (
                after in _DURATION_AFTER and not (after2[:1].isdigit() or after2 in {"midi", "minuit"})):
            continue
        if m.group("noon"):
            if before in {"apres", "apre", "ap", "du", "APM"} or after in {"pyrenees", "pyrenee"}:
                continue  # "après-midi", "canal du Midi"
            minutes = 30 if m.group("nm") == "trente" or extra == "DEMI" else int(m.group("nm") or 0)
            hour = 12 if m.group("noon") in {"midi", "noon"} else 0
            if minutes < 60:
                found.append(_Found(at, upto, time(hour, minutes), ""))
            continue
        if m.group("h") is not None:
            hour, minutes, meridiem = int(m.group("h")), int(m.group("m") or 0), ""
        elif m.group("ah") is not None:
            hour, minutes = int(m.group("ah")), int(m.group("am") or 0)
            meridiem = "am" if m.group("ap").startswith("a") else "pm"
            if not 1 <= hour <= 12:
                continue
            hour = hour % 12 + (12 if meridiem == "pm" else 0)
        else:
            hour, minutes, meridiem = int(m.group("ch")), int(m.group("cm")), ""
            chained = bool(found) and found[-1].upto >= at - 1
            day_before = before in _DAY_WORDS or not at  # "samedi 14:30", "14:30" alone
            if after in _UNITS or not (
                    before in _COLON_BEFORE or chained or (day_before and (minutes > 12 or minutes == 0))):
                continue  # "24 12" is a date, "10 30 euros" a price
            if before in {"le", "du", "au", "the"} or (before.isdigit() and not chained):
                continue
        if hour > 23 or minutes > 59:
            continue  # "24h/24"
        if extra == "DEMI" and not minutes:
            minutes = 30
        elif extra == "QUART" and not minutes:
            minutes = 15
        elif extra == "PMX" and hour < 12:
            hour += 12
        found.append(_Found(at, upto, time(hour, minutes), meridiem))
    return found


def read_clock(folded: str) -> Clock | None:
    """The time of day a folded message names ("samedi à 14h", "sam 14h30", "de 9h à 17h",
    "20h-23h", "dimanche midi", "saturday 2pm", "sat 2:30 pm", "from 9am to 5pm", "à
    minuit"), with its end when a span is said, or None.

    Not a time: durations and delays ("3h de route", "pendant 2h", "dans 2h", "24h/24",
    "1/2 h"), dates ("le 24/12" is "le 24 12"), ages, addresses, arrondissements, phone
    numbers, "après-midi"; nor an end alone ("jusqu'à 23h": the start is asked). A bare
    number starts a span only before a time ("de 9 à 17h", "20-23h", "from 9 to 11pm",
    read 21:00 to 23:00)."""
    if not any(c.isdigit() for c in folded) and not any(w in folded for w in _CLOCK_WORDS):
        return None
    if _FRACTIONS.search(folded):
        folded = _FRACTIONS.sub(" ", folded)
    words = _clock_words(folded)
    found = _clocks(words)
    if not found:
        return None
    first = found[0]
    end: time | None = None
    # a bare number before the first time starts the span: "de 9 à 17h", "20-23h"
    k = first.at - 1
    if k >= 0 and words[k] in _JOIN:
        k -= 1
    if k >= 0 and words[k].isdigit() and len(words[k]) <= 2 and int(words[k]) <= 23:
        opener = words[k - 1] if k else ""
        adjacent = k == first.at - 1
        dated = opener in {"le", "du", "au", "the", "on"} or opener in _DAY_ABBREVIATIONS or (
            _WORDS.get(opener, "")[:1] in {"D", "M"})  # "samedi 12 14h": the 12th at 14h
        if opener in {"de", "FROM", "entre", "between"} or (
                adjacent and not dated and int(words[k]) < first.moment.hour):
            hour = int(words[k])
            if first.meridiem == "pm" and hour < 12 and hour + 12 < first.moment.hour:
                hour += 12  # "9 to 11pm"
            return Clock(time(hour, 0), first.moment)
    if first.at and words[first.at - 1] == "UNTIL":
        return None  # "jusqu'à 23h": an end, the start is not said
    if len(found) > 1:
        nxt = found[1]
        between = words[first.upto : nxt.at]
        if len(between) <= 1 and all(w in _JOIN for w in between):
            end = nxt.moment
            start = first.moment
            if not first.meridiem and nxt.meridiem == "pm" and start.hour < 12 and start.hour + 12 < end.hour:
                start = start.replace(hour=start.hour + 12)
            return Clock(start, end)
    return Clock(first.moment, end)


#: the kinds of When whose window's first day is the event's day
_DAY_LIKE = frozenset({"today", "tonight", "tomorrow", "after_tomorrow", "weekday", "day",
                       "in_days", "weekend", "range", "weekday_range", "from_weekday"})


def event_times(when: When | None, clock: Clock | None, now: datetime, tz: str
                ) -> tuple[datetime, datetime | None] | None:
    """An event's start (and end when the clock says one) as aware datetimes in ``tz``, or
    None when the day or the time is missing, so that the dialog asks for it.

    The day is the first day of ``when``'s window at ``now``: "samedi", "demain", "le
    24/12", "dans 3 jours"; the Saturday of "ce week-end" (today on a Sunday); the first day
    of "du 20 au 27" or "à partir de lundi". Weeks, months and "jusqu'à dimanche" name no
    day: None. "ce soir", "demain soir", "samedi soir" turn an hour from 1 to 11 into the
    evening's ("ce soir à 9h" is 21:00) and midnight into the next day's start. An end
    earlier than the start is on the next day ("de 22h à 2h"); an end equal to the start is
    none. A day and time already past ("aujourd'hui à 8h" said at 10:00) are returned as
    they are: the dialog asks for confirmation. A time that a daylight-saving change skips
    (02:30 on the spring-forward night in Paris) becomes the instant it names (03:30)."""
    if when is None or clock is None or when.kind not in _DAY_LIKE or when.bound == "until":
        return None
    zone = ZoneInfo(tz)
    span = window(when, now, tz)
    if span is None:
        return None
    day = span[0].astimezone(zone).date()
    start_t, end_t = clock.start, clock.end
    if when.evening or when.kind == "tonight":
        if 1 <= start_t.hour <= 11:
            start_t = start_t.replace(hour=start_t.hour + 12)
            if end_t is not None and 1 <= end_t.hour <= 11 and end_t.hour + 12 > start_t.hour:
                end_t = end_t.replace(hour=end_t.hour + 12)
        elif start_t.hour == 0:
            day += timedelta(days=1)  # "samedi soir à minuit": Sunday 00:00
    start = _at(day, start_t, zone)
    if end_t is None or end_t == start_t:
        return start, None
    end = _at(day + timedelta(days=1) if end_t < start_t else day, end_t, zone)
    return start, end
