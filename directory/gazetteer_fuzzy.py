"""Typo-tolerant lookup of compact name keys, narrowed before rapidfuzz scores anything.

Scoring 35k names per query costs milliseconds; the narrowing keeps it well under one.

1. Length window: ``fuzz.ratio = 2·common / (|a| + |b|)``, so a cutoff bounds the other
   string's length; keys are sorted by length and the window is a contiguous slice.
2. Ends: one typo (insertion, deletion, substitution) cannot touch both the first two and
   the last two letters of a name of five letters or more, so every key within one typo
   shares its first two or its last two letters with the query. Only those two buckets
   (within the length window) are scored.
3. When that finds nothing convincing (several typos), the whole length window is scored:
   slower, but only for text that is far from every name anyway.
"""

from __future__ import annotations

import bisect
import math

from rapidfuzz import fuzz, process

END = 2  # letters kept intact at one end by a single typo
MIN_NARROWED = 5  # shorter queries scan their (small) length window directly
CONVINCING = 85.0  # a bucket result at least this good needs no full scan


class FuzzyNames:
    """Compact keys (``saintpaul``) searchable by ratio, narrowed by length and ends."""

    def __init__(self, keys: list[str]) -> None:
        self._keys = sorted(set(keys), key=lambda k: (len(k), k))
        self._lengths = [len(k) for k in self._keys]
        self._heads: dict[str, tuple[list[str], list[int]]] = {}
        self._tails: dict[str, tuple[list[str], list[int]]] = {}
        for key in self._keys:  # already in length order: each bucket stays sorted
            for table, end in ((self._heads, key[:END]), (self._tails, key[-END:])):
                bucket = table.setdefault(end, ([], []))
                bucket[0].append(key)
                bucket[1].append(len(key))

    def __len__(self) -> int:
        return len(self._keys)

    @staticmethod
    def window(size: int, cutoff: float) -> tuple[int, int]:
        """Lengths a key may have and still reach ``cutoff`` against a query of ``size``."""
        low = math.ceil(size * cutoff / (200 - cutoff))
        high = math.floor(size * (200 - cutoff) / cutoff)
        return low, high

    def search(self, query: str, cutoff: float, limit: int) -> list[tuple[str, float]]:
        """Best keys for ``query`` with their ratio (0..100), best first, at most ``limit``."""
        if not query or limit <= 0:
            return []
        low, high = self.window(len(query), cutoff)
        found: list[tuple[str, float]] = []
        if len(query) >= MIN_NARROWED:
            candidates: list[str] = []
            for table, end in ((self._heads, query[:END]), (self._tails, query[-END:])):
                keys, lengths = table.get(end, ([], []))
                candidates += keys[bisect.bisect_left(lengths, low) : bisect.bisect_right(lengths, high)]
            found = self._score(query, candidates, cutoff, limit)
        if not found or found[0][1] < CONVINCING:
            start = bisect.bisect_left(self._lengths, low)
            stop = bisect.bisect_right(self._lengths, high)
            found = self._score(query, self._keys[start:stop], cutoff, limit)
        return found

    @staticmethod
    def _score(
        query: str, candidates: list[str], cutoff: float, limit: int
    ) -> list[tuple[str, float]]:
        # A key in both buckets is scored twice; keep it once.
        results = process.extract(
            query, candidates, scorer=fuzz.ratio, score_cutoff=cutoff, limit=limit * 2
        )
        best: dict[str, float] = {}
        for key, ratio, _ in results:
            if key not in best:
                best[key] = float(ratio)
        return sorted(best.items(), key=lambda kv: (-kv[1], len(kv[0]), kv[0]))[:limit]
