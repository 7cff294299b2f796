"""Typo-tolerant lookup of compact name keys, narrowed before rapidfuzz scores anything.

Scoring 35k names per query costs milliseconds; the narrowing keeps it well under one.

1. Length window: ``fuzz.ratio = 2·common / (|a| + |b|)``, so a cutoff bounds the other
   string's length; keys are sorted by length and the window is a contiguous slice.
2. Ends: one typo (insertion, deletion, substitution) cannot touch both the first ``n``
   and the last ``n`` letters of a name of ``2n + 1`` letters or more, so every key within
   one typo shares its head or its tail with the query. Only those two buckets (within
   the length window) are scored; ``n`` grows with the query (2 to 4 letters). Heads skip a
   leading "saint"/"sainte" (a fifth of all names start so) and use the letters after it,
   so ``n`` is chosen from the length of what follows; a typo inside "saint" leaves the
   tail intact.
3. When the buckets hold nothing as close as one typo, the whole length window is scored:
   slower, but only for text that is far from every name anyway.
"""

from __future__ import annotations

import bisect
import math
import re
from typing import Any

from rapidfuzz import fuzz, process

END_SIZES = (2, 3, 4)
_SAINT = re.compile(r"^(?:saintes|saints|sainte|saint)(?=.)")

Bucket = list[str]  # keys sorted by length (bisected with ``key=len``)


def end_size(length: int) -> int:
    """Letters per end that a single typo leaves intact at one end (0: scan the window)."""
    for size in reversed(END_SIZES):
        if length >= 2 * size + 1:
            return size
    return 0


def query_end_size(query: str) -> int:
    """``end_size`` of what follows a leading "saint": the head starts after it."""
    found = _SAINT.match(query)
    return end_size(len(query) - (found.end() if found else 0))


def head(key: str, size: int) -> str:
    """``saintmartin`` → ``saint:mar`` (size 3); other keys → their first letters."""
    found = _SAINT.match(key)
    if found:
        return f"{found.group()}:{key[found.end() : found.end() + size]}"
    return key[:size]


def one_typo_ratio(length: int) -> float:
    """The lowest ratio a single substitution leaves for a query of this length."""
    return 100.0 * (1 - 1 / length) - 0.01


class FuzzyNames:
    """Compact keys (``saintpaul``) searchable by ratio, narrowed by length and ends."""

    def __init__(self, keys: list[str]) -> None:
        self._keys = sorted(set(keys), key=lambda k: (len(k), k))
        self._lengths = [len(k) for k in self._keys]
        self._heads: dict[int, dict[str, Bucket]] = {n: {} for n in END_SIZES}
        self._tails: dict[int, dict[str, Bucket]] = {n: {} for n in END_SIZES}
        for key in self._keys:  # already in length order: each bucket stays sorted
            for n in END_SIZES:
                for table, end in ((self._heads[n], head(key, n)), (self._tails[n], key[-n:])):
                    table.setdefault(end, []).append(key)

    def state(self) -> dict[str, object]:
        """Plain data to cache (see ``gazetteer_index``); ``from_state`` takes it back."""
        return {"keys": self._keys, "heads": self._heads, "tails": self._tails}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> FuzzyNames:
        names = cls([])
        names._keys = state["keys"]
        names._lengths = [len(k) for k in names._keys]
        names._heads = state["heads"]
        names._tails = state["tails"]
        return names

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
        found: list[tuple[str, float]] = []
        if query_end_size(query):
            found = self._score(query, self.narrowed(query, cutoff), cutoff, limit)
        if not found or found[0][1] < one_typo_ratio(len(query)):
            found = self._score(query, self.in_window(query, cutoff), cutoff, limit)
        return found

    def narrowed(self, query: str, cutoff: float) -> list[str]:
        """Keys in the length window sharing the query's head or tail (see module doc)."""
        n = query_end_size(query)
        if not n:
            return self.in_window(query, cutoff)
        low, high = self.window(len(query), cutoff)
        candidates: list[str] = []
        for table, end in ((self._heads[n], head(query, n)), (self._tails[n], query[-n:])):
            keys = table.get(end, [])
            start = bisect.bisect_left(keys, low, key=len)
            candidates += keys[start : bisect.bisect_right(keys, high, lo=start, key=len)]
        return candidates

    def in_window(self, query: str, cutoff: float) -> list[str]:
        """Every key whose length allows ``cutoff`` (the slow path)."""
        low, high = self.window(len(query), cutoff)
        return self._keys[bisect.bisect_left(self._lengths, low) : bisect.bisect_right(self._lengths, high)]

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
