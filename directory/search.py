"""Directory search: text and/or category, near a point or a commune, paginated.

How candidates are found (cost follows the neighbourhood, not France): every query is
turned into a handful of *terms* of the search index (``directory.search_index``):

* each query word, folded, plus its typo / prefix expansions found in ``search_vocab``
  (same first two letters, rapidfuzz ratio >= 80, or the word is a prefix of the term);
* ``@c:<slug>`` for an explicit category, and for categories the text names ("crèche",
  "nounou", "mechanic": names and synonyms of the bilingual taxonomy);
* ``@k:<kind>`` when there is neither text nor category ("everything near me").

One SQL statement reads ``entry_terms`` for those terms inside the bounding box of the
radius (index ``(term, lat, lon, entry_id)``); only then does Python score, and only the
best candidates are read from ``entries``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

from rapidfuzz import fuzz, process
from sqlalchemy import Connection, Executable, bindparam, select
from sqlalchemy.orm import Session

from directory.driver import positional_placeholder
from directory.models import Entry, EntryKind, EntryStatus, EntryTerm, SearchVocab
from directory.search_index import CATEGORY_PREFIX, category_term, kind_term, name_terms

DEFAULT_RADIUS_KM = 15.0
MAX_RADIUS_KM = 20_000.0
MAX_LIMIT = 100
#: at most this many index rows are scored for one query (a safety net for nationwide text)
CANDIDATE_CAP = 50_000
#: below this text score a candidate is noise
MIN_TEXT = 0.3
FUZZY_CUTOFF = 80.0
CATEGORY_CUTOFF = 85.0
EARTH_RADIUS_KM = 6371.0088

W_TEXT, W_DISTANCE, W_RECO, W_COMMUNE = 0.55, 0.30, 0.10, 0.05
DISTANCE_SCALE_KM = 2.0
RECO_SATURATION = 50


class InvalidQuery(ValueError):
    """A query that cannot be run; ``reason`` is a stable code for a localized message."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""
    category: str | None = None
    point: tuple[float, float] | None = None  # the user's location
    commune: str | None = None  # INSEE; used as point (commune centre) and to boost same-commune
    radius_km: float | None = None
    kinds: tuple[str, ...] = ()
    limit: int = 10
    cursor: str | None = None


@dataclass(frozen=True)
class SearchHit:
    entry_id: int
    name: str
    category: str
    kind: str
    commune_insee: str
    distance_km: float | None
    recommendations: int
    score: float
    lat: float | None
    lon: float | None
    address: str | None


@dataclass(frozen=True)
class SearchPage:
    hits: list[SearchHit]
    next_cursor: str | None


# --- pure helpers ----------------------------------------------------------------------------


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance; plenty precise for ranking and display."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(
        (lon2 - lon1) / 2
    ) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def bounding_box(
    centre: tuple[float, float], radius_km: float
) -> tuple[float, float, float, float]:
    """(lat_min, lat_max, lon_min, lon_max) enclosing the circle (no antimeridian wrap:
    no commune of the directory straddles it)."""
    lat, lon = centre
    dlat = radius_km / 111.195
    cos_lat = max(math.cos(math.radians(lat)), 0.01)
    dlon = min(radius_km / (111.195 * cos_lat), 360.0)
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


def _distances_from(centre: tuple[float, float]) -> Callable[[float, float], float]:
    """``haversine_km(centre, (lat, lon))`` with the centre's terms computed once: the same
    operations in the same order, so the same floats, for the hundreds of candidates of a
    query."""
    lat1, lon1 = math.radians(centre[0]), math.radians(centre[1])
    cos_lat1 = math.cos(lat1)
    radians, sin, cos, asin, sqrt = math.radians, math.sin, math.cos, math.asin, math.sqrt
    diameter = 2 * EARTH_RADIUS_KM

    def distance(lat: float, lon: float) -> float:
        lat2, lon2 = radians(lat), radians(lon)
        h = sin((lat2 - lat1) / 2) ** 2 + cos_lat1 * cos(lat2) * sin((lon2 - lon1) / 2) ** 2
        return diameter * asin(min(1.0, sqrt(h)))

    return distance


