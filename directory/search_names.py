"""Candidates of a name-only search (no place): the whole of France, so reading every row
of every query term is not an option when a word is shared by tens of thousands of names
("garage", "saint", "dupont").

First one statement counts each query term's index rows, capped at
:data:`SELECTIVE_CAP` + 1: a word whose terms hold at most :data:`SELECTIVE_CAP` rows is
*selective* and its rows are the candidates (one read for all selective words); a word
over it is *common* and is only looked up for those candidates. So "Garage Rimape Fapeko"
reads the few hundred names with "rimape" or "fapeko" and then asks which of them also say
"garage", instead of ranking every garage in France. When every word is common ("Garage
Dupont"), the rarest word drives a join that keeps the names also holding the second
rarest. The reads themselves are in :mod:`directory.search_names_reads`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from directory.search_candidates import CANDIDATE_CAP, Candidate
from directory.search_index import CATEGORY_PREFIX
from directory.search_names_reads import held_terms, joined_rows, term_counts, term_rows

#: a word whose terms hold more index rows than this is looked up, not scanned
SELECTIVE_CAP = 2_000
#: a common word keeps only its best expansions (a typo's neighbours may include a very
#: common word)
COMMON_KEEP = 3
#: when every word is common, terms are counted up to this to find the rarest word (past
#: it, any is a costly driver; counting to 50,000 took 10 ms at 1M)
RANK_CAP = 10_000
#: keep the candidates one word short of the best while the best are fewer than this
KEEP_MIN = 64
#: when every word is common, at most this many entries are scored: they tie on text,
#: and past a full page only ``search.NAME_READS`` of them are read for their
#: recommendations anyway (5,000 cost 15 ms of Python per query at 1M for no better page)
COMMON_CAP = 2_000


def _best_terms(terms: dict[str, float], keep: int) -> list[str]:
    return [t for t, _ in sorted(terms.items(), key=lambda kv: (-kv[1], kv[0]))[:keep]]


def split_words(
    expansions: Sequence[dict[str, float]], counts: dict[str, int]
) -> tuple[list[str], list[list[str]]]:
    """(terms to read, terms of each common word): a word is read when its terms hold at
    most :data:`SELECTIVE_CAP` rows, or else its :data:`COMMON_KEEP` best terms do; terms
    without rows are left out."""
    selective: dict[str, None] = {}
    common: list[list[str]] = []
    for terms in expansions:
        kept = list(terms)
        if sum(counts.get(t, 0) for t in kept) > SELECTIVE_CAP:
            kept = _best_terms(terms, COMMON_KEEP)
        present = [t for t in kept if counts.get(t, 0)]
        if sum(counts[t] for t in present) <= SELECTIVE_CAP:
            selective.update(dict.fromkeys(present))
        else:
            common.append(present)
    return list(selective), common


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
    extra = set(extra_terms)
    counts = term_counts(session, sorted(term_words), SELECTIVE_CAP + 1)
    selective, common = split_words(expansions, counts)
    gathered: Sequence[Any] = ()
    read: set[str] = set(selective)
    if selective:
        gathered = term_rows(session, selective, CANDIDATE_CAP)
    elif common:
        # every word common: the rarest (counted further) drives
        totals = term_counts(session, sorted({t for ts in common for t in ts}), RANK_CAP)
        ranked = sorted(common, key=lambda ts: sum(totals[t] for t in ts))
        read = set(ranked[0])
        if len(ranked) == 1:
            gathered = term_rows(session, ranked[0], COMMON_CAP)
        else:
            gathered = joined_rows(session, ranked[0], ranked[1], COMMON_CAP)
    candidates: dict[int, Candidate] = {}
    _learn(candidates, gathered, term_words, word_count)
    candidates = best_matched(candidates)
    looked = sorted(({t for ts in common for t in ts} - read) | extra)
    if candidates and looked:
        rows = held_terms(session, sorted(candidates), looked)
        _learn(candidates, rows, term_words, word_count)
    return candidates


def best_matched(candidates: dict[int, Candidate]) -> dict[int, Candidate]:
    """The candidates matching the most query words, and those matching one fewer when the
    best are fewer than :data:`KEEP_MIN`: an entry matching one word of three cannot reach
    the first page while dozens match them all, and it would cost a look-up each."""
    if len(candidates) <= KEEP_MIN:
        return candidates
    counts = {i: len(c.word_sims) - c.word_sims.count(0.0) for i, c in candidates.items()}
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
