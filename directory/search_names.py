"""Candidates of a name-only search (no place): the whole of France, so reading every row
of every query term is not an option when a word is shared by tens of thousands of names
("garage", "saint", "dupont").

Each query word's terms are read with a cap (:data:`SELECTIVE_CAP` rows): a word under
the cap is *selective* and its rows are the candidates; a word over it is *common* and is
only looked up for those candidates, by primary key ``(entry_id, term)``. So "Garage
Rimape Fapeko" reads the few hundred names with "rimape" or "fapeko" and then asks which
of them also say "garage", instead of ranking every garage in France. When every word is
common ("Garage Dupont"), the rarest word (counted, capped) drives a join that keeps the
names also holding the second rarest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from directory.search_candidates import CANDIDATE_CAP, Candidate, _core
from directory.search_index import CATEGORY_PREFIX

#: a word whose terms hold more index rows than this is looked up, not scanned
SELECTIVE_CAP = 2_000
#: a common word keeps only its best expansions when re-read (a typo's neighbours may
#: include a very common word)
COMMON_KEEP = 3
LOOKUP_CHUNK = 500
#: keep the candidates one word short of the best while the best are fewer than this
KEEP_MIN = 64
#: when every word is common, at most this many entries are scored (they tie on text:
#: only recommendations and order still tell them apart)
COMMON_CAP = 5_000


def _marks(session: Session, count: int) -> str:
    mark = "?" if session.connection().dialect.paramstyle == "qmark" else "%s"
    return ",".join([mark] * count)


def _rows(session: Session, sql: str, values: Sequence[object]) -> Sequence[Any]:
    return _core(session).exec_driver_sql(sql, tuple(values)).fetchall()


def _word_rows(session: Session, terms: Sequence[str]) -> Sequence[Any]:
    """(entry_id, term) of ``terms``, at most SELECTIVE_CAP + 1 rows (no point: a search
    without a place has no distance to compute)."""
    sql = (
        "SELECT entry_id, term FROM entry_terms WHERE term IN ("
        + _marks(session, len(terms)) + f") LIMIT {SELECTIVE_CAP + 1}"
    )
    return _rows(session, sql, terms)


def _count(session: Session, terms: Sequence[str], cap: int) -> int:
    """Index rows of ``terms``, counted up to ``cap`` (an index-only range count)."""
    sql = (
        "SELECT count(*) FROM (SELECT 1 FROM entry_terms WHERE term IN ("
        + _marks(session, len(terms)) + f") LIMIT {cap}) AS t"
    )
    return int(_rows(session, sql, terms)[0][0])


def _joined(session: Session, driver: Sequence[str], other: Sequence[str]) -> Sequence[Any]:
    """(entry_id, term) of ``driver`` terms whose entry also has an ``other`` term."""
    sql = (
        "SELECT a.entry_id, a.term FROM entry_terms a WHERE a.term IN ("
        + _marks(session, len(driver)) + ") AND EXISTS (SELECT 1 FROM entry_terms b "
        "WHERE b.entry_id = a.entry_id AND b.term IN (" + _marks(session, len(other))
        + f")) LIMIT {COMMON_CAP}"
    )
    return _rows(session, sql, [*driver, *other])


def _lookup(session: Session, ids: Sequence[int], terms: Sequence[str]) -> Iterable[Any]:
    """(entry_id, term) of ``terms`` held by the entries ``ids`` (primary key lookups)."""
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[start : start + LOOKUP_CHUNK]
        sql = (
            "SELECT entry_id, term FROM entry_terms WHERE entry_id IN ("
            + _marks(session, len(chunk)) + ") AND term IN (" + _marks(session, len(terms)) + ")"
        )
        yield from _rows(session, sql, [*chunk, *terms])


def _best_terms(terms: dict[str, float], keep: int) -> list[str]:
    return [t for t, _ in sorted(terms.items(), key=lambda kv: (-kv[1], kv[0]))[:keep]]


def name_candidates(
    session: Session,
    expansions: Sequence[dict[str, float]],
    term_words: dict[str, list[tuple[int, float]]],
    extra_terms: Iterable[str],
) -> dict[int, Candidate]:
    """Entries worth scoring for a query without a place, with what their terms say.

    ``expansions``: each query word's index terms and similarity; ``term_words``: term ->
    (word index, similarity); ``extra_terms``: category terms to learn of each candidate
    (the categories the text names, an explicit category)."""
    word_count = len(expansions)
    gathered: list[Any] = []
    common: list[list[str]] = []
    for terms in expansions:
        rows = _word_rows(session, list(terms))
        if len(rows) <= SELECTIVE_CAP:
            gathered.extend(rows)
            continue
        best = _best_terms(terms, COMMON_KEEP)
        rows = _word_rows(session, best) if len(best) < len(terms) else rows
        if len(rows) <= SELECTIVE_CAP:
            gathered.extend(rows)
        else:
            common.append(best)
    if not gathered and common:
        ranked = sorted(common, key=lambda ts: _count(session, ts, CANDIDATE_CAP))
        if len(ranked) == 1:
            gathered.extend(_rows(
                session,
                "SELECT entry_id, term FROM entry_terms WHERE term IN ("
                + _marks(session, len(ranked[0])) + f") LIMIT {COMMON_CAP}",
                ranked[0],
            ))
        else:
            gathered.extend(_joined(session, ranked[0], ranked[1]))
    candidates: dict[int, Candidate] = {}
    _learn(candidates, gathered, term_words, word_count)
    candidates = best_matched(candidates)
    looked = sorted({t for ts in common for t in ts} | set(extra_terms))
    if candidates and looked:
        _learn(candidates, _lookup(session, sorted(candidates), looked), term_words, word_count)
    return candidates


def best_matched(candidates: dict[int, Candidate]) -> dict[int, Candidate]:
    """The candidates matching the most query words, and those matching one fewer when the
    best are fewer than :data:`KEEP_MIN`: an entry matching one word of three cannot reach
    the first page while dozens match them all, and it would cost a look-up each."""
    if len(candidates) <= KEEP_MIN:
        return candidates
    counts = {i: sum(1 for s in c.word_sims if s > 0.0) for i, c in candidates.items()}
    top = max(counts.values())
    floor = top if sum(1 for n in counts.values() if n == top) >= KEEP_MIN else top - 1
    floor = max(floor, min(2, top))  # one word of several: never worth a look-up
    return {i: c for i, c in candidates.items() if counts[i] >= floor}


def _learn(
    candidates: dict[int, Candidate],
    rows: Iterable[Any],
    term_words: dict[str, list[tuple[int, float]]],
    word_count: int,
) -> None:
    """What each (entry_id, term) row tells of its entry (a category, query words matched);
    one tight loop: thousands of rows per query."""
    get = candidates.get
    skip = len(CATEGORY_PREFIX)
    for entry_id, term in rows:
        cand = get(entry_id)
        if cand is None:
            cand = candidates[entry_id] = Candidate(entry_id, None, None, [0.0] * word_count)
        if term[0] == "@":
            if term.startswith(CATEGORY_PREFIX):
                cand.categories.add(term[skip:])
            continue
        sims = cand.word_sims
        for index, sim in term_words.get(term, ()):
            if sim > sims[index]:
                sims[index] = sim