def proximity(distance_km: float | None) -> float:
    """1 at the user's door, 0.5 at 2 km, 0.1 at 18 km."""
    if distance_km is None:
        return 0.0
    return 1.0 / (1.0 + distance_km / DISTANCE_SCALE_KM)


def reco_weight(count: int) -> float:
    """Logarithmic, saturating at 50 recommendations: a few count, a crowd does not swamp."""
    return min(1.0, math.log1p(max(count, 0)) / math.log1p(RECO_SATURATION))


def word_similarity(word: str, term: str) -> float:
    """How well an index term answers a query word: 1 exact, 0.9 the word is a prefix of the
    term (typing in progress), else rapidfuzz ratio / 100 when >= 0.8, else 0."""
    if word == term:
        return 1.0
    if len(word) >= 3 and term.startswith(word):
        return 0.9
    ratio = fuzz.ratio(word, term, score_cutoff=FUZZY_CUTOFF)
    return ratio / 100.0 if ratio else 0.0


def validate_query(query: SearchQuery) -> None:
    if query.point is not None:
        lat, lon = query.point
        if not (isinstance(lat, int | float) and math.isfinite(lat) and -90 <= lat <= 90):
            raise InvalidQuery("lat", "bad_latitude")
        if not (isinstance(lon, int | float) and math.isfinite(lon) and -180 <= lon <= 180):
            raise InvalidQuery("lon", "bad_longitude")
    if query.radius_km is not None and not (
        math.isfinite(query.radius_km) and 0 < query.radius_km <= MAX_RADIUS_KM
    ):
        raise InvalidQuery("radius_km", "bad_radius")
    if not 1 <= query.limit <= MAX_LIMIT:
        raise InvalidQuery("limit", "bad_limit")
    for kind in query.kinds:
        if kind not in {k.value for k in EntryKind}:
            raise InvalidQuery("kinds", "unknown_kind")
    if len(query.text) > 500:
        raise InvalidQuery("text", "too_long")
    if query.category is not None:
        from directory.categories import get_taxonomy

        if get_taxonomy().get(query.category) is None:
            raise InvalidQuery("category", "unknown_category")


def fingerprint(query: SearchQuery) -> str:
    """What a cursor is bound to: the query minus its page."""
    key = repr((query.text, query.category, query.point, query.commune, query.radius_km,
                query.kinds))
    return hashlib.sha1(key.encode()).hexdigest()[:10]


