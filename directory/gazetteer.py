"""The commune gazetteer: every French commune (overseas included) in memory.

Loaded once per process from ``directory/data/communes.csv.gz`` (37,590 rows; see
``get_gazetteer``). It turns what a citizen typed into ranked commune candidates and a
shared location into its commune.

Which commune a match leads to
------------------------------
* A delegated or associated commune (``deleguee`` / ``associee``) leads to the current
  commune it now belongs to: "Bellegarde-sur-Valserine" gives Valserhône (01033), with the
  old name kept in ``CommuneMatch.alias``.
* An arrondissement of Paris, Lyon or Marseille resolves **to itself** (75111 for
  "Paris 11e", "paris 11" or the postcode "75011"): the directory files entries under an
  arrondissement when it knows it, and ``Gazetteer.members("75056")`` lists the city and its
  arrondissements for a search over the whole city. "Paris" alone gives the city (75056).
  ``current()`` therefore returns a commune or an arrondissement, never a former commune.
* A well-known place that is not a commune ("Saint-Gilles-les-Bains", "Sainte-Clotilde",
  "Plaine des Cafres"; ``gazetteer_names.LOCALITIES``) leads to its commune the same way.
* A point resolves to the nearest town hall among communes, arrondissements (rather than
  their city) and former communes with their own point (leading to their current commune).

How ``resolve`` reads text and scores (0..100)
----------------------------------------------
Text is cleaned (invisible and control characters dropped, 200 characters at most) and
folded (case, accents, hyphens, apostrophes); "St"/"Ste" become "Saint"/"Sainte"; a
leading "à", "commune de", "near"… is dropped when the whole text is not a name.

100  the name, INSEE code or postcode as typed (article optional when not typed:
     "Port" gives both Port (01) and Le Port (974));
 99  the name with a qualifier it satisfies, after or before it ("Saint-Louis 974",
     "Saint-Louis (68)", "saint louis reunion", "97460 Saint-Paul", "paris 75011");
 98  the same letters with other spacing ("Entredeux", "leport");
 96  a different article than typed ("La Port");
 95  at most for a typo (rapidfuzz ratio of the letters, scaled to 92, plus up to 3 points
     when the commune is near the reference point); typos are only searched when no
     reading matched exactly, so "Saint-Martin" gives the five Saint-Martin and no noise;
 92  an INSEE code that is also some commune's postcode: people type postcodes, so for
     "97410" Saint-Pierre's postcode scores 100 and Saint-Benoît's INSEE code 92;
 -3  when what matched is a former (delegated/associated) commune's name;
-10  when the qualifier fits no commune of that name (those are still offered).
Ties (same-name communes, shared postcodes) are ordered by distance from ``near`` (an
INSEE code or a point), then by population, so a dialog can offer them and ask.
"""

from __future__ import annotations

import itertools
import math
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from directory.gazetteer_fuzzy import FuzzyNames, one_typo_ratio
from directory.gazetteer_geo import GridIndex, haversine_km, valid_point
from directory.gazetteer_index import (
    CURRENT_KINDS,
    DEFAULT_REACH_KM,
    GRID_REACH_KM,
    LEADING_KINDS,
    REACH_KM,
    Index,
    Record,
    build_index,
    load_index,
)
from directory.gazetteer_names import (
    NameKeys,
    Qualifier,
    expand_tokens,
    keys_of_folded,
    keys_of_tokens,
    qualifier_table,
    split_qualifiers,
    strip_fillers,
)
from directory.text import clean, fold

MAX_INPUT_CHARS = 200  # longer text is cut before folding: no commune name is near that
MAX_NAME_CHARS = 120  # folded text longer than this cannot be a name (+ qualifier)
MAX_LIMIT = 50
INSEE_ALSO_POSTCODE = 92.0  # score of an INSEE reading when the code is also a postcode
FORMER_PENALTY = 3.0  # a former commune's name counts a little less than a current one's
FUZZY_CUTOFF = 75.0  # rapidfuzz ratio below which a name is not a typo of the query
FUZZY_CEILING = 92.0
_INSEE = re.compile(r"^(?:\d{5}|2[ab]\d{3})$")
_POSTCODE = re.compile(r"^\d{5}$")


