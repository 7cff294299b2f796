"""French/English understanding: intent and slots from one chat message, offline.

``parse(text, lang=..., home=...)`` is pure (no I/O beyond the in-memory taxonomy and
gazetteer, loaded once; ``warm_up()`` loads them ahead) and fast: typically 0.3 ms, under
2 ms for nearly every message; a misspelt commune costs a few ms more.

How a message is read
---------------------
1. Tokens: words of the cleaned text (control and zero-width characters gone), each with
   its folded form and its position in the original, so names keep their spelling.
2. Short answers ("oui c'est ça", "merci", "annuler", "bonjour", "la suite") are
   recognised from the whole message or its first word, when nothing is searched for.
3. Category: the taxonomy's mentions, exact ones first. A typo-tolerant mention never
   takes the words of a commune name ("Sainte-Marie" is no misspelt "mairie"). When
   several categories are named, the longest mention wins, then a specific category over
   a generic one, then the most named, then the first.
4. Commune: every word sequence that is exactly a commune name (article optional,
   "st"/"ste"/SMS "sen", "au Port" = "le Port"), or a quartier of La Réunion
   ("Saint-Gilles-les-Bains" is in Saint-Paul). A name that is also an ordinary word ("Y",
   "Eu", "Port", "Pas", "Nice") counts only after a place word ("à", "au", "in", "near",
   "j'habite"), written with a capital, next to the category word, at the end after its
   article, or as the whole message; category words and département names never count.
   Postcodes narrow or stand alone; a département named anywhere ("dans le 974",
   "Saint-Louis (68)", "dans la Somme") narrows same-name communes, which are then ordered
   by distance from ``home`` when it is near one of them, else by population, and all
   returned as ``commune_candidates``. With no exact name, a capitalised or "j'habite"
   phrase gets a typo-tolerant lookup, home département and towns first.
5. Radius ("à moins de 5 km", "within 3 miles", "500 m"), near me ("près de chez moi",
   "nearby"; "le plus proche" or a bare radius when no commune is named).
6. Intent from phrase patterns in both languages, from the most specific (asking for a
   recommendation, join, announce a project, recommend, add one's own place, register)
   to the most general (search).
7. Name (recommend, join, announce): the capitalised words after the category word or the
   verb, up to the place or the end of the clause ("la troupe Les Zarlor à Saint-Denis");
   a name that starts with "du"/"de" keeps its category word ("Pharmacie du Centre").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bot.nlu import followups
from bot.nlu.categories import best_category, category_mentions
from bot.nlu.followups import DEMONSTRATIVES
from bot.nlu.intents import NO_SLOTS, read_intent, whole_message
from bot.nlu.lang import detect_lang
from bot.nlu.lexicon import BYE_WORDS, NAME_INTRO
from bot.nlu.names import entry_name, search_name
from bot.nlu.places import find_places, read_commune, warm_up_places
from bot.nlu.projects import read_needs, read_stage
from bot.nlu.radius import NEAR_GENERIC, NEAR_ME, read_radius
from bot.nlu.tokens import MAX_CHARS, Reading, plain, tokenize
from bot.nlu.when import Clock, When, read_clock, read_when, window
from directory.categories import get_taxonomy
from directory.gazetteer import Commune, Gazetteer, get_gazetteer
from directory.text import clean, fold


@dataclass(frozen=True)
class Parse:
    """What one message asks for. ``commune`` is only what the text names (never home)."""

    intent: str
    category: str | None = None
    commune: str | None = None
    commune_candidates: tuple[str, ...] = ()
    near_me: bool = False
    radius_km: float | None = None
    name: str | None = None
    lang: str = "fr"
    #: "project" | "event": the message asks about (or creates) projects or events
    kind: str | None = None
    #: builds on the previous question ("et à Saint-Benoît ?", "what about...")
    followup: bool = False
    #: a pick by rank in words: 1.., -1 the last, 0 "the other one"
    ordinal: int | None = None
    #: "distance" | "recommended"
    sort: str | None = None
    #: "cherche plus large", "further away"
    widen: bool = False
    #: a shown entry's detail asked for: phone | address | hours | website | email
    field: str | None = None
    #: 0 (Monday) .. 6 (Sunday) when a day is named
    weekday: int | None = None
    #: refers to what is on screen ("celle-ci", "this one", "it", "ce garage")
    deictic: bool = False
    #: further categories when one message asks for several
    also_categories: tuple[str, ...] = ()
    #: a pasted phone number (digits) or web address (host/path)
    contact: str | None = None
    #: "fr" | "en" for intent "switch_language"
    switch_lang: str | None = None
    #: the time said ("ce week-end", "samedi", "le 24/12"), placed in time by ``window``
    when: When | None = None
    #: the time zone of the commune named, else of home (where "ce week-end" is measured)
    tz: str | None = None
    #: projects asked about by what they need ("qui cherchent des bénévoles") and stage
    needs: tuple[str, ...] = ()
    stage: str | None = None
    #: a time of day said ("samedi 14h", "de 9h à 17h"): when an event starts (and ends)
    clock: Clock | None = None
    extras: dict[str, Any] = dc_field(default_factory=dict, compare=False)

    def window(self, now: datetime | None = None) -> tuple[datetime, datetime] | None:
        """The understood time window at ``now`` (default: the clock), in ``tz``."""
        if self.when is None:
            return None
        return window(self.when, now or datetime.now(UTC), self.tz or DEFAULT_TZ)

    def days(self, now: datetime, tz: str) -> tuple[date, date] | None:
        """The first and last local day of the time said, in ``tz`` (an event's commune):
        "samedi" is one day, "du 20 au 27" eight, "ce week-end" two."""
        if self.when is None:
            return None
        span = window(self.when, now, tz)
        if span is None:
            return None
        return span[0].date(), (span[1] - timedelta(microseconds=1)).date()

    def to_json(self, now: datetime | None = None) -> dict[str, Any]:
        """The ``communebot parse --json`` object: the contract keys first, then extras;
        ``when`` is the window in the commune's time zone at ``now`` (default: the clock)."""
        span = self.window(now)
        return {
            "intent": self.intent,
            "category": self.category,
            "commune": self.commune,
            "near_me": self.near_me,
            "radius_km": self.radius_km,
            "name": self.name,
            "when": {"start": span[0].isoformat(), "end": span[1].isoformat()} if span else None,
            "commune_candidates": list(self.commune_candidates),
            "lang": self.lang,
            "kind": self.kind,
            "followup": self.followup,
            "ordinal": self.ordinal,
            "sort": self.sort,
            "widen": self.widen,
            "field": self.field,
            "weekday": self.weekday,
            "deictic": self.deictic,
            "also_categories": list(self.also_categories),
            "contact": self.contact,
            "switch_lang": self.switch_lang,
            "needs": list(self.needs),
            "stage": self.stage,
            "clock": ({"start": self.clock.start.isoformat("minutes"),
                       "end": self.clock.end.isoformat("minutes") if self.clock.end else None}
                      if self.clock else None),
            **self.extras,
        }


#: categories a project's need word may also name ("bénévole" → association): dropped when
#: the words are read as what projects need
NEED_CATEGORIES = frozenset({"association"})

#: where "ce week-end" is measured when no commune is known
DEFAULT_TZ = "Europe/Paris"


def _tz_of(gaz: Gazetteer, commune: str | None, home: Commune | None) -> str | None:
    """The time zone of the commune named, else of home."""
    found = gaz.get(commune) if commune else home
    return found.timezone if found is not None else None


# a sentence of a long message that asks something
_REQUEST = re.compile(
    r"\b(?:cherche\w*|connai\w*|besoin|recommand\w*|conseil\w*|trouver|looking for|need|"
    r"know|recommend\w*|where|ou est|ou trouver|qui)\b"
)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?\n]*")
#: past this many characters a message is read from its question only
LONG_MESSAGE = 400


