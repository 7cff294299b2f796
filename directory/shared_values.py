"""One object per distinct immutable value in a tree of plain data (issue 15, peak RSS).

The gazetteer's tables repeat the same values tens of thousands of times: "commune",
"Europe/Paris", a département code, the same row number in four name tables, the same
``(row,)`` bucket. Built from a CSV reader, each repeat is its own object. ``marshal``
writes an object seen twice as a reference to the first, and reads it back as one
object, so sharing equal values before writing the cache shrinks the loaded tables by
about a third (56 -> 36 MB for the packaged gazetteer) and reads them a little faster.
Strings are interned, which also makes dict lookups with other interned keys cheaper.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["share_values"]


def share_values(value: Any) -> Any:
    """``value`` with equal strings, numbers and tuples of them made one object each.

    Lists and dicts are copied (their identity is never shared: they are mutable); values
    compare equal to the original. Floats are shared by their exact bits (``-0.0`` and
    ``0.0`` stay apart), and ``True`` is never taken for ``1``.
    """
    return _share(value, {})


def _share(value: Any, memo: dict[Any, Any]) -> Any:
    kind = type(value)
    if kind is str:
        return sys.intern(value)
    if kind is int:
        return memo.setdefault((int, value), value)
    if kind is float:
        return memo.setdefault((float, value.hex()), value)
    if kind is tuple:
        items = tuple(_share(item, memo) for item in value)
        # items are already one object per value (kept alive by the memo), so their ids
        # tell values apart exactly: (1,) and (1.0,) or (True,) are not merged
        return memo.setdefault((tuple, *map(id, items)), items)
    if kind is list:
        return [_share(item, memo) for item in value]
    if kind is dict:
        return {_share(k, memo): _share(v, memo) for k, v in value.items()}
    return value
