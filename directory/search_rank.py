"""Ranking for directory search, pure: distances, the weights of text, proximity,
recommendations and same commune, how a query word matches an index term, which
categories the query words spell, and the part of each candidate's score the index
alone tells (the full explanation is the docstring of :func:`directory.search.search`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from rapidfuzz import fuzz, process

from directory.categories import get_taxonomy
from directory.search_candidates import FUZZY_CUTOFF, Candidate
from directory.search_index import CATEGORY_PREFIX, name_terms, word_sequence

#: below this text score a candidate is noise
MIN_TEXT = 0.3
CATEGORY_CUTOFF = 85.0
EARTH_RADIUS_KM = 6371.0088

W_TEXT, W_DISTANCE, W_RECO, W_COMMUNE = 0.55, 0.30, 0.10, 0.05
#: what the words' order may add: the exact name before a reordered namesake
W_ORDER = 0.02
DISTANCE_SCALE_KM = 2.0
RECO_SATURATION = 50


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance; plenty precise for ranking and display."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(
        (lon2 - lon1) / 2
    ) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def distances_from(centre: tuple[float, float]) -> Callable[[float, float], float]:
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


def name_order(words: Sequence[str], name: str) -> float:
    """How closely the query's words (in order, repeats kept: :func:`word_sequence`) are
    the name: 1 when they are exactly the name's words; when they all appear in the name
    in the same order with other words between or around, 0.5 plus up to 0.25 for the
    share of the name they make ("Maki Zonavodu" is more of "Vétérinaire Maki Zonavodu"
    than of "Librairie Bubukuze Maki Zonavodu"); else 0."""
    terms = word_sequence(name)
    if list(words) == terms:
        return 1.0
    position = 0
    for word in words:
        try:
            position = terms.index(word, position) + 1
        except ValueError:
            return 0.0
    return 0.5 + 0.25 * len(words) / max(len(terms), 1)


# --- categories named by the text ------------------------------------------------------------


@lru_cache(maxsize=1)
def _category_phrases() -> tuple[tuple[tuple[str, ...], str], ...]:
    """(words of a category name or synonym, slug) for the whole taxonomy."""
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


# --- the part of a score the index tells -----------------------------------------------------


class Partial(NamedTuple):
    """A tuple (not a frozen dataclass): one is built per candidate, hundreds per query."""

    upper: float  # the score if recommendations and same-commune were maximal
    base: float  # text and distance parts, already weighted
    entry_id: int
    distance_km: float | None


def bounded(
    candidates: Iterable[Candidate],
    words: Sequence[str],
    named: dict[str, tuple[float, frozenset[int]]],
    category: str | None,
    centre: tuple[float, float] | None,
    radius: float | None,
    slack: float,
) -> Iterable[Partial]:
    """Text and distance parts of each candidate (everything the index alone tells)."""
    distance_to = distances_from(centre) if centre is not None else None
    for cand in candidates:
        if category and category not in cand.categories:
            continue
        if words:
            sims = cand.word_sims
            if named and not named.keys().isdisjoint(cand.categories):
                sims = list(sims)
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
        yield Partial(base + slack, base, cand.entry_id, distance)


def bounded_rows(
    rows: Iterable[Any],
    category: str | None,
    centre: tuple[float, float] | None,
    radius: float | None,
    slack: float,
) -> list[Partial]:
    """:func:`bounded` for queries without words (a category, or "everything near me"),
    straight from the index rows: the text part is 1 and there is nothing to gather per
    entry, so no :class:`Candidate` is built (the most common query by far)."""
    distance_to = distances_from(centre) if centre is not None else None
    base_far = W_TEXT * 1.0 + W_DISTANCE * proximity(None)
    seen: set[int] = set()
    partials: list[Partial] = []
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
        partials.append(Partial(base + slack, base, entry_id, distance))
    return partials

