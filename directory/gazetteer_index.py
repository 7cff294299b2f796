"""Building (and caching) the gazetteer's lookup tables from ``communes.csv.gz``.

Folding and indexing 37,590 names costs about a second of pure Python on a small machine,
too slow for a CLI that starts per command. The tables are therefore plain lists, tuples
and dicts of strings and numbers, written once with ``marshal`` to the user's cache
directory under a name that includes the SHA-256 of the packaged data and of the code
tables that shape the index (localities, abbreviations…), and the Python version. Later
starts read them back in about 0.2 s of CPU. A missing, stale, corrupt or unwritable
cache only means building again. Set ``COMMUNEBOT_CACHE_DIR`` to choose the folder, or
to an empty string to disable the cache.
"""

from __future__ import annotations

import contextlib
import csv
import gc
import gzip
import hashlib
import io
import marshal
import os
import sys
import tempfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from directory.gazetteer_fuzzy import END_SIZES, FuzzyNames
from directory.gazetteer_geo import GridIndex
from directory.gazetteer_names import (
    ABBREVIATIONS,
    ARTICLES,
    LOCALITIES,
    arrondissement_aliases,
    keys_of_folded,
    name_variants,
)
from directory.shared_values import share_values

FORMAT_VERSION = 7  # 6: equal values shared (``shared_values``); 7: ``name_compact``
COLUMNS = [
    "insee", "name", "kind", "parent", "departement", "region", "zone",
    "postcodes", "lat", "lon", "population", "timezone",
]  # fmt: skip
CURRENT_KINDS = frozenset({"commune", "arrondissement"})
FORMER_KINDS = frozenset({"deleguee", "associee"})
LOCALITY_KIND = "localite"  # a named place inside a commune (``LOCALITIES``), not a row
LEADING_KINDS = FORMER_KINDS | {LOCALITY_KIND}  # kinds that lead to their ``parent``
GRID_CELL_DEGREES = 0.1

# How far from the nearest town hall a point may be and still belong to that commune.
# Mainland communes are small; Guyane, Polynesia and the TAAF are vast and sparse.
DEFAULT_REACH_KM = 30.0
REACH_KM: dict[str, float] = {
    "971": 40.0, "972": 40.0, "974": 40.0, "976": 40.0, "975": 60.0, "977": 40.0,
    "978": 40.0, "986": 60.0, "988": 120.0, "973": 250.0, "987": 250.0, "984": 500.0,
    "989": 60.0,
}  # fmt: skip
# The grid is searched this far; the few communes that reach further are scanned apart.
GRID_REACH_KM = 120.0

# (insee, name, kind, parent, departement, region, zone, postcodes, lat, lon, population,
#  timezone): the field order of ``Commune``.
Record = tuple[
    str, str, str, str | None, str, str, str, tuple[str, ...], float | None, float | None, int, str
]
Index = dict[str, Any]


def packaged_data() -> bytes:
    return resources.files("directory").joinpath("data", "communes.csv.gz").read_bytes()