@dataclass(frozen=True, slots=True)
class Commune:
    """One row of the official geographic code (commune, former commune or arrondissement)."""

    insee: str
    name: str
    kind: str  # commune | deleguee | associee | arrondissement | localite
    parent: str | None
    departement: str
    region: str
    zone: str  # metro | drom | com
    postcodes: tuple[str, ...]
    lat: float | None
    lon: float | None
    population: int
    timezone: str  # IANA name

    @property
    def label(self) -> str:
        """``Saint-Paul (974)``: the name plus its département, to tell same names apart."""
        return f"{self.name} ({self.departement})"

    @property
    def is_current(self) -> bool:
        """A commune or arrondissement the directory may file entries under."""
        return self.kind in CURRENT_KINDS

    @property
    def tzinfo(self) -> ZoneInfo:
        """The commune's time zone (La Réunion UTC+4, Nouméa UTC+11) for local hours."""
        return ZoneInfo(self.timezone)

    @property
    def point(self) -> tuple[float, float] | None:
        if self.lat is None or self.lon is None:
            return None
        return (self.lat, self.lon)


@dataclass(frozen=True, slots=True)
class CommuneMatch:
    """A ranked candidate for what a user typed."""

    commune: Commune  # always current (commune or arrondissement)
    score: float  # 0..100, higher is better
    matched: str  # "insee" | "postcode" | "name" | "fuzzy"
    distance_km: float | None = None  # from the reference point, when one was given
    alias: str | None = None  # the name that matched, when not the commune's own
    alias_kind: str | None = None  # what that name is: deleguee | associee | localite


@dataclass(slots=True)
class _Hit:
    """A raw match on one row, before it is mapped to its current commune and ranked."""

    row: Commune
    score: float
    matched: str


