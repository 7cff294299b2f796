"""Per-account flood control: a token bucket per ``platform:id``.

Each account may send ``burst`` messages at once, then ``per_minute`` a minute. Past it,
one polite message, then silence until the bucket refills (the engine drops the rest
unanswered, before any database work). Kept in memory per process: a restart forgives,
and with several workers each keeps its own (the platforms' own limits still hold).
Measured on a monotonic clock, never the engine's (which tests freeze).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Verdict = Literal["ok", "warn", "drop"]
#: buckets kept at most; full ones are forgotten first
MAX_BUCKETS = 100_000


@dataclass
class _Bucket:
    tokens: float
    updated: float
    warned: bool = False


class FloodControl:
    """``check(account)`` for each message: "ok", "warn" (the first refused one: say so
    once), or "drop" (stay silent)."""

    def __init__(self, burst: int, per_minute: float, clock: Callable[[], float] = time.monotonic) -> None:
        if burst < 1 or per_minute <= 0:
            raise ValueError("burst must be at least 1 and per_minute positive")
        self.burst = float(burst)
        self.rate = per_minute / 60.0
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def check(self, account: str) -> Verdict:
        now = self.clock()
        bucket = self._buckets.get(account)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:
                self._forget_full(now)
            bucket = self._buckets[account] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            if bucket.tokens >= 1:
                bucket.warned = False  # cooled down: a later flood is told again
            return "ok"
        if bucket.warned:
            return "drop"
        bucket.warned = True
        return "warn"

    def _forget_full(self, now: float) -> None:
        full = [key for key, b in self._buckets.items()
                if b.tokens + (now - b.updated) * self.rate >= self.burst]
        for key in full or list(self._buckets)[: len(self._buckets) // 2]:
            del self._buckets[key]