def parse_records(data: bytes) -> list[Record]:
    """Rows of the gzipped CSV, typed; refuses a file with other columns."""
    with io.TextIOWrapper(gzip.GzipFile(fileobj=io.BytesIO(data)), encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        if header[: len(COLUMNS)] != COLUMNS:
            raise ValueError(f"unexpected communes.csv.gz header: {header}")
        records: list[Record] = []
        for raw in reader:
            if not raw:
                continue
            insee, name, kind, parent, dep, region, zone, postcodes, lat, lon, pop, tz = raw[:12]
            records.append(
                (
                    insee,
                    name,
                    kind,
                    parent or None,
                    dep,
                    region,
                    zone,
                    tuple(postcodes.split("|")) if postcodes else (),
                    float(lat) if lat else None,
                    float(lon) if lon else None,
                    int(pop) if pop else 0,
                    tz,
                )
            )
    return records


def with_localities(records: list[Record]) -> list[Record]:
    """The rows plus one pseudo-row per well-known locality whose commune is present."""
    by_code = {rec[0]: rec for rec in records if rec[2] == "commune"}
    extra: list[Record] = []
    for name, insee in LOCALITIES.items():
        parent = by_code.get(insee)
        if parent is not None:
            dep, region, zone, timezone = parent[4], parent[5], parent[6], parent[11]
            extra.append(
                (insee, name, LOCALITY_KIND, insee, dep, region, zone, (), None, None, 0, timezone)
            )
    return records + extra


def build_index(records: list[Record]) -> Index:
    """Every lookup table the gazetteer needs; only marshal-able values."""
    records = with_localities(records)
    by_insee: dict[str, int] = {}
    for i, rec in enumerate(records):
        # A commune nouvelle and its chef-lieu delegated commune share an INSEE code;
        # the code stands for the current commune.
        known = by_insee.get(rec[0])
        if known is None or (rec[2] in CURRENT_KINDS and records[known][2] not in CURRENT_KINDS):
            by_insee[rec[0]] = i

    def lead(rec: Record) -> Record | None:
        if rec[2] in LEADING_KINDS:
            parent = by_insee.get(rec[3]) if rec[3] else None
            return records[parent] if parent is not None else None
        return rec

    members: dict[str, list[str]] = {}
    for rec in records:
        if rec[2] == "arrondissement" and rec[3]:
            members.setdefault(rec[3], [rec[3]]).append(rec[0])

    return {
        "version": FORMAT_VERSION,
        "records": records,
        "by_insee": by_insee,
        "current": [i for i, rec in enumerate(records) if rec[2] == "commune"],
        "members": members,
        "by_postcode": _postcodes(records, lead, by_insee),
        **_names(records),
        "cells": _cells(records, lead, members),
        "cell": GRID_CELL_DEGREES,
        "wide_points": [
            (rec[8], rec[9], target[0])
            for rec in records
            if REACH_KM.get(rec[4], DEFAULT_REACH_KM) > GRID_REACH_KM
            and rec[8] is not None
            and rec[9] is not None
            and (target := lead(rec)) is not None
        ],
    }


def _postcodes(records: list[Record], lead: Any, by_insee: dict[str, int]) -> dict[str, tuple]:
    by_code: dict[str, list[str]] = {}
    for rec in records:
        target = lead(rec)
        if target is None:
            continue
        for code in rec[7]:
            codes = by_code.setdefault(code, [])
            if target[0] not in codes:
                codes.append(target[0])
    # A Paris postcode names an arrondissement: drop the city that also lists it.
    result: dict[str, tuple] = {}
    for code, codes in by_code.items():
        parents = {records[by_insee[c]][3] for c in codes} - {None}
        result[code] = tuple(c for c in codes if c not in parents)
    return result


def _names(records: list[Record]) -> dict[str, Any]:
    full: dict[str, list[int]] = {}
    bare: dict[str, list[int]] = {}
    compact: dict[str, list[int]] = {}
    spelled: dict[str, list[int]] = {}  # typo search: compact keys with and without article
    own: list[str] = []
    for i, rec in enumerate(records):
        variants = name_variants(rec[1])
        own.append(variants[0].compact)
        if rec[2] == "arrondissement":
            variants += [keys_of_folded(a) for a in arrondissement_aliases(variants[0].full)]
        for keys in variants:
            for table, key in (
                (full, keys.full),
                (bare, keys.bare),
                (compact, keys.compact),
                (spelled, keys.compact),
                (spelled, keys.full.replace(" ", "")),
            ):
                bucket = table.setdefault(key, [])
                if not bucket or bucket[-1] != i:  # variants of one row may agree
                    bucket.append(i)
    return {
        # each row's own name, compact (no article): what the NLU's place index needs,
        # kept so that it folds no name at start (issue 15)
        "name_compact": own,
        "full": {k: tuple(v) for k, v in full.items()},
        "bare": {k: tuple(v) for k, v in bare.items()},
        "compact": {k: tuple(v) for k, v in compact.items()},
        "spelled": {k: tuple(v) for k, v in spelled.items()},
        "fuzzy": FuzzyNames(list(spelled)).state(),
    }


def _cells(records: list[Record], lead: Any, members: dict[str, list[str]]) -> dict:
    """Grid cells of town-hall points, each leading to its current commune.

    The three cities with arrondissements are left out: their arrondissements are finer.
    """
    seen: set[tuple[float, float, str]] = set()
    points: list[tuple[float, float, str]] = []
    for rec in records:
        target = lead(rec)
        lat, lon = rec[8], rec[9]
        if target is None or lat is None or lon is None or rec[0] in members:
            continue
        point = (lat, lon, target[0])
        if point not in seen:
            seen.add(point)
            points.append(point)
    return GridIndex(points, GRID_CELL_DEGREES).cells


def cache_dir() -> Path | None:
    configured = os.environ.get("COMMUNEBOT_CACHE_DIR")
    if configured is not None:
        return Path(configured) if configured.strip() else None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "communebot"


def _code_fingerprint() -> bytes:
    """What in the code shapes the tables: a change there must not reuse an old cache."""
    tables = (
        FORMAT_VERSION, sorted(LOCALITIES.items()), sorted(ABBREVIATIONS.items()),
        sorted(ARTICLES), GRID_CELL_DEGREES, END_SIZES, sorted(REACH_KM.items()), GRID_REACH_KM,
    )  # fmt: skip
    return repr(tables).encode("utf-8")


def load_index(data: bytes | None = None, *, use_cache: bool = True) -> Index:
    """The tables for ``data`` (default: the packaged file), from the cache when valid."""
    data = packaged_data() if data is None else data
    digest = hashlib.sha256(data + _code_fingerprint()).hexdigest()[:20]
    tag = f"gazetteer-v{FORMAT_VERSION}-py{sys.version_info[0]}{sys.version_info[1]}-{digest}"
    folder = cache_dir() if use_cache else None
    path = folder / f"{tag}.marshal" if folder is not None else None
    with _no_gc():  # hundreds of thousands of containers: collection passes only cost
        if path is not None:
            with contextlib.suppress(OSError, EOFError, ValueError, TypeError):
                index = marshal.loads(path.read_bytes())
                if isinstance(index, dict) and index.get("version") == FORMAT_VERSION:
                    return index
        index = build_index(parse_records(data))
        if path is not None:
            # one object per repeated value: a third less memory once read back (issue
            # 15); about half the build time again, so only when a cache keeps the result
            index = share_values(index)
    if path is not None:
        _write_atomically(path, marshal.dumps(index))
        _remove_stale(path)
    return index


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _remove_stale(current: Path) -> None:
    """Drop caches of other data or format versions (one file per version otherwise piles up)."""
    for old in current.parent.glob("gazetteer-*.marshal"):
        if old != current:
            with contextlib.suppress(OSError):
                old.unlink()


def _write_atomically(path: Path, payload: bytes) -> None:
    """Write via a temporary file and rename, so a concurrent reader never sees half."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".gazetteer-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError:
        return  # a read-only home only costs the build time on every start