def _question_of(cleaned: str) -> str:
    """The sentence of a long message that asks something: the last one with a "?", else
    the last one with a request verb, else the whole text."""
    sentences = [m.group().strip() for m in _SENTENCE.finditer(cleaned) if m.group().strip()]
    asking = [s for s in sentences if "?" in s]
    if asking:
        return asking[-1]
    requesting = [s for s in sentences if _REQUEST.search(fold(s))]
    return requesting[-1] if requesting else cleaned


def parse(text: str, *, lang: str | None = None, home: str | None = None) -> Parse:
    """Read one chat message. ``lang`` is a hint for ambiguous text; ``home`` an INSEE code."""
    hint = lang if lang in ("fr", "en") else None
    if not isinstance(text, str):
        return Parse("unknown", lang=hint or "fr")
    cleaned = clean(text[: MAX_CHARS * 4], max_length=MAX_CHARS)
    if len(cleaned) > LONG_MESSAGE:
        cleaned = _question_of(cleaned)
    tokens = tokenize(cleaned)
    if not tokens:
        # nothing readable: empty, emojis, punctuation; "???" is a call for help
        intent = "help" if "?" in cleaned else "unknown"
        return Parse(intent, lang=hint or "fr")
    tax = get_taxonomy()
    gaz = get_gazetteer()
    folded = " ".join(t.fold for t in tokens)
    reading = Reading(tokens, folded, cleaned, plain(cleaned))
    home_commune = gaz.current(home) if isinstance(home, str) and home else None
    words = [t.fold for t in tokens]
    command = cleaned.lstrip().lower()
    if command.startswith(("/project", "/projet")):
        return Parse("announce_project", kind="project", lang=hint or "fr")
    if command.startswith(("/event", "/evenement", "/évènement", "/événement")):
        return Parse("announce_event", kind="event", lang=hint or "fr")

    ordinal = followups.ordinal(words)
    whole = whole_message(folded) if ordinal is None else None
    if cleaned.strip().lower() in BYE_WORDS:
        whole = "bye"  # "a+"
    contact = followups.contact(cleaned)
    switch = followups.switch_lang(folded) if len(tokens) <= 10 else None

    # "ça marche" is "OK", never a market
    blocked: set[int] = set()
    for k in range(len(words) - 1):
        if words[k] in {"ca", "sa", "ce"} and words[k + 1] in {"marche", "marchera", "fonctionne"}:
            blocked.update({k, k + 1})
        if words[k] in {"je", "j", "tu", "on", "il", "elle"} and words[k + 1] == "marche":
            blocked.add(k + 1)  # "je marche", the verb
        if words[k] in NAME_INTRO and tokens[k + 1].text[:1].isupper():
            blocked.add(k + 1)  # "je m'appelle Marie": neither a mairie nor a commune
    mentions = category_mentions(reading, tax, blocked)
    # exact category words first; typo-tolerant ones only where no commune name is
    # ("Sainte-Marie" is not a misspelt "mairie")
    reading.cat_mentions = [m for m in mentions if m[1] >= 100]
    found = find_places(reading, mentions, home_commune)
    place_tokens = found.tokens
    for m in mentions:
        if m[1] < 100 and not any(k in place_tokens for k in range(m[2], m[3])):
            reading.cat_mentions.append(m)
    reading.cat_mentions.sort(key=lambda m: m[2])
    # "ce garage": the one on screen, not a new search
    deictic = followups.deictic(folded)
    on_screen = [m for m in reading.cat_mentions if m[2] > 0 and words[m[2] - 1] in DEMONSTRATIVES]
    if on_screen:
        deictic = True
        reading.cat_mentions = [m for m in reading.cat_mentions if m not in on_screen]
    lang_found = detect_lang(reading, tax, hint)
    if switch is not None and not reading.cat_mentions:
        return Parse("switch_language", switch_lang=switch, lang=lang_found)
    if whole is not None and not reading.cat_mentions and contact is None:
        if whole in {"yes", "no"}:  # "non, plutôt 16h": the answer and its correction
            # "non, j'habite au Port": the no and the commune it corrects to
            named = (read_commune(reading, found, home_commune)[0]
                     if whole == "no" and len(words) > 1 else [])
            codes = tuple(dict.fromkeys(c.insee for c in named))
            return Parse(whole, lang=lang_found, deictic=deictic, clock=read_clock(folded),
                         when=read_when(folded, bare_day=True), tz=_tz_of(gaz, None, home_commune),
                         commune=codes[0] if codes else None, commune_candidates=codes)
        return Parse(whole, lang=lang_found, deictic=deictic)

    if followups.asks_help(folded) and not any(m[1] >= 100 for m in reading.cat_mentions):
        return Parse("help", lang=lang_found)
    need = tax.find_need(folded)
    need_span = need[1] if need is not None else None
    if need_span is not None:
        # a described need outweighs a typo-tolerant word inside it ("évier bouché" is no
        # "boucher") and a lone word it outgrows ("watch my kids after school")
        i, j = need_span
        reading.cat_mentions = [
            m
            for m in reading.cat_mentions
            if not (m[1] < 100 and i <= m[2] < j) and not (m[3] - m[2] == 1 and j - i >= 3 and m[2] >= j)
        ]
    category = best_category(reading.cat_mentions)
    if category is None and need is not None:
        category = need[0]
    else:
        need_span = None
    also = tuple(
        dict.fromkeys(
            m[0].slug for m in reading.cat_mentions if category is not None and m[0].slug != category.slug
        )
    )
    # "le garage maloya": a category word right after the category's own word is the
    # entry's name ("Maloya" is a dance, but this garage is called so), not a second request
    named_by: str | None = None
    if category is not None:
        ends = {j for cat, _s, _i, j in reading.cat_mentions if cat.slug == category.slug}
        for cat, _s, i, j in reading.cat_mentions:
            mention = reading.cleaned[reading.tokens[i].start : reading.tokens[j - 1].end] if (
                cat.slug != category.slug and i in ends) else ""
            # a category called by its own name ("plombier électricien") is a second trade
            if mention and fold(mention) not in {fold(cat.name("fr")), fold(cat.name("en"))}:
                named_by = mention
                also = tuple(slug for slug in also if slug != cat.slug)
                break
    place = read_commune(reading, found, home_commune)
    commune_list, place_span, place_context = place
    if commune_list and place_span is not None:
        # a place's own words ("Le Port", "Les Avirons") say nothing of the language the
        # message is written in: "any garage in le port" is English
        lang_found = detect_lang(reading, tax, hint, skip=set(range(*place_span)))
    candidates = tuple(dict.fromkeys(c.insee for c in commune_list))
    commune = candidates[0] if candidates else None

    # --- radius and near me ---
    radius = read_radius(reading.plain)
    near_me = bool(NEAR_ME.search(folded))
    if not near_me and commune is None and (NEAR_GENERIC.search(folded) or radius is not None):
        near_me = True

    # --- the conversation ---
    sort = followups.sort(folded)
    widen = followups.widen(folded)
    field = followups.field(folded)
    followup = followups.followup(folded)
    refers = bool(sort or widen or field or ordinal is not None or followup)

    # --- intent ---
    group = category is not None and category.org_type == "association"
    intent, verb_end = read_intent(
        folded,
        tokens,
        whole,
        category is not None,
        commune is not None,
        group,
        around=near_me or radius is not None or refers or contact is not None,
        question="?" in cleaned,
    )
    if intent == "recommend" and sort == "recommended":
        intent = "search"  # "the most recommended": a sort, not a recommendation
    if intent in {"unknown", "more", "search"} and not category and followups.share(folded):
        intent = "share"
    if contact is not None and intent in {"unknown", "help", "search"}:
        intent = "search"
    if whole == "help" and intent == "search" and not (category or commune or contact):
        intent = "help"
    kind = followups.kind(folded) if intent in {"search", "announce_project", "unknown"} else None
    if intent == "announce_event":
        kind = "event"
    if intent == "unknown" and kind is not None:
        intent = "search"  # "what's on tomorrow", "des évènements ?": a question about them
    when = (read_when(folded, bare_day=kind == "event")
            if intent in {"search", "announce_project", "announce_event", "unknown"} else None)
    clock = (read_clock(folded) if intent in {"announce_event", "unknown"}
             or (intent == "search" and when is not None) else None)
    if intent == "unknown" and when is not None:
        intent = "search"  # "anything on this weekend?": what is on, then
    if when is not None and kind is None and intent == "search" and category is None:
        kind = "event"  # "quoi de neuf ce week-end au Port ?": what is on, then
    if kind is None and intent == "search" and category is not None and category.kind == "event":
        kind = "event"  # "concerts samedi", "marchés de Noël": dated, soonest first
    if intent == "announce_project" and kind is None:
        kind = "project"
    name = None
    # a search names an entry only to ask one of its details ("numéro de la pharmacie
    # Calumet"); otherwise capitalised words in a search are left to the search text
    asks_detail = intent == "search" and field is not None and bool(reading.cat_mentions)
    needs, stage = ((read_needs(folded), read_stage(folded)) if kind == "project" and intent == "search"
                    else ((), None))
    if needs and category is not None and category.slug in NEED_CATEGORIES:
        category = None  # "projets qui cherchent des bénévoles": a need, not an association
    if intent in {"recommend", "join", "announce_project", "announce_event"} or asks_detail:
        name = entry_name(reading, place_span if place_context else None, verb_end)
    if name is None and intent in {"search", "recommend", "join"} and category is not None \
            and kind is None:
        # "pharmacie calumet", "je recommande le garage combava": the name words after the
        # category word, typed in lower case on a phone, stay with it (a named place is then
        # looked for beyond the usual radius)
        # English puts a name first ("the calumet pharmacy"): read there when a name is
        # expected (recommend, join) or the message is only the name and its kind
        name_first = lang_found == "en" and (intent != "search" or len(reading.tokens) <= 3)
        name = search_name(reading, place_span, english=name_first) or named_by
    if need_span is not None:
        name = None
    if intent in NO_SLOTS:
        category, also = None, ()
    return Parse(
        intent=intent,
        category=category.slug if category else None,
        commune=commune,
        commune_candidates=candidates,
        near_me=near_me,
        radius_km=radius,
        name=name,
        lang=lang_found,
        kind=kind,
        followup=followup,
        ordinal=ordinal,
        sort=sort,
        widen=widen,
        field=field,
        weekday=followups.weekday(words),
        deictic=deictic,
        also_categories=also,
        contact=contact,
        switch_lang=None,
        when=when,
        tz=_tz_of(gaz, commune, home_commune),
        needs=needs,
        stage=stage,
        clock=clock,
    )


def warm_up() -> None:
    """Load the taxonomy and gazetteer indexes now rather than on the first message."""
    get_taxonomy()
    warm_up_places()
