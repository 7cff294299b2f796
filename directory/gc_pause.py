"""Pause Python's cyclic garbage collector around allocation-heavy work that makes no
cycles (a search builds thousands of short-lived candidates).

Why: those candidates live until the query ends, so every few hundred of them a young
collection promotes them, and every few queries a full collection walks the whole heap
(gazetteer, taxonomy, driver): 30-40 ms measured at 100k entries, which was most of the
name search's p95. Reference counting still frees everything as usual; paused, the
objects are simply never scanned. Nested and concurrent pauses (threads) are counted, and
the collector is re-enabled by the last one out, only if it was enabled before the first.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic collection inside the block (reference counting still frees)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