class Gazetteer:
    """Every commune row, indexed by INSEE code, postcode, name keys and point.

    Rows are kept as tuples and turned into ``Commune`` objects only when a lookup
    returns them, which keeps start-up cheap.
    """

    def __init__(self, index: Index) -> None:
        self._records: list[Record] = index["records"]
        self._objects: list[Commune | None] = [None] * len(self._records)
        self._by_insee: dict[str, int] = index["by_insee"]
        self._current_ids: list[int] = index["current"]
        self._members: dict[str, list[str]] = index["members"]
        self._by_postcode: dict[str, tuple[str, ...]] = index["by_postcode"]
        self._by_full: dict[str, tuple[int, ...]] = index["full"]
        self._by_bare: dict[str, tuple[int, ...]] = index["bare"]
        self._by_compact: dict[str, tuple[int, ...]] = index["compact"]
        self._spelled: dict[str, tuple[int, ...]] = index["spelled"]
        self._name_compact: list[str] = index["name_compact"]
        self._fuzzy = FuzzyNames.from_state(index["fuzzy"])
        self._grid: GridIndex[str] = GridIndex.from_cells(index["cells"], index["cell"])
        self._wide_points: list[tuple[float, float, str]] = index["wide_points"]
        deps_of_region: dict[str, set[str]] = {}
        for i in self._current_ids:
            record = self._records[i]
            deps_of_region.setdefault(record[5], set()).add(record[4])
        self._qualifiers = qualifier_table(deps_of_region)

    # -- loading ---------------------------------------------------------------------------

    @classmethod
    def load(cls, *, use_cache: bool = True) -> Gazetteer:
        """The packaged ``communes.csv.gz``, via the on-disk cache of its tables.

        About 0.2 s of CPU from the cache, about 1 s to build it; see ``gazetteer_index``.
        Prefer ``get_gazetteer()``, which loads once per process.
        """
        return cls(load_index(use_cache=use_cache))

    @classmethod
    def from_communes(cls, communes: Iterable[Commune]) -> Gazetteer:
        """A gazetteer over given rows (tests, or a custom extract)."""
        records: list[Record] = [
            (
                c.insee,
                c.name,
                c.kind,
                c.parent,
                c.departement,
                c.region,
                c.zone,
                tuple(c.postcodes),
                c.lat,
                c.lon,
                c.population,
                c.timezone,
            )
            for c in communes
        ]
        return cls(build_index(records))

    def _row(self, i: int) -> Commune:
        commune = self._objects[i]
        if commune is None:
            commune = self._objects[i] = Commune(*self._records[i])
        return commune

    # -- lookups ---------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Commune]:
        """Current communes (kind ``commune``; arrondissements are in ``arrondissements``)."""
        return (self._row(i) for i in self._current_ids)

    def __len__(self) -> int:
        return len(self._current_ids)

    def arrondissements(self) -> Iterator[Commune]:
        return (
            self._row(i) for i, rec in enumerate(self._records) if rec[2] == "arrondissement"
        )

    def place_rows(self) -> Iterator[tuple[str, str, str, str, str, str, int]]:
        """``(compact name key, insee, name, kind, departement, zone, population)`` of the
        current communes, then the arrondissements, in the order of ``[*self,
        *self.arrondissements()]``, without building 35k ``Commune`` objects (4 MB and a
        tenth of a second at every start, issue 15). The key is
        ``keys_of_folded(fold_name(name)).compact``, computed when the index was built."""
        records, keys = self._records, self._name_compact
        arrondissements = (i for i, rec in enumerate(records) if rec[2] == "arrondissement")
        for i in itertools.chain(self._current_ids, arrondissements):
            rec = records[i]
            yield keys[i], rec[0], rec[1], rec[2], rec[4], rec[6], rec[10]

    def qualifier(self, folded_phrase: str) -> frozenset[str]:
        """The départements a folded place qualifier names ("martinique", "hauts de seine",
        "reunion island", "paca", "974"), or an empty set."""
        keys = keys_of_folded(folded_phrase)
        return self._qualifiers.get(keys.full) or self._qualifiers.get(keys.bare) or frozenset()

    def get(self, insee: str) -> Commune | None:
        """Any row by INSEE code (case-insensitive for Corsica), or None."""
        if not isinstance(insee, str):
            return None
        i = self._by_insee.get(insee.strip().upper())
        return None if i is None else self._row(i)

    def current(self, insee: str) -> Commune | None:
        """The commune or arrondissement an INSEE code stands for today."""
        row = self.get(insee)
        return None if row is None else self._lead(row)

    def _lead(self, row: Commune) -> Commune | None:
        if row.kind in LEADING_KINDS:
            return self.get(row.parent) if row.parent else None
        return row

    def municipality(self, insee: str) -> Commune | None:
        """The commune itself: the city for an arrondissement, else like ``current``."""
        row = self.current(insee)
        if row is not None and row.kind == "arrondissement" and row.parent:
            return self.get(row.parent)
        return row

    def members(self, insee: str) -> tuple[str, ...]:
        """INSEE codes under which a commune's entries may be filed (itself + arrondissements)."""
        row = self.current(insee)
        if row is None:
            return ()
        return tuple(self._members.get(row.insee, [row.insee]))

    def by_postcode(self, postcode: str) -> list[Commune]:
        """Current communes (or arrondissements) served by a postcode."""
        if not isinstance(postcode, str):
            return []
        return [self._row(self._by_insee[c]) for c in self._by_postcode.get(postcode.strip(), ())]

    def exact(self, folded_phrase: str, *, include_former: bool = True) -> list[Commune]:
        """Current communes whose name, folded, equals the phrase; most populated first.

        Accepted variants: with or without the article (an article the phrase carries must
        match), ``st``/``ste`` expanded, any spacing, an arrondissement's short forms.
        Former communes and well-known localities lead to their commune unless
        ``include_former`` is false.
        """
        if not isinstance(folded_phrase, str):
            return []
        folded = fold(folded_phrase[:MAX_INPUT_CHARS])
        if not folded or len(folded) > MAX_NAME_CHARS:
            return []
        found: dict[str, tuple[int, Commune]] = {}
        for hit in self._exact_hits(keys_of_folded(folded)):
            if hit.score < 98:  # a different article than the phrase's
                continue
            if not hit.row.is_current and not include_former:
                continue
            target = self._lead(hit.row)
            if target is None:
                continue
            rank = 0 if hit.row.is_current else 1
            if target.insee not in found or rank < found[target.insee][0]:
                found[target.insee] = (rank, target)
        ordered = sorted(found.values(), key=lambda rc: (rc[0], -rc[1].population, rc[1].insee))
        return [commune for _, commune in ordered]

    def distance_km(self, a: Commune, b: Commune) -> float | None:
        if a.point is None or b.point is None:
            return None
        return haversine_km(a.point[0], a.point[1], b.point[0], b.point[1])

    def nearest(self, lat: float, lon: float) -> Commune | None:
        """The commune of a point: nearest town hall, within that commune's reach.

        No polygons ship with the data, so a point near a border may land in the
        neighbour, and a point in the sea near a coast lands in the coastal commune.
        """
        if not valid_point(lat, lon):
            return None
        lat, lon = float(lat), float(lon)
        found = self._grid.nearest(lat, lon, GRID_REACH_KM)
        if found is not None:
            commune = self._row(self._by_insee[found[0]])
            if found[1] <= REACH_KM.get(commune.departement, DEFAULT_REACH_KM):
                return commune
        # Far from every town hall: only the vast overseas communes can still hold it.
        best: tuple[float, Commune] | None = None
        for plat, plon, insee in self._wide_points:
            distance = haversine_km(lat, lon, plat, plon)
            commune = self._row(self._by_insee[insee])
            reach = REACH_KM.get(commune.departement, DEFAULT_REACH_KM)
            if distance <= reach and (best is None or distance < best[0]):
                best = (distance, commune)
        return best[1] if best is not None else None

    # -- resolution ------------------------------------------------------------------------

    def resolve(
        self,
        text: str,
        *,
        near: str | tuple[float, float] | None = None,
        limit: int = 5,
    ) -> list[CommuneMatch]:
        """Ranked commune candidates for free text (see the module docstring for scores)."""
        if not isinstance(text, str) or not isinstance(limit, int) or limit <= 0:
            return []
        limit = min(limit, MAX_LIMIT)
        folded = fold(clean(text, max_length=MAX_INPUT_CHARS))
        if not folded or len(folded) > MAX_NAME_CHARS:
            return []
        origin = self._origin(near)
        hits: list[_Hit] = []
        compact = folded.replace(" ", "")
        if _POSTCODE.match(compact):
            hits += [_Hit(c, 100.0, "postcode") for c in self.by_postcode(compact)]
        if _INSEE.match(compact):
            row = self.get(compact)
            if row is not None:
                # 3,203 codes are both; people type postcodes ("97410" is Saint-Pierre's),
                # so the INSEE reading (Saint-Benoît) comes second, still offered.
                hits.append(_Hit(row, INSEE_ALSO_POSTCODE if hits else 100.0, "insee"))
        if not hits:
            hits = self._name_hits(folded, limit, origin)
        return self._rank(hits, origin, limit)

    def _origin(self, near: str | tuple[float, float] | None) -> tuple[float, float] | None:
        if isinstance(near, str):
            commune = self.current(near)
            return commune.point if commune is not None else None
        # A list is accepted too: a point that went through JSON (dialog state) comes back so.
        if isinstance(near, tuple | list) and len(near) == 2 and valid_point(near[0], near[1]):
            return (float(near[0]), float(near[1]))
        return None

    def _name_hits(
        self, folded: str, limit: int, origin: tuple[float, float] | None
    ) -> list[_Hit]:
        """Exact readings first (whole text, then name + qualifier); typos only if none.

        A typo search of the name part of "name + qualifier" readings runs only when the
        whole text has no close typo match: names often end like a département
        ("…-sur-Loire"), and each extra search costs as much as the first.
        """
        tokens = expand_tokens(folded)
        keys = keys_of_tokens(tokens)
        hits = self._exact_hits(keys)
        if not hits and (stripped := strip_fillers(tokens)) != tokens:
            tokens, keys = stripped, keys_of_tokens(stripped)  # "à Saint-Paul"
            hits = self._exact_hits(keys)
        readings = [
            (keys_of_tokens(name_tokens), qualifier)
            for name_tokens, qualifier in split_qualifiers(tokens, self._qualifiers)
        ]
        fallback: list[_Hit] = []
        for name_keys, qualifier in readings:
            candidates = self._exact_hits(name_keys)
            kept = self._qualified(candidates, qualifier)
            hits += kept
            if not kept:
                fallback += [_Hit(h.row, h.score - 10, h.matched) for h in candidates]
        if any(hit.score >= 96 for hit in hits):
            return hits
        typed = keys.full.replace(" ", "")  # as typed, article included: "lalmeauffe"
        typos = self._fuzzy_hits(typed, limit, origin)
        hits += typos
        close = FUZZY_CEILING * one_typo_ratio(max(len(typed), 1)) / 100
        if not any(hit.score >= close for hit in typos):
            for name_keys, qualifier in readings:
                candidates = self._fuzzy_hits(name_keys.full.replace(" ", ""), limit, origin)
                hits += self._qualified(candidates, qualifier)
        if not any(hit.score >= 96 for hit in hits):
            hits += fallback
        return hits

    def _qualified(self, candidates: list[_Hit], qualifier: Qualifier) -> list[_Hit]:
        """The candidates the qualifier accepts, scored as a qualified match (at most 99)."""
        return [
            _Hit(self._refine(hit.row, qualifier), min(hit.score, 99.0), hit.matched)
            for hit in candidates
            if self._satisfies(hit.row, qualifier)
        ]

    def _satisfies(self, row: Commune, qualifier: Qualifier) -> bool:
        target = self._lead(row)
        if target is None:
            return False
        if qualifier.postcode is not None:
            codes = {*row.postcodes, *target.postcodes}
            return qualifier.postcode in codes
        return target.departement in qualifier.departements

    def _refine(self, row: Commune, qualifier: Qualifier) -> Commune:
        """"Paris 75011": the arrondissement of that postcode rather than the city."""
        if qualifier.postcode is not None and row.insee in self._members:
            for commune in self.by_postcode(qualifier.postcode):
                if commune.parent == row.insee:
                    return commune
        return row

    def _exact_hits(self, keys: NameKeys) -> list[_Hit]:
        scores: dict[int, float] = {}
        for i in self._by_full.get(keys.full, ()):
            scores[i] = 100.0
        for i in self._by_bare.get(keys.bare, ()):
            # Typed without an article: any article is fine. Typed with one: it differs.
            scores.setdefault(i, 96.0 if keys.has_article else 100.0)
        for i in self._by_compact.get(keys.compact, ()):
            scores.setdefault(i, 98.0)  # only when the spaced forms did not already match
        return [_Hit(self._row(i), score, "name") for i, score in scores.items()]

    def _fuzzy_hits(
        self, compact: str, limit: int, origin: tuple[float, float] | None
    ) -> list[_Hit]:
        if len(compact) < 3:
            return []
        hits: list[_Hit] = []
        for key, ratio in self._fuzzy.search(compact, FUZZY_CUTOFF, max(limit * 3, 10)):
            for i in self._spelled[key]:
                row = self._row(i)
                if ratio >= 100:  # same letters, other spacing: "leport", "saintpaul"
                    hits.append(_Hit(row, 98.0, "name"))
                else:
                    score = FUZZY_CEILING * ratio / 100 + _proximity_bonus(row, origin)
                    hits.append(_Hit(row, score, "fuzzy"))
        return hits

    def _rank(
        self, hits: list[_Hit], origin: tuple[float, float] | None, limit: int
    ) -> list[CommuneMatch]:
        best: dict[str, CommuneMatch] = {}
        for hit in hits:
            target = self._lead(hit.row)
            if target is None:
                continue
            raw = hit.score - (0.0 if hit.row.is_current else FORMER_PENALTY)
            score = round(max(0.0, min(100.0, raw)), 1)
            known = best.get(target.insee)
            if known is not None and known.score >= score:
                continue
            distance = None
            if origin is not None and target.point is not None:
                distance = round(haversine_km(*origin, *target.point), 3)
            alias = hit.row.name if hit.row.name != target.name else None
            alias_kind = hit.row.kind if alias and not hit.row.is_current else None
            best[target.insee] = CommuneMatch(
                target, score, hit.matched, distance, alias, alias_kind
            )
        ordered = sorted(
            best.values(),
            key=lambda m: (
                -m.score,
                m.distance_km if m.distance_km is not None else math.inf,
                -m.commune.population,
                m.commune.insee,
            ),
        )
        return ordered[:limit]


def _proximity_bonus(row: Commune, origin: tuple[float, float] | None) -> float:
    """Up to 3 points for a typo match near the user: people mostly mean places nearby."""
    if origin is None or row.point is None:
        return 0.0
    distance = haversine_km(origin[0], origin[1], row.point[0], row.point[1])
    if distance <= 30:
        return 3.0
    if distance <= 100:
        return 2.0
    if distance <= 300:
        return 1.0
    return 0.0


_lock = threading.Lock()
_instance: Gazetteer | None = None


def get_gazetteer() -> Gazetteer:
    """The process-wide gazetteer, loaded on first use (thread-safe)."""
    global _instance
    if _instance is None:
        with _lock:
            if _instance is None:
                _instance = Gazetteer.load()
    return _instance


__all__ = [
    "Commune",
    "CommuneMatch",
    "Gazetteer",
    "get_gazetteer",
]
