"""SQL candidate narrowing for directory search: which entries are worth scoring.

Every query is turned into a handful of *terms* of the search index
(:mod:`directory.search_index`): the query words with their typo / prefix expansions found
in ``search_vocab``, category terms, or kind terms. One SQL statement reads
``entry_terms`` for those terms inside the bounding box of the radius (index
``(term, lat, lon, entry_id)``), and the best candidates' entries are read by id.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import Connection, Executable, bindparam, select
from sqlalchemy.orm import Session

from directory.driver import positional_placeholder
from directory.models import Entry, EntryStatus, EntryTerm, SearchVocab
from directory.search_index import CATEGORY_PREFIX

#: at most this many index rows are scored for one query (a safety net for nationwide text)
CANDIDATE_CAP = 50_000
FUZZY_CUTOFF = 80.0


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
_HITS_ARRAY_SQL = (
    "SELECT entries.id, entries.name, entries.category, entries.kind, entries.commune_insee, "
    "entries.recommendation_count, entries.lat, entries.lon, entries.address "
    "FROM entries WHERE entries.id = ANY(%s::int[]) AND entries.status = %s"
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
class Candidate:
    """One entry found in the index, with what its terms tell before the entry is read."""

    entry_id: int
    lat: float | None
    lon: float | None
    word_sims: list[float] = field(default_factory=list)
    categories: set[str] = field(default_factory=set)


def gather_candidates(
    session: Session,
    wanted: set[str],
    term_words: dict[str, list[tuple[int, float]]],
    word_count: int,
    centre: tuple[float, float] | None,
    radius: float | None,
) -> dict[int, Candidate]:
    """One indexed read of ``entry_terms``, gathered per entry."""
    candidates: dict[int, Candidate] = {}
    for entry_id, term, lat, lon in term_rows(session, wanted, centre, radius):
        cand = candidates.get(entry_id)
        if cand is None:
            cand = candidates[entry_id] = Candidate(entry_id, lat, lon, [0.0] * word_count)
        if term.startswith(CATEGORY_PREFIX):
            cand.categories.add(term[len(CATEGORY_PREFIX) :])
        for index, sim in term_words.get(term, ()):
            if sim > cand.word_sims[index]:
                cand.word_sims[index] = sim
    return candidates


def term_rows(
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


def hit_rows(session: Session, ids: Sequence[int]) -> Sequence[Any]:
    """(id, name, category, kind, commune, recommendations, lat, lon, address) of the
    active entries among ``ids``."""
    dialect = session.connection().dialect
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        # one array parameter: psycopg parsed a statement of hundreds of placeholders anew
        # for every chunk (4 ms of a name-only query reading 256 candidates)
        literal = "{" + ",".join(map(str, ids)) + "}"  # see search_names_reads.int_array
        return _read(session, _HITS, {}, _HITS_ARRAY_SQL, (literal, EntryStatus.ACTIVE.value))
    mark = positional_placeholder(dialect)
    return _read(
        session, _HITS, {"ids": list(ids)},
        _HITS_SQL.format(",".join([mark] * len(ids)), mark) if mark else None,
        (*ids, EntryStatus.ACTIVE.value),
    )