def encode_cursor(query: SearchQuery, score: float, entry_id: int) -> str:
    raw = json.dumps({"f": fingerprint(query), "s": score, "i": entry_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(query: SearchQuery) -> tuple[float, int] | None:
    """(score, id) of the last hit already shown; the next page starts strictly after it."""
    if not query.cursor:
        return None
    try:
        padded = query.cursor + "=" * (-len(query.cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if data["f"] != fingerprint(query):
            raise InvalidQuery("cursor", "bad_cursor")
        return float(data["s"]), int(data["i"])
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        if isinstance(exc, InvalidQuery):
            raise
        raise InvalidQuery("cursor", "bad_cursor") from None


# --- categories named by the text ------------------------------------------------------------


@lru_cache(maxsize=1)
def _category_phrases() -> tuple[tuple[tuple[str, ...], str], ...]:
    """(words of a category name or synonym, slug) for the whole taxonomy."""
    from directory.categories import get_taxonomy

    taxonomy = get_taxonomy()
    phrases: dict[tuple[tuple[str, ...], str], None] = {}
    for category in taxonomy:
        slug = category.slug
        for phrase in [slug.replace("-", " "), *taxonomy.terms(slug)]:
            words = tuple(name_terms(phrase))
            if words:
                phrases.setdefault((words, slug), None)
    return tuple(phrases)


@dataclass(frozen=True)
class _PhraseTable:
    """The taxonomy's phrases indexed for :func:`categories_in_text`: built once, so a query
    compares its few words with the few hundred distinct phrase words instead of walking
    every phrase at every position."""

    words: tuple[str, ...]  # distinct phrase words
    by_stem: dict[str, tuple[str, ...]]  # word without its plural s/x -> phrase words
    #: first word -> (rank in the taxonomy's phrase order, phrase, slug)
    by_first: dict[str, tuple[tuple[int, tuple[str, ...], str], ...]]


@lru_cache(maxsize=1)
def _phrase_table() -> _PhraseTable:
    by_first: dict[str, list[tuple[int, tuple[str, ...], str]]] = {}
    words: dict[str, None] = {}
    for rank, (phrase, slug) in enumerate(_category_phrases()):
        by_first.setdefault(phrase[0], []).append((rank, phrase, slug))
        for word in phrase:
            words.setdefault(word, None)
    by_stem: dict[str, list[str]] = {}
    for word in words:
        by_stem.setdefault(word.rstrip("sx"), []).append(word)
    return _PhraseTable(
        tuple(words),
        {stem: tuple(ws) for stem, ws in by_stem.items()},
        {first: tuple(ps) for first, ps in by_first.items()},
    )


@lru_cache(maxsize=4096)
def _phrase_word_matches(query_word: str) -> dict[str, float]:
    """Phrase words a query word may stand for, with its similarity: 1 for the same word or
    its plural (``s``/``x``), rapidfuzz ratio / 100 (>= 0.85) for a typo of 4+ letters.
    Depends on the word and the taxonomy only, hence the cache."""
    table = _phrase_table()
    matches: dict[str, float] = {}
    if len(query_word) >= 4:
        for word, ratio, _ in process.extract(
            query_word, table.words, scorer=fuzz.ratio, score_cutoff=CATEGORY_CUTOFF, limit=None
        ):
            matches[word] = ratio / 100.0
    for word in table.by_stem.get(query_word.rstrip("sx"), ()):
        matches[word] = 1.0
    return matches


def categories_in_text(words: Sequence[str]) -> dict[str, tuple[float, frozenset[int]]]:
    """Categories whose name or synonym the query words spell: slug -> (similarity, indexes
    of the query words it explains). Multi-word names must appear in order; each word may
    carry a typo (ratio >= 85) or a plural ``s``."""
    table = _phrase_table()
    matches = [_phrase_word_matches(word) for word in words]
    spelled: list[tuple[int, int, str, float]] = []  # (phrase rank, start, slug, similarity)
    for start, first_matches in enumerate(matches):
        for first_word, first_sim in first_matches.items():
            for rank, phrase, slug in table.by_first.get(first_word, ()):
                n = len(phrase)
                if start + n > len(words):
                    continue
                total = first_sim
                for offset in range(1, n):
                    sim = matches[start + offset].get(phrase[offset])
                    if sim is None:
                        break
                    total += sim
                else:
                    spelled.append((rank, start, slug, total / n))
    # ties keep the first in (phrase, position) order, as a walk over every phrase would
    spelled.sort(key=lambda m: (m[0], m[1]))
    found: dict[str, tuple[float, frozenset[int]]] = {}
    for rank, start, slug, sim in spelled:
        covered = frozenset(range(start, start + len(_category_phrases()[rank][0])))
        old = found.get(slug)
        if old is None or (sim, len(covered)) > (old[0], len(old[1])):
            found[slug] = (sim, covered)
    return found


# --- the query ------------------------------------------------------------------------------

# Statements built once with expanding parameters: SQLAlchemy compiles each a single time
# and a query only binds values (building ``IN (...)`` of hundreds of literals per query
# cost more than running it).
_VOCAB = select(SearchVocab.prefix, SearchVocab.term).where(
    SearchVocab.prefix.in_(bindparam("prefixes", expanding=True))
)
_TERMS_ANYWHERE = (
    select(EntryTerm.entry_id, EntryTerm.term, EntryTerm.lat, EntryTerm.lon)
    .where(EntryTerm.term.in_(bindparam("terms", expanding=True)))
    .limit(CANDIDATE_CAP)
)
_TERMS_IN_BOX = _TERMS_ANYWHERE.where(
    EntryTerm.lat.between(bindparam("lat_min"), bindparam("lat_max")),
    EntryTerm.lon.between(bindparam("lon_min"), bindparam("lon_max")),
)


def _core(session: Session) -> Connection:
    """The session's connection (same transaction), for plain column reads without the ORM
    result machinery; pending ORM changes are flushed first, as ``session.execute`` would."""
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()
    return session.connection()


# The same three reads as plain SQL for the two drivers' placeholder styles: on a query of
# a few milliseconds, SQLAlchemy's handling of an expanding ``IN`` cost as much as SQLite's
# work. The statements above stay the reference (and serve any other driver).
_VOCAB_SQL = (
    "SELECT search_vocab.prefix, search_vocab.term FROM search_vocab "
    "WHERE search_vocab.prefix IN ({})"
)
_TERMS_SQL = (
    "SELECT entry_terms.entry_id, entry_terms.term, entry_terms.lat, entry_terms.lon "
    "FROM entry_terms WHERE entry_terms.term IN ({}){} LIMIT " + str(CANDIDATE_CAP)
)
_BOX_SQL = (
    " AND entry_terms.lat BETWEEN {p} AND {p} AND entry_terms.lon BETWEEN {p} AND {p}"
)
_HITS_SQL = (
    "SELECT entries.id, entries.name, entries.category, entries.kind, entries.commune_insee, "
    "entries.recommendation_count, entries.lat, entries.lon, entries.address "
    "FROM entries WHERE entries.id IN ({}) AND entries.status = {}"
)


def _read(
    session: Session,
    statement: Executable,
    params: dict[str, object],
    sql: str | None,
    values: tuple[object, ...],
) -> Sequence[Any]:
    """Rows of ``sql`` (already in the driver's placeholder style) when given, else of the
    SQLAlchemy ``statement``."""
    connection = _core(session)
    if sql is not None:
        return connection.exec_driver_sql(sql, values).fetchall()
    return connection.execute(statement, params).fetchall()


def expand_words(session: Session, words: Sequence[str]) -> list[dict[str, float]]:
    """For each query word, the index terms that answer it with their similarity."""
    prefixes = sorted({w[:2] for w in words if len(w) >= 3})
    vocab: dict[str, list[str]] = {}
    if prefixes:
        mark = positional_placeholder(session.connection().dialect)
        sql = _VOCAB_SQL.format(",".join([mark] * len(prefixes))) if mark else None
        for prefix, term in _read(session, _VOCAB, {"prefixes": prefixes}, sql, tuple(prefixes)):
            vocab.setdefault(prefix, []).append(term)
    expansions: list[dict[str, float]] = []
    for word in words:
        terms = {word: 1.0}
        if len(word) >= 3:
            choices = vocab.get(word[:2], [])
            for term in choices:
                if term.startswith(word) and term != word:
                    terms[term] = 0.9
            for term, ratio, _ in process.extract(
                word, choices, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, limit=20
            ):
                terms.setdefault(term, ratio / 100.0)
        expansions.append(terms)
    return expansions


@dataclass(slots=True)
class _Candidate:
    entry_id: int
    lat: float | None
    lon: float | None
    word_sims: list[float] = field(default_factory=list)
    categories: set[str] = field(default_factory=set)


def _commune_place(insee: str) -> tuple[tuple[float, float] | None, frozenset[str]]:
    """Centre of a commune and the INSEE codes filed under it (itself, its arrondissements)."""
    from directory.gazetteer import get_gazetteer

    gazetteer = get_gazetteer()
    commune = gazetteer.current(insee) if isinstance(insee, str) else None
    if commune is None:
        raise InvalidQuery("commune", "unknown_commune")
    centre = (commune.lat, commune.lon) if commune.lat is not None and commune.lon is not None else None
    return centre, frozenset(gazetteer.members(commune.insee)) | {commune.insee}


def search(session: Session, query: SearchQuery) -> SearchPage:
    """Find entries, best first.

    Ranking: ``score = 0.55·text + 0.30·proximity + 0.10·recommendations + 0.05·same
    commune``, each part in [0, 1]:

    * text: the mean, over the query's words, of the best similarity between the word and
      the entry's name words (exact 1, prefix 0.9, typo = rapidfuzz ratio >= 0.8), or the
      similarity with the entry's category when the words spell a category name or synonym
      ("crèche", "nounou", "garagiste"); 1 for a pure category or "near me" query.
      Candidates under 0.3 are dropped.
    * proximity: ``1 / (1 + d / 2 km)`` from the user's point, else the commune's centre
      (0 when neither is given); entries beyond the radius are dropped. Default radius
      15 km when a place is given: callers widen it (``radius_km``) if that finds nothing.
    * recommendations: ``log(1 + n) / log(51)``, capped at 1.
    * same commune: 1 when the entry is in the query's commune.

    Ties break on the entry id, so the order is total and the cursor (score and id of the
    last hit, bound to the query) pages without duplicates or gaps.
    """
    validate_query(query)
    after = decode_cursor(query)
    centre: tuple[float, float] | None = None
    if query.point is not None:
        centre = (float(query.point[0]), float(query.point[1]))
    members: frozenset[str] = frozenset()
    if query.commune is not None:
        commune_centre, members = _commune_place(query.commune)
        centre = centre or commune_centre
    radius = query.radius_km if query.radius_km is not None else (
        DEFAULT_RADIUS_KM if centre is not None else None
    )

    words = name_terms(query.text)[:8]
    expansions = expand_words(session, words) if words else []
    named = categories_in_text(words) if words else {}
    if query.category and words:
        # an explicit category filters; words spelling another category must not widen it
        named = {slug: v for slug, v in named.items() if slug == query.category}

    term_words: dict[str, list[tuple[int, float]]] = {}
    for index, terms in enumerate(expansions):
        for term, sim in terms.items():
            term_words.setdefault(term, []).append((index, sim))
    wanted: set[str] = set(term_words)
    wanted.update(category_term(slug) for slug in named)
    if query.category:
        wanted.add(category_term(query.category))
    if not wanted:
        wanted = {kind_term(k) for k in (query.kinds or tuple(k.value for k in EntryKind))}

    # "Everything near me" in a city would hand over thousands of candidates: read growing
    # rings instead and stop as soon as nothing outside the ring can beat the page. Text and
    # category queries are selective enough for one pass (rings would rarely stop early:
    # recommendations may still add 0.1 to anything outside).
    # what recommendations and same commune may still add to a score known from the index
    slack = W_RECO + (W_COMMUNE if members else 0.0)
    rings: list[float | None] = [radius]
    if centre is not None and radius is not None and not words and not query.category:
        rings = [*(r for r in (radius / 16, radius / 4) if r >= 0.5), radius]
    page = SearchPage([], None)
    for ring in rings:
        if words:
            candidates = _candidates(session, wanted, term_words, len(words), centre, ring)
            scored = list(
                _bounded(candidates.values(), words, named, query.category, centre, ring, slack)
            )
        else:
            rows = _term_rows(session, wanted, centre, ring)
            scored = _bounded_rows(rows, query.category, centre, ring, slack)
        page, worst = _best_page(session, query, scored, after, members)
        outside_best = W_TEXT + W_DISTANCE * proximity(ring) + slack
        if ring is not None and worst is not None and worst > outside_best:
            break
    return page


def _candidates(
    session: Session,
    wanted: set[str],
    term_words: dict[str, list[tuple[int, float]]],
    word_count: int,
    centre: tuple[float, float] | None,
    radius: float | None,
) -> dict[int, _Candidate]:
    """One indexed read of ``entry_terms``, gathered per entry."""
    candidates: dict[int, _Candidate] = {}
    for entry_id, term, lat, lon in _term_rows(session, wanted, centre, radius):
        cand = candidates.get(entry_id)
        if cand is None:
            cand = candidates[entry_id] = _Candidate(entry_id, lat, lon, [0.0] * word_count)
        if term.startswith(CATEGORY_PREFIX):
            cand.categories.add(term[len(CATEGORY_PREFIX) :])
        for index, sim in term_words.get(term, ()):
            if sim > cand.word_sims[index]:
                cand.word_sims[index] = sim
    return candidates


def _term_rows(
    session: Session,
    wanted: set[str],
    centre: tuple[float, float] | None,
    radius: float | None,
) -> Sequence[Any]:
    """(entry_id, term, lat, lon) of the wanted terms inside the radius's box."""
    terms = sorted(wanted)
    mark = positional_placeholder(session.connection().dialect)
    in_list = ",".join([mark] * len(terms)) if mark else ""
    if centre is not None and radius is not None:
        lat_min, lat_max, lon_min, lon_max = bounding_box(centre, radius)
        rows = _read(
            session,
            _TERMS_IN_BOX,
            {"terms": terms, "lat_min": lat_min, "lat_max": lat_max,
             "lon_min": lon_min, "lon_max": lon_max},
            _TERMS_SQL.format(in_list, _BOX_SQL.format(p=mark)) if mark else None,
            (*terms, lat_min, lat_max, lon_min, lon_max),
        )
    else:
        rows = _read(
            session, _TERMS_ANYWHERE, {"terms": terms},
            _TERMS_SQL.format(in_list, "") if mark else None, tuple(terms),
        )
    return rows


_HIT_COLUMNS = (
    Entry.id, Entry.name, Entry.category, Entry.kind, Entry.commune_insee,
    Entry.recommendation_count, Entry.lat, Entry.lon, Entry.address,
)
_HITS = select(*_HIT_COLUMNS).where(
    Entry.id.in_(bindparam("ids", expanding=True)), Entry.status == EntryStatus.ACTIVE.value
)


class _Partial(NamedTuple):
    """A tuple (not a frozen dataclass): one is built per candidate, hundreds per query."""

    upper: float  # the score if recommendations and same-commune were maximal
    base: float  # text and distance parts, already weighted
    entry_id: int
    distance_km: float | None


def _bounded(
    candidates: Iterable[_Candidate],
    words: Sequence[str],
    named: dict[str, tuple[float, frozenset[int]]],
    category: str | None,
    centre: tuple[float, float] | None,
    radius: float | None,
    slack: float,
) -> Iterable[_Partial]:
    """Text and distance parts of each candidate (everything the index alone tells)."""
    distance_to = _distances_from(centre) if centre is not None else None
    for cand in candidates:
        if category and category not in cand.categories:
            continue
        if words:
            sims = list(cand.word_sims)
            for slug in cand.categories:
                if slug in named:
                    sim, covered = named[slug]
                    for index in covered:
                        sims[index] = max(sims[index], sim)
            text = sum(sims) / len(sims)
            if text < MIN_TEXT:
                continue
        else:
            text = 1.0
        distance = None
        if distance_to is not None and cand.lat is not None and cand.lon is not None:
            distance = distance_to(cand.lat, cand.lon)
            if radius is not None and distance > radius:
                continue
        elif centre is not None and radius is not None:
            continue  # no point, not even a commune centre: cannot be "near"
        base = W_TEXT * text + W_DISTANCE * proximity(distance)
        yield _Partial(base + slack, base, cand.entry_id, distance)


def _bounded_rows(
    rows: Iterable[Any],
    category: str | None,
    centre: tuple[float, float] | None,
    radius: float | None,
    slack: float,
) -> list[_Partial]:
    """:func:`_bounded` for queries without words (a category, or "everything near me"),
    straight from the index rows: the text part is 1 and there is nothing to gather per
    entry, so no :class:`_Candidate` is built (the most common query by far)."""
    distance_to = _distances_from(centre) if centre is not None else None
    base_far = W_TEXT * 1.0 + W_DISTANCE * proximity(None)
    seen: set[int] = set()
    partials: list[_Partial] = []
    for entry_id, term, lat, lon in rows:
        if entry_id in seen:
            continue
        if category and (
            not term.startswith(CATEGORY_PREFIX) or term[len(CATEGORY_PREFIX) :] != category
        ):
            continue
        seen.add(entry_id)
        distance = None
        if distance_to is not None and lat is not None and lon is not None:
            distance = distance_to(lat, lon)
            if radius is not None and distance > radius:
                continue
            base = W_TEXT * 1.0 + W_DISTANCE * proximity(distance)
        elif centre is not None and radius is not None:
            continue  # no point, not even a commune centre: cannot be "near"
        else:
            base = base_far
        partials.append(_Partial(base + slack, base, entry_id, distance))
    return partials


def _best_page(
    session: Session,
    query: SearchQuery,
    partials: list[_Partial],
    after: tuple[float, int] | None,
    members: frozenset[str],
) -> tuple[SearchPage, float | None]:
    """Branch and bound: read entries in order of their upper bound until the page's worst
    exact score beats every remaining bound; sort by (-score, id). Also returns the score
    of the last of the ``limit + 1`` best (None when fewer were found)."""
    partials.sort(key=lambda p: (-p.upper, p.entry_id))
    want = query.limit + 1
    best: list[tuple[float, int, SearchHit]] = []  # heap of (score, -id) -> worst first
    chunk = max(64, want * 4)
    kinds = set(query.kinds)
    mark = positional_placeholder(session.connection().dialect)
    start = 0
    while start < len(partials):
        if len(best) >= want and best[0][0] > partials[start].upper:
            break
        part = partials[start : start + chunk]
        start += len(part)
        chunk = min(chunk * 2, 1000)  # bounds that do not prune: fewer, bigger reads
        by_id = {p.entry_id: p for p in part}
        ids = list(by_id)
        rows = _read(
            session, _HITS, {"ids": ids},
            _HITS_SQL.format(",".join([mark] * len(ids)), mark) if mark else None,
            (*ids, EntryStatus.ACTIVE.value),
        )
        for entry_id, name, category, kind, commune, recos, lat, lon, address in rows:
            if kinds and kind not in kinds:
                continue
            partial = by_id[entry_id]
            same = 1.0 if commune in members else 0.0
            score = round(partial.base + W_RECO * reco_weight(recos) + W_COMMUNE * same, 9)
            if after is not None and (-score, entry_id) <= (-after[0], after[1]):
                continue
            if len(best) >= want and (score, -entry_id) <= best[0][:2]:
                continue
            hit = SearchHit(
                entry_id=entry_id,
                name=name,
                category=category,
                kind=kind,
                commune_insee=commune,
                distance_km=None if partial.distance_km is None else round(partial.distance_km, 3),
                recommendations=recos,
                score=score,
                lat=lat,
                lon=lon,
                address=address,
            )
            item = (score, -entry_id, hit)
            if len(best) < want:
                heapq.heappush(best, item)
            else:
                heapq.heapreplace(best, item)
    ordered = [hit for _, _, hit in sorted(best, key=lambda t: (-t[0], -t[1]))]
    page = ordered[: query.limit]
    next_cursor = None
    if len(ordered) > query.limit and page:
        last = page[-1]
        next_cursor = encode_cursor(query, last.score, last.entry_id)
    worst = best[0][0] if len(best) >= want else None
    return SearchPage(page, next_cursor), worst
