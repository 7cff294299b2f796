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

This module runs those steps; the query types and cursor are in ``search_query``, the SQL
reads in ``search_candidates``, the (pure) scoring in ``search_rank``.
"""

from __future__ import annotations

import heapq

from sqlalchemy.orm import Session

from directory.gazetteer import get_gazetteer
from directory.gc_pause import gc_paused
from directory.models import EntryKind
from directory.search_candidates import expand_words, gather_candidates, hit_rows, term_rows
from directory.search_index import category_term, kind_term, name_terms, word_sequence
from directory.search_names import name_candidates
from directory.search_query import (
    DEFAULT_RADIUS_KM,
    InvalidQuery,
    SearchHit,
    SearchPage,
    SearchQuery,
    decode_cursor,
    encode_cursor,
    validate_query,
)
from directory.search_rank import (
    W_COMMUNE,
    W_DISTANCE,
    W_ORDER,
    W_RECO,
    W_TEXT,
    Partial,
    bounded,
    bounded_rows,
    categories_in_text,
    haversine_km,
    name_order,
    proximity,
    reco_weight,
)

#: a name-only search reads at most this many candidates once its page is full
NAME_READS = 256

#: what other modules import from here (the query types live in ``search_query``)
__all__ = [
    "DEFAULT_RADIUS_KM",
    "InvalidQuery",
    "SearchHit",
    "SearchPage",
    "SearchQuery",
    "haversine_km",
    "search",
]


def _commune_place(insee: str) -> tuple[tuple[float, float] | None, frozenset[str]]:
    """Centre of a commune and the INSEE codes filed under it (itself, its arrondissements)."""
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
    * name order (``+0.02`` at most): half when the query's words appear in the name in the
      same order, all when they are the name's words exactly, so the exact name comes
      before a namesake with the same words reordered.

    With no place, candidates come from :mod:`directory.search_names` (common words such
    as a category word in a name are looked up for the rare words' entries, not scanned).

    Ties break on the entry id, so the order is total and the cursor (score and id of the
    last hit, bound to the query) pages without duplicates or gaps.

    The cyclic garbage collector is paused meanwhile (:mod:`directory.gc_pause`): the
    candidates make no cycles, and the full collections they triggered were most of p95.
    """
    with gc_paused():
        return _search(session, query)


def _search(session: Session, query: SearchQuery) -> SearchPage:
    """:func:`search` itself."""
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
    sequence = word_sequence(query.text)[:16] if words else []  # for the name-order rule
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
    slack = W_RECO + (W_COMMUNE if members else 0.0) + (W_ORDER if words else 0.0)
    rings: list[float | None] = [radius]
    if centre is not None and radius is not None and not words and not query.category:
        rings = [*(r for r in (radius / 16, radius / 4) if r >= 0.5), radius]
    page = SearchPage([], None)
    for ring in rings:
        if words and centre is None:
            # no place: all of France; common words are looked up, not scanned
            extra = {category_term(slug) for slug in named}
            if query.category:
                extra.add(category_term(query.category))
            candidates = name_candidates(session, expansions, term_words, extra)
            scored = list(
                bounded(candidates.values(), words, named, query.category, centre, ring, slack)
            )
        elif words:
            candidates = gather_candidates(session, wanted, term_words, len(words), centre, ring)
            scored = list(
                bounded(candidates.values(), words, named, query.category, centre, ring, slack)
            )
        else:
            rows = term_rows(session, wanted, centre, ring)
            scored = bounded_rows(rows, query.category, centre, ring, slack)
        # with no place, thousands of names may tie on text (every "Concert Nika …"):
        # past a full page, read at most NAME_READS more of them for their recommendations
        reads = NAME_READS if words and centre is None else None
        page, worst = _best_page(session, query, scored, after, members, sequence, reads)
        outside_best = W_TEXT + W_DISTANCE * proximity(ring) + slack
        if ring is not None and worst is not None and worst > outside_best:
            break
    return page


def _best_page(
    session: Session,
    query: SearchQuery,
    partials: list[Partial],
    after: tuple[float, int] | None,
    members: frozenset[str],
    words: list[str],
    max_reads: int | None = None,
) -> tuple[SearchPage, float | None]:
    """Branch and bound: read entries in order of their upper bound until the page's worst
    exact score beats every remaining bound; sort by (-score, id). Also returns the score
    of the last of the ``limit + 1`` best (None when fewer were found)."""
    partials.sort(key=lambda p: (-p.upper, p.entry_id))
    want = query.limit + 1
    best: list[tuple[float, int, SearchHit]] = []  # heap of (score, -id) -> worst first
    chunk = max(64, want * 4)
    kinds = set(query.kinds)
    start = 0
    while start < len(partials):
        if len(best) >= want and best[0][0] > partials[start].upper:
            break
        if max_reads is not None and len(best) >= want and start >= max_reads:
            break
        part = partials[start : start + chunk]
        start += len(part)
        chunk = min(chunk * 2, 1000)  # bounds that do not prune: fewer, bigger reads
        if max_reads is not None and start < max_reads:
            # the rest of the cap in one read: doubling went 64 + 128 + 256 = 448 reads
            # (and three round trips) for a cap of 256
            chunk = max_reads - start
        by_id = {p.entry_id: p for p in part}
        ids = list(by_id)
        rows = hit_rows(session, ids)
        for entry_id, name, category, kind, commune, recos, lat, lon, address in rows:
            if kinds and kind not in kinds:
                continue
            partial = by_id[entry_id]
            same = 1.0 if commune in members else 0.0
            order = W_ORDER * name_order(words, name) if words else 0.0
            score = round(
                partial.base + W_RECO * reco_weight(recos) + W_COMMUNE * same + order, 9
            )
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
